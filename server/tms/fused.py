"""A fused training step for small models on the CPU: draw, loss, exact gradient and AdamW in one
compiled call (numba) for every run of a batch.

Why: for models of a few features (the explorer's 5 → 2, the phase diagrams' 2 → 1 and 3 → 2)
an eager torch step is some 30 ops of a few µs of dispatch each, while its arithmetic is a few
µs (benchmarks/RESULTS.md, "Training speed"). One compiled call per step removes the dispatch.
Inside it, three things keep the work near what the batch's non-zero entries need:

- **Exact sparse draws.** Each (row, feature) is drawn as the dense sampler draws it: active in
  each sample with probability p, independently, with the value map of
  ``data.FeatureDistribution`` (U(0, 1], U(−1, 1], 1 or ±1). Where p is small the active
  samples are found by geometric gaps (the number of inactive samples before the next active
  one is Geometric(p): ⌊log(1 − u) / log(1 − p)⌋ for u ~ U[0, 1)), so a feature costs one
  64-bit draw per active sample (the gap from 32 bits, the value from 24 others) instead of 32
  bits per sample; where p is large, 32 bits per sample decide activity and, given u < p, give
  the value from u / p ~ U[0, 1).
- **Samples with no active feature in closed form.** Such a sample has h = 0 and x′ = ReLU(b):
  its loss Σⱼ Iⱼ ReLU(bⱼ)² and gradient (b alone) are added once, times their count.
- **AdamW in the same pass**, with torch's update formula (decoupled weight decay, bias
  corrections; ``torch.optim.AdamW``'s defaults), each row at its own learning rate and step.

Each row draws from its own PCG64 bit generator (numpy's, seeded from the run's seed by
``numpy.random.SeedSequence.spawn``, called from the kernel through the bit generator's ctypes
interface as numpy documents for numba), so a row's data depends on its run's seed and its index
in the run alone: a run trains to the same weights alone or batched with others.

What it covers (:func:`supports`): the CPU; fresh batches (no finite training set); no
adversarial training; the output ReLU(Wᵀh + b) or Wᵀh + b with h = W x or ReLU(W x) (tied
weights); independent features (no correlated or anticorrelated sets, no normalisation) of
either magnitude, signed or not; and n_features × n_hidden at most :data:`FUSED_MAX_WEIGHTS`.
Everything else, and every request where numba cannot be imported, takes the eager step of
``training.TrainingBatch`` (a log line says so once). The choice depends on the request alone.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable

import numpy as np
import torch
from numpy.random import PCG64, SeedSequence
from torch import Tensor

from server.tms.config import ModelConfig, TrainConfig
from server.tms.optim import BETAS, EPS

try:
    import numba
except ImportError:  # pragma: no cover - numba is a dependency; this is the documented fallback
    numba = None

log = logging.getLogger(__name__)

# The fused step runs models with n_features × n_hidden at most this. Its products are scalar
# loops over each active sample (about 3 · n · m multiply-adds), which beat the eager step's
# batched kernels while the model is small; larger models (D: 400 × 30) keep torch's products.
FUSED_MAX_WEIGHTS = 1024
# A feature of p at least this draws one uniform per sample (32 bits: 1.8 ns a sample, whatever
# p); below it, geometric gaps (64 bits and a log per active sample, about 13 ns). Measured on 20
# features × 1,024 samples on one core: dense 37 µs at every p; gaps 17, 30, 41 and 53 µs at
# p = 0.05, 0.1, 0.15 and 0.2 (benchmarks/RESULTS.md, issue 17).
DENSE_DRAW_MIN_PROBABILITY = 0.125

# Batches of at least this many input entries (rows × n × B), in two rows or more, spread their
# rows over numba's threads (every core); smaller ones step on the calling thread.
PARALLEL_MIN_ENTRIES = 1 << 14


def uses_threads(rows: int, n_features: int, batch_size: int) -> bool:
    """Whether a fused batch of these dimensions spreads its rows over numba's threads (every
    core) rather than stepping them on the calling thread."""
    return rows > 1 and rows * n_features * batch_size >= PARALLEL_MIN_ENTRIES


_warned = False
_compile_lock = threading.Lock()
_kernel_lock = threading.Lock()


def available() -> bool:
    """Whether the fused step can run here (numba imports); logs once when it cannot."""
    global _warned
    if numba is None and not _warned:
        _warned = True
        log.warning("numba is not installed: small models train with the eager torch step")
    return numba is not None


def supports(model: ModelConfig, config: TrainConfig, device: torch.device | str) -> bool:
    """Whether a run of ``model`` trained by ``config`` on ``device`` takes the fused step.

    Decided from the request alone (and numba's presence), so a request trains to the same
    weights alone or batched.
    """
    return (
        torch.device(device).type == "cpu"
        and config.n_train is None
        and not config.adversarial_epsilon
        and model.activation in ("relu", "linear")
        and not model.absolute_value
        and not model.feature_sets
        and not model.normalize_inputs
        and model.n_features * model.n_hidden <= FUSED_MAX_WEIGHTS
        and available()
    )


def row_generators(seed: int, rows: int) -> list[PCG64]:
    """One PCG64 bit generator per row of a run, from its seed (``SeedSequence(seed).spawn``).

    Row r's draws are ``numpy.random.Generator(row_generators(seed, rows)[r]).random()``'s
    stream, consumed in the order :func:`_draw` documents."""
    return [PCG64(child) for child in SeedSequence(seed).spawn(rows)]


def state_addresses(generators: list[PCG64]) -> np.ndarray:
    """(rows,) uint64: each bit generator's state address, which the kernel passes to numpy's
    ``next_uint64``. The generators must stay alive while the addresses are used."""
    return np.array([g.ctypes.state_address for g in generators], dtype=np.uint64)


if numba is not None:
    # numpy's C function that advances a PCG64 state and returns its next 64 random bits; the
    # same function for every PCG64, called with each row's state address. It is passed to the
    # kernel as an argument (a global ctypes pointer would keep numba from caching the kernel).
    _next_uint64 = PCG64().ctypes.next_uint64
    # cache: compiled once per machine into __pycache__, then loaded in a fraction of a second.
    # No fastmath: it lets LLVM reorder float sums and fuse multiply-adds differently wherever a
    # function is compiled, and two processes trained one request to weights that differed in
    # the last bit. Sums over samples are BLAS dot products instead (``_gradients``).
    _JIT = {"nogil": True, "fastmath": False, "error_model": "numpy", "cache": True}

    @numba.njit(**_JIT, inline="always")
    def _high(bits: int) -> float:  # pragma: no cover - compiled
        """A uniform on (0, 1) from the top 32 of 64 bits (never 0 or 1: logs stay finite)."""
        return ((bits >> np.uint64(32)) + 0.5) * (1.0 / 4294967296.0)

    @numba.njit(**_JIT, inline="always")
    def _low(bits: int) -> float:  # pragma: no cover - compiled
        """A uniform on [0, 1) from 24 of the low 32 bits: float32's resolution, as torch.rand."""
        return ((bits & np.uint64(0xFFFFFFFF)) >> np.uint64(8)) * (1.0 / 16777216.0)

    @numba.njit(**_JIT, inline="always")
    def _value(v: float, boolean: bool, signed: bool) -> float:  # pragma: no cover - compiled
        """An active feature's value from v ~ U[0, 1): ``data.FeatureDistribution._value``."""
        value = 1.0 - 2.0 * v if signed else 1.0 - v
        if boolean:
            if not signed:
                return 1.0
            return 1.0 if value > 0.0 else (-1.0 if value < 0.0 else 0.0)
        return value

    @numba.njit(**_JIT)
    def _draw(
        x: np.ndarray, counts: np.ndarray, p_row: np.ndarray, dense: np.ndarray, state: int,
        boolean: bool, signed: bool, bits: np.ndarray, next_uint64: Callable[[int], int],
    ) -> None:  # pragma: no cover - compiled; tested through FusedBatch  # fmt: skip
        """One row's batch into x (n, B), zero on entry; counts (B,) each sample's active
        features. Feature i consumes 64-bit draws of the row's generator in turn, i = 0, 1, …
        ``bits``: (≥ B / 2,) uint64 scratch."""
        n, batch = x.shape
        words = (batch + 1) // 2
        halves = bits[:words].view(np.uint32)  # sample s reads the s-th 32-bit half
        for i in range(n):
            p = p_row[i]
            if p <= 0.0:
                continue
            if dense[i]:  # a uniform per sample: active iff u < p, value from u / p ~ U[0, 1)
                for w in range(words):  # 64 bits: two samples' 32-bit uniforms
                    bits[w] = next_uint64(state)
                inverse = 1.0 / p  # u < p keeps u · (1/p) below 1 − 2⁻³² / p: no rounding to 1
                for s in range(batch):  # no branches: vector instructions
                    u = halves[s] * (1.0 / 4294967296.0)  # on [0, 1), 32-bit resolution
                    on = u < p
                    x[i, s] = _value(u * inverse, boolean, signed) if on else 0.0
                    counts[s] += on
            else:  # geometric gaps between active samples; the same 64 bits give the value
                log_q = math.log1p(-p)
                s = -1
                while True:
                    word = next_uint64(state)
                    # a float: at p ≈ 1e-19 it exceeds int64 (numba's floor would wrap it to a
                    # negative index); floor(gap) ≥ k iff gap ≥ k for the integer k compared
                    gap = math.log(_high(word)) / log_q
                    if gap >= batch - 1 - s:
                        break
                    s += 1 + int(gap)
                    x[i, s] = _value(_low(word), boolean, signed)
                    counts[s] += 1

    @numba.njit(**_JIT)
    def _compact(x: np.ndarray, counts: np.ndarray, into: np.ndarray) -> int:  # pragma: no cover
        """Copy the samples with an active feature into ``into`` (n, ≥ K), in order; returns K.
        ``counts`` is spent: its first K entries become those samples' indices."""
        n, batch = x.shape
        k = 0
        for s in range(batch):  # k ≤ s: an entry is read before it is overwritten
            if counts[s]:
                counts[k] = s
                k += 1
        for i in range(n):  # feature by feature: contiguous writes
            for q in range(k):
                into[i, q] = x[i, counts[q]]
        return k

    @numba.njit(**_JIT)
    def _gradients(
        W: np.ndarray, b: np.ndarray, importance: np.ndarray, x: np.ndarray, k: int, batch: int,
        hidden_relu: bool, relu_out: bool, dW: np.ndarray, db: np.ndarray, h: np.ndarray,
        grad: np.ndarray, grad_h: np.ndarray, z: np.ndarray, ones: np.ndarray,
    ) -> float:  # pragma: no cover - compiled; tested through FusedBatch  # fmt: skip
        """One row's ∂L/∂W (m, n) and ∂L/∂b (n,) into dW, db, and its batch loss L.

        L = (1/B) Σₛ Σⱼ Iⱼ (x′ⱼ − xⱼ)², x′ = act(Wᵀh + b), h = W x or ReLU(W x): what
        ``model.loss_gradients`` computes. x[:, :k] are the batch's samples with an active
        feature; the other B − k samples have h = 0 and x′ = act(b), added in closed form.
        Every loop over samples is contiguous and elementwise (vector instructions, IEEE
        rounding in the written order); every sum over samples is a BLAS dot product (np.dot:
        vector instructions, and the same function, so the same rounding, wherever it is called).
        Scratch: h, grad_h (m, ≥ k); grad (n, ≥ k); z (≥ k,); ones (≥ k,) of 1.0."""
        m, n = W.shape
        scale = np.float32(2.0 / batch)
        zero = np.float32(0.0)
        total = 0.0
        for c in range(m):  # h = W x
            h[c, :k] = 0.0
            for i in range(n):
                w = W[c, i]
                for s in range(k):
                    h[c, s] += w * x[i, s]
            if hidden_relu:
                for s in range(k):
                    h[c, s] = max(h[c, s], zero)
        for j in range(n):  # z = Wᵀ h + b, then ∂L/∂z, feature by feature
            z[:k] = b[j]
            for c in range(m):
                w = W[c, j]
                for s in range(k):
                    z[s] += w * h[c, s]
            factor = importance[j] * scale
            if relu_out:  # ∂L/∂z is 0 where the ReLU is off (x′ = 0 there)
                for s in range(k):
                    on = z[s] > 0.0
                    error = (z[s] if on else zero) - x[j, s]
                    grad[j, s] = factor * error if on else zero
                    z[s] = error * error  # z is spent: it keeps the squared error
            else:
                for s in range(k):
                    error = z[s] - x[j, s]
                    grad[j, s] = factor * error
                    z[s] = error * error
            total += importance[j] * np.dot(z[:k], ones[:k])
            db[j] = np.dot(grad[j, :k], ones[:k])
        for c in range(m):  # dW from x′ = Wᵀ h; ∂L/∂h = W ∂L/∂z
            grad_h[c, :k] = 0.0
            for j in range(n):
                w = W[c, j]
                for s in range(k):
                    grad_h[c, s] += w * grad[j, s]
                dW[c, j] = np.dot(h[c, :k], grad[j, :k])
            if hidden_relu:
                for s in range(k):
                    grad_h[c, s] = grad_h[c, s] if h[c, s] > 0.0 else zero
            for i in range(n):  # dW from h = W x
                dW[c, i] += np.dot(grad_h[c, :k], x[i, :k])
        zeros = batch - k
        if zeros:  # h = 0, x′ = act(b): the loss and b's gradient, once for all of them
            for j in range(n):
                out = max(b[j], zero) if relu_out else b[j]
                total += zeros * importance[j] * out * out
                if not relu_out or b[j] > 0.0:
                    db[j] += zeros * importance[j] * out * scale
        return total / batch

    @numba.njit(**_JIT)
    def _adamw(
        param: np.ndarray, grad: np.ndarray, exp_avg: np.ndarray, exp_avg_sq: np.ndarray,
        lr: float, weight_decay: float, step: int,
    ) -> None:  # pragma: no cover - compiled; tested against torch.optim.AdamW  # fmt: skip
        """torch.optim.AdamW's update of one flat parameter, at step ``step`` (1-based)."""
        beta1, beta2 = BETAS
        step_size = lr / (1.0 - beta1**step)
        root_correction = math.sqrt(1.0 - beta2**step)
        decay = 1.0 - lr * weight_decay
        p, g, m1, m2 = (
            param.reshape(-1),
            grad.reshape(-1),
            exp_avg.reshape(-1),
            exp_avg_sq.reshape(-1),
        )
        for e in range(p.size):
            m = m1[e] + (1.0 - beta1) * (g[e] - m1[e])
            v = beta2 * m2[e] + (1.0 - beta2) * g[e] * g[e]
            m1[e] = m
            m2[e] = v
            p[e] = p[e] * decay - step_size * m / (math.sqrt(v) / root_correction + EPS)

    @numba.njit(**_JIT)
    def _row(
        r: int, W: np.ndarray, b: np.ndarray, W_m: np.ndarray, W_v: np.ndarray, b_m: np.ndarray,
        b_v: np.ndarray, importance: np.ndarray, probability: np.ndarray, dense: np.ndarray,
        states: np.ndarray, lr: np.ndarray, weight_decay: np.ndarray, steps: np.ndarray,
        hidden_relu: bool, relu_out: bool, boolean: bool, signed: bool, x: np.ndarray,
        active: np.ndarray, counts: np.ndarray, scratch: np.ndarray, bits: np.ndarray,
        loss: np.ndarray, next_uint64: Callable[[int], int],
    ) -> None:  # pragma: no cover - compiled; tested through FusedBatch  # fmt: skip
        """Row r's step: draw, loss and gradient, AdamW. x, active, counts, scratch and bits are
        the calling thread's own buffers."""
        m, n = W.shape[1], W.shape[2]
        batch = x.shape[1]
        x[:] = 0.0
        counts[:] = 0
        _draw(x, counts, probability[r], dense[r], states[r], boolean, signed, bits, next_uint64)
        k = batch
        inputs = x
        zero_samples = 0
        for s in range(batch):
            zero_samples += counts[s] == 0
        if 4 * zero_samples >= batch:  # a quarter or more are all zero: compute the rest
            k = _compact(x, counts, active)
            inputs = active
        dW = np.empty((m, n), np.float32)
        db = np.empty(n, np.float32)
        loss[r] = _gradients(
            W[r], b[r], importance[r], inputs, k, batch, hidden_relu, relu_out, dW, db,
            scratch[:m], scratch[2 * m : 2 * m + n], scratch[m : 2 * m], scratch[2 * m + n],
            scratch[2 * m + n + 1],
        )  # fmt: skip
        _adamw(W[r], dW, W_m[r], W_v[r], lr[r], weight_decay[r], steps[r])
        _adamw(b[r], db, b_m[r], b_v[r], lr[r], weight_decay[r], steps[r])
        steps[r] += 1

    @numba.njit(**_JIT, parallel=True)
    def _step(
        W: np.ndarray, b: np.ndarray, W_m: np.ndarray, W_v: np.ndarray, b_m: np.ndarray,
        b_v: np.ndarray, importance: np.ndarray, probability: np.ndarray, dense: np.ndarray,
        states: np.ndarray, lr: np.ndarray, weight_decay: np.ndarray, steps: np.ndarray,
        hidden_relu: bool, relu_out: bool, boolean: bool, signed: bool, x: np.ndarray,
        active: np.ndarray, counts: np.ndarray, scratch: np.ndarray, bits: np.ndarray,
        loss: np.ndarray, next_uint64: Callable[[int], int],
    ) -> None:  # pragma: no cover - compiled; tested through FusedBatch  # fmt: skip
        """Every row's step, the rows spread over numba's threads (as many as the caller set),
        each thread with its own buffers. Rows share nothing (each its own generator, weights and
        state), and one compiled function serves every thread count, so a row's arithmetic, and
        its rounding, is the same whatever else is in the batch: a run trains to the same bits
        alone or batched. (Two kernels, a serial one and a parallel one, were compiled and
        vectorised apart, and their float sums rounded differently in the last bit.)"""
        for r in numba.prange(W.shape[0]):
            t = numba.get_thread_id()
            _row(
                r, W, b, W_m, W_v, b_m, b_v, importance, probability, dense, states, lr,
                weight_decay, steps, hidden_relu, relu_out, boolean, signed, x[t], active[t],
                counts[t], scratch[t], bits[t], loss, next_uint64,
            )  # fmt: skip


class FusedBatch:
    """The fused step's buffers for a training batch's runs, which all take the fused step.

    Args:
        W, b, W_m, W_v, b_m, b_v: (rows, m, n) and (rows, n) float32 tensors of every run's
            weights and AdamW moments, concatenated (the runs' own tensors are views of them).
        importance, probability: (rows, n).
        generators: each row's bit generator (:func:`row_generators`), kept alive here.
        batch_size: B; model: any of the runs' model configs (the shape's fields).
        lr, weight_decay: (rows,) each row's AdamW settings (``lr`` may be replaced before a
            step: a schedule's).
        steps: (rows,) each row's AdamW step count of its next step (1-based); the kernel
            counts it on.
    """

    def __init__(
        self,
        tensors: tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor],
        importance: Tensor,
        probability: Tensor,
        generators: list[PCG64],
        batch_size: int,
        model: ModelConfig,
        lr: np.ndarray,
        weight_decay: np.ndarray,
        steps: np.ndarray,
    ) -> None:
        self.lr = np.ascontiguousarray(lr, np.float64)
        self.weight_decay = np.ascontiguousarray(weight_decay, np.float64)
        self.steps = np.ascontiguousarray(steps, np.int64)
        self.arrays = tuple(t.numpy() for t in tensors)
        self.importance = importance.to(torch.float32).contiguous().numpy()
        self.probability = probability.to(torch.float64).contiguous().numpy()
        self.dense = self.probability >= DENSE_DRAW_MIN_PROBABILITY
        self.generators = generators
        self.states = state_addresses(generators)
        if len(generators) != len(self.probability):  # the kernel does not check its bounds
            raise ValueError(f"{len(generators)} generators for {len(self.probability)} rows")
        rows, n = self.probability.shape
        m = tensors[0].shape[1]
        # One set of buffers per thread that steps rows (``_step``).
        self.parallel = uses_threads(rows, n, batch_size)
        self.threads = threads = numba.config.NUMBA_NUM_THREADS if self.parallel else 1
        self.x = np.zeros((threads, n, batch_size), np.float32)  # feature-major batches
        self.active = np.zeros((threads, n, batch_size), np.float32)  # samples with an active xᵢ
        self.counts = np.zeros((threads, batch_size), np.int32)
        self.bits = np.zeros((threads, (batch_size + 1) // 2), np.uint64)
        # h, ∂h, ∂z, z, and a row of ones (the sums over samples are dot products with it)
        self.scratch = np.zeros((threads, 2 * m + n + 2, batch_size), np.float32)
        self.scratch[:, -1] = 1.0
        self.loss = np.zeros(rows, np.float32)
        self.flags = (
            model.hidden == "relu",
            model.activation == "relu",
            model.magnitude == "boolean",
            model.signed,
        )

    def step(self) -> Tensor:
        """One AdamW step of every row at ``self.lr``; returns (rows,) the batch losses (a
        view of a buffer the next step overwrites: clone what is kept)."""
        with _kernel_lock:  # numba's workqueue threading layer takes one caller at a time
            if numba.get_num_threads() != self.threads:  # the calling thread's setting
                numba.set_num_threads(self.threads)
            _step(
                *self.arrays, self.importance, self.probability, self.dense, self.states,
                self.lr, self.weight_decay, self.steps, *self.flags, self.x, self.active,
                self.counts, self.scratch, self.bits, self.loss, _next_uint64,
            )  # fmt: skip
        return torch.from_numpy(self.loss)


def warm() -> None:
    """Compile the kernel now (seconds the first time on a machine, then loaded from numba's
    cache in well under one) by stepping two tiny batches, one thread and all, so the first
    request does not wait for it; a no-op without numba. Safe to call from several threads."""
    if not available():
        return
    with _compile_lock:
        model = ModelConfig(n_features=2, n_hidden=1)
        for rows, batch_size in ((1, 4), (2, PARALLEL_MIN_ENTRIES // 4)):
            W, b = torch.zeros(rows, 1, 2), torch.zeros(rows, 2)
            tensors = (W, b, W.clone(), W.clone(), b.clone(), b.clone())
            one = np.ones(rows)
            batch = FusedBatch(
                tensors, torch.ones(rows, 2), torch.full((rows, 2), 0.5),
                row_generators(0, rows), batch_size, model, one * 1e-3, one * 0.0,
                np.ones(rows, np.int64),
            )  # fmt: skip
            batch.step()
