"""The project's trainer against the notebook-style reference, side by side in one run.

For each configuration both trainers run the same number of steps on the same device, from the
same kind of initialisation, and both final models are evaluated on the same fresh sample
(2¹⁶ inputs drawn from one fixed seed). The table gives ms per step (median of ``--repeats``
timed blocks), the speed-up, and the mean final loss L over the instances. A second table gives
this machine's floors, measured in the same run: what one eager op, one random number, one byte
copied and one FLOP of batched matmul cost, and what they add up to for each configuration,
beside what the project's sampler (``sparse.SparseSampler``: rows of small p draw only their
non-zero entries) and the dense draw cost on that configuration's rows, and the process's peak
RSS. A third gives, for the configurations that take the fused step (``server/tms/fused.py``:
small models on the CPU), what 64 random bits cost as it draws them and how many a step draws:
the fused step's own floor.

    python benchmarks/train_speed.py                 # all configurations, full step counts
    python benchmarks/train_speed.py --only A B --scale 0.1
    python benchmarks/train_speed.py --device cuda
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from benchmarks.reference import train_reference
from server.tms import fused
from server.tms.config import ModelConfig, TrainConfig
from server.tms.data import PAPER_FEATURES
from server.tms.model import Architecture
from server.tms.sparse import SparseSampler
from server.tms.training import Run, TrainingBatch, evaluate

EVAL_SEED = 12345
EVAL_SAMPLES = 1 << 16


@dataclass(frozen=True)
class Config:
    name: str
    what: str
    n_features: int
    n_hidden: int
    probability: Tensor  # (I, 1)
    importance: Tensor  # (I, n)
    steps: int


def configs() -> list[Config]:
    grid = torch.logspace(0, -2, 32)  # a 32 × 32 phase grid: p from 1 to 0.01 ...
    ratio = torch.logspace(-1, 1, 32)  # ... × the second feature's relative importance 0.1 to 10
    p_c, r_c = torch.meshgrid(grid, ratio, indexing="xy")
    sparsities = torch.tensor([1, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001])
    return [
        Config(
            "A", "n=20 → m=5, 7 instances, I=0.7^i, p=1…0.001", 20, 5,
            sparsities.unsqueeze(1), (0.7 ** torch.arange(20.0)).expand(7, 20), 10_000,
        ),
        Config(
            "B", "n=5 → m=2, 1 instance, I=0.9^i, p=0.1", 5, 2,
            torch.tensor([[0.1]]), (0.9 ** torch.arange(5.0)).unsqueeze(0), 10_000,
        ),
        Config(
            "C", "n=2 → m=1, 1024 instances (32×32 phase grid)", 2, 1,
            p_c.reshape(-1, 1), torch.stack([torch.ones(1024), r_c.reshape(-1)], dim=1), 2_000,
        ),
        Config(
            "D", "n=400 → m=30, 8 instances, I=1, p=1…0.001", 400, 30,
            torch.logspace(0, -3, 8).unsqueeze(1), torch.ones(8, 400), 2_000,
        ),
    ]  # fmt: skip


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed_blocks(step: Callable[[], None], steps: int, repeats: int, device: torch.device) -> float:
    """Run ``steps`` steps in ``repeats`` blocks; the median ms per step of a block."""
    block = max(1, steps // repeats)
    times, done = [], 0
    while done < steps:
        n = min(block, steps - done)
        sync(device)
        start = time.perf_counter()
        for _ in range(n):
            step()
        sync(device)
        times.append((time.perf_counter() - start) * 1e3 / n)
        done += n
    return statistics.median(times)


def run_reference(
    c: Config, steps: int, repeats: int, device: torch.device
) -> tuple[float, Tensor]:
    state = {}
    trainer = train_reference(
        c.probability.to(device).expand(-1, c.n_features), c.importance.to(device), c.n_hidden,
        seed=0,
    )  # fmt: skip

    def step() -> None:
        state["wb"] = next(trainer)

    next(trainer)  # the first step pays torch's lazy set-up; it is not timed
    ms = timed_blocks(step, steps - 1, repeats, device)
    W, b = state["wb"]
    return ms, loss_of(c, W, b, device)


def run_project(c: Config, steps: int, repeats: int, device: torch.device) -> tuple[float, Tensor]:
    config = TrainConfig(steps=steps, batch_size=1024, lr=1e-3, seed=0)
    model = ModelConfig(c.n_features, c.n_hidden, feature_probability=c.probability[:, 0].tolist())
    run = Run(model, config, device, c.importance.to(device))
    batch = TrainingBatch()
    batch.add(run)
    batch.step()  # as above
    ms = timed_blocks(batch.step, steps - 1, repeats, device)
    return ms, loss_of(c, run.W, run.b, device)


def loss_of(c: Config, W: Tensor, b: Tensor, device: torch.device) -> Tensor:
    """Mean L over the instances, on the fixed evaluation sample."""
    probability = c.probability.to(device).expand(-1, c.n_features).contiguous()
    generator = torch.Generator(device).manual_seed(EVAL_SEED)
    return evaluate(
        W,
        b,
        Architecture(),
        PAPER_FEATURES,
        probability,
        c.importance.to(device),
        EVAL_SAMPLES,
        generator,
    ).loss.mean()


# -- floors --------------------------------------------------------------------------------------
def per_call_us(fn: Callable[[], object], device: torch.device, calls: int = 200) -> float:
    for _ in range(10):
        fn()
    sync(device)
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    sync(device)
    return (time.perf_counter() - start) * 1e6 / calls


def floors(device: torch.device) -> dict[str, float]:
    """What this machine's primitives cost: µs per eager op, ns per random number, GB/s, GFLOP/s."""
    tiny = torch.zeros(1, device=device)
    big = torch.empty(1 << 24, device=device)
    other = torch.empty_like(big)
    a = torch.rand(8, 512, 512, device=device)
    return {
        "dispatch_us": per_call_us(lambda: tiny.add_(1), device, 5000),
        "rand_ns": per_call_us(lambda: big.uniform_(), device, 20) * 1e3 / big.numel(),
        "copy_GBps": 2 * 4 * big.numel() / per_call_us(lambda: other.copy_(big), device, 20) / 1e3,
        "bmm_GFLOPs": 2 * 8 * 512**3 / per_call_us(lambda: torch.bmm(a, a), device, 20) / 1e3,
    }


def sampler_ms(c: Config, device: torch.device, calls: int = 20) -> tuple[float, float, int]:
    """The project's sampler on ``c``'s rows, measured: ms per batch of the sparse-aware draw
    (``SparseSampler``, what the step runs), ms of the dense draw alone, and how many rows
    draw sparsely."""
    probability = c.probability.to(device).expand(-1, c.n_features).contiguous()
    sampler = SparseSampler(probability, PAPER_FEATURES, 1024)
    generator = torch.Generator(device).manual_seed(0)
    x = torch.empty((*probability.shape, 1024), device=device)
    term = PAPER_FEATURES.probability_term(probability)

    def dense() -> None:
        torch.rand(x.shape, generator=generator, out=x)
        PAPER_FEATURES.features_from_uniform_(x, term)

    ours = per_call_us(lambda: sampler.draw(x, generator), device, calls) / 1e3
    return ours, per_call_us(dense, device, calls) / 1e3, len(sampler.sparse_rows)


def random_word_ns(calls: int = 1 << 22) -> float:
    """ns per 64 random bits as the fused step draws them (numpy's PCG64 ``next_uint64``
    called from numba), measured here."""
    import numba

    @numba.njit(nogil=True)
    def draw(next_uint64, state, n):  # type: ignore[no-untyped-def]
        acc = np.uint64(0)
        for _ in range(n):
            acc ^= next_uint64(state)
        return acc

    generator = fused.row_generators(0, 1)
    state = int(fused.state_addresses(generator)[0])
    draw(fused._next_uint64, state, 10)
    start = time.perf_counter()
    draw(fused._next_uint64, state, calls)
    return (time.perf_counter() - start) * 1e9 / calls


def fused_threads(c: Config) -> int:
    """How many threads the fused step ``run_project`` takes on ``c`` uses; 0: the eager step."""
    model = ModelConfig(c.n_features, c.n_hidden, feature_probability=c.probability[:, 0].tolist())
    if not fused.supports(model, TrainConfig(), "cpu"):
        return 0
    return numba_threads() if fused.uses_threads(len(c.probability), c.n_features, 1024) else 1


def numba_threads() -> int:
    import numba

    return int(numba.get_num_threads())


def fused_words(c: Config) -> float:
    """Expected 64-bit draws of one fused step of ``c``: B/2 per dense feature, B·p + 1 per
    feature drawn by geometric gaps."""
    p = c.probability.expand(-1, c.n_features).double()
    dense = p >= fused.DENSE_DRAW_MIN_PROBABILITY
    return float(torch.where(dense, 512.0, 1024 * p + 1).sum())


def floor_ms(c: Config, f: dict[str, float]) -> dict[str, float]:
    """Lower bounds on one step of ``c`` from each primitive alone (dense inputs)."""
    rows, n, m, batch = len(c.probability), c.n_features, c.n_hidden, 1024
    entries = rows * n * batch
    return {
        "sampling": entries * f["rand_ns"] * 1e-6,
        # five batched products of rows × (m × n × B) multiply-adds each
        "matmul": 5 * 2 * rows * m * n * batch / f["bmm_GFLOPs"] * 1e-6,
        # x, x′, error and gradient each read or written about three times
        "memory": 12 * 4 * entries / f["copy_GBps"] * 1e-6,
        "dispatch": 20 * f["dispatch_us"] * 1e-3,  # about 20 eager ops in a fused step
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", default=["A", "B", "C", "D"])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every step count")
    parser.add_argument("--repeats", type=int, default=10, help="timed blocks per run")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    threads = torch.get_num_threads()

    print(f"device {device}, torch {torch.__version__}, {threads} CPU threads\n")
    print("| config | steps | reference ms/step | project ms/step | speed-up "
          "| reference L | project L | L ratio |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    chosen = [c for c in configs() if c.name in args.only]
    for c in chosen:
        steps = max(10, int(c.steps * args.scale))
        torch.set_num_threads(threads)  # the project's trainer may lower it for small steps
        ref_ms, ref_loss = run_reference(c, steps, args.repeats, device)
        torch.set_num_threads(threads)
        ours_ms, our_loss = run_project(c, steps, args.repeats, device)
        torch.set_num_threads(threads)
        print(
            f"| {c.name}: {c.what} | {steps} | {ref_ms:.3f} | {ours_ms:.3f} | "
            f"{ref_ms / ours_ms:.1f}× | {ref_loss:.6g} | {our_loss:.6g} | "
            f"{our_loss / ref_loss:.4f} |"
        )

    f = floors(device)
    print(
        f"\nfloors on this machine: one eager op {f['dispatch_us']:.2f} µs, one random number "
        f"{f['rand_ns']:.2f} ns, copy {f['copy_GBps']:.0f} GB/s, batched 512² matmul "
        f"{f['bmm_GFLOPs']:.0f} GFLOP/s\n"
    )
    print(
        "| config | sampling floor ms (dense: one number an entry) | matmul floor ms "
        "| memory floor ms | dispatch floor ms | dense draw ms | project's draw ms "
        "| rows drawn sparsely |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for c in chosen:
        parts = floor_ms(c, f)
        torch.set_num_threads(1 if len(c.probability) * c.n_features * 1024 < 1 << 20 else threads)
        ours, dense, sparse_rows = sampler_ms(c, device)
        torch.set_num_threads(threads)
        print(
            f"| {c.name} | " + " | ".join(f"{v:.3f}" for v in parts.values())
            + f" | {dense:.3f} | {ours:.3f} | {sparse_rows} of {len(c.probability)} |"
        )  # fmt: skip
    word_ns = random_word_ns()
    print(
        f"\nthe fused step's random bits: {word_ns:.2f} ns per 64 bits (PCG64 from numba)\n\n"
        "| config | step | 64-bit draws a step | their floor ms (over the step's threads) |\n"
        "|---|---|---|---|"
    )
    for c in chosen:
        threads_used = fused_threads(c)
        if not threads_used:
            print(f"| {c.name} | eager | – | – |")
            continue
        words = fused_words(c)
        floor = words * word_ns * 1e-6 / threads_used
        print(f"| {c.name} | fused, {threads_used} thread(s) | {words:.0f} | {floor:.3f} |")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of this process (every configuration run): {peak:.0f} MiB")


if __name__ == "__main__":
    main()
