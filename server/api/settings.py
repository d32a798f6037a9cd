"""Settings: where the server listens, where it caches, which device trains, and every limit.

Each field comes, in order of precedence, from a command-line flag (``--cache-dir``), an
environment variable (``SUPERPOSITION_CACHE_DIR``) or its default. Limits are settings, so that a
teacher's GPU box can allow more than a laptop; every refusal names the limit that refused it.
Nested limits are set as ``--limits.max-steps 20000`` or ``SUPERPOSITION_LIMITS__MAX_STEPS=20000``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# A WebSocket frame up to this many times max_message_bytes is read and refused with an error
# message, so the socket stays usable; a larger one is cut off by the protocol layer (close 1009),
# which bounds the memory one frame can take.
WS_FRAME_FACTOR = 4
MIN_TOKEN_LENGTH = 16  # characters; secrets.token_urlsafe(12) makes 16


class Limits(BaseModel):
    """Upper bounds on what one request may ask for (served at ``GET /api/limits``)."""

    max_features: int = Field(
        10_000,
        ge=1,
        description="largest n_features (the double-descent papers' 1,000 and 10,000; the work "
        "and output bounds still apply: 10,000 features' n² WᵀW is over max_output_values)",
    )
    max_hidden: int = Field(256, ge=1, description="largest n_hidden")
    max_instances: int = Field(128, ge=1, description="most feature probabilities in one request")
    max_grid_size: int = Field(
        64, ge=2, description="most cells per axis of a phase diagram (grid_size)"
    )
    max_restarts: int = Field(16, ge=1, description="largest n_restarts")
    max_steps: int = Field(50_000, ge=1, description="largest number of training steps")
    max_batch_size: int = Field(8192, ge=1, description="largest batch_size")
    max_latents: int = Field(4096, ge=1, description="largest n_latents of an SAE")
    max_step_elements: int = Field(
        1 << 26,
        ge=1,
        description="largest batch_size × instances × n_restarts × max(n_features, n_hidden): "
        "bounds one step's memory",
    )
    max_work: float = Field(
        1e13,
        gt=0,
        description="largest (steps × batch_size + 2^16 evaluation samples) × instances × "
        "n_restarts × (n_features × n_hidden + 128 × n_features): bounds one request's time "
        "(a unit costs 0.05–0.6 ns on 2 CPU cores, benchmarks/work_unit.py)",
    )
    max_output_values: int = Field(
        1 << 22,
        ge=1,
        description="largest instances × n_features² (the Gram matrices returned), and largest "
        "snapshots × instances × n_restarts × n_features × n_hidden (× 2 untied) of kept weight "
        "snapshots",
    )
    max_train_points: int = Field(
        10_000,
        ge=1,
        description="largest n_train (T, a finite training set), and largest entry of a "
        "double-descent sweep's n_train_values",
    )
    max_sweep_points: int = Field(
        64, ge=1, description="most n_train_values (training-set sizes) in one double-descent sweep"
    )
    max_queued_jobs: int = Field(
        128,
        ge=1,
        description="most distinct trainings waiting or running at once; beyond it a request "
        "gets 503 with Retry-After",
    )
    max_message_bytes: int = Field(
        1 << 20,
        ge=1024,
        description="largest HTTP request body or WebSocket message, in bytes; a larger body gets "
        "413, a larger message an error (the socket stays open), and a WebSocket frame over "
        f"{WS_FRAME_FACTOR}× this closes its socket (code 1009)",
    )


class Settings(BaseSettings):
    """Server settings; see the module docstring for where each value comes from."""

    model_config = SettingsConfigDict(
        env_prefix="SUPERPOSITION_",
        env_nested_delimiter="__",
        cli_prog_name="superposition-explorer",
        cli_kebab_case=True,
        cli_implicit_flags=True,
        extra="ignore",
    )

    host: str = Field("127.0.0.1", description="address to bind; 0.0.0.0 serves the whole network")
    port: int = Field(8000, ge=0, le=65535, description="TCP port")
    cache_dir: Path = Field(Path("models_cache"), description="folder of trained-model entries")
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="auto: CUDA when available, else the CPU"
    )
    torch_threads: int = Field(
        0,
        ge=0,
        description="CPU threads torch trains with; 0: torch's default (every core). Fewer leave "
        "cores to whatever else runs on the machine",
    )
    snapshot_interval_s: float = Field(
        0.05, gt=0, description="least time between two live snapshots (0.05 s = 20 per second)"
    )
    cache_max_bytes: int = Field(
        1 << 30,
        ge=0,
        description="largest total size of the cache folder, in bytes (1 GiB); beyond it the "
        "least recently used entries are evicted, never the shipped ones; 0: no limit",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="web origins (https://host:port) whose pages may call the API; empty: only "
        "the explorer's own pages. Never a wildcard by default",
    )
    token: SecretStr | None = Field(
        None,
        description="a shared secret; when set, every /api call and WebSocket needs it, as "
        "'Authorization: Bearer TOKEN' or '?token=TOKEN' (open the pages with ?token=TOKEN). "
        f"At least {MIN_TOKEN_LENGTH} characters: an empty or short one refuses to start",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="host names, besides the defaults, that requests may name in their Host "
        "header (DNS rebinding). Always allowed: IP addresses, localhost names, and, when the "
        "server binds beyond the loopback, this machine's own host names. '*' allows any",
    )
    backend: Literal["local", "ray"] = Field(
        "local",
        description="where training runs: local, one worker thread in this process on --device; "
        "ray, --workers Ray actors (pip install -e '.[ray]'), each running that same worker",
    )
    ray_address: str = Field(
        "",
        description="with --backend ray: an existing Ray cluster's address (host:6379, or "
        "'auto'), which the server joins and never shuts down; empty: a local Ray instance that "
        "the server starts and shuts down when it exits",
    )
    workers: int = Field(
        2,
        ge=1,
        le=1024,
        description="with --backend ray: how many training actors. Each takes one CPU and, where "
        "the cluster has GPUs and --device is not cpu, GPUs / workers of a GPU (at most 1)",
    )
    limits: Limits = Field(default_factory=Limits)

    @field_validator("token")
    @classmethod
    def _token_strong_enough(cls, value: SecretStr | None) -> SecretStr | None:
        """An empty token (``--token ""``, or a command substitution that failed) would switch
        authentication off without a word: refuse it, and short ones, before serving."""
        if value is not None and len(value.get_secret_value()) < MIN_TOKEN_LENGTH:
            length = len(value.get_secret_value())
            raise ValueError(
                f"the token has {length} characters; it needs at least {MIN_TOKEN_LENGTH} "
                "(python3 -c 'import secrets; print(secrets.token_urlsafe(12))' makes one), or "
                "leave the setting out to serve without a token"
            )
        return value


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings read from the environment (cached)."""
    return Settings()
