"""Choose the torch device and its CPU threads once, at start-up. The CPU fallback lives here and
nowhere else."""

from __future__ import annotations

import logging
import os
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


def set_torch_threads(setting: int) -> int:
    """Set torch's intra-op CPU threads (``--torch-threads``); returns the number set.

    0 means every core but one, at least 1. On a machine that also serves the clients, a step that
    spreads over every core waits on the busiest of them: on 2 cores with the event loop busy, a
    step of 64 explorer models measured about 9 ms with 1 thread against 130 ms with 2
    (benchmarks/RESULTS.md, "Load").
    """
    threads = setting or max(1, (os.cpu_count() or 1) - 1)
    torch.set_num_threads(threads)
    log.info("torch trains with %d CPU thread(s)", threads)
    return threads
