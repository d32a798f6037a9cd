"""POST /api/power-sweeps/plan: the power page's sweep → its model requests, planned server-side
(log spacing and the power rule n = mᵏ + 1 in one place), and the default sweep's models open
from the shipped cache without training."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server.api.app import create_app
from server.api.settings import Limits, Settings
from server.presets import preset_infos, presets, shipped_ids

SHIPPED = Path(__file__).resolve().parents[2] / "models_cache"
PRESET = next(p for p in presets() if p.id == "power-sweep")


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(cache_dir=tmp_path, device="cpu", limits=Limits(max_features=100))
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def plan(client: TestClient, body: dict) -> dict:
    response = client.post("/api/power-sweeps/plan", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_plan_applies_the_power_rule_and_the_log_spacing(client: TestClient) -> None:
    answer = plan(client, {"k": 3, "n_hidden": [5, 2, 2, 3], "p_min": 0.3, "p_max": 0.003})
    assert answer["request"]["n_hidden"] == [2, 3, 5]  # sorted, repeats dropped
    assert answer["request"]["p_min"] == 0.003 and answer["request"]["p_max"] == 0.3
    ps = answer["feature_probability"]
    assert ps[0] == 0.003 and ps[-1] == 0.3 and len(ps) == 8 and ps == sorted(ps)
    assert all(float(f"{p:.4g}") == p for p in ps)  # four significant digits
    assert answer["theory_range"] == [0.003, 0.3]
    runs = {run["n_hidden"]: run for run in answer["runs"]}
    assert runs[2]["n_features"] == 9 and runs[3]["n_features"] == 28  # mᵏ + 1
    assert runs[2]["threshold"] == 8 and runs[2]["in_regime"] and runs[2]["auto"]
    # 5³ + 1 = 126 is over this server's max_features = 100: capped, and outside the regime.
    assert runs[5]["n_features"] == 100 and runs[5]["capped"] and not runs[5]["in_regime"]
    request = runs[3]["model_request"]
    assert request["activation"] == "power" and request["power"] == 3
    assert request["n_hidden"] == 3 and request["feature_probability"] == ps
    assert not any(run["cached"] for run in answer["runs"])


def test_a_given_n_and_a_single_p(client: TestClient) -> None:
    answer = plan(client, {"k": 1, "n_hidden": [4], "n_features": 3, "p_min": 0.2, "points": 1})
    (run,) = answer["runs"]
    assert run["n_features"] == 3 and not run["auto"] and not run["in_regime"]  # 3 ≤ 4¹
    assert answer["feature_probability"] == [0.2]
    assert answer["theory_range"] == [0.1, 0.4]  # widened, so that the lines have a length


@pytest.mark.parametrize(
    ("body", "field"),
    [({"k": 2}, "k"), ({"n_hidden": []}, "n_hidden"), ({"p_min": 0}, "p_min"), ({"x": 1}, "x")],
)
def test_a_malformed_sweep_is_a_422_naming_the_field(
    client: TestClient, body: dict, field: str
) -> None:
    response = client.post("/api/power-sweeps/plan", json=body)
    assert response.status_code == 422
    assert any(field in map(str, error["loc"]) for error in response.json()["detail"])


def test_the_default_sweep_is_the_shipped_preset_and_opens_without_training(
    tmp_path: Path,
) -> None:
    """The page's default (an empty request: the schema's defaults) plans exactly the preset's
    models, which models_cache/ ships: POST /api/models answers them from the cache, no job."""
    assert (
        PRESET.power_sweep is not None and PRESET.power_sweep.model_dump(exclude_unset=True) == {}
    )
    ids = plan_ids(tmp_path)
    info = next(i for i in preset_infos() if i.id == PRESET.id)
    assert ids == set(info.sweep_model_ids) and ids <= shipped_ids() and len(ids) == 2
    cache = tmp_path / "cache"
    cache.mkdir()
    for entry in ids:
        shutil.copytree(SHIPPED / entry, cache / entry)
    with TestClient(create_app(Settings(cache_dir=cache, device="cpu"))) as client:
        answer = plan(client, {})
        assert {run["model_id"] for run in answer["runs"]} == ids
        assert all(run["cached"] for run in answer["runs"])
        for run in answer["runs"]:
            result = client.post("/api/models", json=run["model_request"])
            assert result.status_code == 200, result.text
            assert result.json()["cached"] is True and result.json()["id"] == run["model_id"]
            for instance in result.json()["instances"]:  # derived by the server, not the page
                norms = instance["feature_norms"]
                assert instance["frobenius_squared"] == pytest.approx(sum(v * v for v in norms))
                theory = instance["theory_loss"]
                unsuperposed = theory["zero_output"] - theory["power_unsuperposed"]
                assert instance["unsuperposed_gain"] == pytest.approx(unsuperposed)


def plan_ids(tmp_path: Path) -> set[str]:
    """The default plan's model ids under default settings."""
    with TestClient(create_app(Settings(cache_dir=tmp_path / "empty", device="cpu"))) as client:
        return {run["model_id"] for run in plan(client, {})["runs"]}


def test_a_run_over_a_limit_has_no_id_and_says_which(client: TestClient) -> None:
    """n_features far beyond max_features (2³¹ − 1) is planned, not refused, and not expanded."""
    answer = plan(client, {"n_hidden": [2, 300], "n_features": 2**31 - 1, "points": 2})
    for run in answer["runs"]:
        assert run["model_id"] is None and not run["cached"]
        assert any("max_features" in message for message in run["limit_errors"])
    assert any("max_hidden" in m for m in answer["runs"][1]["limit_errors"])
    ok = plan(client, {"n_hidden": [2], "points": 2})["runs"][0]
    assert ok["limit_errors"] == [] and len(ok["model_id"]) == 64
