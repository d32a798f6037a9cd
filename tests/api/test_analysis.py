"""Issue 6's API: power models, exact and gain figures of results, a trained model's interference
and compounding noise, the interference calculator and the power theory lines
(docs/THEORY.md F13–F15).

REST over FastAPI's TestClient (one app and cache for the module, so each model trains once); the
live socket against the real server of tests/conftest.py.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from websockets.sync.client import connect

from server.api.schemas.models import ModelRequest
from server.tms.config import EVAL_SAMPLES
from tests.api.conftest import app_client, train

ZERO_ID = "0" * 64
# Small enough to train in a fraction of a second on one CPU core.
TINY = {"n_features": 6, "n_hidden": 3, "steps": 300, "batch_size": 256}
POWER = TINY | {"activation": "power", "feature_probability": [0.5, 0.1]}
RELU = {
    "n_features": 8,
    "n_hidden": 3,
    "feature_probability": [0.05, 0.3],
    "steps": 300,
    "batch_size": 256,
}
LINEAR = TINY | {"activation": "linear", "feature_probability": [0.5, 0.1]}
SHORT = {"steps": 60, "batch_size": 64}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    yield from app_client(tmp_path_factory.mktemp("analysis_cache"))


@pytest.fixture(scope="module")
def power_model(client: TestClient) -> dict[str, Any]:
    return train(client, POWER)


@pytest.fixture(scope="module")
def relu_model(client: TestClient) -> dict[str, Any]:
    return train(client, RELU)


@pytest.fixture(scope="module")
def linear_model(client: TestClient) -> dict[str, Any]:
    return train(client, LINEAR)


def errors_at(response: Any, field: str) -> list[dict[str, Any]]:
    """A 422's errors whose loc names ``field``."""
    assert response.status_code == 422, response.text
    return [e for e in response.json()["detail"] if field in map(str, e["loc"])]


def sampling_sigma(importance: list[float], p: float, mu2: float, mu4: float) -> float:
    """The standard error of mean Σᵢ Iᵢ xᵢ² over EVAL_SAMPLES inputs (Var xᵢ² = pμ₄ − p²μ₂²)."""
    variance = sum(i * i for i in importance) * (p * mu4 - (p * mu2) ** 2)
    return math.sqrt(variance / EVAL_SAMPLES)


def column(W: list[list[float]], i: int) -> list[float]:
    return [row[i] for row in W]


def cosine(u: list[float], v: list[float]) -> float:
    dot = sum(a * b for a, b in zip(u, v, strict=True))
    return dot / math.sqrt(sum(a * a for a in u) * sum(b * b for b in v))


# -- power models through POST /api/models ------------------------------------------------------
def test_power_model_trains_without_bias_and_reports_its_gain(power_model: dict[str, Any]) -> None:
    assert power_model["request"]["activation"] == "power"
    assert power_model["request"]["power"] == 3  # the default, echoed
    assert power_model["request"]["magnitude"] == "uniform"
    assert power_model["id"] == ModelRequest.model_validate(POWER).model_id()
    for instance in power_model["instances"]:
        p = instance["feature_probability"]
        assert instance["b"] == [0.0] * 6
        theory = instance["theory_loss"]
        assert set(theory) == {"zero_output", "power_unsuperposed"}
        # ξ ~ U[−1, 1]: μ₂ = 1/3, and each of the m = 3 kept features gains p·μ₄²/μ₆ = 0.28·p.
        assert theory["zero_output"] == pytest.approx(p * 6 / 3, rel=1e-9)
        assert theory["power_unsuperposed"] == pytest.approx(p * 6 / 3 - 0.28 * p * 3, rel=1e-9)
        assert instance["exact_loss"] is None
        assert isinstance(instance["gain"], float)
        # gain = mean Σ Iᵢxᵢ² − loss on the same inputs: only the sampling of Σ Iᵢxᵢ² separates
        # loss + gain from the exact zero_output.
        sigma = sampling_sigma(instance["importance"], p, 1 / 3, 1 / 5)
        assert abs(instance["loss"] + instance["gain"] - theory["zero_output"]) < 5 * sigma


def test_power_default_and_cache(client: TestClient, power_model: dict[str, Any]) -> None:
    explicit = train(client, POWER | {"power": 3})
    assert explicit["cached"] is True and explicit["id"] == power_model["id"]
    null = train(client, POWER | {"power": None})
    assert null["cached"] is True and null["request"]["power"] == 3
    five = train(client, POWER | {"power": 5})
    assert five["request"]["power"] == 5 and five["id"] != power_model["id"]
    assert five["cached"] is False
    assert train(client, POWER | {"power": 5})["cached"] is True
    # k = 5: μ₆²/μ₁₀ = (1/7)²·11 per kept feature.
    instance = five["instances"][0]
    gain = 0.5 * 3 * 11 / 49
    assert instance["theory_loss"]["power_unsuperposed"] == pytest.approx(1.0 - gain, rel=1e-9)


def test_power_one_cannot_beat_the_linear_ceiling(client: TestClient) -> None:
    result = train(client, POWER | {"power": 1, "seed": 1})
    assert result["request"]["power"] == 1
    for instance in result["instances"]:
        p = instance["feature_probability"]
        ceiling = p * 3 / 3  # p·μ₂·m, the best gain of any W when k = 1
        zero = instance["theory_loss"]["zero_output"]
        assert instance["theory_loss"]["power_unsuperposed"] == pytest.approx(zero - ceiling)
        sigma = sampling_sigma(instance["importance"], p, 1 / 3, 1 / 5)
        assert instance["gain"] < ceiling + 5 * sigma


def test_boolean_power_model_with_importances(client: TestClient) -> None:
    body = POWER | {"magnitude": "boolean", "importance": [3, 2, 1, 1, 1, 1], "n_hidden": 2}
    result = train(client, body)
    assert result["request"]["magnitude"] == "boolean"
    for instance in result["instances"]:
        p = instance["feature_probability"]
        assert instance["b"] == [0.0] * 6
        theory = instance["theory_loss"]
        # ±1 inputs: μ₂ = μ₄ = μ₆ = 1, so zero_output = p·ΣIᵢ and a kept feature gains p·Iᵢ; the
        # two kept are the most important, 3 + 2.
        assert theory["zero_output"] == pytest.approx(p * 9, rel=1e-9)
        assert theory["power_unsuperposed"] == pytest.approx(p * 9 - p * 5, rel=1e-9)
        sigma = sampling_sigma(instance["importance"], p, 1.0, 1.0)
        assert abs(instance["loss"] + instance["gain"] - theory["zero_output"]) < 5 * sigma


BAD_POWER_BODIES = [
    ({"activation": "relu", "power": 3}, "power"),
    ({"activation": "linear", "power": 1}, "power"),
    ({"power": 3}, "power"),  # activation defaults to relu
    ({"activation": "power", "power": 2}, "power"),
    ({"activation": "power", "power": 4}, "power"),
    ({"activation": "power", "power": 7}, "power"),
    ({"activation": "power", "power": "3"}, "power"),
    ({"magnitude": "gaussian"}, "magnitude"),
    ({"activation": "power", "magnitude": "normal"}, "magnitude"),
    ({"activation": "sigmoid"}, "activation"),
]


@pytest.mark.parametrize(("body", "field"), BAD_POWER_BODIES)
def test_bad_power_fields_are_422_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    assert errors_at(client.post("/api/models", json=TINY | body), field)


def test_ids_of_requests_without_the_new_fields_are_unchanged(client: TestClient) -> None:
    # The ids before issue 6 (server/schemas.py at the last commit): old cache entries stay valid.
    assert ModelRequest().model_id().startswith("34251bd1")
    assert ModelRequest(activation="linear").model_id().startswith("709824a6")
    body = RELU | {"seed": 40}
    first = train(client, body)
    assert first["id"] == ModelRequest.model_validate(body).model_id()
    assert first["request"]["power"] is None and first["request"]["magnitude"] == "uniform"
    # The new fields at their defaults are the same model.
    same = train(client, body | {"magnitude": "uniform", "power": None})
    assert same["cached"] is True and same["id"] == first["id"]
    # A boolean magnitude is another model.
    assert ModelRequest(magnitude="boolean").model_id() != ModelRequest().model_id()
    boolean = train(client, body | {"magnitude": "boolean"})
    assert boolean["cached"] is False and boolean["id"] != first["id"]
    assert boolean["request"]["magnitude"] == "boolean"
    for instance in boolean["instances"]:
        p = instance["feature_probability"]
        theory = instance["theory_loss"]
        # Always 1 when active: zero_output p·n, and the linear optimum leaves n − m features at
        # their variance p(1 − p); F11's uniform lines are for U[0, 1] only.
        assert set(theory) == {"zero_output", "linear_optimum"}
        assert theory["zero_output"] == pytest.approx(p * 8, rel=1e-9)
        assert theory["linear_optimum"] == pytest.approx(5 * p * (1 - p), rel=1e-9)


def ws_url(base: str) -> str:
    return base.replace("http://", "ws://") + "/api/models/live"


def test_live_socket_streams_a_power_model(live_server: str) -> None:
    body = POWER | {"steps": 400, "seed": 61}
    with connect(ws_url(live_server), max_size=None) as ws:
        ws.send(json.dumps(TINY | {"activation": "relu", "power": 3}))
        error = json.loads(ws.recv(timeout=60))
        assert error["type"] == "error" and error["seq"] == 1
        assert any("power" in map(str, e["loc"]) for e in error["detail"])
        ws.send(json.dumps(body))  # the socket stays usable
        snapshots = []
        while (message := json.loads(ws.recv(timeout=120)))["type"] == "snapshot":
            snapshots.append(message)
    assert message["type"] == "done" and message["seq"] == 2, message
    assert snapshots and all(s["seq"] == 2 for s in snapshots)
    result = message["result"]
    assert result["request"]["power"] == 3 and result["request"]["activation"] == "power"
    assert snapshots[0]["id"] == result["id"]
    for snapshot in snapshots:
        for instance in snapshot["instances"]:
            assert instance["b"] == [0.0] * 6 and instance["gain"] is None
            assert "power_unsuperposed" in instance["theory_loss"]
    assert all(isinstance(instance["gain"], float) for instance in result["instances"])


# -- exact loss and gain of relu and linear models ------------------------------------------------
def test_linear_models_have_an_exact_loss(linear_model: dict[str, Any]) -> None:
    for instance in linear_model["instances"]:
        p = instance["feature_probability"]
        exact = instance["exact_loss"]
        assert isinstance(exact, float)
        assert exact == pytest.approx(instance["loss"], rel=0.05)  # loss is sampled
        theory = instance["theory_loss"]
        # F3: n − m = 3 features left at their variance p/3 − p²/4; no linear W does better.
        assert theory["linear_optimum"] == pytest.approx(3 * (p / 3 - p * p / 4), rel=1e-9)
        assert exact >= theory["linear_optimum"] * (1 - 1e-9)
        assert isinstance(instance["gain"], float)
        sigma = sampling_sigma(instance["importance"], p, 1 / 3, 1 / 5)
        assert abs(instance["loss"] + instance["gain"] - theory["zero_output"]) < 5 * sigma


def test_relu_models_have_no_exact_loss_but_a_gain(relu_model: dict[str, Any]) -> None:
    for instance in relu_model["instances"]:
        p = instance["feature_probability"]
        assert instance["exact_loss"] is None
        assert isinstance(instance["gain"], float)
        zero = instance["theory_loss"]["zero_output"]
        assert zero == pytest.approx(p * 8 / 3, rel=1e-9)  # U[0, 1]: μ₂ = 1/3
        sigma = sampling_sigma(instance["importance"], p, 1 / 3, 1 / 5)
        assert abs(instance["loss"] + instance["gain"] - zero) < 5 * sigma


# -- GET /api/models/{id}/interference ---------------------------------------------------------
def interference(client: TestClient, model_id: str, **query: Any) -> Any:
    return client.get(f"/api/models/{model_id}/interference", params=query)


def check_cosines(stats: dict[str, Any], k: int, bins: int) -> None:
    histogram = stats["histogram"]
    assert len(histogram["counts"]) == bins and len(histogram["edges"]) == bins + 1
    assert histogram["edges"][0] == -1.0 and histogram["edges"][-1] == 1.0
    assert all(a < b for a, b in itertools.pairwise(histogram["edges"]))
    assert stats["count"] == k * (k - 1) // 2 == sum(histogram["counts"])
    if k >= 2:
        assert abs(stats["mean"]) <= stats["rms"] <= stats["max"] <= 1.0
    else:
        assert stats["rms"] is None and stats["max"] is None and stats["mean"] is None


def test_interference_of_a_trained_model(client: TestClient, relu_model: dict[str, Any]) -> None:
    model_id = relu_model["id"]
    instance = relu_model["instances"][1]
    norms = instance["feature_norms"]
    ordered = sorted(norms)
    min_norm = (ordered[2] + ordered[3]) / 2  # leaves out the three weakest features
    response = interference(client, model_id, instance=1, min_norm=min_norm, bins=25)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["id"] == model_id and answer["instance"] == 1
    assert answer["n_features"] == 8 and answer["n_hidden"] == 3
    assert answer["min_norm"] == pytest.approx(min_norm)
    represented = answer["represented"]
    assert represented == [i for i, norm in enumerate(norms) if norm >= min_norm]
    assert len(represented) == 5 and set(represented) <= set(range(8))
    for stats in (answer["model"], answer["random"]):
        check_cosines(stats, 5, 25)
    assert answer["random"]["histogram"]["edges"] == answer["model"]["histogram"]["edges"]
    # The model's figures are those of its own W.
    columns = [column(instance["W"], i) for i in represented]
    cosines = [cosine(u, v) for u, v in itertools.combinations(columns, 2)]
    model = answer["model"]
    assert model["rms"] == pytest.approx(math.sqrt(sum(c * c for c in cosines) / 10), rel=1e-6)
    assert model["max"] == pytest.approx(max(map(abs, cosines)), rel=1e-6)
    assert model["mean"] == pytest.approx(sum(cosines) / 10, rel=1e-6, abs=1e-9)
    bounds = answer["bounds"]
    assert bounds["n_features"] == len(represented) and bounds["n_hidden"] == 3
    assert bounds["l"] == 1 and bounds["random_rms_overlap"] == pytest.approx(1 / math.sqrt(3))


def test_interference_defaults(client: TestClient, relu_model: dict[str, Any]) -> None:
    answer = interference(client, relu_model["id"]).json()
    assert answer["instance"] == 0 and answer["min_norm"] == 0.5
    norms = relu_model["instances"][0]["feature_norms"]
    assert answer["represented"] == [i for i, norm in enumerate(norms) if norm >= 0.5]
    k = len(answer["represented"])
    check_cosines(answer["model"], k, 40)
    check_cosines(answer["random"], k, 40)
    # min_norm 0 keeps every feature.
    every = interference(client, relu_model["id"], min_norm=0).json()
    assert every["represented"] == list(range(8)) and every["model"]["count"] == 28


def test_too_few_represented_features(client: TestClient, relu_model: dict[str, Any]) -> None:
    model_id = relu_model["id"]
    none = interference(client, model_id, min_norm=1e6, bins=10).json()
    assert none["represented"] == []
    for stats in (none["model"], none["random"]):
        check_cosines(stats, 0, 10)
        assert stats["histogram"]["counts"] == [0] * 10
    ordered = sorted(relu_model["instances"][0]["feature_norms"])
    one = interference(client, model_id, min_norm=(ordered[-1] + ordered[-2]) / 2).json()
    assert len(one["represented"]) == 1
    check_cosines(one["model"], 1, 40)
    check_cosines(one["random"], 1, 40)


def test_interference_seed_moves_only_the_random_baseline(
    client: TestClient, relu_model: dict[str, Any]
) -> None:
    model_id = relu_model["id"]
    zero = interference(client, model_id, seed=0).json()
    assert interference(client, model_id, seed=0).json() == zero
    other = interference(client, model_id, seed=12345).json()
    assert other["model"] == zero["model"]
    assert other["random"]["rms"] != zero["random"]["rms"]
    assert other["random"]["count"] == zero["random"]["count"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"bins": 1}, "bins"),
        ({"bins": 201}, "bins"),
        ({"min_norm": -0.1}, "min_norm"),
        ({"min_norm": "nan"}, "min_norm"),
        ({"instance": -1}, "instance"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_interference_queries_are_422(
    client: TestClient, relu_model: dict[str, Any], query: dict[str, Any], field: str
) -> None:
    assert errors_at(interference(client, relu_model["id"], **query), field)


@pytest.mark.parametrize("endpoint", ["interference", "noise"])
@pytest.mark.parametrize("index", [2, 5])
def test_an_instance_the_model_lacks_is_422(
    client: TestClient, relu_model: dict[str, Any], endpoint: str, index: int
) -> None:
    response = client.get(f"/api/models/{relu_model['id']}/{endpoint}", params={"instance": index})
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"] == ["query", "instance"]
    assert "has 2" in error["msg"]  # the model's count of instances
    last = client.get(f"/api/models/{relu_model['id']}/{endpoint}", params={"instance": 1})
    assert last.status_code == 200 and last.json()["instance"] == 1


@pytest.mark.parametrize("endpoint", ["interference", "noise"])
def test_unknown_and_malformed_ids(client: TestClient, endpoint: str) -> None:
    response = client.get(f"/api/models/{ZERO_ID}/{endpoint}")
    assert response.status_code == 404
    assert isinstance(response.json()["detail"], str)
    for bad in ("abc", "A" * 64, "g" * 64, "0" * 65):
        assert client.get(f"/api/models/{bad}/{endpoint}").status_code == 422, bad
    # A stored entry of another kind is not a model.
    diagram = client.post("/api/phase-diagrams", json={"grid_size": 2, "steps": 10})
    assert diagram.status_code == 200, diagram.text
    assert client.get(f"/api/models/{diagram.json()['id']}/{endpoint}").status_code == 404


# -- GET /api/models/{id}/noise ------------------------------------------------------------------
def noise(client: TestClient, model_id: str, **query: Any) -> Any:
    return client.get(f"/api/models/{model_id}/noise", params=query)


def test_noise_curve_defaults(client: TestClient, relu_model: dict[str, Any]) -> None:
    response = noise(client, relu_model["id"])
    assert response.status_code == 200, response.text
    curve = response.json()
    n, m = 8, 3
    assert curve["id"] == relu_model["id"] and curve["instance"] == 0
    assert curve["n_features"] == n and curve["n_hidden"] == m
    assert curve["samples"] == 64 and curve["seed"] == 0
    ls = curve["l"]
    assert ls == list(range(1, n + 1))
    for key in ("pre_activation_rms", "post_activation_rms", "signal", "predicted_rms"):
        assert len(curve[key]) == len(ls), key
    # l = n leaves no inactive feature.
    assert curve["pre_activation_rms"][-1] is None and curve["post_activation_rms"][-1] is None
    assert all(v is not None and v >= 0 for v in curve["pre_activation_rms"][:-1])
    assert all(v is not None and v >= 0 for v in curve["post_activation_rms"][:-1])
    assert curve["predicted_rms"] == pytest.approx([math.sqrt(count / m) for count in ls])
    assert curve["typical_budget"] == m
    assert curve["worst_case_budget"] == pytest.approx(m / (8 * math.log(n)))
    # The signal at l = n is exact: every feature on, the mean row sum of WᵀW.
    gram = relu_model["instances"][0]["gram"]
    assert curve["signal"][-1] == pytest.approx(sum(map(sum, gram)) / n, rel=1e-6)
    # At l = 1 it is some feature's ‖Wᵢ‖².
    diagonal = [gram[i][i] for i in range(n)]
    assert min(diagonal) - 1e-9 <= curve["signal"][0] <= max(diagonal) + 1e-9
    # At l = n − 1 the one inactive j reads Σ_{i≠j} (WᵀW)ⱼᵢ.
    readouts = [abs(sum(row) - row[j]) for j, row in enumerate(gram)]
    assert min(readouts) - 1e-9 <= curve["pre_activation_rms"][-2] <= max(readouts) + 1e-9
    rms_and_signal = zip(ls, curve["pre_activation_rms"], curve["signal"], strict=True)
    crossings = [
        count for count, rms, signal in rms_and_signal if rms is not None and rms >= signal
    ]
    assert curve["crossover_l"] == (crossings[0] if crossings else None)


@pytest.mark.parametrize("activation", ["power", "relu", "linear"])
def test_noise_reads_out_through_the_models_activation(
    client: TestClient, request: pytest.FixtureRequest, activation: str
) -> None:
    # With l = n − 1 and one sample, the one inactive j reads zⱼ = Σ_{i≠j} (WᵀW)ⱼᵢ and outputs
    # the model's own activation of it: the RMS values are |zⱼ| and |x′ⱼ| exactly.
    model = request.getfixturevalue(f"{activation}_model")
    n = model["request"]["n_features"]
    curve = noise(client, model["id"], l=n - 1, samples=1).json()
    assert curve["l"] == [n - 1] and curve["samples"] == 1
    instance = model["instances"][0]
    readouts = [sum(row) - row[j] for j, row in enumerate(instance["gram"])]
    pre, post = curve["pre_activation_rms"][0], curve["post_activation_rms"][0]
    (j,) = [j for j, z in enumerate(readouts) if abs(abs(z) - pre) < 1e-9]
    z = readouts[j]
    expected = {
        "power": z**3,  # k = 3, no bias
        "relu": max(0.0, z + instance["b"][j]),
        "linear": z + instance["b"][j],
    }[activation]
    assert post == pytest.approx(abs(expected), rel=1e-9, abs=1e-12)
    assert curve["signal"][0] == pytest.approx(
        sum(instance["gram"][i][k] for i in range(n) for k in range(n) if j not in (i, k))
        / (n - 1),
        rel=1e-9,
    )


def test_noise_chosen_l_values(client: TestClient, relu_model: dict[str, Any]) -> None:
    response = client.get(f"/api/models/{relu_model['id']}/noise?l=3&l=1&l=3&l=8&samples=16")
    assert response.status_code == 200, response.text
    curve = response.json()
    assert curve["l"] == [1, 3, 8] and curve["samples"] == 16
    assert curve["predicted_rms"] == pytest.approx([math.sqrt(1 / 3), 1.0, math.sqrt(8 / 3)])
    assert curve["pre_activation_rms"][2] is None and curve["pre_activation_rms"][1] is not None


def test_noise_default_l_for_large_and_single_feature_models(client: TestClient) -> None:
    wide = train(client, {"n_features": 100, "n_hidden": 4, "feature_probability": 0.05} | SHORT)
    curve = noise(client, wide["id"], samples=8).json()
    ls = curve["l"]
    # n > 64: about log-spaced from 1 to n, at most 48 values, none repeated.
    assert ls[0] == 1 and ls[-1] == 100 and len(ls) <= 48
    assert all(a < b for a, b in itertools.pairwise(ls))
    assert ls[:10] == list(range(1, 11)) and ls[-2] > 80
    single = train(client, {"n_features": 1, "n_hidden": 1} | SHORT)
    curve = noise(client, single["id"]).json()
    assert curve["l"] == [1] and curve["pre_activation_rms"] == [None]
    assert curve["crossover_l"] is None and curve["worst_case_budget"] is None
    answer = interference(client, single["id"], min_norm=0).json()
    assert answer["represented"] == [0] and answer["model"]["count"] == 0
    assert answer["bounds"]["n_features"] == 1 and answer["bounds"]["worst_case_budget"] is None


def test_noise_is_deterministic_per_seed(client: TestClient, relu_model: dict[str, Any]) -> None:
    model_id = relu_model["id"]
    first = noise(client, model_id, seed=3).json()
    assert noise(client, model_id, seed=3).json() == first
    other = noise(client, model_id, seed=4).json()
    assert other["seed"] == 4
    assert other["pre_activation_rms"] != first["pre_activation_rms"]


@pytest.mark.parametrize(
    ("query", "loc"),
    [
        ("l=9", ["query", "l"]),
        ("l=1&l=100", ["query", "l"]),
        ("l=0", ["query", "l"]),
        ("l=-2", ["query", "l"]),
        ("l=x", ["query", "l"]),
        ("&".join(f"l={k % 8 + 1}" for k in range(65)), ["query", "l"]),
        ("samples=0", ["query", "samples"]),
        ("samples=257", ["query", "samples"]),
        ("seed=-1", ["query", "seed"]),
    ],
)
def test_bad_noise_queries_are_422(
    client: TestClient, relu_model: dict[str, Any], query: str, loc: list[str]
) -> None:
    response = client.get(f"/api/models/{relu_model['id']}/noise?{query}")
    assert response.status_code == 422, response.text
    assert any(e["loc"][:2] == loc for e in response.json()["detail"]), response.text


def test_l_above_n_names_n(client: TestClient, relu_model: dict[str, Any]) -> None:
    response = noise(client, relu_model["id"], l=9)
    (error,) = response.json()["detail"]
    assert error["loc"] == ["query", "l"] and "8" in error["msg"]


# -- GET /api/interference/bounds --------------------------------------------------------------
def bounds(client: TestClient, **query: Any) -> Any:
    return client.get("/api/interference/bounds", params=query)


def test_bounds_match_theory_oracles(client: TestClient) -> None:
    # docs/THEORY.md F13 (whose m and n are swapped): 10⁴ features in 100 dimensions, l = 10.
    response = bounds(client, n_features=10_000, n_hidden=100, l=10)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["n_features"], answer["n_hidden"], answer["l"]) == (10_000, 100, 10)
    assert answer["jl_overlap"] == pytest.approx(0.8584, abs=1e-4)
    assert answer["worst_case_budget"] == pytest.approx(1.357, abs=1e-3)
    assert answer["random_rms_overlap"] == pytest.approx(0.1, abs=1e-12)
    assert answer["random_noise"] == pytest.approx(0.3162, abs=1e-4)
    assert answer["jl_noise"] == pytest.approx(0.8584 * math.sqrt(10), abs=1e-3)
    assert answer["typical_budget"] == 100
    assert 0.1 < answer["random_expected_max_overlap"] < answer["jl_overlap"]
    # F13: 2000 random unit vectors in R¹⁰⁰, ε_JL = 0.7798, max |cos| 0.481 (mean of 20 draws).
    answer = bounds(client, n_features=2000, n_hidden=100).json()
    assert answer["l"] == 1
    assert answer["jl_overlap"] == pytest.approx(0.7798, abs=1e-4)
    assert answer["random_expected_max_overlap"] == pytest.approx(0.481, abs=0.01)


def test_bounds_edge_cases(client: TestClient) -> None:
    one = bounds(client, n_features=1, n_hidden=5).json()
    assert one["worst_case_budget"] is None and one["random_expected_max_overlap"] is None
    assert one["jl_overlap"] == 0
    # Two random unit vectors: E|cos| is 1/2 in R³ (|cos| is uniform) and 2/π in R².
    assert bounds(client, n_features=2, n_hidden=3).json()[
        "random_expected_max_overlap"
    ] == pytest.approx(0.5, abs=1e-3)
    assert bounds(client, n_features=2, n_hidden=2).json()[
        "random_expected_max_overlap"
    ] == pytest.approx(2 / math.pi, abs=1e-3)
    assert bounds(client, n_features=50, n_hidden=1).json()["random_expected_max_overlap"] == 1


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"n_features": 0, "n_hidden": 5}, "n_features"),
        ({"n_features": 5, "n_hidden": 0}, "n_hidden"),
        ({"n_features": 5, "n_hidden": 5, "l": 0}, "l"),
        ({"n_features": 10**9 + 1, "n_hidden": 5}, "n_features"),
        ({"n_features": 5, "n_hidden": 10**9 + 1}, "n_hidden"),
        ({"n_features": 5, "n_hidden": 5, "l": 10**9 + 1}, "l"),
        ({"n_features": 5, "n_hidden": 5, "l": 1.5}, "l"),
        ({"n_features": "many", "n_hidden": 5}, "n_features"),
        ({"n_features": 5, "n_hidden": 10**400}, "n_hidden"),
        ({"n_features": 5}, "n_hidden"),
    ],
)
def test_bad_bounds_queries_are_422(client: TestClient, query: dict[str, Any], field: str) -> None:
    assert errors_at(bounds(client, **query), field)


def test_missing_size_is_reported_as_missing(client: TestClient) -> None:
    (error,) = bounds(client, n_features=5).json()["detail"]
    assert error["loc"] == ["query", "n_hidden"] and error["type"] == "missing"


def test_huge_bounds_answer_quickly(client: TestClient) -> None:
    started = time.monotonic()
    for n, m in [(10**9, 10**9), (10**9, 1), (10**9, 2), (2, 10**9)]:
        response = bounds(client, n_features=n, n_hidden=m, l=10**9)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert all(value is None or math.isfinite(value) for value in answer.values()), answer
    assert time.monotonic() - started < 5  # a hang guard, not a benchmark


# -- GET /api/theory/power ---------------------------------------------------------------------
def power_theory(client: TestClient, **query: Any) -> Any:
    return client.get("/api/theory/power", params=query)


def test_power_theory_k3(client: TestClient) -> None:
    response = power_theory(client, k=3, n_hidden=2, n_features=9, p_min=0.01, p_max=0.5, points=7)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["k"], answer["n_hidden"], answer["n_features"]) == (3, 2, 9)
    assert answer["magnitude"] == "uniform"
    assert answer["moments"] == pytest.approx({"mu2": 1 / 3, "mu_k1": 1 / 5, "mu_2k": 1 / 7})
    assert answer["per_feature_gain"] == pytest.approx(0.28)
    assert answer["in_theorem_regime"] is True  # n = 9 > m³ = 8
    assert answer["very_sparse_edge"] == pytest.approx(1 / 8)
    assert answer["linear_ceiling"] is None
    ps = answer["p"]
    assert len(ps) == 7 and ps[0] == pytest.approx(0.01) and ps[-1] == pytest.approx(0.5)
    ratios = [b / a for a, b in itertools.pairwise(ps)]
    assert ratios == pytest.approx([ratios[0]] * 6, rel=1e-9) and ratios[0] > 1
    assert answer["unsuperposed_gain"] == pytest.approx([p * 2 * 0.28 for p in ps])
    assert answer["unsuperposed_gain"][0] == pytest.approx(0.0056)  # F15's oracle, p = 0.01
    assert answer["zero_output_loss"] == pytest.approx([p * 9 / 3 for p in ps])
    assert answer["shape_sparse"] == pytest.approx([p * 8 for p in ps])
    assert answer["shape_dense"] == pytest.approx([2 * p ** (1 / 3) for p in ps])
    edge = power_theory(client, k=3, n_hidden=2, n_features=8).json()
    assert edge["in_theorem_regime"] is False  # n = 8 = m³


def test_power_theory_agrees_with_a_trained_models_lines(
    client: TestClient, power_model: dict[str, Any]
) -> None:
    query = {"k": 3, "n_hidden": 3, "n_features": 6, "p_min": 0.1, "p_max": 0.5, "points": 2}
    answer = power_theory(client, **query).json()
    instances = {i["feature_probability"]: i["theory_loss"] for i in power_model["instances"]}
    for p, zero, gain in zip(
        answer["p"], answer["zero_output_loss"], answer["unsuperposed_gain"], strict=True
    ):
        theory = instances[p]  # the ends of the p range are exact
        assert zero == pytest.approx(theory["zero_output"], rel=1e-9)
        assert gain == pytest.approx(theory["zero_output"] - theory["power_unsuperposed"])


def test_power_theory_defaults_and_k5(client: TestClient) -> None:
    answer = power_theory(client, k=5, n_hidden=3, n_features=4).json()
    ps = answer["p"]
    assert len(ps) == 100 and ps[0] == pytest.approx(1e-3) and ps[-1] == pytest.approx(1.0)
    # μ₆²/μ₁₀ = 11/49; a diagonal WᵀW keeps min(m, n) = 3 features.
    assert answer["per_feature_gain"] == pytest.approx(11 / 49)
    assert answer["unsuperposed_gain"] == pytest.approx([p * 3 * 11 / 49 for p in ps])
    assert answer["very_sparse_edge"] == pytest.approx(3.0**-5)
    assert answer["shape_dense"] == pytest.approx([3 * p ** (1 / 5) for p in ps])
    few = power_theory(client, k=3, n_hidden=4, n_features=2, points=2).json()
    assert few["unsuperposed_gain"] == pytest.approx([p * 2 * 0.28 for p in few["p"]])


def test_power_theory_k1_is_the_linear_ceiling(client: TestClient) -> None:
    answer = power_theory(client, k=1, n_hidden=2, n_features=9, p_min=0.3, p_max=0.9).json()
    ps = answer["p"]
    assert answer["linear_ceiling"] == pytest.approx([p * 2 / 3 for p in ps])
    assert answer["linear_ceiling"] == pytest.approx(answer["unsuperposed_gain"])
    assert answer["linear_ceiling"][0] == pytest.approx(0.2)  # F15's oracle, p = 0.3
    assert answer["per_feature_gain"] == pytest.approx(1 / 3)


def test_linear_ceiling_never_exceeds_the_zero_output_loss(client: TestClient) -> None:
    """With m > n, rank WᵀW ≤ n: the ceiling is p·μ₂·min(m, n), never above p·n·μ₂."""
    answer = power_theory(client, k=1, n_hidden=5, n_features=2, points=2).json()
    for ceiling, zero in zip(answer["linear_ceiling"], answer["zero_output_loss"], strict=True):
        assert ceiling <= zero * (1 + 1e-12)


def test_power_theory_boolean(client: TestClient) -> None:
    answer = power_theory(client, k=3, n_hidden=2, n_features=9, magnitude="boolean").json()
    assert answer["magnitude"] == "boolean"
    assert answer["moments"] == pytest.approx({"mu2": 1.0, "mu_k1": 1.0, "mu_2k": 1.0})
    assert answer["per_feature_gain"] == pytest.approx(1.0)
    ps = answer["p"]
    assert answer["unsuperposed_gain"] == pytest.approx([p * 2 for p in ps])
    assert answer["zero_output_loss"] == pytest.approx([p * 9 for p in ps])


@pytest.mark.parametrize(
    ("query", "loc"),
    [
        ({"k": 2}, ["query", "k"]),
        ({"k": 4}, ["query", "k"]),
        ({"k": 0}, ["query", "k"]),
        ({"k": 7}, ["query", "k"]),
        ({"p_min": 0.5, "p_max": 0.5}, ["query", "p_max"]),
        ({"p_min": 0.6, "p_max": 0.5}, ["query", "p_max"]),
        ({"p_min": 0}, ["query", "p_min"]),
        ({"p_min": "nan"}, ["query", "p_min"]),
        ({"p_max": 1.5}, ["query", "p_max"]),
        ({"points": 1}, ["query", "points"]),
        ({"points": 401}, ["query", "points"]),
        ({"magnitude": "gaussian"}, ["query", "magnitude"]),
        ({"n_hidden": 0}, ["query", "n_hidden"]),
        ({"n_features": 10**9 + 1}, ["query", "n_features"]),
    ],
)
def test_bad_power_theory_queries_are_422(
    client: TestClient, query: dict[str, Any], loc: list[str]
) -> None:
    response = power_theory(client, **({"k": 3, "n_hidden": 2, "n_features": 9} | query))
    assert response.status_code == 422, response.text
    assert any(e["loc"] == loc for e in response.json()["detail"]), response.text


def test_power_theory_needs_its_sizes(client: TestClient) -> None:
    response = power_theory(client, k=3, n_hidden=2)
    assert [e["loc"] for e in response.json()["detail"]] == [["query", "n_features"]]
    assert power_theory(client, n_hidden=2, n_features=9).status_code == 422


def test_huge_power_theory_answers_quickly(client: TestClient) -> None:
    started = time.monotonic()
    for k in (1, 3, 5):
        response = power_theory(client, k=k, n_hidden=10**9, n_features=10**9, points=400)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["in_theorem_regime"] is False
        for key in ("zero_output_loss", "unsuperposed_gain", "shape_sparse", "shape_dense"):
            assert len(answer[key]) == 400 and all(math.isfinite(v) for v in answer[key]), key
    assert time.monotonic() - started < 5  # a hang guard, not a benchmark
