"""The paper's analytic L2 attack and adversarial vulnerability (TMS §"Relationship to
Adversarial Robustness"; server/tms/adversarial.py), against closed forms."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from server.tms import ModelConfig, TrainConfig, train
from server.tms.adversarial import attack_directions, mean_input_norm, perturb, vulnerability
from server.tms.data import PAPER_FEATURES


def pentagon(norm: float = 1.0) -> torch.Tensor:
    """Five unit features at 72° in two dimensions, (2, 5)."""
    angles = torch.arange(5) * 2 * math.pi / 5
    return norm * torch.stack([angles.cos(), angles.sin()])


def test_orthogonal_unit_features_have_vulnerability_one() -> None:
    # W = I, b = 0, inputs ≥ 0: x′ = x exactly, and the attack on feature i adds exactly λ to
    # output i alone, so every attack costs λ² and the worst of them too.
    measured = vulnerability(torch.eye(3), torch.zeros(3), torch.full((3,), 0.3), torch.ones(3),
                             0.1, 4096, seed=1)  # fmt: skip
    assert measured.clean_loss == 0.0
    assert measured.attack_norm == pytest.approx(0.1 * measured.mean_input_norm)
    assert measured.attacked_loss == pytest.approx(measured.attack_norm**2, rel=1e-5)
    assert measured.vulnerability == pytest.approx(1.0, rel=1e-5)
    assert measured.attacked_features == 3 and sum(measured.worst_feature) == 4096


def test_the_attack_follows_each_feature_s_row_of_the_gram_matrix() -> None:
    # The pentagon's WᵀW: Gᵢⱼ = cos(72° (i − j)), so ‖Gᵢ‖² = Σⱼ cos² = 5/2.
    W = pentagon()
    directions = attack_directions(W.unsqueeze(0))[0]  # (5, 5), column i attacks feature i
    gram = W.T @ W
    torch.testing.assert_close(directions, gram / math.sqrt(2.5), atol=1e-5, rtol=0)
    chosen = attack_directions(W.unsqueeze(0), torch.tensor([[3, 0]]))[0]
    torch.testing.assert_close(chosen, directions[:, [3, 0]])


def test_a_feature_with_no_weights_gets_no_attack() -> None:
    W = torch.eye(3)
    W[:, 2] = 0.0  # (WᵀW)₂ = 0
    measured = vulnerability(W, torch.zeros(3), torch.full((3,), 0.5), torch.ones(3), 0.2, 512, 0)
    assert measured.attacked_features == 2 and measured.worst_feature[2] == 0
    assert measured.vulnerability == pytest.approx(1.0, rel=1e-5)  # features 0 and 1 as before


def test_a_superposed_pentagon_is_more_vulnerable_than_orthogonal_features() -> None:
    """A trained 5 → 2 pentagon (sparse) against the same model's dense instance, which keeps
    two orthogonal features, and against orthogonal unit features."""
    model = train(ModelConfig(5, 2, feature_probability=[0.05, 1.0]), TrainConfig(steps=2000))
    assert model.dimensionality[0].tolist() == pytest.approx([0.4] * 5, abs=0.03)  # a pentagon
    measured = [
        vulnerability(model.W[k], model.b[k], torch.full((5,), p), torch.ones(5), 0.1, 1 << 14, 0)
        for k, p in enumerate([0.05, 1.0])
    ]
    sparse, dense = measured
    assert sparse.vulnerability - 4 * sparse.vulnerability_stderr > 2.0  # orthogonal: 1
    assert sparse.vulnerability > 2 * dense.vulnerability


def test_mean_input_norm_of_one_uniform_feature() -> None:
    # One feature, p = 1: ‖x‖ = x ~ U[0, 1], mean 1/2 (standard error 0.29/√2¹⁶ ≈ 0.0011).
    norm = mean_input_norm(torch.ones(1), PAPER_FEATURES, 1 << 16, torch.Generator().manual_seed(0))
    assert norm == pytest.approx(0.5, abs=0.005)


def test_bad_arguments_raise() -> None:
    W, b, p, importance = torch.eye(2), torch.zeros(2), torch.full((2,), 0.5), torch.ones(2)
    for epsilon in (0.0, -0.1, math.inf, math.nan):
        with pytest.raises(ValueError, match="epsilon"):
            vulnerability(W, b, p, importance, epsilon, 16, 0)
    with pytest.raises(ValueError, match="n_samples"):
        vulnerability(W, b, p, importance, 0.1, 0, 0)
    with pytest.raises(ValueError, match="zero"):  # p = 10⁻⁹: four inputs, all zero, λ = 0
        vulnerability(W, b, torch.full((2,), 1e-9), importance, 0.1, 4, 0)


def test_adversarial_training_moves_each_input_by_lambda_along_a_feature() -> None:
    W = pentagon().unsqueeze(0).repeat(2, 1, 1)  # two rows
    x = torch.rand((2, 5, 64), generator=torch.Generator().manual_seed(0))
    generators = [(slice(0, 1), torch.Generator().manual_seed(1)),
                  (slice(1, 2), torch.Generator().manual_seed(2))]  # fmt: skip
    moved = perturb(x, W, 0.5, generators)
    delta = moved - x
    attack_norm = 0.5 * x.norm(dim=1).mean(dim=1)  # (rows,)
    torch.testing.assert_close(delta.norm(dim=1), attack_norm.unsqueeze(1).expand(2, 64))
    directions = attack_directions(W[:1])[0]  # (5, 5)
    for row in range(2):
        cosines = directions.T @ delta[row] / attack_norm[row]  # (5 features, 64)
        assert torch.allclose(cosines.max(dim=0).values, torch.ones(64), atol=1e-5)
    # A row's draws come from its own generator: the same row alone moves the same way.
    alone = perturb(x[1:], W[1:], 0.5, [(slice(0, 1), torch.Generator().manual_seed(2))])
    torch.testing.assert_close(alone, moved[1:])
    assert torch.equal(perturb(x, W, 0.0, generators), x)


def test_adversarial_training_gives_up_superposition() -> None:
    """5 → 2 at p = 0.05 is a pentagon (1/D* ≈ 3.2); trained against the attack with ε = 2 it
    drops a feature and the rest share less (measured: 1/D* ≈ 2.4)."""
    model = ModelConfig(5, 2, feature_probability=0.05)
    plain = train(model, TrainConfig(steps=2000))
    attacked = train(model, TrainConfig(steps=2000, adversarial_epsilon=2.0))
    assert 1 / plain.dimensions_per_feature[0] > 3.0
    assert 1 / attacked.dimensions_per_feature[0] < 2.8
    assert attacked.superposition[0].median() < 0.8 * plain.superposition[0].median()


def test_adversarial_epsilon_is_id_neutral_when_unset_and_checked() -> None:
    from pydantic import ValidationError

    from server.api.schemas.models import ModelRequest

    plain = ModelRequest()
    assert ModelRequest(adversarial_epsilon=0).model_id() == plain.model_id()
    assert ModelRequest(adversarial_epsilon=0.8).model_id() != plain.model_id()
    assert ModelRequest(adversarial_epsilon=0.8).train_config().adversarial_epsilon == 0.8
    for bad in ({"adversarial_epsilon": -1}, {"adversarial_epsilon": 11},
                {"adversarial_epsilon": 0.5, "n_train": 10}):  # fmt: skip
        with pytest.raises(ValidationError, match="adversarial_epsilon"):
            ModelRequest(**bad)
    with pytest.raises(ValueError, match="adversarial_epsilon"):
        TrainConfig(adversarial_epsilon=math.nan)
    from server.api.schemas.double_descent import DoubleDescentRequest

    with pytest.raises(ValidationError, match="adversarial_epsilon"):  # its models are finite
        DoubleDescentRequest(n_features=8, adversarial_epsilon=0.5, n_train_values=[2])


def test_the_shipped_sweep_grows_more_vulnerable_with_features_per_dimension(
    tmp_path: Path,
) -> None:
    """The adversarial-vulnerability preset (20 → 5 at ten sparsities), measured here on fresh
    inputs: dense it is about as vulnerable as orthogonal features (1), the vulnerability rises
    more than 3× as superposition forms (the paper's "> 3×"), and it rises with 1/D*."""
    from tests.server.test_shipped_cache import shipped

    result = shipped("adversarial-vulnerability", tmp_path)
    config = result.request.to_config()
    per_dimension, vulnerable = [], []
    for k, instance in enumerate(result.instances):
        measured = vulnerability(
            torch.tensor(instance.W), torch.tensor(instance.b),
            torch.tensor(config.probability_rows[k]), torch.ones(20), 0.1, 4096, seed=k,
        )  # fmt: skip
        per_dimension.append(1 / instance.dimensions_per_feature)
        vulnerable.append(measured.vulnerability)
    assert vulnerable[0] == pytest.approx(1.0, abs=0.1) and per_dimension[0] < 1.1
    assert max(vulnerable) > 3 * vulnerable[0]
    correlation = torch.corrcoef(torch.tensor([per_dimension, vulnerable]))[0, 1]
    assert correlation > 0.7, (per_dimension, vulnerable)
