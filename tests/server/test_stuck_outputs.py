"""Output units stuck at zero in dense many-feature models, and the notebook initialisation that
avoids them (benchmarks/RESULTS.md, "Stuck output units")."""

from __future__ import annotations

import pytest
import torch

from server.tms import metrics
from server.tms.config import ModelConfig, TrainConfig, WeightInit
from server.tms.model import init_std
from server.tms.trained import TrainedModel, train

# 100 features on 10 dimensions, dense, equal importance: a 1/10 scale of feature geometry's
# densest points. Three seeds (one instance each).
N, M, SEEDS = 100, 10, 3
# The dedicated-features optimum: m features exact, the other n − m at their mean 1/2, each
# costing Var U[0, 1] = 1/12.
DEDICATED = (N - M) / 12
# A stuck unit outputs 0 instead of about 1/2: E[x²] − Var x = 1/3 − 1/12 = 1/4 more loss.
PER_STUCK = 0.25


def _dense(weight_init: WeightInit) -> TrainedModel:
    model = ModelConfig(n_features=N, n_hidden=M, feature_probability=[1.0] * SEEDS)
    return train(model, TrainConfig(steps=2000, weight_init=weight_init))


def _stuck(trained: TrainedModel) -> list[int]:
    x = torch.rand((8192, N), generator=torch.Generator().manual_seed(99))  # fresh, dense
    return [int(metrics.stuck_outputs(trained.W[i], trained.b[i], x).sum()) for i in range(SEEDS)]


def test_stuck_outputs_reads_a_dead_unit() -> None:
    W = torch.tensor([[1.0, 0.0, -0.5], [0.0, 1.0, 0.0]])
    b = torch.tensor([0.1, 0.0, -0.3])
    x = torch.rand((64, 3), generator=torch.Generator().manual_seed(0))
    # unit 2: (WᵀW x)₂ + b₂ = −0.5 x₀ + 0.25 x₂ − 0.3 < 0 on [0, 1]³; unit 1 is x₁ ≥ 0, zero only
    # where x₁ = 0, which fresh uniform samples never give.
    assert metrics.stuck_outputs(W, b, x).tolist() == [False, False, True]


def test_init_scales() -> None:
    assert init_std(400, 30, "xavier") == pytest.approx((2 / 430) ** 0.5)
    assert init_std(400, 30, "notebook") == pytest.approx((2 / (400 * 30 + 30)) ** 0.5)


def test_dense_model_from_xavier_scale_has_stuck_units_the_loss_confirms() -> None:
    trained = _dense("xavier")
    stuck = _stuck(trained)
    assert min(stuck) >= 4, stuck
    # Independent of the check: the excess over the dedicated optimum is a quarter per unit.
    for count, loss in zip(stuck, trained.loss.tolist(), strict=True):
        assert loss - DEDICATED == pytest.approx(count * PER_STUCK, abs=0.1)


def test_dense_model_from_notebook_scale_reaches_the_dedicated_optimum() -> None:
    trained = _dense("notebook")
    stuck = _stuck(trained)
    assert sum(stuck) <= 1, stuck
    assert min(trained.loss.tolist()) == pytest.approx(DEDICATED, rel=0.01)


def test_weight_init_request_field() -> None:
    from pydantic import ValidationError

    from server.api.schemas.models import ModelRequest

    base = {"n_features": 5, "n_hidden": 2}
    # The default keeps every earlier id (and the shipped entries) as it was.
    assert ModelRequest(**base).model_id() == ModelRequest(**base, weight_init="xavier").model_id()
    notebook = ModelRequest(**base, weight_init="notebook")
    assert notebook.model_id() != ModelRequest(**base).model_id()
    assert notebook.train_config().weight_init == "notebook"
    with pytest.raises(ValidationError, match="weight_init"):
        ModelRequest(**base, weight_init="kaiming")
