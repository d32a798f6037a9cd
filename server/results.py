"""Turn trained tensors into the API's results: the metrics of every instance, as plain lists."""

from __future__ import annotations

import torch
from torch import Tensor

from server import metrics
from server.schemas import InstanceResult, ModelRequest


@torch.no_grad()
def instance_results(
    request: ModelRequest, W: Tensor, b: Tensor, loss: Tensor
) -> list[InstanceResult]:
    """Measure every instance (BACKGROUND.md "Metrics").

    Args:
        request: the normalised request the weights were trained for.
        W: (n_instances, n_hidden, n_features); b: (n_instances, n_features).
        loss: (n_instances,), L of each instance.
    """
    W = W.detach().cpu()
    columns = {
        "W": W.tolist(),
        "b": b.detach().cpu().tolist(),
        "loss": loss.detach().double().cpu().tolist(),
        "gram": metrics.gram(W).tolist(),
        "feature_norms": metrics.feature_norms(W).tolist(),
        "superposition": metrics.superposition(W).tolist(),
        "dimensionality": metrics.dimensionality(W).tolist(),
        "dimensions_per_feature": metrics.dimensions_per_feature(W).tolist(),
    }
    importance = request.importances
    return [
        InstanceResult(
            feature_probability=p,
            importance=importance,
            **{name: values[k] for name, values in columns.items()},
        )
        for k, p in enumerate(request.feature_probabilities)
    ]
