"""Every limit is a setting with a documented default, and every refusal names its limit."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from server.api.app import create_app
from server.api.settings import Limits, Settings

ROOT = Path(__file__).resolve().parents[2]
BASE = {"n_features": 5, "n_hidden": 2, "steps": 20, "batch_size": 32}
DIAGRAM = {"grid_size": 2, "steps": 10, "n_restarts": 1}
LONG = BASE | {"steps": 40_000, "seed": 99}


Check = Callable[[TestClient], str]  # a call that must be refused; returns the refusal's text


def refused(path: str, base: dict[str, Any]) -> Callable[[dict[str, Any]], Check]:
    """A check that POSTs ``base | body`` to ``path`` and expects a 422."""

    def with_body(body: dict[str, Any]) -> Check:
        def call(client: TestClient) -> str:
            response = client.post(path, json=base | body)
            assert response.status_code == 422, response.text
            return response.text

        return call

    return with_body


model = refused("/api/models", BASE)
diagram = refused("/api/phase-diagrams", DIAGRAM)
sae = refused("/api/saes", {"model": BASE, "steps": 10, "batch_size": 32})
sweep = refused("/api/double-descent", {"n_features": 5, "steps": 10, "n_train_values": [3, 4]})


def full_queue(client: TestClient) -> str:
    with client.websocket_connect("/api/models/live") as ws:
        ws.send_text(json.dumps(LONG))
        assert ws.receive_json()["type"] == "snapshot"  # the one allowed job is training
        response = client.post("/api/models", json=BASE)
        assert response.status_code == 503
        ws.send_text(json.dumps(LONG | {"seed": 100}))  # a second job on the same socket…
        while (message := ws.receive_json())["seq"] != 2:
            pass
        assert message["type"] in ("snapshot", "error")  # …replaces the first: room again
        return response.text


def big_body(client: TestClient) -> str:
    body = json.dumps(BASE | {"importance": [1.0] * 400})  # over 1 kB
    response = client.post(
        "/api/models", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    with client.websocket_connect("/api/models/live") as ws:
        ws.send_text(body)
        error = ws.receive_json()
        assert error["type"] == "error"
        ws.send_text(json.dumps(BASE))  # the socket stays usable
        while (message := ws.receive_json())["type"] == "snapshot":
            pass
        assert message["type"] == "done"
    return response.text + json.dumps(error)


# Each limit: the tight value that refuses, and a call that must be refused by it.
CASES: dict[str, tuple[Any, Check]] = {
    "max_features": (4, model({})),
    "max_hidden": (1, model({})),
    "max_instances": (1, model({"feature_probability": [0.1, 0.2]})),
    "max_grid_size": (2, diagram({"grid_size": 3})),
    "max_restarts": (1, model({"n_restarts": 2})),
    "max_steps": (19, model({})),
    "max_batch_size": (31, model({})),
    "max_latents": (4, sae({"n_latents": 5})),
    "max_step_elements": (100, model({})),  # 32 × 1 × 5
    "max_work": (1e5, model({})),  # (20 × 32 + 2¹⁶) × 1 × 10 ≈ 6.6e5
    "max_output_values": (24, model({})),  # 1 × 5²
    "max_queued_jobs": (1, full_queue),
    "max_message_bytes": (1024, big_body),
    "max_train_points": (3, model({"n_train": 4})),
    "max_sweep_points": (1, sweep({})),
}


def test_every_limit_has_a_case() -> None:
    assert set(CASES) == set(Limits.model_fields)


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_refusal_names_the_limit(name: str, tmp_path: Path) -> None:
    value, call = CASES[name]
    settings = Settings(cache_dir=tmp_path, device="cpu", limits=Limits(**{name: value}))
    with TestClient(create_app(settings)) as client:
        refusal = call(client)
    assert name in refusal
    env = f"SUPERPOSITION_LIMITS__{name.upper()}"
    assert env in refusal or name == "max_queued_jobs", refusal


def formatted(value: Any) -> str:
    """A default as README's settings table writes it."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Path):
        return str(value)
    if value is None or value == []:
        return "none"
    return str(value)


def test_readme_documents_every_setting_and_its_default() -> None:
    readme = (ROOT / "README.md").read_text()
    rows = dict(re.findall(r"^\| `--([a-z.-]+)` \| `?([^|`]+?)`? \|", readme, flags=re.M))
    expected = {
        name.replace("_", "-"): formatted(field.get_default(call_default_factory=True))
        for name, field in Settings.model_fields.items()
        if name != "limits"
    } | {
        f"limits.{name.replace('_', '-')}": formatted(field.default)
        for name, field in Limits.model_fields.items()
    }
    assert rows == expected


def test_adversarial_training_counts_its_steps_twice_in_the_work_bound() -> None:
    """An attacked step costs about two plain ones, so max_work counts it so: a request that
    fits the bound plainly is refused with adversarial_epsilon > 0, and the refusal says why."""
    from server.api.limits import limit_errors
    from server.api.schemas.models import ModelRequest

    # (2,000 × 32 + 2¹⁶) × (10 + 128 × 5) ≈ 8.4e7 plain; (2 × 64,000 + 2¹⁶) × 650 ≈ 1.26e8
    limits = Limits(max_work=1e8)
    plain = ModelRequest(**BASE | {"steps": 2_000})
    attacked = ModelRequest(**BASE | {"steps": 2_000, "adversarial_epsilon": 0.5})
    assert limit_errors(plain, limits) == []
    errors = limit_errors(attacked, limits)
    assert [e["loc"][-1] for e in errors] == ["steps"], errors
    assert "adversarial training" in errors[0]["msg"] and "max_work" in errors[0]["msg"]
