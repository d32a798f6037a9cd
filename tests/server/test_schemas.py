"""Request validation, normalisation and the cache key."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from server.api.limits import limit_errors
from server.api.schemas.models import ModelRequest
from server.api.settings import Limits


def test_normalised_request_makes_lists_explicit() -> None:
    request = ModelRequest(n_features=3, feature_probability=0.5, importance_decay=0.5)
    normal = request.normalised()
    assert normal.feature_probability == [0.5]
    assert normal.importance == [1.0, 0.5, 0.25]
    assert normal.importance_decay is None


def test_equivalent_requests_share_an_id() -> None:
    a = ModelRequest(n_features=3, feature_probability=0.5)
    b = ModelRequest(n_features=3, feature_probability=[0.5], importance=[1, 1, 1])
    c = ModelRequest(n_features=3, feature_probability=0.5, importance_decay=1.0)
    assert a.model_id() == b.model_id() == c.model_id()
    assert len(a.model_id()) == 64
    assert a.model_id() != ModelRequest(n_features=3, feature_probability=0.5, seed=1).model_id()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"n_hidden": 0}, "n_hidden"),
        ({"feature_probability": 0}, "feature_probability"),
        ({"feature_probability": 1.5}, "feature_probability"),
        ({"feature_probability": float("nan")}, "feature_probability"),
        ({"feature_probability": []}, "feature_probability"),
        ({"n_features": 3, "importance": [1, 2]}, "importance"),
        ({"importance_decay": 0.5, "importance": [1] * 5}, "importance"),
        ({"activation": "tanh"}, "activation"),
        ({"steps": "many"}, "steps"),
        ({"lr": 0}, "lr"),
        ({"unknown_field": 1}, "unknown_field"),
    ],
)
def test_bad_requests_name_the_field(body: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        ModelRequest.model_validate(body)
    assert any(field in map(str, error["loc"]) for error in info.value.errors())


def test_limits_name_field_and_limit() -> None:
    limits = Limits(max_features=100, max_steps=1000)
    errors = limit_errors(ModelRequest(n_features=10**6, steps=10**6), limits)
    by_field = {error["loc"][-1]: error for error in errors}
    assert set(by_field) == {"n_features", "steps"}
    message = by_field["n_features"]["msg"]
    assert "100" in message and "max_features" in message
    assert by_field["steps"]["ctx"]["limit"] == 1000


def test_total_work_is_bounded() -> None:
    limits = Limits(max_work=1e10)  # the default 5 → 2 request is 2.0e9 units, 100 → 20 1.5e11
    request = ModelRequest(n_features=100, n_hidden=20, steps=10_000, batch_size=1024)
    (error,) = limit_errors(request, limits)
    assert "total work" in error["msg"] and "max_work" in error["msg"]
    assert limit_errors(ModelRequest(), limits) == []
