"""The notebook API: ``train(ModelConfig, TrainConfig)`` and the trained model it returns, with
the paper's measures of it as tensors.

    from server.tms import ModelConfig, TrainConfig, train
    model = train(ModelConfig(n_features=5, n_hidden=2, feature_probability=[0.1, 0.03]),
                  TrainConfig(steps=400, seed=11))
    model.W                  # (n_instances, n_hidden, n_features)
    model.superposition      # (n_instances, n_features)

The server trains through the same :class:`~server.tms.training.Run`, so the same configs and
seed give exactly the weights that ``POST /api/models`` returns for the equivalent request.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import torch
from torch import Tensor

from server.tms import measures, metrics
from server.tms.config import ModelConfig, TrainConfig
from server.tms.training import CheckCallback, InitialWeights, Run, TrainResult, run_to_end


@dataclass
class TrainedModel(TrainResult):
    """The best restart of every instance of a trained config, on the CPU: a
    :class:`~server.tms.training.TrainResult` (W, b, W_out, loss, gain, history_steps,
    loss_history, snapshot_steps, snapshots) that knows its configs, with the paper's measures.

    Attributes:
        model, config: what was trained, and how.
        W: (n_instances, n_hidden, n_features); b: (n_instances, n_features).
        loss: (n_instances,) float64, L = E Σᵢ Iᵢ (yᵢ − x′ᵢ)² on ``config.n_eval_samples``
            fresh inputs that did not pick the restart (TMS §"Demonstrating Superposition";
            ``loss_estimate`` says how); gain: L̃ = E Σᵢ Iᵢ yᵢ² − L.
        loss_history: (len(history_steps), n_instances), the training-batch L.
    """

    model: ModelConfig = field(kw_only=True)
    config: TrainConfig = field(kw_only=True)

    @classmethod
    def of(cls, model: ModelConfig, config: TrainConfig, result: TrainResult) -> TrainedModel:
        """Wrap a run's result, its tensors moved to the CPU (losses as float64)."""
        values = {f.name: getattr(result, f.name) for f in fields(TrainResult)}
        cpu = {k: v.detach().cpu() for k, v in values.items() if isinstance(v, Tensor)}
        cpu["loss"], cpu["gain"] = cpu["loss"].double(), cpu["gain"].double()
        if result.selection_loss is not None:
            cpu["selection_loss"] = cpu["selection_loss"].double()
        if result.train_loss is not None:
            cpu["train_loss"] = cpu["train_loss"].double()
        if result.train_x is not None:
            cpu["train_x"] = [x.detach().cpu() for x in result.train_x]
        snapshots = {k: v.detach().cpu() for k, v in result.snapshots.items()}
        return cls(**(values | cpu | {"snapshots": snapshots}), model=model, config=config)

    # -- the paper's measures (TMS §"Demonstrating Superposition", §"Feature Dimensionality") --
    @property
    def gram(self) -> Tensor:
        """WᵀW, (n_instances, n_features, n_features)."""
        return metrics.gram(self.W)

    @property
    def feature_norms(self) -> Tensor:
        """‖Wᵢ‖, (n_instances, n_features): how much each feature is represented."""
        return metrics.feature_norms(self.W)

    @property
    def superposition(self) -> Tensor:
        """Σⱼ≠ᵢ (Ŵᵢ·Wⱼ)², (n_instances, n_features): how much feature i shares its direction."""
        return metrics.superposition(self.W)

    @property
    def dimensionality(self) -> Tensor:
        """Dᵢ = ‖Wᵢ‖⁴ / Σⱼ (Ŵᵢ·Wⱼ)², (n_instances, n_features): the fraction of a dimension
        feature i gets."""
        return metrics.dimensionality(self.W)

    @property
    def dimensions_per_feature(self) -> Tensor:
        """D* = m / ‖W‖_F², (n_instances,)."""
        return metrics.dimensions_per_feature(self.W)

    @property
    def theory_losses(self) -> list[dict[str, float]]:
        """Per instance, the closed-form losses it is compared with (``measures.theory_losses``)."""
        return [measures.theory_losses(self.model, k) for k in range(self.model.n_instances)]

    @property
    def exact_loss(self) -> list[float | None]:
        """Per instance, the exact loss of a linear model (no sampling error), else None."""
        return measures.exact_linear_losses(self.model, self.W, self.b)

    @property
    def hidden_train(self) -> list[Tensor] | None:
        """Per instance, its training points' hidden vectors h_t = W x_t (ReLU'd with a ReLU
        hidden layer), (n_hidden, T) each; None without ``n_train``."""
        if self.train_x is None:
            return None
        return [
            measures.hidden_vectors(W, x, self.model.hidden)
            for W, x in zip(self.W, self.train_x, strict=True)
        ]

    @property
    def data_dimensionality(self) -> list[Tensor] | None:
        """Per instance, D_t = ‖h_t‖² / Σ_s (ĥ_t·h_s)² of each training point, (T,) each
        (Henighan et al. 2023); None without ``n_train``."""
        hidden = self.hidden_train
        return None if hidden is None else [metrics.data_dimensionality(h) for h in hidden]

    @property
    def neurons(self) -> list[measures.NeuronCounts] | None:
        """Per instance, the neuron view of a ReLU hidden layer; None without one."""
        if self.model.hidden != "relu":
            return None
        return measures.neuron_views(self.W, self.W_out)


def train(
    model: ModelConfig,
    config: TrainConfig | None = None,
    device: torch.device | str = "cpu",
    check: CheckCallback | None = None,
    init: InitialWeights | None = None,
) -> TrainedModel:
    """Train every instance of ``model`` (n_restarts seeds each, side by side in one batch) and
    keep each instance's restart with the lowest loss on fresh samples.

    Args:
        model: the model and its data.
        config: how to train it; None gives the defaults (3,000 steps of the paper's AdamW).
        device: where to train ("cpu", "cuda", …).
        check: called between steps and evaluation chunks; may raise to stop training.
        init: weights to carry on from (a trained model's ``W``, ``b``, ``W_out``, one instance
            or one per instance); None starts from a fresh initialisation. AdamW starts fresh.

    Returns:
        :class:`TrainedModel`, its tensors on the CPU.

    Raises:
        ValueError: from the configs, for out-of-range values.
        Whatever ``check`` raises.
    """
    config = TrainConfig() if config is None else config
    return TrainedModel.of(model, config, run_to_end(Run(model, config, device, init=init), check))
