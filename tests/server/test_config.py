"""Settings from flags and environment; the device choice and its CPU fallback."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from server.api.settings import Settings
from server.device import DeviceUnavailable, select_device

ROOT = Path(__file__).resolve().parents[2]


def test_defaults() -> None:
    settings = Settings()
    assert (settings.host, settings.port, settings.device) == ("127.0.0.1", 8000, "auto")
    assert settings.cache_dir == Path("models_cache")


def test_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPERPOSITION_HOST", "0.0.0.0")
    monkeypatch.setenv("SUPERPOSITION_PORT", "9001")
    monkeypatch.setenv("SUPERPOSITION_CACHE_DIR", "/tmp/elsewhere")
    monkeypatch.setenv("SUPERPOSITION_DEVICE", "cpu")
    monkeypatch.setenv("SUPERPOSITION_LIMITS__MAX_STEPS", "123")
    settings = Settings()
    assert (settings.host, settings.port, settings.device) == ("0.0.0.0", 9001, "cpu")
    assert settings.cache_dir == Path("/tmp/elsewhere")
    assert settings.limits.max_steps == 123


def test_flags_override_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPERPOSITION_PORT", "9001")
    settings = Settings(
        _cli_parse_args=["--port", "9002", "--cache-dir", "c", "--device", "cpu", "--host", "::1"]
    )
    assert (settings.port, settings.cache_dir, settings.device, settings.host) == (
        9002,
        Path("c"),
        "cpu",
        "::1",
    )


def test_the_backend_settings_from_flags_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = Settings()
    assert (defaults.backend, defaults.ray_address, defaults.workers) == ("local", "", 2)
    monkeypatch.setenv("SUPERPOSITION_BACKEND", "ray")
    monkeypatch.setenv("SUPERPOSITION_RAY_ADDRESS", "head:6379")
    monkeypatch.setenv("SUPERPOSITION_WORKERS", "3")
    settings = Settings()
    assert (settings.backend, settings.ray_address, settings.workers) == ("ray", "head:6379", 3)
    flags = Settings(
        _cli_parse_args=["--backend", "local", "--ray-address", "auto", "--workers", "8"]
    )
    assert (flags.backend, flags.ray_address, flags.workers) == ("local", "auto", 8)
    for bad in (["--backend", "dask"], ["--workers", "0"]):
        with pytest.raises(ValueError):
            Settings(_cli_parse_args=bad)


def test_auto_falls_back_to_cpu_without_cuda(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with caplog.at_level(logging.INFO, logger="server.device"):
        assert select_device("auto") == torch.device("cpu")
    assert "no CUDA device found; training on the CPU" in caplog.text  # the fallback is logged
    assert select_device("cpu") == torch.device("cpu")
    with pytest.raises(DeviceUnavailable, match="--device cuda"):
        select_device("cuda")


def test_cuda_without_cuda_exits_with_a_clear_message() -> None:
    # Hide any GPU from the child, so this holds on every machine.
    result = subprocess.run(
        [sys.executable, "-m", "server", "--device", "cuda", "--port", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"CUDA_VISIBLE_DEVICES": "", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode != 0
    assert "--device cuda was requested but torch sees no CUDA device" in result.stderr
