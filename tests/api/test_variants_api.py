"""The model variants through the REST API: per-feature sparsity, feature sets, the ReLU hidden
layer's neuron view, the absolute-value model, weight snapshots and their replay endpoint, the
presets, and the ids of requests that use none of them (unchanged, so old entries still match)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from server.api.app import create_app
from server.api.limits import limit_errors
from server.api.schemas.models import MAX_SNAPSHOTS, ModelRequest, ModelResult
from server.api.schemas.phase_diagrams import PhaseDiagramRequest
from server.api.settings import Limits, Settings

ZERO_ID = "0" * 64
PRESETS_FILE = Path(__file__).resolve().parents[2] / "server" / "presets.json"
TINY = {"n_features": 4, "n_hidden": 2, "steps": 40, "batch_size": 64}
VARIANTS: dict[str, dict[str, Any]] = {
    "per_feature": TINY | {"feature_probability": [[0.1, 0.2, 0.3, 0.4], 0.2]},
    "feature_sets": TINY
    | {
        "n_features": 5,
        "feature_probability": [[0.1, 0.1, 0.3, 0.3, 0.5], 0.2],
        "feature_sets": [
            {"kind": "anticorrelated", "features": [0, 1]},
            {"kind": "correlated", "features": [3, 2]},
        ],
    },
    "hidden_relu": TINY | {"n_hidden": 3, "hidden_activation": "relu", "feature_probability": 0.3},
    "absolute_value": TINY
    | {"n_features": 3, "n_hidden": 4, "task": "absolute_value", "feature_probability": [0.5, 1]},
    "snapshots": TINY | {"snapshots": 5},
    "absolute_value_snapshots": TINY
    | {"n_features": 3, "n_hidden": 4, "task": "absolute_value", "snapshots": 3},
}
OUTPUT_VALUES = 2000  # max_output_values, low enough to reach with snapshots


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(
        cache_dir=tmp_path_factory.mktemp("variants_cache"),
        device="cpu",
        limits=Limits(max_steps=20_000, max_output_values=OUTPUT_VALUES),
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def trained(client: TestClient) -> dict[str, dict[str, Any]]:
    """Every variant, trained once for the module."""
    results = {}
    for name, body in VARIANTS.items():
        response = client.post("/api/models", json=body)
        assert response.status_code == 200, (name, response.text)
        results[name] = response.json()
    return results


# -- training and the cache -----------------------------------------------------------------------
@pytest.mark.parametrize("name", list(VARIANTS))
def test_each_variant_round_trips_through_the_cache(
    client: TestClient, trained: dict[str, dict[str, Any]], name: str
) -> None:
    first = trained[name]
    assert first["cached"] is False
    assert first["id"] == ModelRequest.model_validate(VARIANTS[name]).model_id()
    stored = client.get(f"/api/models/{first['id']}")
    assert stored.status_code == 200, stored.text
    assert stored.json() | {"cached": False} == first
    again = client.post("/api/models", json=VARIANTS[name]).json()
    assert again["cached"] is True and again | {"cached": False} == first


def test_per_feature_probabilities_are_kept_per_instance(
    trained: dict[str, dict[str, Any]],
) -> None:
    result = trained["per_feature"]
    assert result["request"]["feature_probability"] == [[0.1, 0.2, 0.3, 0.4], 0.2]
    first, second = result["instances"]
    assert first["feature_probability"] == [0.1, 0.2, 0.3, 0.4]
    assert second["feature_probability"] == 0.2
    # zero_output is E Σ Iᵢ xᵢ² from each feature's own p; F11 needs one p
    assert first["theory_loss"]["zero_output"] == pytest.approx(1.0 / 3, rel=1e-9)
    assert not any(k.startswith("uniform_") for k in first["theory_loss"])
    assert first["neurons"] is None and first["W_out"] is None


def test_feature_sets_are_in_the_request_and_the_theory_lines(
    trained: dict[str, dict[str, Any]],
) -> None:
    result = trained["feature_sets"]
    assert result["request"]["feature_sets"] == VARIANTS["feature_sets"]["feature_sets"]
    for instance, row in zip(
        result["instances"], [[0.1, 0.1, 0.3, 0.3, 0.5], [0.2] * 5], strict=True
    ):
        # an anticorrelated pair's members are each active with p/2
        marginal = [row[0] / 2, row[1] / 2, *row[2:]]
        assert instance["theory_loss"] == {"zero_output": pytest.approx(sum(marginal) / 3)}


def test_the_hidden_relu_model_has_a_neuron_view(trained: dict[str, dict[str, Any]]) -> None:
    result = trained["hidden_relu"]
    assert result["request"]["hidden_activation"] == "relu"
    (instance,) = result["instances"]
    view = instance["neurons"]
    assert len(view["neurons"]) == 3
    assert view["monosemantic"] + view["polysemantic"] + view["dead"] == 3
    for neuron, row in zip(view["neurons"], instance["W"], strict=True):
        squares = [w * w for w in row]
        assert neuron["top_feature"] == squares.index(max(squares))
        assert neuron["top_share"] == pytest.approx(max(squares) / sum(squares), rel=1e-5)
        assert neuron["strength"] == pytest.approx(sum(squares), rel=1e-5)  # tied: ‖row‖²
    assert instance["W_out"] is None and instance["exact_loss"] is None
    assert "linear_optimum" in instance["theory_loss"]


def test_the_absolute_value_model_returns_W_out(trained: dict[str, dict[str, Any]]) -> None:
    result = trained["absolute_value"]
    request = result["request"]
    assert request["task"] == "absolute_value" and request["hidden_activation"] == "relu"
    for instance in result["instances"]:
        assert len(instance["W"]) == 4 and all(len(row) == 3 for row in instance["W"])
        W_out = instance["W_out"]
        assert len(W_out) == 3 and all(len(row) == 4 for row in W_out)
        assert len(instance["neurons"]["neurons"]) == 4
        assert set(instance["theory_loss"]) == {"zero_output", "absolute_value_unsuperposed"}
    # the explicit default is the same model
    explicit = VARIANTS["absolute_value"] | {"hidden_activation": "relu"}
    assert ModelRequest.model_validate(explicit).model_id() == result["id"]


def test_snapshots_are_summarised_in_the_result(trained: dict[str, dict[str, Any]]) -> None:
    result = trained["snapshots"]
    snapshots = result["snapshots"]
    assert [s["index"] for s in snapshots] == list(range(5))
    assert [s["step"] for s in snapshots] == [0, 10, 20, 30, 40]
    final = result["instances"][0]
    assert snapshots[-1]["dimensionality"] == [final["dimensionality"]]
    assert snapshots[-1]["feature_norms"] == [final["feature_norms"]]
    assert snapshots[-1]["dimensions_per_feature"] == [final["dimensions_per_feature"]]
    assert trained["per_feature"]["snapshots"] is None


# -- GET /api/models/{id}/snapshots/{index} -------------------------------------------------------
@pytest.mark.parametrize("name", ["snapshots", "absolute_value_snapshots"])
def test_every_kept_snapshot_is_served(
    client: TestClient, trained: dict[str, dict[str, Any]], name: str
) -> None:
    result = trained[name]
    kept = result["snapshots"]
    untied = name.startswith("absolute_value")
    for summary in kept:
        response = client.get(f"/api/models/{result['id']}/snapshots/{summary['index']}")
        assert response.status_code == 200, response.text
        snapshot = response.json()
        assert snapshot["id"] == result["id"] and snapshot["index"] == summary["index"]
        assert snapshot["step"] == summary["step"] and snapshot["steps"] == 40
        assert len(snapshot["instances"]) == len(result["instances"])
        for k, instance in enumerate(snapshot["instances"]):
            assert instance["dimensionality"] == summary["dimensionality"][k]
            assert instance["feature_norms"] == summary["feature_norms"][k]
            assert (instance["W_out"] is not None) == untied
            assert (instance["neurons"] is not None) == untied
    # the last snapshot is the final model, the first the initial weights
    last = client.get(f"/api/models/{result['id']}/snapshots/{len(kept) - 1}").json()
    first = client.get(f"/api/models/{result['id']}/snapshots/0").json()
    for key in ("W", "b", "W_out", "gram", "dimensionality", "neurons"):
        assert last["instances"][0][key] == result["instances"][0][key], key
    assert first["instances"][0]["W"] != last["instances"][0]["W"]
    assert all(v == 0 for v in first["instances"][0]["b"])  # b starts at 0


def test_snapshot_indices_beyond_those_kept_are_422(
    client: TestClient, trained: dict[str, dict[str, Any]]
) -> None:
    model_id = trained["snapshots"]["id"]
    for index in (5, MAX_SNAPSHOTS, MAX_SNAPSHOTS + 1, -1):
        response = client.get(f"/api/models/{model_id}/snapshots/{index}")
        assert response.status_code == 422, (index, response.text)
        (error,) = response.json()["detail"]
        assert error["loc"] == ["path", "index"], error
    message = client.get(f"/api/models/{model_id}/snapshots/5").json()["detail"][0]["msg"]
    assert "kept 5" in message and "0 to 4" in message, message


def test_a_model_without_snapshots_has_none_to_serve(
    client: TestClient, trained: dict[str, dict[str, Any]]
) -> None:
    response = client.get(f"/api/models/{trained['hidden_relu']['id']}/snapshots/0")
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["path", "index"] and "kept 0" in error["msg"], error


def test_snapshots_of_an_unknown_model_are_404(client: TestClient) -> None:
    response = client.get(f"/api/models/{ZERO_ID}/snapshots/0")
    assert response.status_code == 404 and "not found" in response.json()["detail"]
    assert client.get("/api/models/abc/snapshots/0").status_code == 422


def test_the_noise_curve_refuses_a_hidden_relu_model(
    client: TestClient, trained: dict[str, dict[str, Any]]
) -> None:
    for name in ("hidden_relu", "absolute_value"):
        response = client.get(f"/api/models/{trained[name]['id']}/noise")
        assert response.status_code == 422, (name, response.text)
        (error,) = response.json()["detail"]
        assert error["loc"] == ["path", "model_id"] and "hidden layer" in error["msg"]
    # the other variants still have one
    assert client.get(f"/api/models/{trained['per_feature']['id']}/noise").status_code == 200


# -- validation -----------------------------------------------------------------------------------
PAIR = [{"kind": "correlated", "features": [0, 1]}]
BAD_VARIANTS = [
    (
        {"feature_probability": [[0.1, 0.2, 0.3]]},
        "feature_probability",
        "must have n_features = 4",
    ),
    (
        {"feature_sets": [{"kind": "anticorrelated", "features": [2, 4]}]},
        "feature_sets",
        "features are 0..3",
    ),
    (
        {"feature_sets": [*PAIR, {"kind": "anticorrelated", "features": [1, 2]}]},
        "feature_sets",
        "feature 1 is in more than one set",
    ),
    ({"feature_sets": [{"kind": "correlated", "features": [2]}]}, "feature_sets", "at least 2"),
    (
        {"feature_sets": [{"kind": "correlated", "features": [2, 2]}]},
        "feature_sets",
        "at least 2 distinct",
    ),
    (
        {"feature_probability": [0.1, [0.1, 0.2, 0.2, 0.2]], "feature_sets": PAIR},
        "feature_sets",
        "must share",
    ),
    ({"feature_sets": [{"kind": "mixed", "features": [0, 1]}]}, "feature_sets", None),
    ({"activation": "power", "feature_sets": PAIR}, "feature_sets", "activation 'power'"),
    ({"activation": "power", "hidden_activation": "relu"}, "hidden_activation", "'power'"),
    ({"task": "absolute_value", "activation": "linear"}, "task", "needs activation 'relu'"),
    ({"task": "absolute_value", "activation": "power"}, "task", "needs activation 'relu'"),
    (
        {"task": "absolute_value", "hidden_activation": "none"},
        "hidden_activation",
        "needs hidden_activation 'relu'",
    ),
    ({"task": "square"}, "task", None),
    ({"hidden_activation": "tanh"}, "hidden_activation", None),
    ({"snapshots": MAX_SNAPSHOTS + 1}, "snapshots", "200"),
    ({"snapshots": -1}, "snapshots", None),
    # 1 instance × 10 features × 5 hidden = 50 values per snapshot
    (
        {"n_features": 10, "n_hidden": 5, "snapshots": OUTPUT_VALUES // 50 + 1},
        "snapshots",
        "max_output_values",
    ),
    # untied: twice the weights, so half the snapshots reach the limit
    (
        {
            "n_features": 10,
            "n_hidden": 5,
            "task": "absolute_value",
            "snapshots": OUTPUT_VALUES // 100 + 1,
        },
        "snapshots",
        "max_output_values",
    ),
]


@pytest.mark.parametrize(("body", "field", "message"), BAD_VARIANTS)
def test_bad_variant_requests_are_422_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str, message: str | None
) -> None:
    response = client.post("/api/models", json=TINY | body)
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    matching = [e for e in errors if e["loc"][:2] == ["body", field]]
    assert matching, errors
    if message is not None:
        assert any(message in e["msg"] for e in matching), matching


def test_snapshots_just_within_the_limit_are_accepted() -> None:
    """The snapshot limit counts what is stored: at the limit a request is valid."""
    limits = Limits(max_output_values=OUTPUT_VALUES)
    within = ModelRequest(n_features=10, n_hidden=5, snapshots=OUTPUT_VALUES // 50)
    assert limit_errors(within, limits) == []
    untied = ModelRequest(
        n_features=10, n_hidden=5, task="absolute_value", snapshots=OUTPUT_VALUES // 100
    )
    assert limit_errors(untied, limits) == []


# -- presets --------------------------------------------------------------------------------------
def test_presets_list_every_preset_with_its_ids(client: TestClient) -> None:
    response = client.get("/api/presets")
    assert response.status_code == 200
    served = response.json()
    presets = json.loads(PRESETS_FILE.read_text())["presets"]
    assert [p["id"] for p in served] == [p["id"] for p in presets]
    for info, preset in zip(served, presets, strict=True):
        expected = [ModelRequest.model_validate(r).model_id() for r in preset.get("requests", [])]
        assert info["model_ids"] == expected, preset["id"]
        diagram = preset.get("phase_diagram")
        if diagram is None:
            assert info["diagram_id"] is None
        else:
            assert info["diagram_id"] == PhaseDiagramRequest.model_validate(diagram).diagram_id()
        for key in ("title", "section", "section_url", "text", "view"):
            assert info[key] == preset[key], (preset["id"], key)
        assert len(info["requests"]) == len(preset.get("requests", []))
        # The paper's section (an arXiv paper's abstract page for a paper published there).
        assert info["section_url"].startswith(
            ("https://transformer-circuits.pub/", "https://arxiv.org/abs/")
        )
    assert all(len(i) == 64 for info in served for i in info["model_ids"])


def test_every_preset_request_is_within_the_default_limits() -> None:
    """A gallery card whose entry is missing can still be trained with POST /api/models."""
    for preset in json.loads(PRESETS_FILE.read_text())["presets"]:
        for body in preset.get("requests", []):
            request = ModelRequest.model_validate(body)
            assert limit_errors(request, Limits()) == [], preset["id"]


# -- ids ------------------------------------------------------------------------------------------
# Ids computed by the code before the variants existed (commit 8dd31e0~1): entries trained then
# still match.
OLD_IDS = [
    ({}, "34251bd1288a606f03cf8a3e5d7a2ca6d06be5878ed6d796983e2c8bb66c3830"),
    (
        {
            "n_features": 5,
            "n_hidden": 2,
            "feature_probability": [0.3, 0.05],
            "steps": 40,
            "batch_size": 128,
        },
        "03f9b9069c422be030eab881c61420b6abd04918ee38636e16c111a98a461715",
    ),
    (
        {"activation": "power", "n_features": 6, "n_hidden": 2},
        "a4fd8bb223eced8e2e9d9c2ee91d10bd31aa0bae9e58829c1aba07c6e88d38f8",
    ),
    ({"magnitude": "boolean"}, "cb02c70c91e462f3539ee80a2bc2a7210ebffe69d48f1c3ed30b49c38b7e8de1"),
]
NEW_FIELDS_AT_DEFAULTS = {
    "hidden_activation": "none",
    "task": "reconstruct",
    "snapshots": 0,
    "feature_sets": None,
}


@pytest.mark.parametrize(("body", "old_id"), OLD_IDS)
def test_requests_without_the_new_fields_keep_their_ids(body: dict[str, Any], old_id: str) -> None:
    assert ModelRequest.model_validate(body).model_id() == old_id
    for defaults in (NEW_FIELDS_AT_DEFAULTS, NEW_FIELDS_AT_DEFAULTS | {"feature_sets": []}):
        assert ModelRequest.model_validate(body | defaults).model_id() == old_id


def test_the_new_fields_change_the_id() -> None:
    base = ModelRequest.model_validate({})
    changed = [
        {"hidden_activation": "relu"},
        {"task": "absolute_value"},
        {"snapshots": 2},
        {"feature_sets": PAIR},
        {"feature_probability": [[0.1, 0.1, 0.1, 0.1, 0.2]]},
    ]
    ids = {ModelRequest.model_validate(c).model_id() for c in changed}
    assert len(ids) == len(changed) and base.model_id() not in ids


def test_an_old_request_trains_under_its_old_id(client: TestClient) -> None:
    body, old_id = OLD_IDS[1]
    response = client.post("/api/models", json=body)
    assert response.status_code == 200
    result = response.json()
    assert result["id"] == old_id and result["snapshots"] is None
    request = result["request"]
    assert request["task"] == "reconstruct" and request["hidden_activation"] == "none"
    assert request["feature_sets"] is None and request["snapshots"] == 0
    assert all(i["neurons"] is None and i["W_out"] is None for i in result["instances"])


# -- tiny probabilities ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "variant",
    [
        {"task": "absolute_value"},
        {"activation": "power"},
        {"feature_sets": PAIR},
        {"feature_sets": [{"kind": "anticorrelated", "features": [0, 1]}]},
    ],
    ids=["absolute_value", "power", "correlated", "anticorrelated"],
)
def test_a_tiny_probability_trains_to_numbers_or_is_refused(
    client: TestClient, variant: dict[str, Any]
) -> None:
    """p = 1e−39 is in (0, 1], so it is accepted; training in float32 must then give numbers.

    Fails now: the sampler makes NaN inputs (tests/server/test_variants.py::
    test_tiny_probabilities_give_finite_features), so W, b and the loss are NaN, and the 200
    answer holds null where the schema promises numbers (GET of the stored entry too).
    """
    response = client.post("/api/models", json=TINY | {"feature_probability": 1e-39} | variant)
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        return
    result = response.json()
    (instance,) = result["instances"]
    assert isinstance(instance["loss"], float), instance["loss"]
    assert all(isinstance(w, float) for row in instance["W"] for w in row), instance["W"]
    ModelResult.model_validate(result)
