"""The AdamW step over many models' parameters at once: torch's fused kernel, in one place.

``torch.optim.AdamW(fused=True)`` calls the private ``torch._fused_adamw_`` on lists of
parameters; calling it directly lets one call update every run of a training batch, each with its
own state, without an optimiser object per run. Where a torch build lacks that kernel, the same
update goes through ``torch.optim.adamw.adamw``'s public functional form (foreach, or one tensor
at a time), which gives the same numbers up to rounding (tests/server/test_model.py compares
both with ``torch.optim.AdamW``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor
from torch.optim.adamw import adamw

BETAS = (0.9, 0.999)  # torch.optim.AdamW's defaults, which the paper's notebook uses
EPS = 1e-8

_FUSED = getattr(torch, "_fused_adamw_", None)


@dataclass
class AdamGroup:
    """Parameters that share a learning rate and weight decay: one AdamW call.

    Attributes:
        params, grads, exp_avgs, exp_avg_sqs: parallel lists, one entry per parameter tensor.
        steps: each parameter's step counter (a 0-d float tensor, updated in place).
    """

    lr: float
    weight_decay: float
    params: list[Tensor] = field(default_factory=list)
    grads: list[Tensor] = field(default_factory=list)
    exp_avgs: list[Tensor] = field(default_factory=list)
    exp_avg_sqs: list[Tensor] = field(default_factory=list)
    steps: list[Tensor] = field(default_factory=list)


@torch.no_grad()
def adamw_step(group: AdamGroup, fused: bool | None = None) -> None:
    """One AdamW step (decoupled weight decay) of every parameter of ``group``, in place.

    Args:
        fused: use torch's fused kernel; None: when the build has it. False takes the public
            functional path instead (the fallback, also used to test it).
    """
    use_fused = _FUSED is not None if fused is None else fused
    if use_fused:
        assert _FUSED is not None
        torch._foreach_add_(group.steps, 1)  # the fused kernel reads the incremented count
        _FUSED(
            group.params, group.grads, group.exp_avgs, group.exp_avg_sqs, [], group.steps,
            lr=group.lr, beta1=BETAS[0], beta2=BETAS[1], weight_decay=group.weight_decay,
            eps=EPS, amsgrad=False, maximize=False,
        )  # fmt: skip
        return
    adamw(
        group.params, group.grads, group.exp_avgs, group.exp_avg_sqs, [], group.steps,
        foreach=group.params[0].device.type != "cpu", amsgrad=False, beta1=BETAS[0],
        beta2=BETAS[1], lr=group.lr, weight_decay=group.weight_decay, eps=EPS, maximize=False,
    )  # fmt: skip
