"""Runs built from tensors, as the unit tests of the training loop set them up: a ModelConfig
from the probability and importance tensors, and Run's per-instance importance override."""

from __future__ import annotations

from dataclasses import replace

import pytest
from torch import Tensor

from server.tms import fused
from server.tms.config import Activation, FeatureSet, Hidden, Magnitude, ModelConfig, TrainConfig
from server.tms.training import Run, TrainResult, run_to_end


def make_run(
    probability: Tensor,
    importance: Tensor,
    n_hidden: int,
    activation: Activation,
    config: TrainConfig,
    seed: int,
    power: int = 1,
    magnitude: Magnitude = "uniform",
    hidden: Hidden = "none",
    absolute_value: bool = False,
    feature_sets: tuple[FeatureSet, ...] = (),
) -> Run:
    """A run of ``importance.shape[0]`` instances: p (I, n) or (I, 1), importance (I, n)."""
    n_instances, n_features = importance.shape
    rows = probability.expand(n_instances, n_features).tolist()
    model = ModelConfig(
        n_features,
        n_hidden,
        feature_probability=rows,
        activation=activation,
        power=power if activation == "power" else None,
        magnitude=magnitude,
        feature_sets=feature_sets,
        hidden_activation=hidden,
        task="absolute_value" if absolute_value else "reconstruct",
    )
    return Run(model, replace(config, seed=seed), importance.device, importance)


def train_tensors(*args: object, **kwargs: object) -> TrainResult:
    """:func:`make_run`'s run trained alone to its end."""
    return run_to_end(make_run(*args, **kwargs))  # type: ignore[arg-type]


def eager_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every run take the eager torch step (``training.TrainingBatch``), as tests of that
    step need: small models would otherwise take the fused step (``fused.supports``)."""
    monkeypatch.setattr(fused, "supports", lambda *args, **kwargs: False)
