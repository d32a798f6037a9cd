"""Does an SAE recover the pentagon? ARENA's toy-SAE defaults, with and without resampling.

Trains the gallery's pentagon (5 → 2, p = 0.05, 10,000 steps, best of 8 seeds: the "pentagon"
preset's request) once, then, for each seed, an SAE of 5 latents with every other setting at its
default (ReLU + L1 0.2, Adam 1e-3, batch 1,024, 20,000 steps, resampling every 2,500), and the same
with ``resample_interval`` 0. Prints MMCS, MCC, dead latents (on 2¹⁶ fresh samples), the
resampled latents and the seconds of each SAE, and the CPU's model name.

    python -m benchmarks.sae_pentagon [--seeds 3] [--steps 20000]
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import time

import torch

from server.api.schemas.models import ModelRequest
from server.tms import sae_metrics as sm
from server.tms import train
from server.tms.sae import SAEConfig, train_sae

PENTAGON = {"n_features": 5, "n_hidden": 2, "feature_probability": [0.05], "steps": 10000,
            "n_restarts": 8}  # fmt: skip


def cpu_name() -> str:
    """lscpu's model name (the platform's processor string where there is no lscpu)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or "unknown"
    names = [line.split(":", 1)[1].strip() for line in out.splitlines() if "Model name" in line]
    return names[0] if names else "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20_000)
    args = parser.parse_args()
    request = ModelRequest(**PENTAGON)
    model = train(request.to_config(), request.train_config())
    print(f"CPU: {cpu_name()}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"pentagon model {request.model_id()[:12]}…, Dᵢ = {model.dimensionality[0].tolist()}")
    print("| seed | resample_interval | steps | MMCS | MCC | dead latents | resampled | s |")
    print("|---|---|---|---|---|---|---|---|")
    for seed in range(args.seeds):
        for interval in (2500, 0):
            config = SAEConfig(n_latents=5, steps=args.steps, seed=seed, resample_interval=interval)
            start = time.perf_counter()
            sae = train_sae(model.model, model.W[0], config=config)
            seconds = time.perf_counter() - start
            cos = sm.cosines(sae.features.numpy(), sae.W_dec.numpy())
            scored = sm.represented(sae.features.numpy())
            events = ", ".join(f"{step}: {latents}" for step, latents in sae.resampled if latents)
            print(
                f"| {seed} | {interval} | {args.steps} | {sm.mmcs(cos, scored):.4f} | "
                f"{sm.mcc(cos, scored):.4f} | {sae.dead_latents} | {events or '–'} | "
                f"{seconds:.1f} |"
            )


if __name__ == "__main__":
    main()
