"""Hypothesis properties: the metrics are finite for every finite W, and every request that the
contract accepts either trains to a finite result or is refused with errors that name a limit."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from pydantic import BaseModel, ValidationError

from server.api.app import create_app
from server.api.schemas.models import ModelRequest, ModelResult
from server.api.schemas.phase_diagrams import PhaseDiagramRequest, PhaseDiagramResult
from server.api.settings import Limits, Settings
from server.results import instance_results
from server.tms import metrics

METRICS = (
    metrics.gram,
    metrics.feature_norms,
    metrics.superposition,
    metrics.dimensionality,
    metrics.dimensions_per_feature,
)
FLOAT32 = st.floats(width=32, allow_nan=False, allow_infinity=False, allow_subnormal=True)


@settings(max_examples=400, deadline=None)
@given(
    W=arrays(
        np.float32,
        st.tuples(st.integers(1, 3), st.integers(1, 6), st.integers(1, 9)),
        elements=st.one_of(FLOAT32, st.sampled_from([0.0, -0.0, 3.4028235e38, 1e-45])),
    )
)
def test_metrics_are_finite_for_every_finite_weight(W: np.ndarray) -> None:
    """Model weights are float32 (training and the safetensors cache): every finite one."""
    weights = torch.from_numpy(W)
    for fn in METRICS:
        assert torch.isfinite(fn(weights)).all(), fn.__name__
    D = metrics.dimensionality(weights)
    assert ((D >= 0) & (D <= 1 + 1e-9)).all()
    b = torch.zeros(W.shape[0], W.shape[2])
    request = ModelRequest(
        n_features=W.shape[2], n_hidden=W.shape[1], feature_probability=[0.5] * W.shape[0]
    )
    for instance in instance_results(request, weights, b, torch.zeros(W.shape[0])):
        json.dumps(instance.model_dump(), allow_nan=False)  # the API's JSON: no NaN, no Inf


LIMITS = Limits(
    max_features=8,
    max_hidden=4,
    max_instances=3,
    max_grid_size=3,
    max_restarts=2,
    max_steps=8,
    max_batch_size=32,
    max_work=1e8,
    max_output_values=4096,
)
SETTINGS = set(Limits.model_fields)


def values(small: st.SearchStrategy[Any], huge: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly in range, sometimes far beyond: both sides of every limit."""
    return st.one_of(small, small, small, huge)


PROBABILITY = st.floats(min_value=5e-324, max_value=1.0)
SHARED = st.sampled_from([0.05, 0.5, 1.0])
MODEL_FIELDS = {
    "n_features": values(st.integers(1, 8), st.integers(9, 2**31 - 1)),
    "n_hidden": values(st.integers(1, 4), st.integers(5, 2**31 - 1)),
    # an instance's entry is a p or a list of p per feature (the right length or not); a few
    # shared values, so that feature sets' members often share theirs
    "feature_probability": st.one_of(
        PROBABILITY,
        st.lists(
            st.one_of(
                PROBABILITY, st.lists(st.one_of(SHARED, PROBABILITY), min_size=1, max_size=9)
            ),
            min_size=1,
            max_size=5,
        ),
    ),
    "importance_decay": st.one_of(st.none(), st.floats(min_value=1e-300, max_value=1.0)),
    "activation": st.sampled_from(["relu", "linear", "power"]),
    "power": st.sampled_from([None, 1, 3, 5]),  # refused unless the activation is "power"
    "magnitude": st.sampled_from(["uniform", "boolean"]),
    "steps": values(st.integers(1, 8), st.integers(9, 2**31 - 1)),
    "batch_size": values(st.integers(1, 32), st.integers(33, 2**31 - 1)),
    "lr": st.floats(min_value=1e-12, max_value=1.0),
    "seed": st.integers(0, 2**32 - 1),
    "n_restarts": values(st.integers(1, 2), st.integers(3, 2**31 - 1)),
    # The variants: often left at their defaults, so that enough requests are accepted.
    "task": st.sampled_from(["reconstruct", "reconstruct", "absolute_value"]),
    "hidden_activation": st.sampled_from([None, None, "none", "relu"]),
    "feature_sets": st.one_of(
        st.none(),
        st.none(),
        st.lists(
            st.fixed_dictionaries(
                {
                    "kind": st.sampled_from(["correlated", "anticorrelated"]),
                    "features": st.one_of(
                        st.lists(st.integers(0, 3), min_size=2, max_size=2, unique=True),
                        st.lists(st.integers(0, 9), max_size=4),
                    ),
                }
            ),
            max_size=2,
        ),
    ),
    # beyond max_output_values (above) from 22 snapshots of the largest models
    "snapshots": values(st.integers(0, 40), st.integers(41, 2**31 - 1)),
}
DIAGRAM_FIELDS = {
    "n_features": st.sampled_from([2, 3]),
    "grid_size": values(st.integers(2, 3), st.integers(4, 2**31 - 1)),
    "feature_probability_range": st.tuples(PROBABILITY, PROBABILITY),
    "relative_importance_range": st.tuples(
        st.floats(min_value=1e-300, max_value=1e6), st.floats(min_value=1e-300, max_value=1e6)
    ),
    "steps": MODEL_FIELDS["steps"],
    "batch_size": MODEL_FIELDS["batch_size"],
    "lr": MODEL_FIELDS["lr"],
    "seed": MODEL_FIELDS["seed"],
    "n_restarts": MODEL_FIELDS["n_restarts"],
}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings_ = Settings(cache_dir=tmp_path_factory.mktemp("cache"), device="cpu", limits=LIMITS)
    with TestClient(create_app(settings_)) as test_client:
        yield test_client


def strict_json(text: str) -> Any:
    """Parse an answer, refusing NaN and ±Infinity, which are not JSON."""

    def refuse(constant: str) -> None:
        raise AssertionError(f"non-finite number {constant} in the answer")

    return json.loads(text, parse_constant=refuse)


def finite_numbers(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(finite_numbers(v) for v in value)
    if isinstance(value, dict):
        return all(finite_numbers(v) for v in value.values())
    return True


def trains_or_is_refused_cleanly(
    client: TestClient,
    path: str,
    body: dict[str, Any],
    request: type[BaseModel],
    result: type[BaseModel],
) -> str:
    """POST an accepted ``request``: a finite, valid ``result`` (no null where the schema promises
    a number), or 422s that each name a field of the request and a limit."""
    fields = set(request.model_fields)
    response = client.post(path, json=body)
    answer = strict_json(response.text)
    if response.status_code == 422:
        for error in answer["detail"]:
            assert error["type"] == "limit_exceeded", error
            assert error["ctx"]["setting"] in SETTINGS and error["ctx"]["setting"] in error["msg"]
            assert error["loc"][0] == "body" and error["loc"][1] in fields
        return "refused"
    assert response.status_code == 200, response.text
    assert finite_numbers(answer), "a trained result holds a non-finite number"
    result.model_validate(answer)  # NaN weights would come back as null
    return "trained"


# Given in every example: their defaults (3,000 steps, …) are beyond the small limits above.
ALWAYS = {"steps", "batch_size", "n_restarts", "grid_size"}


def required(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if k in ALWAYS}


def optional(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if k not in ALWAYS}


OUTCOMES: dict[str, int] = {"trained": 0, "refused": 0}
PROPERTY = settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@PROPERTY
@given(body=st.fixed_dictionaries(required(MODEL_FIELDS), optional=optional(MODEL_FIELDS)))
def test_every_accepted_model_request_trains_or_is_refused_cleanly(
    client: TestClient, body: dict[str, Any]
) -> None:
    try:
        ModelRequest.model_validate(body)
    except ValidationError as exc:  # not accepted: the API answers 422 naming the field
        response = client.post("/api/models", json=body)
        assert response.status_code == 422 and strict_json(response.text)["detail"]
        assert {e["loc"][0] for e in exc.errors()} <= set(MODEL_FIELDS) | {"importance"}
        return
    OUTCOMES[
        trains_or_is_refused_cleanly(client, "/api/models", body, ModelRequest, ModelResult)
    ] += 1


@st.composite
def variant_requests(draw: st.DrawFn) -> dict[str, Any]:
    """Model requests that use the variants together and coherently, every size within the
    limits: per-feature p of the right length whose set members share theirs, disjoint sets with
    members in range. The model, activation and hidden layer are drawn freely, so some
    combinations are refused (422 naming the field)."""
    n = draw(st.integers(2, 8))
    order = draw(st.permutations(range(n)))
    sets: list[dict[str, Any]] = []
    start = 0
    for kind, size in draw(
        st.lists(st.tuples(st.sampled_from(["correlated", "anticorrelated"]), st.integers(2, 3)))
    ):
        if start + size > n:
            break
        sets.append({"kind": kind, "features": list(order[start : start + size])})
        start += size
    probabilities: list[Any] = []
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            probabilities.append(draw(PROBABILITY))
            continue
        row = draw(st.lists(st.one_of(SHARED, PROBABILITY), min_size=n, max_size=n))
        for feature_set in sets:
            for j in feature_set["features"]:
                row[j] = row[feature_set["features"][0]]
        probabilities.append(row)
    body = {
        "n_features": n,
        "n_hidden": draw(st.integers(1, 4)),
        "feature_probability": probabilities,
        "activation": draw(st.sampled_from(["relu", "relu", "linear", "power"])),
        "task": draw(st.sampled_from(["reconstruct", "absolute_value"])),
        "hidden_activation": draw(st.sampled_from([None, "none", "relu"])),
        "magnitude": draw(st.sampled_from(["uniform", "boolean"])),
        "snapshots": draw(st.integers(0, 30)),
        "steps": draw(st.integers(1, 8)),
        "batch_size": draw(st.integers(1, 32)),
        "n_restarts": draw(st.integers(1, 2)),
        "seed": draw(st.integers(0, 2**32 - 1)),
    }
    if sets or draw(st.booleans()):
        body["feature_sets"] = sets
    return body


@settings(PROPERTY, max_examples=80)
@given(body=variant_requests())
def test_every_accepted_variant_request_trains_or_is_refused_cleanly(
    client: TestClient, body: dict[str, Any]
) -> None:
    try:
        ModelRequest.model_validate(body)
    except ValidationError as exc:
        response = client.post("/api/models", json=body)
        assert response.status_code == 422 and strict_json(response.text)["detail"]
        assert {e["loc"][0] for e in exc.errors()} <= {"task", "hidden_activation", "feature_sets"}
        return
    OUTCOMES[
        trains_or_is_refused_cleanly(client, "/api/models", body, ModelRequest, ModelResult)
    ] += 1


@PROPERTY
@given(body=st.fixed_dictionaries(required(DIAGRAM_FIELDS), optional=optional(DIAGRAM_FIELDS)))
def test_every_accepted_diagram_request_trains_or_is_refused_cleanly(
    client: TestClient, body: dict[str, Any]
) -> None:
    try:
        PhaseDiagramRequest.model_validate(body)
    except ValidationError:
        assert client.post("/api/phase-diagrams", json=body).status_code == 422
        return
    OUTCOMES[
        trains_or_is_refused_cleanly(
            client, "/api/phase-diagrams", body, PhaseDiagramRequest, PhaseDiagramResult
        )
    ] += 1


def test_both_outcomes_were_reached() -> None:
    """The properties above are only as good as their examples: both sides were exercised."""
    assert OUTCOMES["trained"] >= 20 and OUTCOMES["refused"] >= 20, OUTCOMES
