"""GET /api/models/{id}/adversarial: a trained instance's vulnerability to the paper's analytic
L2 attack (TMS §"Relationship to Adversarial Robustness"), its limits and its errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from server.api.schemas.adversarial import MAX_ADVERSARIAL_SAMPLES, max_adversarial_samples
from tests.api.conftest import app_client, train

ZERO_ID = "0" * 64
PENTAGON = {"n_features": 5, "n_hidden": 2, "feature_probability": [0.05, 1.0], "steps": 2000}
WIDE = {"n_features": 300, "n_hidden": 4, "steps": 5, "batch_size": 16}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    yield from app_client(tmp_path_factory.mktemp("adversarial_cache"))


@pytest.fixture(scope="module")
def pentagon(client: TestClient) -> dict[str, Any]:
    return train(client, PENTAGON)


def attack(client: TestClient, model_id: str, **query: Any) -> Any:
    return client.get(f"/api/models/{model_id}/adversarial", params=query)


def test_the_sparse_pentagon_is_more_vulnerable_than_the_dense_model(
    client: TestClient, pentagon: dict[str, Any]
) -> None:
    answers = []
    for instance in (0, 1):
        response = attack(client, pentagon["id"], instance=instance, samples=8192, seed=3)
        assert response.status_code == 200, response.text
        answers.append(response.json())
    sparse, dense = answers
    for body in answers:
        assert body["epsilon"] == 0.1 and body["samples"] == 8192 and body["seed"] == 3
        assert body["attack_norm"] == pytest.approx(0.1 * body["mean_input_norm"])
        gap = body["attacked_loss"] - body["clean_loss"]
        assert body["vulnerability"] == pytest.approx(gap / body["attack_norm"] ** 2)
        assert sum(body["worst_feature"]) == 8192 and body["attacked_features"] == 5
    assert sparse["instance"] == 0 and sparse["dimensions_per_feature"] < 0.45  # 5 in 2 dims
    assert sparse["vulnerability"] > 2 * dense["vulnerability"]
    # The same query answers the same; another seed draws other inputs.
    again = attack(client, pentagon["id"], instance=0, samples=8192, seed=3).json()
    assert again == sparse
    other = attack(client, pentagon["id"], instance=0, samples=8192, seed=4).json()
    assert other["clean_loss"] != sparse["clean_loss"]


def test_the_defaults(client: TestClient, pentagon: dict[str, Any]) -> None:
    body = attack(client, pentagon["id"]).json()
    assert (body["instance"], body["epsilon"], body["seed"]) == (0, 0.1, 0)
    assert body["samples"] == 1 << 14


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"epsilon": 0}, "epsilon"),
        ({"epsilon": -0.1}, "epsilon"),
        ({"epsilon": "nan"}, "epsilon"),
        ({"epsilon": 11}, "epsilon"),
        ({"samples": 0}, "samples"),
        ({"samples": MAX_ADVERSARIAL_SAMPLES + 1}, "samples"),
        ({"seed": -1}, "seed"),
        ({"instance": -1}, "instance"),
        ({"instance": 2}, "instance"),
    ],
)
def test_bad_queries_are_422_naming_the_field(
    client: TestClient, pentagon: dict[str, Any], query: dict[str, Any], field: str
) -> None:
    response = attack(client, pentagon["id"], **query)
    assert response.status_code == 422, response.text
    assert any(field in map(str, e["loc"]) for e in response.json()["detail"])


def test_samples_are_bounded_by_the_model_s_shape(client: TestClient) -> None:
    wide = train(client, WIDE)
    limit = max_adversarial_samples(300, 4)
    assert limit < MAX_ADVERSARIAL_SAMPLES
    response = attack(client, wide["id"], samples=limit + 1)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["query", "samples"] and str(limit) in error["msg"]
    assert attack(client, wide["id"], samples=limit).status_code == 200


def test_unknown_and_malformed_ids(client: TestClient) -> None:
    assert attack(client, ZERO_ID).status_code == 404
    assert attack(client, "abc").status_code == 422


def test_an_overflowing_loss_is_a_422_not_a_500(
    client: TestClient, pentagon: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A diverged model's loss can overflow under attack; JSON has no inf, so it is refused."""
    from server.tms import adversarial

    def overflowing(*args: Any, **kwargs: Any) -> adversarial.Vulnerability:
        inf = float("inf")
        return adversarial.Vulnerability(0.1, 1.0, 0.1, inf, inf, float("nan"), float("nan"),
                                         64, 5, [64, 0, 0, 0, 0])  # fmt: skip

    monkeypatch.setattr(adversarial, "vulnerability", overflowing)
    response = attack(client, pentagon["id"], samples=64)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["path", "model_id"] and "overflow" in error["msg"]
