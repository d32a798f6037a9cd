"""Choose the torch device and its CPU threads once, at start-up. The CPU fallback lives here and
nowhere else."""

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


def set_torch_threads(setting: int) -> int:
    """Set torch's intra-op CPU threads (``--torch-threads``); 0 keeps torch's default (every
    core). Returns the number torch now uses.

    Measured with 64 slider-moving clients on 2 cores (benchmarks/RESULTS.md, "Load"), 1 thread
    and 2 served alike; fewer threads are for a machine that also runs other work.
    """
    if setting:
        torch.set_num_threads(setting)
    threads = torch.get_num_threads()
    log.info("torch trains with %d CPU thread(s)", threads)
    return threads
