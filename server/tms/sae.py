"""Sparse autoencoders (SAEs) trained on a toy model's hidden layer: dictionary learning against
features we know are there.

The toy model's hidden activations are h = W x (h = ReLU(W x) for a ReLU hidden layer), with x
drawn fresh every step from the model's own feature distribution (``data.sample_features`` with
that instance's feature probabilities). The SAE, with untied weights (ARENA 3.0, chapter 1.3.1
"Superposition & SAEs", section 5 "SAEs on toy models"; Sharkey, Braun & Millidge 2022):

    z  = W_enc (h − b_dec) + b_enc          W_enc: (n_latents, n_hidden), b_enc: (n_latents,)
    a  = ReLU(z)                            architecture "relu"
    a  = ReLU(TopK(z))                      architecture "topk": the k largest pre-activations
    ĥ  = W_dec a + b_dec                    W_dec: (n_hidden, n_latents), unit-norm columns
    L  = mean_d (ĥ_d − h_d)² + λ Σ_j |a_j|  per sample (topk: the first term only)

The reconstruction error is averaged over the hidden dimensions, as ARENA does (summing it acts
like a λ smaller by n_hidden). W_dec's columns are re-normalised to unit length after every Adam
step, so the L1 penalty cannot be dodged by shrinking latents and growing decoder columns.

``n_restarts`` SAEs train side by side in one batch (a leading restart dimension on every
tensor; each restart has its own initial weights, and all see the same input batch); after
training, each is scored on fresh samples and the one with the lowest loss is kept.

Resampling of dead latents (ARENA's "advanced" resampling, after Anthropic's "Towards
Monosemanticity", 2023): every ``resample_interval`` steps, the latents that fired on (almost) no
sample of the last ``RESAMPLE_WINDOW`` steps (fewer than ``DEAD_FREQUENCY`` of them) are
re-initialised towards inputs the SAE reconstructs badly: a fresh batch is drawn, inputs are
picked with probability ∝ their squared reconstruction loss, a dead latent's decoder column
becomes the normalised (h − b_dec) of its pick, its encoder row the same direction scaled to
``RESAMPLE_SCALE`` × the mean norm of the live encoder rows, its encoder bias 0, and its Adam
moments are reset.

Gradients come from torch autograd and the optimiser is ``torch.optim.Adam`` (the SAE is small
and the step is dominated by sampling; nothing is hand-written here).
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor

from server.tms.config import EVAL_SAMPLES, HISTORY_POINTS, ModelConfig
from server.tms.data import FeatureDistribution, sample_features
from server.tms.training import SINGLE_THREAD_ELEMENTS, CheckCallback

SAEArchitecture = Literal["relu", "topk"]

# -- the defaults: ARENA 3.0's toy-model SAE (chapter 1.3.1, section 5) ----------------------------
DEFAULT_SAE_STEPS = 20_000
DEFAULT_SAE_BATCH_SIZE = 1024
DEFAULT_SAE_LR = 1e-3
DEFAULT_L1_COEFFICIENT = 0.2
DEFAULT_K = 1  # topk: one latent per sample, as sparse as the toy data mostly is (p ≤ 0.1)
DEFAULT_RESAMPLE_INTERVAL = 2500
RESAMPLE_WINDOW = 500  # steps over which a latent's firing is counted (ARENA's window)
# A latent firing on fewer than this fraction of the window's samples is dead. ARENA's 1e-8 means
# "never"; a latent firing once in 10⁵ samples is as useless, and was seen to escape it.
DEAD_FREQUENCY = 1e-5
RESAMPLE_SCALE = 0.5  # a resampled encoder row's norm, × the mean norm of the live rows
SNAPSHOT_SAMPLES = 4096  # fresh samples a live snapshot's metrics are measured on
NORM_EPS = 1e-8
_MAX_THREADS = torch.get_num_threads()  # what larger steps use


@dataclass(frozen=True)
class SAEConfig:
    """How an SAE is trained (defaults: ARENA 3.0's toy-model SAE).

    Attributes:
        n_latents: the dictionary's size (latents), ≥ 1.
        architecture: "relu" (ReLU encoder, L1 penalty) or "topk" (the k largest
            pre-activations, no penalty).
        l1_coefficient: λ of the L1 penalty (relu), ≥ 0.
        k: latents kept per sample (topk), 1 ≤ k ≤ n_latents.
        steps, batch_size, lr: Adam steps, fresh samples per step, Adam's learning rate.
        seed: seeds the initial weights, the samples and the resampling.
        resample_interval: steps between resamplings of dead latents; 0 never resamples.
        n_restarts: SAEs trained side by side; the one of lowest loss on fresh samples is kept.
        n_eval_samples: the fresh samples of the final measurement.
        history_points: about this many (step, loss) points are kept.

    Raises:
        ValueError: a value out of its range.
    """

    n_latents: int = 5
    architecture: SAEArchitecture = "relu"
    l1_coefficient: float = DEFAULT_L1_COEFFICIENT
    k: int = DEFAULT_K
    steps: int = DEFAULT_SAE_STEPS
    batch_size: int = DEFAULT_SAE_BATCH_SIZE
    lr: float = DEFAULT_SAE_LR
    seed: int = 0
    resample_interval: int = DEFAULT_RESAMPLE_INTERVAL
    n_restarts: int = 1
    n_eval_samples: int = EVAL_SAMPLES
    history_points: int = HISTORY_POINTS

    def __post_init__(self) -> None:
        for name in ("n_latents", "steps", "batch_size", "n_restarts", "n_eval_samples"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.history_points < 1:
            raise ValueError("history_points must be at least 1")
        if self.architecture not in ("relu", "topk"):
            raise ValueError(f"architecture must be 'relu' or 'topk', not {self.architecture!r}")
        if not (math.isfinite(self.l1_coefficient) and self.l1_coefficient >= 0):
            raise ValueError(f"l1_coefficient must be ≥ 0, not {self.l1_coefficient}")
        if self.architecture == "topk" and not 1 <= self.k <= self.n_latents:
            raise ValueError(f"k must be in 1..n_latents = {self.n_latents}, not {self.k}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a positive number, not {self.lr}")
        if self.resample_interval < 0:
            raise ValueError("resample_interval must be at least 0 (0: never)")
        if self.seed < 0:
            raise ValueError("seed must be at least 0")


# -- the SAE itself, batched over restarts ---------------------------------------------------------
def encode(
    h: Tensor, W_enc: Tensor, b_enc: Tensor, b_dec: Tensor, architecture: SAEArchitecture, k: int
) -> Tensor:
    """The latents a of a batch.

    Args:
        h: (R, B, n_hidden) or (B, n_hidden) broadcast over restarts.
        W_enc: (R, n_latents, n_hidden); b_enc: (R, n_latents); b_dec: (R, n_hidden).

    Returns:
        (R, B, n_latents), non-negative.
    """
    z = torch.einsum("rbm,rlm->rbl", (h - b_dec.unsqueeze(1)).expand(len(W_enc), -1, -1), W_enc)
    z = z + b_enc.unsqueeze(1)
    if architecture == "relu":
        return z.relu()
    values, index = z.topk(k, dim=-1)
    return torch.zeros_like(z).scatter(-1, index, values.relu())


def decode(a: Tensor, W_dec: Tensor, b_dec: Tensor) -> Tensor:
    """ĥ = W_dec a + b_dec.

    Args:
        a: (R, B, n_latents); W_dec: (R, n_hidden, n_latents); b_dec: (R, n_hidden).

    Returns:
        (R, B, n_hidden).
    """
    return torch.einsum("rbl,rml->rbm", a, W_dec) + b_dec.unsqueeze(1)


def sample_losses(
    h: Tensor, h_hat: Tensor, a: Tensor, l1_coefficient: float, architecture: SAEArchitecture
) -> tuple[Tensor, Tensor]:
    """Per sample: the loss and its reconstruction term.

    Args:
        h: (B, n_hidden) or (R, B, n_hidden); h_hat: (R, B, n_hidden); a: (R, B, n_latents).

    Returns:
        loss and reconstruction, each (R, B): mean_d (ĥ_d − h_d)² (+ λ Σ_j |a_j| for relu).
    """
    reconstruction = (h_hat - h).pow(2).mean(-1)
    if architecture == "topk":
        return reconstruction, reconstruction
    return reconstruction + l1_coefficient * a.abs().sum(-1), reconstruction


def normalise_columns(W_dec: Tensor) -> Tensor:
    """W_dec (R, n_hidden, n_latents) with each column scaled to unit length, in place."""
    return W_dec.div_(W_dec.norm(dim=1, keepdim=True).clamp_min(NORM_EPS))


@dataclass
class SAEMeasures:
    """An SAE's measures on fresh samples, per restart (float64, CPU).

    Attributes:
        loss, reconstruction_mse: (R,), means over samples of the per-sample loss and of
            mean_d (ĥ_d − h_d)².
        explained_variance: (R,), 1 − Σ‖h − ĥ‖² / Σ‖h − h̄‖² (h̄ the samples' mean).
        latent_frequency: (R, n_latents), the fraction of samples on which a latent is > 0.
        l0: (R,), the mean number of latents > 0 per sample.
    """

    loss: Tensor
    reconstruction_mse: Tensor
    explained_variance: Tensor
    latent_frequency: Tensor
    l0: Tensor


@dataclass
class TrainedSAE:
    """The kept restart of a trained SAE, on the CPU.

    Attributes:
        config: how it was trained; model, instance: the toy model it was trained on.
        features: (n_hidden, n_features), the toy model instance's W (its features' directions).
        feature_probability: (n_features,), each feature's probability of being active.
        W_enc: (n_latents, n_hidden); b_enc: (n_latents,); W_dec: (n_hidden, n_latents), unit-norm
            columns; b_dec: (n_hidden,).
        measures: :class:`SAEMeasures` of the kept restart (R = 1 squeezed: scalars and
            (n_latents,)), on ``config.n_eval_samples`` fresh samples.
        restart: which restart was kept.
        history_steps: the steps whose training-batch loss was kept; loss_history: those losses
            of the kept restart.
        resample_steps: the steps at which dead latents were looked for (every
            ``resample_interval``); resampled: per such step, the kept restart's resampled latents.
    """

    config: SAEConfig
    model: ModelConfig
    instance: int
    features: Tensor
    feature_probability: list[float]
    W_enc: Tensor
    b_enc: Tensor
    W_dec: Tensor
    b_dec: Tensor
    measures: SAEMeasures
    restart: int
    history_steps: list[int] = field(default_factory=list)
    loss_history: list[float] = field(default_factory=list)
    resample_steps: list[int] = field(default_factory=list)
    resampled: list[tuple[int, list[int]]] = field(default_factory=list)

    @property
    def dead_latents(self) -> int:
        """Latents that fired on none of the evaluation samples."""
        return int((self.measures.latent_frequency == 0).sum())


class SAERun:
    """One SAE request in training: n_restarts SAEs on one toy-model instance's hidden layer,
    stepped one Adam step at a time (the worker steps it; ``train_sae`` runs it to the end).

    Args:
        model: the toy model's config (its feature distribution and hidden activation).
        W: (n_hidden, n_features), the instance's trained weights.
        instance: which of the model's instances W is (its feature probabilities are used).
        config: how to train the SAE.
        device: where to train.

    Raises:
        ValueError: W's shape does not fit the model, or instance is out of range.
    """

    def __init__(
        self,
        model: ModelConfig,
        W: Tensor,
        instance: int,
        config: SAEConfig,
        device: torch.device | str = "cpu",
    ) -> None:
        if not 0 <= instance < model.n_instances:
            raise ValueError(f"instance must be in 0..{model.n_instances - 1}, not {instance}")
        if tuple(W.shape) != (model.n_hidden, model.n_features):
            raise ValueError(f"W has shape {tuple(W.shape)}, not (n_hidden, n_features)")
        self.model, self.instance, self.config = model, instance, config
        self.device = torch.device(device)
        self.W = W.detach().to(self.device, torch.float32)
        self.relu_hidden = model.hidden == "relu"
        self.distribution = FeatureDistribution.of(model)
        self.probability = torch.tensor([model.probability_rows[instance]], device=self.device)
        self.n_features, self.n_hidden = model.n_features, model.n_hidden
        self.rows = config.n_restarts
        R, L, m = config.n_restarts, config.n_latents, model.n_hidden
        self.generator = torch.Generator(self.device).manual_seed(config.seed)
        # Live snapshots draw from their own generator: watching never changes the training.
        self.snapshot_generator = torch.Generator(self.device).manual_seed(config.seed + 1)
        # ARENA's initialisation: Kaiming-uniform encoder and decoder (independent), zero biases.
        bound_enc, bound_dec = math.sqrt(6.0 / m), math.sqrt(6.0 / L)
        W_enc = (torch.rand((R, L, m), generator=self.generator, device=self.device) * 2 - 1) * (
            bound_enc
        )
        W_dec = (torch.rand((R, m, L), generator=self.generator, device=self.device) * 2 - 1) * (
            bound_dec
        )
        self.W_enc = W_enc.requires_grad_()
        self.b_enc = torch.zeros((R, L), device=self.device, requires_grad=True)
        self.W_dec = normalise_columns(W_dec).requires_grad_()
        self.b_dec = torch.zeros((R, m), device=self.device, requires_grad=True)
        self.optimizer = torch.optim.Adam(self.params, lr=config.lr)
        self.step = 0
        self.last_loss: Tensor | None = None  # (R,), the latest training batch's loss
        self.history_every = max(1, config.steps // config.history_points)
        self.history_steps: list[int] = []
        self.history: list[Tensor] = []
        self.window = min(RESAMPLE_WINDOW, config.resample_interval or RESAMPLE_WINDOW)
        self.fired: collections.deque[Tensor] = collections.deque(maxlen=self.window)
        self.resample_steps: list[int] = []
        self.resampled: list[list[list[int]]] = []  # per resampling step, per restart
        self.snapshot_samples = SNAPSHOT_SAMPLES

    # -- what the worker reads -------------------------------------------------------------------
    @property
    def params(self) -> list[Tensor]:
        return [self.W_enc, self.b_enc, self.W_dec, self.b_dec]

    @property
    def done(self) -> bool:
        return self.step >= self.config.steps

    @property
    def shape(self) -> tuple[object, ...]:
        """What two SAE runs must share to be stepped in one :class:`SAEBatch`."""
        return ("sae", self.n_hidden, self.config.n_latents, self.config.batch_size)

    def new_batch(self) -> SAEBatch:
        """An empty batch that can step this run (the worker asks, rather than making a
        ``TrainingBatch``, which steps toy models)."""
        return SAEBatch()

    # -- training --------------------------------------------------------------------------------
    def hidden(self, batch_size: int, generator: torch.Generator) -> Tensor:
        """Fresh hidden activations of the toy model, (batch_size, n_hidden)."""
        x = sample_features(self.probability, batch_size, generator, self.distribution)[0]
        h = (self.W @ x).T  # (B, m)
        return h.relu_() if self.relu_hidden else h

    def forward(self, h: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Latents, reconstruction and per-sample (loss, reconstruction term) of every restart.

        Returns:
            a (R, B, n_latents), ĥ (R, B, n_hidden), loss (R, B).
        """
        c = self.config
        a = encode(h.unsqueeze(0), self.W_enc, self.b_enc, self.b_dec, c.architecture, c.k)
        h_hat = decode(a, self.W_dec, self.b_dec)
        loss, _ = sample_losses(h, h_hat, a, c.l1_coefficient, c.architecture)
        return a, h_hat, loss

    def set_threads(self) -> None:
        """One CPU thread for small steps, as toy models train (``training.SINGLE_THREAD_
        ELEMENTS``): a second thread costs more than it gains, up to 5× on 2 busy cores."""
        c = self.config
        size = c.n_restarts * c.batch_size * max(c.n_latents, self.n_features, self.n_hidden)
        threads = 1 if size < SINGLE_THREAD_ELEMENTS else _MAX_THREADS
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)

    def advance(self) -> None:
        """One Adam step of every restart, then W_dec's columns re-normalised; resample dead
        latents when the step is a multiple of ``resample_interval`` (and not the last)."""
        self.set_threads()
        h = self.hidden(self.config.batch_size, self.generator)
        a, _, loss = self.forward(h)
        per_restart = loss.mean(-1)  # (R,)
        self.optimizer.zero_grad(set_to_none=True)
        per_restart.sum().backward()  # restarts never interact: the sum separates
        self.optimizer.step()
        with torch.no_grad():
            normalise_columns(self.W_dec)
            self.fired.append((a > 0).sum(dim=1, dtype=torch.float32))  # (R, L) counts
        self.step += 1
        self.last_loss = per_restart.detach()
        if self.step % self.history_every == 0 or self.step == self.config.steps:
            self.history_steps.append(self.step)
            self.history.append(self.last_loss)
        interval = self.config.resample_interval
        if interval and self.step % interval == 0 and self.step < self.config.steps:
            self.resample()

    def dead(self) -> Tensor:
        """(R, n_latents) bool: latents that fired on less than ``DEAD_FREQUENCY`` of the
        samples of the last ``window`` steps (none before any step)."""
        if not self.fired:
            return torch.zeros(
                (self.rows, self.config.n_latents), dtype=torch.bool, device=self.device
            )
        samples = len(self.fired) * self.config.batch_size
        return torch.stack(list(self.fired)).sum(dim=0) < DEAD_FREQUENCY * samples

    @torch.no_grad()
    def resample(self) -> list[list[int]]:
        """Re-initialise every restart's dead latents towards badly reconstructed inputs.

        Returns:
            Per restart, the resampled latents (also recorded with the step).
        """
        dead = self.dead()
        h = self.hidden(self.config.batch_size, self.generator)  # (B, m)
        _, h_hat, _ = self.forward(h)
        squared = (h_hat - h).pow(2).sum(-1)  # (R, B)
        state = self.optimizer.state
        done: list[list[int]] = []
        for r in range(self.rows):
            latents = dead[r].nonzero().flatten()
            done.append(latents.tolist())
            if len(latents) == 0:
                continue
            weights = squared[r].pow(2)
            if not bool(weights.sum() > 0):  # every input reconstructed exactly: any will do
                weights = torch.ones_like(weights)
            picks = torch.multinomial(
                weights, len(latents), replacement=True, generator=self.generator
            )
            directions = h[picks] - self.b_dec[r]  # (D, m)
            directions = directions / directions.norm(dim=-1, keepdim=True).clamp_min(NORM_EPS)
            alive = ~dead[r]
            scale = self.W_enc[r][alive].norm(dim=-1).mean() if bool(alive.any()) else 1.0
            self.W_dec[r][:, latents] = directions.T
            self.W_enc[r][latents] = directions * scale * RESAMPLE_SCALE
            self.b_enc[r][latents] = 0.0
            for param, index in (
                (self.W_enc, (r, latents)),
                (self.b_enc, (r, latents)),
                (self.W_dec, (r, slice(None), latents)),
            ):
                for moment in ("exp_avg", "exp_avg_sq"):
                    if moment in state.get(param, {}):
                        state[param][moment][index] = 0.0
        self.fired.clear()  # a resampled latent gets a full window before it can be dead again
        self.resample_steps.append(self.step)
        self.resampled.append(done)
        return done

    # -- reading it ------------------------------------------------------------------------------
    @torch.no_grad()
    def measure(
        self, n_samples: int, generator: torch.Generator, check: CheckCallback | None = None
    ) -> SAEMeasures:
        """Every restart's :class:`SAEMeasures` on ``n_samples`` fresh samples, drawn in chunks
        from ``generator`` (docs/THEORY.md F19: explained variance as a ratio of sums)."""
        R, L = self.rows, self.config.n_latents
        chunk = max(1, min(n_samples, (1 << 22) // (R * max(L, self.n_hidden, self.n_features))))
        totals = {
            name: torch.zeros(R, dtype=torch.float64, device=self.device)
            for name in ("loss", "reconstruction", "l0", "squared")
        }
        fired = torch.zeros((R, L), dtype=torch.float64, device=self.device)
        h_sum = torch.zeros(self.n_hidden, dtype=torch.float64, device=self.device)
        h_sq = torch.zeros((), dtype=torch.float64, device=self.device)
        done = 0
        while done < n_samples:
            if check is not None:
                check()
            size = min(chunk, n_samples - done)
            h = self.hidden(size, generator)
            c = self.config
            a = encode(h.unsqueeze(0), self.W_enc, self.b_enc, self.b_dec, c.architecture, c.k)
            h_hat = decode(a, self.W_dec, self.b_dec)
            loss, reconstruction = sample_losses(h, h_hat, a, c.l1_coefficient, c.architecture)
            active = a > 0
            totals["loss"] += loss.double().sum(-1)
            totals["reconstruction"] += reconstruction.double().sum(-1)
            totals["l0"] += active.double().sum(dim=(1, 2))
            totals["squared"] += (h_hat - h).double().pow(2).sum(dim=(1, 2))
            fired += active.double().sum(1)
            h_sum += h.double().sum(0)
            h_sq += h.double().pow(2).sum()
            done += size
        variance = h_sq - h_sum.pow(2).sum() / n_samples  # Σ‖h − h̄‖²
        explained = 1 - totals["squared"] / variance if bool(variance > 0) else totals["l0"] * 0
        return SAEMeasures(
            loss=(totals["loss"] / n_samples).cpu(),
            reconstruction_mse=(totals["reconstruction"] / n_samples).cpu(),
            explained_variance=explained.cpu(),
            latent_frequency=(fired / n_samples).cpu(),
            l0=(totals["l0"] / n_samples).cpu(),
        )

    def weights(self, restart: int) -> dict[str, Tensor]:
        """One restart's W_enc, b_enc, W_dec, b_dec, detached copies on the CPU."""
        return {
            name: p[restart].detach().cpu().clone()
            for name, p in zip(("W_enc", "b_enc", "W_dec", "b_dec"), self.params, strict=True)
        }

    def current(self) -> int:
        """The restart of lowest latest training-batch loss (0 before any step)."""
        return 0 if self.last_loss is None else int(self.last_loss.argmin())

    def trained(self, restart: int, measures: SAEMeasures) -> TrainedSAE:
        """The run as it is now, as restart ``restart`` measured by ``measures`` (of every
        restart)."""
        history = [float(loss[restart]) for loss in self.history]
        picked = SAEMeasures(
            loss=measures.loss[restart],
            reconstruction_mse=measures.reconstruction_mse[restart],
            explained_variance=measures.explained_variance[restart],
            latent_frequency=measures.latent_frequency[restart],
            l0=measures.l0[restart],
        )
        return TrainedSAE(
            config=self.config,
            model=self.model,
            instance=self.instance,
            features=self.W.cpu().clone(),
            feature_probability=self.model.marginal_probabilities(self.instance),
            measures=picked,
            restart=restart,
            history_steps=list(self.history_steps),
            loss_history=history,
            resample_steps=list(self.resample_steps),
            resampled=[
                (step, latents[restart])
                for step, latents in zip(self.resample_steps, self.resampled, strict=True)
            ],
            **self.weights(restart),
        )

    def snapshot(self) -> TrainedSAE:
        """The restart of lowest latest batch loss, measured on ``snapshot_samples`` fresh
        samples of the snapshot generator (the training's samples are untouched)."""
        measures = self.measure(self.snapshot_samples, self.snapshot_generator)
        return self.trained(self.current(), measures)

    def result(self, check: CheckCallback | None = None) -> TrainedSAE:
        """Measure every restart on ``n_eval_samples`` fresh samples (the training generator,
        past every training draw) and keep the one of lowest loss. With several restarts the
        reported measures come from ``n_eval_samples`` further fresh samples: the least of
        several noisy losses is biased low, so the inputs that pick a restart do not measure it.
        """
        measures = self.measure(self.config.n_eval_samples, self.generator, check)
        restart = int(measures.loss.argmin())
        if self.config.n_restarts > 1:
            measures = self.measure(self.config.n_eval_samples, self.generator, check)
        return self.trained(restart, measures)

    def final_evaluation(self) -> SAEFinalEvaluation:
        """The worker's handle on :meth:`result` (its protocol: ``advance``, ``done``,
        ``result``); the SAE's evaluation is one turn of the worker."""
        return SAEFinalEvaluation(self)


class SAEFinalEvaluation:
    """A finished SAE run's evaluation (:meth:`SAERun.result`) in one :meth:`advance`."""

    def __init__(self, run: SAERun) -> None:
        self.run = run
        self._trained: TrainedSAE | None = None

    @property
    def done(self) -> bool:
        return self._trained is not None

    def advance(self) -> None:
        if self._trained is None:
            self._trained = self.run.result()

    def result(self) -> TrainedSAE:
        """The kept SAE; call once :attr:`done`."""
        assert self._trained is not None, "advance() first"
        return self._trained


class SAEBatch:
    """SAE runs stepped in turn (the worker's batch for SAEs; each run is already batched over
    its restarts). Not thread-safe: the training worker owns it."""

    def __init__(self) -> None:
        self.runs: list[SAERun] = []

    def add(self, run: SAERun) -> None:
        self.runs.append(run)

    def remove(self, run: SAERun) -> None:
        self.runs.remove(run)

    def __len__(self) -> int:
        return len(self.runs)

    @property
    def rows(self) -> int:
        return sum(run.rows for run in self.runs)

    def step(self, with_loss: bool = False) -> None:
        """One step of every run (each computes its loss anyway: ``with_loss`` is accepted for
        the worker's sake)."""
        del with_loss
        for run in list(self.runs):
            run.advance()


def train_sae(
    model: ModelConfig,
    W: Tensor,
    instance: int = 0,
    config: SAEConfig | None = None,
    device: torch.device | str = "cpu",
    check: CheckCallback | None = None,
) -> TrainedSAE:
    """Train an SAE on a toy model instance's hidden layer (the notebook API).

        from server.tms import ModelConfig, TrainConfig, train
        from server.tms.sae import SAEConfig, train_sae
        model = train(ModelConfig(n_features=5, n_hidden=2, feature_probability=0.05))
        sae = train_sae(model.model, model.W[0], config=SAEConfig(n_latents=5, steps=5000))

    Args:
        model: the toy model's config; W: (n_hidden, n_features), its instance's weights.
        instance: which instance W is; config: the SAE's (None: ARENA's defaults, 5 latents).
        device: where to train; check: called between steps, may raise to stop.

    Returns:
        :class:`TrainedSAE`, its tensors on the CPU.

    Raises:
        ValueError: a config value out of range, or W not (n_hidden, n_features).
    """
    run = SAERun(model, W, instance, config or SAEConfig(), device)
    while not run.done:
        if check is not None:
            check()
        run.advance()
    return run.result(check)
