"""Choose the torch device once, at start-up. The CPU fallback lives here and nowhere else."""

from __future__ import annotations

import logging
from typing import Literal

import torch

log = logging.getLogger(__name__)


class DeviceUnavailable(RuntimeError):
    """The requested device cannot be used on this machine."""


def select_device(setting: Literal["auto", "cpu", "cuda"]) -> torch.device:
    """Resolve the ``--device`` setting.

    Args:
        setting: "cpu"; "cuda" (fails if CUDA is absent); or "auto" (CUDA when available).

    Raises:
        DeviceUnavailable: "cuda" was asked for and torch sees no CUDA device.
    """
    if setting == "cuda":
        if not torch.cuda.is_available():
            raise DeviceUnavailable(
                "--device cuda was requested but torch sees no CUDA device "
                f"(torch {torch.__version__}); use --device cpu or auto"
            )
        return torch.device("cuda")
    if setting == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        log.info("no CUDA device found; training on the CPU")
    return torch.device("cpu")
