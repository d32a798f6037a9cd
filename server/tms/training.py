"""Training: the paper notebook's AdamW loop (lr 1e-3, weight decay 0.01, batch 1024), made lean.

A :class:`Run` is one request's models: its instances × restarts ("rows"; row ``i * n_restarts
+ r`` is restart r of instance i), its weights, AdamW state, random generator and step count.
A :class:`TrainingBatch` steps every run that shares a training shape (activation, power, feature
distribution, n_features, n_hidden, batch_size) in one set of batched kernels; runs join and leave
between steps, each at its own step count. Every run owns its generator and its optimiser state,
and rows never interact, so a run's trajectory is the same whether it trains alone or beside
others.

What makes a step cheap (benchmarks/RESULTS.md): the exact gradient instead of autograd
(``model.loss_gradients``), one uniform draw per input entry (``data.FeatureDistribution``),
or, for rows of small p, draws of the non-zero entries alone (``sparse.SparseSampler``) and, in
large models, products over those entries with all-zero samples in closed form
(``sparse_products``), feature-major batches, torch's fused AdamW kernel over all runs at once,
and one CPU thread for small steps. After training, each restart's loss is measured on fresh
samples and the lowest is kept, as the paper does for its 2-D models; the kept restarts' reported
loss is then measured again on other fresh samples, so that picking the lowest of several noisy
estimates does not bias it low (:class:`LossEstimate` says how a result's loss was measured).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import numpy as np
import torch
from torch import Tensor

from server.tms import adversarial, fused
from server.tms.config import ModelConfig, TrainConfig
from server.tms.data import FeatureDistribution, sample_features
from server.tms.model import (
    Architecture,
    Workspace,
    forward,
    init_output_weights,
    init_weights,
    loss_gradients,
    reconstruction_loss,
    target,
)
from server.tms.optim import AdamGroup, adamw_step
from server.tms.sparse import SparseSampler
from server.tms.sparse_products import BatchProducts

# Steps that touch fewer entries than this run on one thread: for small models a second thread
# costs more in synchronisation than it gains (benchmarks/RESULTS.md, "Training speed").
SINGLE_THREAD_ELEMENTS = 1 << 20
_MAX_THREADS = torch.get_num_threads()  # what larger steps use


def use_threads_for(elements: int) -> None:
    """Set torch's CPU threads for work that touches ``elements`` input entries: one below
    ``SINGLE_THREAD_ELEMENTS``, else every core torch started with."""
    threads = 1 if elements < SINGLE_THREAD_ELEMENTS else _MAX_THREADS
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


# Called between chunks of the final evaluation; it may raise to stop it.
CheckCallback = Callable[[], None]


def snapshot_steps(steps: int, count: int) -> list[int]:
    """The steps after which a run keeps its weights for replay: step 0 (the initial weights) and
    ``count`` − 1 more, spaced evenly up to ``steps`` (fewer if ``steps`` is small)."""
    if count <= 0:
        return []
    if count == 1:
        return [steps]
    return sorted({round(k * steps / (count - 1)) for k in range(count)})


Selection = Literal["none", "fresh_samples", "train_set"]


@dataclass(frozen=True)
class LossEstimate:
    """How a result's reported loss L (and gain L̃) was measured.

    Attributes:
        method: "independent_samples": the mean over ``samples`` fresh inputs, none of which was
            used to pick the kept restart, so L is an unbiased estimate of the kept model's loss.
        samples: how many fresh inputs L is the mean over (its standard error is about the
            per-sample loss's standard deviation / √samples).
        selected_on: what picked each instance's kept restart: "none" (one restart, nothing was
            picked), "fresh_samples" (the lowest L on ``selection_samples`` other fresh inputs)
            or "train_set" (the lowest L on the instance's own training set, ``n_train``).
        selection_samples: the fresh inputs the restarts were ranked on ("fresh_samples"), else
            None.
    """

    samples: int
    selected_on: Selection
    selection_samples: int | None = None
    method: Literal["independent_samples"] = "independent_samples"


@dataclass
class TrainResult:
    """The best restart of every instance.

    Attributes:
        W: (n_instances, n_hidden, n_features).
        b: (n_instances, n_features).
        loss: (n_instances,), L on ``n_eval_samples`` fresh inputs that did not pick the restart
            (``loss_estimate``).
        gain: (n_instances,), L̃ = E Σᵢ Iᵢ yᵢ² − L on the same inputs.
        history_steps: the steps at which training-batch losses were recorded.
        loss_history: (len(history_steps), n_instances), training-batch L of the kept restart.
        W_out: (n_instances, n_features, n_hidden) of an untied model, else None.
        snapshot_steps: the steps of the kept weight snapshots (empty if none were asked for).
        snapshots: name → (len(snapshot_steps), n_instances, …): "W", "b" (and "W_out").
        train_loss: (n_instances,) float64, L on each instance's T training points (runs with
            ``n_train``; the kept restart is the one with the lowest), else None.
        train_x: each instance's training points, (n_features, T) each (runs with ``n_train``),
            else None.
        loss_estimate: how ``loss`` was measured (None where a caller built the result by hand).
        selection_loss: (n_instances,), the kept restart's L on the inputs that ranked the
            restarts (biased low: it is the least of n_restarts noisy estimates), when restarts
            were ranked on fresh samples; else None.
        loss_stderr: (n_instances,), the standard error of ``loss`` (the per-input loss's
            sample s.d. / √samples); None where a caller built the result by hand.
    """

    W: Tensor
    b: Tensor
    loss: Tensor
    gain: Tensor
    history_steps: list[int]
    loss_history: Tensor
    W_out: Tensor | None = None
    snapshot_steps: list[int] = field(default_factory=list)
    snapshots: dict[str, Tensor] = field(default_factory=dict)
    train_loss: Tensor | None = None
    train_x: list[Tensor] | None = None
    loss_estimate: LossEstimate | None = None
    selection_loss: Tensor | None = None
    loss_stderr: Tensor | None = None


def best_restarts(values: Tensor, n_restarts: int) -> Tensor:
    """Index of the lowest value among each instance's restarts.

    Args:
        values: (n_instances * n_restarts,), e.g. losses.

    Returns:
        (n_instances,) row indices into the restart-expanded rows.
    """
    grouped = values.reshape(-1, n_restarts)  # (I, R)
    offsets = torch.arange(grouped.shape[0], device=values.device) * n_restarts
    return offsets + grouped.argmin(dim=1)


class Evaluation(NamedTuple):
    """Measurements on fresh inputs, per row (float64)."""

    loss: Tensor  # (rows,) L = mean Σᵢ Iᵢ (xᵢ − x′ᵢ)²
    gain: Tensor  # (rows,) L̃ = mean Σᵢ Iᵢ xᵢ² − L on the same inputs: the gain over x′ = 0
    stderr: Tensor | None = None  # (rows,) L's standard error: the per-input loss's s.d. / √N


def chunk_size(rows: int, n_features: int, n_samples: int) -> int:
    """Inputs per chunk of an evaluation of ``rows`` rows: at most 2²² input entries."""
    return max(1, min(n_samples, (1 << 22) // (rows * n_features)))


class Evaluator:
    """The final evaluation of every row on fresh inputs, one chunk at a time, so that a worker
    can interleave it with other runs' steps (:meth:`advance`) instead of being held by it.

    Chunks hold at most 2²² input entries, so one chunk costs about what one step of a large
    batch does; the chunk size depends on the rows alone, so a run's evaluation draws the same
    inputs (and gives the same loss) whether it is advanced in a loop or between other work.

    Args:
        W: (rows, m, n); b: (rows, n).
        arch: the model (``model.Architecture``).
        distribution: the inputs' magnitude, sign and feature sets, as in training.
        feature_probability, importance: (rows, n_features).
        n_samples: how many fresh inputs.
        generator: where the inputs come from; it goes on from where training left it.
        W_out: untied output weights (rows, n, m) of the absolute-value model, whose target is
            |x|; else None.
    """

    def __init__(
        self,
        W: Tensor,
        b: Tensor,
        arch: Architecture,
        distribution: FeatureDistribution,
        feature_probability: Tensor,
        importance: Tensor,
        n_samples: int,
        generator: torch.Generator,
        W_out: Tensor | None = None,
    ) -> None:
        self.W, self.b, self.W_out = W, b, W_out
        self.arch, self.distribution = arch, distribution
        self.feature_probability, self.importance = feature_probability, importance
        self.n_samples, self.generator = n_samples, generator
        n_rows, n_features = importance.shape
        self.chunk = chunk_size(n_rows, n_features, n_samples)
        self.total = torch.zeros(n_rows, dtype=torch.float64, device=importance.device)
        self.squares = torch.zeros_like(self.total)  # Σ of the per-input loss squared
        self.zero = torch.zeros_like(self.total)  # Σ of the loss of x′ = 0
        self.samples_done = 0

    @property
    def done(self) -> bool:
        return self.samples_done >= self.n_samples

    @property
    def chunks(self) -> int:
        """How many chunks the whole evaluation takes."""
        return -(-self.n_samples // self.chunk)

    @torch.no_grad()
    def advance(self) -> None:
        """Measure the next chunk of inputs (nothing once :attr:`done`)."""
        if self.done:
            return
        size = min(self.chunk, self.n_samples - self.samples_done)
        use_threads_for(self.total.numel() * self.importance.shape[1] * size)
        x = sample_features(self.feature_probability, size, self.generator, self.distribution)
        x_hat = forward(self.W, self.b, x, self.arch, self.W_out)  # (rows, n, size)
        y = target(x, self.W_out is not None)
        error = x_hat.sub_(y)
        per_input = (self.importance.unsqueeze(-1) * error * error).sum(dim=1).double()  # (rows, B)
        self.total += per_input.sum(dim=-1)
        self.squares += per_input.square().sum(dim=-1)
        self.zero += reconstruction_loss(y, torch.zeros_like(y), self.importance).double() * size
        self.samples_done += size

    def evaluation(self) -> Evaluation:
        """L and L̃ per row over the inputs measured so far (all of them once :attr:`done`)."""
        n = max(1, self.samples_done)
        mean = self.total / n
        variance = (self.squares / n - mean.square()).clamp_min(0.0) * (n / max(1, n - 1))
        return Evaluation(mean, (self.zero - self.total) / n, (variance / n).sqrt())


class FinalEvaluation:
    """A finished run's evaluation on fresh inputs, advanced one chunk at a time (by a worker,
    between other runs' steps), then its result: each instance's best restart.

    Two stages when restarts are ranked on fresh samples (n_restarts > 1, no ``n_train``): every
    row's L on ``n_eval_samples`` fresh inputs picks each instance's restart, then the kept rows
    are measured on ``n_eval_samples`` further fresh inputs (the same generator, going on), and
    that second, independent L is reported. Otherwise the one stage's L is reported: nothing
    was picked on it.

    The worker's protocol for every kind of run: ``advance()``, ``done``, ``result()``.
    """

    def __init__(self, run: Run) -> None:
        self.run = run
        self.evaluator = run.evaluator()
        self.selection: Evaluation | None = None  # every row's L, once the first stage is done
        self.keep: Tensor | None = None  # (n_instances,) the kept rows
        self.report: Evaluator | JointEvaluator | None = None  # the second stage, if any

    @property
    def done(self) -> bool:
        if not self.evaluator.done:
            return False
        return self.report is None or self.report.done

    @property
    def chunks(self) -> int:
        """How many chunks the whole evaluation takes, both stages."""
        if self.report is not None:
            return self.evaluator.chunks + self.report.chunks
        if not self.run.reports_separately:
            return self.evaluator.chunks
        kept = self.run.rows // self.run.config.n_restarts  # the second stage's rows
        n = self.run.config.n_eval_samples
        return self.evaluator.chunks + -(-n // chunk_size(kept, self.run.n_features, n))

    def advance(self) -> None:
        """Measure the next chunk (nothing once :attr:`done`)."""
        if not self.evaluator.done:
            self.evaluator.advance()
            if self.evaluator.done:
                self._select()
        elif self.report is not None:
            self.report.advance()

    def _select(self) -> None:
        self.selection = self.evaluator.evaluation()
        self.keep = self.run.kept_rows(self.selection)
        if self.run.reports_separately:
            self.report = self.run.report_evaluator(self.keep)

    def result(self) -> TrainResult:
        """The run's result; call once :attr:`done`."""
        assert self.done and self.selection is not None, "advance() to the end first"
        report = None if self.report is None else self.report.evaluation()
        return self.run.kept(self.selection, report)


def evaluate(
    W: Tensor,
    b: Tensor,
    arch: Architecture,
    distribution: FeatureDistribution,
    feature_probability: Tensor,
    importance: Tensor,
    n_samples: int,
    generator: torch.Generator,
    check: CheckCallback | None = None,
    W_out: Tensor | None = None,
) -> Evaluation:
    """L and the gain L̃ per row on ``n_samples`` fresh inputs, drawn in chunks to bound memory
    (an :class:`Evaluator` advanced to its end).

    The gain is measured on the same inputs as the loss rather than taken from the exact loss of
    x′ = 0: at small p the loss is mostly Σ Iᵢ xᵢ² and its sampling noise, which cancels here
    (Chowdhury & Weiner plot L̃).

    Args:
        W: (rows, m, n); b: (rows, n).
        arch: the model (``model.Architecture``).
        distribution: the inputs' magnitude, sign and feature sets, as in training.
        feature_probability, importance: (rows, n_features).
        check: called before every chunk; may raise to stop.
        W_out: untied output weights (rows, n, m) of the absolute-value model, whose target is
            |x|; else None.

    Returns:
        :class:`Evaluation`: L = mean of Σᵢ Iᵢ (xᵢ − x′ᵢ)² and L̃, each (rows,) float64.
    """
    evaluator = Evaluator(
        W, b, arch, distribution, feature_probability, importance, n_samples, generator, W_out
    )
    while not evaluator.done:
        if check is not None:
            check()
        evaluator.advance()
    return evaluator.evaluation()


class JointEvaluator:
    """The evaluations of a joined run's parts (:meth:`Run.joined`), one after the other, each
    on its own rows with its own generator: every part measures exactly what it would alone.

    Args:
        parts: (rows of the joined run, that part's :class:`Evaluator`), in row order.
    """

    def __init__(self, parts: list[tuple[slice, Evaluator]]) -> None:
        self.parts = parts

    @property
    def done(self) -> bool:
        return all(evaluator.done for _, evaluator in self.parts)

    @property
    def chunks(self) -> int:
        return sum(evaluator.chunks for _, evaluator in self.parts)

    def advance(self) -> None:
        """Measure the next chunk of the first part not yet done."""
        for _, evaluator in self.parts:
            if not evaluator.done:
                evaluator.advance()
                return

    def evaluation(self) -> Evaluation:
        """L and L̃ of every row of the joined run, in its row order."""
        measured = [evaluator.evaluation() for _, evaluator in self.parts]
        return Evaluation(*(torch.cat(parts) for parts in zip(*measured, strict=True)))


@dataclass
class RunPart:
    """Rows of a run that share a generator (and a training set): a run has one part, a joined
    run (:meth:`Run.joined`) one per run it was made of.

    Attributes:
        rows: the part's rows within the run.
        generator: draws its initial weights, training set and evaluation inputs.
        adam_steps: AdamW's step counters of its parameter slices (one per parameter tensor).
        train_x: (part rows, n_features, T), the finite training set repeated over restarts
            (``TrainConfig.n_train``), or None for fresh samples every step.
    """

    rows: slice
    generator: torch.Generator
    adam_steps: list[Tensor]
    train_x: Tensor | None = None


@dataclass(frozen=True)
class InitialWeights:
    """Weights a run starts from instead of a fresh initialisation (training that carries on).

    Attributes:
        W: (k, n_hidden, n_features); b: (k, n_features); W_out: (k, n_features, n_hidden) for
            the absolute-value model, else None. k is 1 (it seeds every instance) or the run's
            n_instances; every restart of an instance starts from that instance's weights.
    """

    W: Tensor
    b: Tensor
    W_out: Tensor | None = None

    def rows(self, n_instances: int, n_restarts: int, device: torch.device | str) -> list[Tensor]:
        """W, b (and W_out) for every row of a run: (n_instances × n_restarts, …) copies.

        Raises:
            ValueError: k is neither 1 nor ``n_instances``.
        """
        k = len(self.W)
        if k not in (1, n_instances):
            raise ValueError(f"initial weights of {k} instances cannot seed {n_instances}")
        tensors = [self.W, self.b] if self.W_out is None else [self.W, self.b, self.W_out]
        return [
            t.detach().to(device, torch.float32).expand(n_instances, *t.shape[1:])
            .repeat_interleave(n_restarts, dim=0).contiguous()
            for t in tensors
        ]  # fmt: skip


class Run:
    """One model config's instances in training: n_instances × n_restarts rows.

    Args:
        model: the model and its data.
        config: how it is trained (steps, batch, AdamW, seed, restarts, snapshots).
        device: where it trains.
        importance: (n_instances, n_features) importances that differ between instances (a
            phase diagram's cells); None gives every instance ``model.importances``.
        init: weights to start from (:class:`InitialWeights`); None initialises afresh. The
            optimiser starts fresh either way, and the generator draws a fresh initialisation
            first in both cases, so the data a run sees does not depend on where it starts.

    Raises:
        ValueError: ``init`` does not fit the model (its shape or instance count).
    """

    def __init__(
        self,
        model: ModelConfig,
        config: TrainConfig,
        device: torch.device | str = "cpu",
        importance: Tensor | None = None,
        init: InitialWeights | None = None,
    ) -> None:
        n_instances, n_features, n_hidden = model.n_instances, model.n_features, model.n_hidden
        restarts = config.n_restarts
        self.model = model
        self.config = config
        self.architecture = Architecture.of(model)
        self.distribution = FeatureDistribution.of(model)
        self.n_features, self.n_hidden = n_features, n_hidden
        self.rows = n_instances * restarts
        if importance is None:
            importance = torch.tensor([model.importances] * n_instances, device=device)
        probability = torch.tensor(model.probability_rows, device=device)  # (I, n)
        # (rows, n): every restart of an instance shares its data distribution and importance.
        self.probability = probability.repeat_interleave(restarts, dim=0).contiguous()
        self.importance = importance.to(device).repeat_interleave(restarts, dim=0).contiguous()
        self.generator = torch.Generator(device).manual_seed(config.seed)
        scale = config.weight_init
        self.W, self.b = init_weights(
            self.rows, n_features, n_hidden, self.generator, device, scale
        )
        self.W_out = (
            init_output_weights(self.rows, n_features, n_hidden, self.generator, device, scale)
            if model.absolute_value
            else None
        )
        if init is not None:
            self._start_from(init, n_instances, restarts, device)
        train_x = None
        if config.n_train is not None:
            # Drawn once, after the weights: (I, n, T), shared by an instance's restarts. The run's
            # batch is the T points: batch_size says so for whoever sizes batches by it.
            drawn = sample_features(probability, config.n_train, self.generator, self.distribution)
            train_x = drawn.repeat_interleave(restarts, dim=0).contiguous()
            self.config = config = dataclasses.replace(config, batch_size=config.n_train)
        # Small models on the CPU take the fused step (``fused.supports``, from this request
        # alone): each row draws its batches from its own PCG64, in the compiled kernel.
        self.fused = fused.supports(model, config, device)
        self.row_generators = fused.row_generators(config.seed, self.rows) if self.fused else None
        # Eager fresh batches: the rows whose p is small enough draw only their non-zero entries
        # (``sparse.SparseSampler``, chosen from this request alone); None on a training set.
        self.sampler = (
            None
            if train_x is not None or self.fused
            else SparseSampler(self.probability, self.distribution, config.batch_size)
        )
        # AdamW state, updated in place by ``optim.adamw_step`` (``TrainingBatch.step``); one
        # step counter per parameter tensor, as torch's kernels want them.
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        self.adam_steps = [torch.zeros((), device=device) for _ in self.params]
        self.parts = [RunPart(slice(0, self.rows), self.generator, self.adam_steps, train_x)]
        self.step = 0
        # (rows,), the training-batch L of the latest step that computed one
        self.last_loss: Tensor | None = None
        self.history_every = max(1, config.steps // config.history_points)
        self.history_steps: list[int] = []
        self.history: list[Tensor] = []
        self.snapshot_steps = snapshot_steps(config.steps, config.snapshots)
        self.snapshots: list[dict[str, Tensor]] = []
        self._keep_snapshot()

    def _start_from(
        self, init: InitialWeights, n_instances: int, restarts: int, device: torch.device | str
    ) -> None:
        expected = [tuple(p.shape[1:]) for p in self.params]
        given = [tuple(t.shape[1:]) for t in (init.W, init.b, init.W_out) if t is not None]
        if given != expected:
            raise ValueError(f"initial weights of shapes {given} do not fit {expected}")
        for param, start in zip(self.params, init.rows(n_instances, restarts, device), strict=True):
            param.copy_(start)

    @property
    def params(self) -> list[Tensor]:
        """The trained tensors, in the order of the gradient buffers: W, b (and W_out)."""
        return [self.W, self.b] if self.W_out is None else [self.W, self.b, self.W_out]

    @property
    def done(self) -> bool:
        return self.step >= self.config.steps

    @property
    def finite(self) -> bool:
        """Whether it trains on a fixed training set (``TrainConfig.n_train``)."""
        return self.parts[0].train_x is not None

    @property
    def shape(self) -> tuple[Architecture, FeatureDistribution, int, int, int, float]:
        """What must match for two runs to share a batch: runs on finite training sets share
        one whatever their T (batch size 0 stands for them); adversarial training's ε too."""
        return (
            self.architecture,
            self.distribution,
            self.n_features,
            self.n_hidden,
            0 if self.finite else self.config.batch_size,
            self.config.adversarial_epsilon,
        )

    @classmethod
    def joined(cls, runs: list[Run]) -> Run:
        """One run made of several fresh runs of one shape, steps, schedule and restarts (a
        double-descent sweep: one run per T), stepped as one.

        Each keeps its own rows, generator, training set, AdamW step counters and evaluation,
        so each trains and measures exactly what it would alone (``TrainingBatch.step``
        computes every training set's gradients on its own rows, and AdamW updates each part's
        slices as their own tensors). The joined run's ``config`` is the first's, with
        ``batch_size`` the largest of theirs.

        Raises:
            ValueError: no runs, a run that has stepped, keeps snapshots, or differs from the
                first in shape, steps, schedule, AdamW settings or restarts.
        """
        if not runs:
            raise ValueError("joined needs at least one run")
        first = runs[0]

        def training(run: Run) -> tuple[object, ...]:
            c = run.config
            return (run.shape, c.steps, c.lr, c.weight_decay, c.lr_schedule, c.warmup_steps,
                    c.n_restarts, c.history_points, c.n_eval_samples)  # fmt: skip

        for run in runs:
            if run.step or run.snapshot_steps or training(run) != training(first):
                raise ValueError("only fresh runs of one shape and training, without snapshots")
        joined = cls.__new__(cls)
        joined.__dict__.update(first.__dict__)
        joined.config = dataclasses.replace(
            first.config, batch_size=max(run.config.batch_size for run in runs)
        )
        joined.rows = sum(run.rows for run in runs)
        for name in ("W", "b", "W_out", "probability", "importance"):
            tensors = [getattr(run, name) for run in runs]
            setattr(joined, name, None if tensors[0] is None else torch.cat(tensors).contiguous())
        joined.exp_avg = [torch.zeros_like(p) for p in joined.params]
        joined.exp_avg_sq = [torch.zeros_like(p) for p in joined.params]
        joined.adam_steps = first.adam_steps
        joined.parts, start = [], 0
        for run in runs:
            part = run.parts[0]
            rows = slice(start, start + run.rows)
            joined.parts.append(RunPart(rows, part.generator, part.adam_steps, part.train_x))
            start += run.rows
        joined.sampler = None  # fresh batches of a joined run: one dense draw (its first part's)
        if first.fused:  # each part's rows keep their own generators
            joined.row_generators = [g for run in runs for g in run.row_generators or []]
        joined.history_steps, joined.history, joined.snapshots = [], [], []
        joined.last_loss = None
        return joined

    def _keep_snapshot(self) -> None:
        kept = len(self.snapshots)
        if kept < len(self.snapshot_steps) and self.snapshot_steps[kept] == self.step:
            names = ("W", "b", "W_out")[: len(self.params)]
            self.snapshots.append({k: p.clone() for k, p in zip(names, self.params, strict=True)})

    def _in_history(self, step: int) -> bool:
        return step % self.history_every == 0 or step == self.config.steps

    def history_due(self) -> bool:
        """Whether the coming step's loss goes into the history."""
        return self._in_history(self.step + 1)

    def record(self, loss: Tensor | None) -> None:
        """Count a finished step; keep its loss if one was computed."""
        self.step += 1
        self._keep_snapshot()
        if loss is None:
            return
        self.last_loss = loss
        if self._in_history(self.step):
            self.history_steps.append(self.step)
            self.history.append(loss)

    def current(self) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
        """The best restart of every instance now, by the last training-batch loss.

        Returns:
            W (n_instances, m, n), b (n_instances, n), batch L (n_instances,) and W_out
            (n_instances, n, m) or None; copies.

        Raises:
            RuntimeError: no loss has been recorded yet.
        """
        if self.last_loss is None:
            raise RuntimeError("no step with a loss has run yet")
        keep = best_restarts(self.last_loss, self.config.n_restarts)
        W_out = None if self.W_out is None else self.W_out[keep].clone()
        return self.W[keep].clone(), self.b[keep].clone(), self.last_loss[keep].clone(), W_out

    def evaluator(self) -> Evaluator | JointEvaluator:
        """The first stage of the final evaluation, every row on fresh inputs, to advance one
        chunk at a time (the worker interleaves it with other runs' steps);
        :class:`FinalEvaluation` runs it and the second stage.

        The generator goes on past every training draw, so the evaluation inputs are fresh.
        A joined run gives a :class:`JointEvaluator`, each part with its own generator.
        """
        evaluators = [(part.rows, self._part_evaluator(part, part.rows)) for part in self.parts]
        return evaluators[0][1] if len(evaluators) == 1 else JointEvaluator(evaluators)

    @property
    def reports_separately(self) -> bool:
        """Whether the reported loss needs inputs of its own: restarts ranked on fresh samples
        (several restarts, no training set), whose least L is biased low."""
        return self.config.n_restarts > 1 and not self.finite

    def report_evaluator(self, keep: Tensor) -> Evaluator | JointEvaluator:
        """The second stage: the kept rows ``keep`` (n_instances,) on ``n_eval_samples`` further
        fresh inputs of each part's generator, independent of those that ranked them."""
        evaluators = []
        start = 0
        for part in self.parts:
            mine = keep[(keep >= part.rows.start) & (keep < part.rows.stop)]
            taken = slice(start, start + len(mine))
            evaluators.append((taken, self._part_evaluator(part, mine)))
            start += len(mine)
        return evaluators[0][1] if len(evaluators) == 1 else JointEvaluator(evaluators)

    def _part_evaluator(self, part: RunPart, rows: slice | Tensor) -> Evaluator:
        return Evaluator(
            self.W[rows],
            self.b[rows],
            self.architecture,
            self.distribution,
            self.probability[rows],
            self.importance[rows],
            self.config.n_eval_samples,
            part.generator,
            None if self.W_out is None else self.W_out[rows],
        )

    @torch.no_grad()
    def train_losses(self) -> Tensor | None:
        """L of every row on its training set now, (rows,) float64; None for fresh samples."""
        if not self.finite:
            return None
        losses = []
        for part in self.parts:
            rows, x = part.rows, part.train_x
            assert x is not None
            W_out = None if self.W_out is None else self.W_out[rows]
            x_hat = forward(self.W[rows], self.b[rows], x, self.architecture, W_out)
            y = target(x, self.architecture.absolute_value)
            losses.append(reconstruction_loss(y, x_hat, self.importance[rows]).double())
        return torch.cat(losses)

    def final_evaluation(self) -> FinalEvaluation:
        """This run's evaluation, to advance a chunk at a time, then its result."""
        return FinalEvaluation(self)

    def result(self, check: CheckCallback | None = None) -> TrainResult:
        """Evaluate every restart on fresh samples, keep each instance's best and measure it on
        further fresh samples (:class:`FinalEvaluation` advanced to its end).

        Args:
            check: called before every chunk; may raise to stop.
        """
        final = self.final_evaluation()
        while not final.done:
            if check is not None:
                check()
            final.advance()
        return final.result()

    def kept_rows(self, final: Evaluation, train_loss: Tensor | None = None) -> Tensor:
        """Each instance's best restart (n_instances,): by its evaluated loss ``final`` (per
        row), or by its loss on its training set for a run with ``n_train`` (``train_loss``,
        :meth:`train_losses`, computed here if not given)."""
        if train_loss is None and self.finite:
            train_loss = self.train_losses()
        ranked = final.loss if train_loss is None else train_loss
        return best_restarts(ranked, self.config.n_restarts)

    def kept(self, final: Evaluation, report: Evaluation | None = None) -> TrainResult:
        """Each instance's best restart (:meth:`kept_rows`), its loss from ``report`` (the kept
        rows' second evaluation) when given, else from ``final``."""
        train_loss = self.train_losses()
        keep = self.kept_rows(final, train_loss)  # (I,)
        history = torch.stack(self.history) if self.history else torch.zeros((0, self.rows))
        snapshots = {
            name: torch.stack([kept[name][keep] for kept in self.snapshots])
            for name in (self.snapshots[0] if self.snapshots else {})
        }  # name → (snapshots, n_instances, …)
        samples = self.config.n_eval_samples
        if report is not None:
            estimate = LossEstimate(samples, "fresh_samples", samples)
        elif train_loss is not None:
            estimate = LossEstimate(samples, "train_set" if self.config.n_restarts > 1 else "none")
        else:
            estimate = LossEstimate(samples, "none")
        measured = Evaluation(*(None if t is None else t[keep] for t in final))
        reported = measured if report is None else report
        return TrainResult(
            W=self.W[keep].clone(),
            b=self.b[keep].clone(),
            loss=reported.loss,
            gain=reported.gain,
            history_steps=list(self.history_steps),
            loss_history=history[:, keep],
            W_out=None if self.W_out is None else self.W_out[keep].clone(),
            snapshot_steps=list(self.snapshot_steps),
            snapshots=snapshots,
            train_loss=None if train_loss is None else train_loss[keep],
            train_x=None if train_loss is None else self.train_points(keep.tolist()),
            loss_estimate=estimate,
            selection_loss=None if report is None else measured.loss,
            loss_stderr=reported.stderr,
        )

    def train_points(self, rows: list[int]) -> list[Tensor]:
        """The training set of each of ``rows``, (n_features, T) each."""
        points = []
        for row in rows:
            part = next(p for p in self.parts if p.rows.start <= row < p.rows.stop)
            assert part.train_x is not None
            points.append(part.train_x[row - part.rows.start].clone())
        return points


@dataclass
class _Layout:
    """The batch's concatenated per-row inputs and buffers, rebuilt when runs join or leave."""

    runs: list[Run]
    x: Tensor  # (rows, n, B), the input buffer, refilled every step
    probability_term: Tensor  # (rows, n, 1): FeatureDistribution.probability_term of p
    importance: Tensor  # (rows, n)
    grads: tuple[Tensor, ...]  # gradient buffers in Run.params' order: dW, db (and dW_out)
    slices: list[slice] = field(default_factory=list)
    adam: list[AdamGroup] = field(default_factory=list)  # by (lr, weight decay), constant lr
    per_run: list[AdamGroup] = field(default_factory=list)  # each run's, for scheduled lr
    scheduled: bool = False  # some run's lr changes per step: regroup every step
    fused: fused.FusedBatch | None = None  # the runs take the fused step (``Run.fused``)
    row_counts: np.ndarray | None = None  # (runs,) each run's rows, for the fused step's arrays
    sparse: bool = False  # some run draws sparse rows (``Run.sampler``): each run draws its own
    workspace: Workspace = field(default_factory=Workspace)  # the step's reused intermediates
    products: BatchProducts | None = None  # rows stepped from their non-zero entries, if any


class TrainingBatch:
    """Runs of one training shape, stepped together.

    Not thread-safe: one thread (the training worker) owns a batch.
    """

    def __init__(self) -> None:
        self.runs: list[Run] = []
        self._layout: _Layout | None = None

    def add(self, run: Run) -> None:
        """Let a run join at the next step.

        Raises:
            ValueError: its shape differs from the runs already here.
        """
        if self.runs and run.shape != self.runs[0].shape:
            raise ValueError(
                f"run of shape {run.shape} cannot join a batch of {self.runs[0].shape}"
            )
        self.runs.append(run)
        self._layout = None

    def remove(self, run: Run) -> None:
        """Let a run leave before the next step (finished or cancelled)."""
        self.runs.remove(run)
        self._layout = None

    def __len__(self) -> int:
        return len(self.runs)

    @property
    def rows(self) -> int:
        return sum(run.rows for run in self.runs)

    def _build(self) -> _Layout:
        runs = list(self.runs)
        first = runs[0]
        probability = torch.cat([run.probability for run in runs])
        rows, device = len(probability), probability.device
        scheduled = any(run.config.lr_schedule != "constant" for run in runs)
        if first.fused:
            return self._build_fused(runs, probability, scheduled)
        batch = 0 if first.finite else first.config.batch_size  # finite runs bring their own x
        layout = _Layout(
            runs=runs,
            x=torch.empty((rows, first.n_features, batch), device=device),
            probability_term=first.distribution.probability_term(probability),
            importance=torch.cat([run.importance for run in runs]),
            grads=tuple(torch.empty((rows, *p.shape[1:]), device=device) for p in first.params),
            scheduled=scheduled,
            sparse=any(run.sampler is not None and not run.sampler.all_dense for run in runs),
        )
        groups: dict[tuple[float, float], AdamGroup] = {}
        layout.slices = _row_slices(runs)
        for run, rows_of_run in zip(runs, layout.slices, strict=True):
            mine = AdamGroup(run.config.lr, run.config.weight_decay)
            if len(run.parts) == 1:  # the run's whole tensors
                mine.params += run.params
                mine.grads += [buffer[rows_of_run] for buffer in layout.grads]
                mine.exp_avgs += run.exp_avg
                mine.exp_avg_sqs += run.exp_avg_sq
                mine.steps += run.adam_steps
            else:  # a joined run: each part's slices, as the tensors it would have alone
                offset = rows_of_run.start
                for part in run.parts:
                    r = slice(offset + part.rows.start, offset + part.rows.stop)
                    mine.params += [p[part.rows] for p in run.params]
                    mine.grads += [buffer[r] for buffer in layout.grads]
                    mine.exp_avgs += [e[part.rows] for e in run.exp_avg]
                    mine.exp_avg_sqs += [e[part.rows] for e in run.exp_avg_sq]
                    mine.steps += part.adam_steps
            layout.per_run.append(mine)
            _merge(groups, mine, mine.lr)
        layout.adam = list(groups.values())
        if layout.sparse:
            layout.products = BatchProducts.of(runs, layout.slices)
        return layout

    def _build_fused(self, runs: list[Run], probability: Tensor, scheduled: bool) -> _Layout:
        """The fused step's layout: every run's weights and AdamW moments moved into one
        buffer each (the runs' tensors become views of them), so one call steps them all."""
        first = runs[0]
        W = torch.cat([run.W for run in runs])
        b = torch.cat([run.b for run in runs])
        moments = [torch.cat([run.exp_avg[k] for run in runs]) for k in range(2)]
        squares = [torch.cat([run.exp_avg_sq[k] for run in runs]) for k in range(2)]
        slices = _row_slices(runs)
        for run, rows in zip(runs, slices, strict=True):
            run.W, run.b = W[rows], b[rows]
            run.exp_avg = [m[rows] for m in moments]
            run.exp_avg_sq = [v[rows] for v in squares]
        importance = torch.cat([run.importance for run in runs])
        generators = [g for run in runs for g in run.row_generators or []]
        tensors = (W, b, moments[0], squares[0], moments[1], squares[1])
        counts = np.array([run.rows for run in runs])
        per_run = np.array(
            [(run.config.lr_at(run.step), run.config.weight_decay, run.step + 1) for run in runs]
        )  # (runs, 3)
        lr, weight_decay, steps = np.repeat(per_run, counts, axis=0).T
        batch = fused.FusedBatch(
            tensors, importance, probability, generators, first.config.batch_size, first.model,
            lr, weight_decay, steps,
        )  # fmt: skip
        return _Layout(
            runs=runs, x=torch.empty(0), probability_term=torch.empty(0), importance=importance,
            grads=(), slices=slices, fused=batch, row_counts=counts,
            scheduled=scheduled,
        )  # fmt: skip

    def _fused_step(self, layout: _Layout, with_loss: bool) -> None:
        """One step of every run through the compiled kernel (``fused.FusedBatch``)."""
        assert layout.fused is not None and layout.row_counts is not None
        runs = layout.runs
        if layout.scheduled:  # each run's lr at its step now
            lr = [run.config.lr_at(run.step) for run in runs]
            layout.fused.lr[:] = np.repeat(lr, layout.row_counts)
        loss = layout.fused.step()
        with_loss = with_loss or any(run.history_due() for run in runs)
        for run, rows in zip(runs, layout.slices, strict=True):
            run.record(loss[rows].clone() if with_loss else None)

    def _adam_groups(self, layout: _Layout) -> list[AdamGroup]:
        """This step's AdamW calls: one per (lr, weight decay), each run at its lr now."""
        if not layout.scheduled:
            return layout.adam
        groups: dict[tuple[float, float], AdamGroup] = {}
        for run, mine in zip(layout.runs, layout.per_run, strict=True):
            _merge(groups, mine, run.config.lr_at(run.step))
        return list(groups.values())

    def _finite_gradients(self, layout: _Layout, with_loss: bool) -> Tensor | None:
        """Every run's gradients on its own training sets, into the layout's buffers; the loss
        per row (batch order) if ``with_loss``."""
        arch = layout.runs[0].architecture
        losses = []
        for run, rows in zip(layout.runs, layout.slices, strict=True):
            for part in run.parts:
                mine = part.rows
                r = slice(rows.start + mine.start, rows.start + mine.stop)
                x = part.train_x
                assert x is not None
                loss = loss_gradients(
                    run.W[mine], run.b[mine], x, run.importance[mine], arch, with_loss,
                    into=tuple(buffer[r] for buffer in layout.grads),
                    W_out=None if run.W_out is None else run.W_out[mine],
                    y=target(x, arch.absolute_value) if arch.absolute_value else None,
                ).loss  # fmt: skip
                losses.append(loss)
        return torch.cat(losses) if with_loss else None  # type: ignore[arg-type]

    def step(self, with_loss: bool = False) -> None:
        """One AdamW step of every run.

        Args:
            with_loss: compute the batch loss of every run (kept as ``run.last_loss``) even if no
                run's history asks for it this step.
        """
        if not self.runs:
            return
        if self._layout is None:
            with torch.no_grad():
                self._layout = self._build()
        if self._layout.fused is not None:  # no autograd state to switch off: 4 µs saved a step
            self._fused_step(self._layout, with_loss)
        else:
            self._eager_step(self._layout, with_loss)

    @torch.no_grad()
    def _eager_step(self, layout: _Layout, with_loss: bool) -> None:
        first = layout.runs[0]
        if first.finite:
            with_loss = with_loss or any(run.history_due() for run in layout.runs)
            use_threads_for(sum(p.train_x.numel() for r in layout.runs for p in r.parts))
            finite_loss = self._finite_gradients(layout, with_loss)
            for group in self._adam_groups(layout):
                adamw_step(group)
            for run, rows in zip(layout.runs, layout.slices, strict=True):
                run.record(None if finite_loss is None else finite_loss[rows].clone())
            return
        x = layout.x
        use_threads_for(x.numel())

        single = len(layout.runs) == 1
        if layout.sparse:  # each run its own batch: dense and sparse rows (``SparseSampler``)
            for run, rows in zip(layout.runs, layout.slices, strict=True):
                part = x if single else x[rows]
                if run.sampler is not None:
                    run.sampler.draw(part, run.generator)
                    continue
                torch.rand(part.shape, generator=run.generator, out=part)
                run.distribution.features_from_uniform_(part, layout.probability_term[rows])
        else:  # every row dense: one draw per run, one transform for the whole batch
            for run, rows in zip(layout.runs, layout.slices, strict=True):
                part = x if single else x[rows]
                torch.rand(part.shape, generator=run.generator, out=part)
            first.distribution.features_from_uniform_(x, layout.probability_term)
        W = first.W if single else torch.cat([run.W for run in layout.runs])
        b = first.b if single else torch.cat([run.b for run in layout.runs])
        W_out = None
        if first.W_out is not None:
            W_out = first.W_out if single else torch.cat([run.W_out for run in layout.runs])
        arch = first.architecture
        with_loss = with_loss or any(run.history_due() for run in layout.runs)
        y = target(x, arch.absolute_value) if arch.absolute_value else None
        if first.config.adversarial_epsilon:  # attacked inputs, clean targets (adversarial.py)
            y = x if y is None else y
            x = adversarial.perturb(
                x, W, first.config.adversarial_epsilon, _row_generators(layout), W_out
            )
        if layout.products is not None:  # sparse rows from their entries (sparse_products.py)
            loss = layout.products.loss_gradients(
                W, b, x, layout.importance, arch, with_loss, layout.grads, W_out, y,
                layout.workspace,
            )  # fmt: skip
        else:
            loss = loss_gradients(
                W, b, x, layout.importance, arch, with_loss, into=layout.grads, W_out=W_out, y=y,
                workspace=layout.workspace,
            ).loss  # fmt: skip
        for group in self._adam_groups(layout):  # every run's own parameters and state
            adamw_step(group)
        for run, rows in zip(layout.runs, layout.slices, strict=True):
            run.record(None if loss is None else loss[rows].clone())


def _row_generators(layout: _Layout) -> list[tuple[slice, torch.Generator]]:
    """Each run part's rows within the batch, with its generator."""
    return [
        (slice(rows.start + part.rows.start, rows.start + part.rows.stop), part.generator)
        for run, rows in zip(layout.runs, layout.slices, strict=True)
        for part in run.parts
    ]


def _row_slices(runs: list[Run]) -> list[slice]:
    """Each run's rows in a batch that stacks the runs' rows in order."""
    ends = list(itertools.accumulate(run.rows for run in runs))
    return [slice(end - run.rows, end) for run, end in zip(runs, ends, strict=True)]


def _merge(groups: dict[tuple[float, float], AdamGroup], mine: AdamGroup, lr: float) -> None:
    """Add a run's AdamW lists to the group of (``lr``, its weight decay)."""
    key = (lr, mine.weight_decay)
    group = groups.setdefault(key, AdamGroup(*key))
    group.params += mine.params
    group.grads += mine.grads
    group.exp_avgs += mine.exp_avgs
    group.exp_avg_sqs += mine.exp_avg_sqs
    group.steps += mine.steps


def run_to_end(run: Run, check: CheckCallback | None = None) -> TrainResult:
    """Train a run alone to its last step and keep each instance's best restart.

    Deterministic: the same configs and device give the same weights, and the same as the run
    gets in the worker's batch beside others.

    Args:
        check: optional callback between steps and chunks of the evaluation; may raise to stop.
    """
    batch = TrainingBatch()
    batch.add(run)
    while not run.done:
        if check is not None:
            check()
        batch.step()
    return run.result(check)
