"""The toy model of TMS §"Demonstrating Superposition", batched over instances.

    h  = W x                      W: (n_hidden, n_features) per instance, no hidden bias
    x′ = ReLU(WᵀW x + b)          or, for the linear model, x′ = WᵀW x + b
    L  = E_x Σᵢ Iᵢ (xᵢ − x′ᵢ)²    per sample, summed over features (BACKGROUND.md)

Many independent models ("instances") live side by side in one tensor, so a sparsity sweep trains
in one batched job; their losses are summed, so they never interact.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

Activation = Literal["relu", "linear"]


class ToyModel(nn.Module):
    """n_instances tied-weight autoencoders n_features → n_hidden → n_features.

    Attributes:
        W: (n_instances, n_hidden, n_features); column W[k, :, i] is feature i's direction.
        b: (n_instances, n_features), the output bias.
    """

    def __init__(
        self,
        n_instances: int,
        n_features: int,
        n_hidden: int,
        activation: Activation = "relu",
        generator: torch.Generator | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        super().__init__()
        self.activation = activation
        # Xavier-normal per instance, as in the paper's notebook, but with the fans of one (m, n)
        # matrix so that an instance's initial scale does not depend on how many share the batch.
        std = math.sqrt(2.0 / (n_features + n_hidden))
        W = torch.randn((n_instances, n_hidden, n_features), generator=generator, device=device)
        self.W = nn.Parameter(W * std)
        self.b = nn.Parameter(torch.zeros((n_instances, n_features), device=device))

    def forward(self, x: Tensor) -> Tensor:
        """Reconstruct x: (B, n_instances, n_features) → x′ of the same shape."""
        h = torch.einsum("bin,imn->bim", x, self.W)  # (B, I, m)
        out = torch.einsum("bim,imn->bin", h, self.W) + self.b  # (B, I, n)
        return torch.relu(out) if self.activation == "relu" else out


def reconstruction_loss(x: Tensor, x_hat: Tensor, importance: Tensor) -> Tensor:
    """The paper's L per instance: importance-weighted squared error, summed over features.

    Args:
        x, x_hat: (B, n_instances, n_features).
        importance: (n_instances, n_features), Iᵢ.

    Returns:
        (n_instances,), the batch mean of Σᵢ Iᵢ (xᵢ − x′ᵢ)².
    """
    return (importance * (x - x_hat) ** 2).sum(dim=-1).mean(dim=0)
