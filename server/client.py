"""A Python client of the explorer's API: train models, phase diagrams and SAEs, get numpy back.

>>> from server.client import Client
>>> client = Client("http://127.0.0.1:8000")           # token="…" for a server that has one
>>> result = client.train(n_features=5, n_hidden=2, feature_probability=0.1)
>>> result.instances[0].W.shape                       # (n_hidden, n_features)
(2, 5)
>>> result.figure("gram").show()                      # the explorer's WᵀW heatmap

Every training goes through a job (``POST /api/jobs``, then ``GET /api/jobs/{id}`` until it is
done, then its ``result_url``), so no request is held open however long it trains, and a
progress bar (tqdm) shows step of steps. Errors of the API raise :class:`ApiError` with the
server's detail; a job that fails or is cancelled raises :class:`JobFailed` or
:class:`JobCancelled`.

No server code runs here (httpx, numpy, tqdm and safetensors; plotly for figures, through
:mod:`server.figures`), so it works against any explorer server, local or remote.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

import httpx
import numpy as np
from safetensors.numpy import load as load_safetensors
from tqdm.auto import tqdm

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
FigureKind = Literal["gram", "norms", "directions", "bias", "loss"]
FIGURE_KINDS: tuple[str, ...] = ("gram", "norms", "directions", "bias", "loss")
# The explorer page's panel headings (frontend/index.html).
HEADINGS = {
    "gram": "Gram matrix WᵀW",
    "norms": "Feature norms ‖Wᵢ‖",
    "directions": "Feature directions W[:, i]",
    "bias": "Bias b",
    "loss": "Training loss",
}
_LOCATIONS = ("body", "query", "path")  # where pydantic says a field was: left out of messages


# -- errors --------------------------------------------------------------------------------------
def detail_text(detail: Any) -> str:
    """The server's ``detail`` in one line: text as it is, pydantic's error list as
    ``field: message; …`` (``model.steps: steps is 60000; the limit is max_steps = 50000 …``)."""
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list) and detail:
        parts = []
        for item in detail:
            if not isinstance(item, dict):
                parts.append(str(item))
                continue
            where = ".".join(str(p) for p in item.get("loc", []) if p not in _LOCATIONS)
            message = str(item.get("msg", "invalid"))
            parts.append(f"{where}: {message}" if where else message)
        return "; ".join(parts)
    return "no detail"


class ApiError(Exception):
    """The server refused a call: any status ≥ 400.

    Attributes:
        status: the HTTP status (422 for a bad request, 404, 503, …).
        detail: the server's ``detail``: a string, or for 422 pydantic's list of errors, each with
            ``loc`` (e.g. ``["body", "model", "steps"]``) and ``msg`` naming the limit.
        method, path: the call.
        retry_after: seconds to wait before retrying (a 503 of a full queue), else None.
    """

    def __init__(
        self, status: int, detail: Any, method: str, path: str, retry_after: float | None = None
    ) -> None:
        self.status, self.detail, self.method, self.path = status, detail, method, path
        self.retry_after = retry_after
        super().__init__(f"{method} {path} answered {status}: {detail_text(detail)}")

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        try:
            detail = response.json().get("detail", response.text)
        except (ValueError, AttributeError):
            detail = response.text or response.reason_phrase
        retry = response.headers.get("retry-after")
        return cls(
            response.status_code,
            detail,
            response.request.method,
            response.request.url.path,
            float(retry) if retry and retry.replace(".", "", 1).isdigit() else None,
        )


class JobError(RuntimeError):
    """A job ended without a result; ``job`` is its last :class:`JobStatus`."""

    def __init__(self, message: str, job: JobStatus) -> None:
        super().__init__(message)
        self.job = job


class JobFailed(JobError):
    """The job's training failed (``job.detail`` says why)."""


class JobCancelled(JobError):
    """The job was cancelled (DELETE /api/jobs/{id}, or the server stopped)."""


# -- results -------------------------------------------------------------------------------------
def _array(values: Any, dtype: Any = np.float64) -> np.ndarray:
    return np.asarray(values, dtype=dtype)


def _optional_array(values: Any) -> np.ndarray | None:
    return None if values is None else _array(values)


def _scalar(value: Any) -> np.float64 | None:
    return None if value is None else np.float64(value)


def _provenance(body: dict[str, Any]) -> dict[str, Any]:
    """The fields every stored result carries: its id, whether it was cached, its request, the
    device that trained it and how long that took (seconds)."""
    return {
        "id": body["id"],
        "cached": body["cached"],
        "request": body["request"],
        "device": body["device"],
        "train_seconds": float(body["train_seconds"]),
    }


@dataclass(frozen=True)
class JobStatus:
    """A job as ``GET /api/jobs/{id}`` shows it."""

    id: str
    kind: Literal["model", "phase_diagram", "sae", "double_descent"]
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    step: int
    steps: int
    result_url: str | None = None
    detail: str | None = None

    @property
    def finished(self) -> bool:
        """Whether it is done, failed or cancelled (it changes no more)."""
        return self.status in ("done", "failed", "cancelled")

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> JobStatus:
        return cls(**{name: body.get(name) for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Neurons:
    """The neuron view of a model with a ReLU hidden layer, per neuron k (length n_hidden)."""

    strength: np.ndarray  # ‖W row k‖ · ‖readout column k‖
    top_feature: np.ndarray  # int: the feature with the largest |W_ki|
    top_share: np.ndarray  # that feature's share of Σᵢ W_ki²
    kind: np.ndarray  # str: "monosemantic", "polysemantic" or "dead"
    monosemantic: int
    polysemantic: int
    dead: int
    monosemantic_share: float
    dead_strength: float

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Neurons:
        neurons = body["neurons"]
        return cls(
            strength=_array([n["strength"] for n in neurons]),
            top_feature=_array([n["top_feature"] for n in neurons], np.int64),
            top_share=_array([n["top_share"] for n in neurons]),
            kind=np.asarray([n["kind"] for n in neurons], dtype=str),
            **{
                name: body[name]
                for name in (
                    "monosemantic",
                    "polysemantic",
                    "dead",
                    "monosemantic_share",
                    "dead_strength",
                )
            },
        )


@dataclass(frozen=True)
class Instance:
    """One trained instance; n = n_features, m = n_hidden.

    Attributes:
        W: (m, n). b: (n,). gram: (n, n), WᵀW. W_out: (n, m) for the absolute-value model, else
            None.
        feature_norms, superposition, dimensionality, importance: (n,).
        dimensions_per_feature, loss: numpy scalars; gain, exact_loss: numpy scalars or None.
        feature_probability: p (a numpy scalar), or (n,) for per-feature sparsity.
        theory_loss: name → closed-form loss (numpy scalars).
        neurons: for a ReLU hidden layer, else None.
        train_loss: a model with ``n_train``: the loss on its T training points (``loss`` is
            then the test loss), else None.
        data_dimensionality: (T,) each training point's D_t, else None.
        hidden_train: (T, m) the training points' hidden vectors h_t = W x_t, else None.
    """

    W: np.ndarray
    b: np.ndarray
    gram: np.ndarray
    feature_norms: np.ndarray
    superposition: np.ndarray
    dimensionality: np.ndarray
    dimensions_per_feature: np.float64
    loss: np.float64
    feature_probability: np.float64 | np.ndarray
    importance: np.ndarray
    theory_loss: dict[str, np.float64]
    gain: np.float64 | None = None
    exact_loss: np.float64 | None = None
    W_out: np.ndarray | None = None
    neurons: Neurons | None = None
    train_loss: np.float64 | None = None
    data_dimensionality: np.ndarray | None = None
    hidden_train: np.ndarray | None = None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Instance:
        W = _array(body["W"])
        p = body["feature_probability"]
        gram = body.get("gram")
        return cls(
            W=W,
            b=_array(body["b"]),
            gram=W.T @ W if gram is None else _array(gram),
            feature_norms=_array(body["feature_norms"]),
            superposition=_array(body["superposition"]),
            dimensionality=_array(body["dimensionality"]),
            dimensions_per_feature=np.float64(body["dimensions_per_feature"]),
            loss=np.float64(body["loss"]),
            feature_probability=_array(p) if isinstance(p, list) else np.float64(p),
            importance=_array(body["importance"]),
            theory_loss={k: np.float64(v) for k, v in body.get("theory_loss", {}).items()},
            gain=_scalar(body.get("gain")),
            exact_loss=_scalar(body.get("exact_loss")),
            W_out=None if body.get("W_out") is None else _array(body["W_out"]),
            neurons=None if body.get("neurons") is None else Neurons.from_json(body["neurons"]),
            train_loss=_scalar(body.get("train_loss")),
            data_dimensionality=_optional_array(body.get("data_dimensionality")),
            hidden_train=_optional_array(body.get("hidden_train")),
        )


@dataclass(frozen=True)
class LossHistory:
    """The training-batch loss of the kept restart: ``steps`` (k,) and ``losses`` (k,
    n_instances)."""

    steps: np.ndarray
    losses: np.ndarray


@dataclass(frozen=True)
class Snapshots:
    """The kept weight snapshots' metrics (a request with ``snapshots`` > 0), s of them:
    ``step`` (s,), ``dimensionality`` and ``feature_norms`` (s, n_instances, n_features),
    ``dimensions_per_feature`` (s, n_instances). Their weights: :meth:`Client.weights`'
    ``snapshot_W`` and ``snapshot_b``."""

    step: np.ndarray
    dimensionality: np.ndarray
    feature_norms: np.ndarray
    dimensions_per_feature: np.ndarray


def _p_text(p: np.float64 | np.ndarray) -> str:
    if isinstance(p, np.ndarray):
        return f"p ∈ [{p.min():g}, {p.max():g}] per feature"
    return f"p = {float(p):g}"


@dataclass(frozen=True)
class ModelResult:
    """A trained model (``GET /api/models/{id}``) with numpy arrays.

    Attributes:
        id: the cache id (64 hex digits) of the normalised request.
        cached: whether the server answered from its cache without training.
        request: the normalised request the server trained (a dict, lists made explicit).
        instances: one per feature probability.
        loss_history: the training loss.
        snapshots: with ``snapshots`` > 0 in the request, else None.
    """

    id: str
    cached: bool
    request: dict[str, Any]
    device: str
    train_seconds: float
    loss_history: LossHistory
    instances: list[Instance]
    snapshots: Snapshots | None = None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> ModelResult:
        history = body["loss_history"]
        n_instances = len(body["instances"])
        snapshots = body.get("snapshots")
        return cls(
            **_provenance(body),
            loss_history=LossHistory(
                steps=_array([point["step"] for point in history], np.int64),
                losses=_array([point["loss"] for point in history]).reshape(
                    len(history), n_instances
                ),
            ),
            instances=[Instance.from_json(instance) for instance in body["instances"]],
            snapshots=None
            if not snapshots
            else Snapshots(
                step=_array([s["step"] for s in snapshots], np.int64),
                dimensionality=_array([s["dimensionality"] for s in snapshots]),
                feature_norms=_array([s["feature_norms"] for s in snapshots]),
                dimensions_per_feature=_array([s["dimensions_per_feature"] for s in snapshots]),
            ),
        )

    def describe(self, instance: int = 0) -> str:
        """The instance's model in a few symbols: ``n = 5, m = 2, p = 0.1`` (and the activation,
        task and instance when they are not the defaults)."""
        r = self.request
        parts = [f"n = {r['n_features']}", f"m = {r['n_hidden']}"]
        parts.append(_p_text(self.instances[instance].feature_probability))
        if r.get("activation", "relu") != "relu":
            power = f" k = {r['power']}" if r.get("power") else ""
            parts.append(f"{r['activation']}{power}")
        if r.get("task", "reconstruct") != "reconstruct":
            parts.append(str(r["task"]).replace("_", " "))
        if len(self.instances) > 1:
            parts.append(f"instance {instance} of {len(self.instances)}")
        return ", ".join(parts)

    def figure(self, kind: FigureKind | str, instance: int = 0) -> Any:
        """One of the explorer page's figures of an instance, as a ``plotly.graph_objects.Figure``.

        Args:
            kind: ``"gram"`` (WᵀW, colours symmetric about 0), ``"norms"`` (‖Wᵢ‖ coloured by
                superposition), ``"directions"`` (W's columns as arrows; m = 2 only), ``"bias"``
                or ``"loss"`` (the training loss, log axis, with the closed-form losses).
            instance: which instance, from 0.

        Raises:
            ValueError: an unknown kind (the message names the kinds), ``"directions"`` for a
                model whose m is not 2, or an instance out of range.
        """
        from server import figures  # plotly only when a figure is drawn

        if kind not in FIGURE_KINDS:
            raise ValueError(
                f"unknown figure kind {kind!r}; the kinds are {', '.join(FIGURE_KINDS)}"
            )
        if not 0 <= instance < len(self.instances):
            raise ValueError(
                f"instance is {instance}; this model has {len(self.instances)} "
                f"(0 to {len(self.instances) - 1})"
            )
        inst = self.instances[instance]
        title = f"{HEADINGS[kind]} · {self.describe(instance)}"
        if kind == "gram":
            return figures.gram_figure(inst.gram, title)
        if kind == "norms":
            return figures.norms_figure(
                inst.feature_norms, inst.superposition, inst.dimensionality, title
            )
        if kind == "directions":
            if inst.W.shape[0] != 2:
                raise ValueError(
                    f"the feature directions are drawn for m = 2; this model has m = "
                    f"{inst.W.shape[0]}"
                )
            return figures.directions_figure(inst.W, inst.importance, title)
        if kind == "bias":
            return figures.bias_figure(inst.b, title)
        history = self.loss_history
        return figures.loss_figure(
            history.steps, history.losses[:, instance], inst.theory_loss, title
        )


@dataclass(frozen=True)
class PhaseDiagram:
    """A phase diagram (``GET /api/phase-diagrams/{id}``) as numpy grids, indexed [y][x]: y over
    the extra feature's relative importance r, x over the feature probability p.

    Attributes:
        feature_probability: (x,), the columns' p. relative_importance: (y,), the rows' r.
        empirical, theory: (y, x) class names (str); empirical_codes, theory_codes: the same as
            integer codes of ``legend``.
        legend: code → class name: the theory's phases first (its tie-break order), then any
            other class the trained cells fell into (``all_superposed``, ``other``).
        extra_norm, extra_superposition, loss: (y, x).
        candidate_losses: candidate → (y, x) closed-form loss.
        W: (y, x, m, n); b: (y, x, n).
        agreement: the share of cells where empirical == theory.
        boundaries: the theory's curves, each with ``between``, ``optimised_bias`` and
            ``feature_probability`` and ``relative_importance`` as numpy arrays.
    """

    id: str
    cached: bool
    request: dict[str, Any]
    device: str
    train_seconds: float
    feature_probability: np.ndarray
    relative_importance: np.ndarray
    phases: list[str]
    legend: dict[int, str]
    empirical: np.ndarray
    theory: np.ndarray
    empirical_codes: np.ndarray
    theory_codes: np.ndarray
    agreement: float
    extra_norm: np.ndarray
    extra_superposition: np.ndarray
    loss: np.ndarray
    candidate_losses: dict[str, np.ndarray]
    W: np.ndarray
    b: np.ndarray
    boundaries: list[dict[str, Any]]
    thresholds: dict[str, float]

    @property
    def codes(self) -> dict[str, int]:
        """Class name → code (the inverse of ``legend``)."""
        return {name: code for code, name in self.legend.items()}

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> PhaseDiagram:
        empirical = np.asarray(body["empirical"], dtype=str)
        theory = np.asarray(body["theory"], dtype=str)
        phases = list(body["phases"])
        seen = set(empirical.ravel()) | set(theory.ravel())
        names = phases + sorted(seen - set(phases))
        code_of = {name: code for code, name in enumerate(names)}
        encode = np.vectorize(code_of.__getitem__, otypes=[np.int64])
        return cls(
            **_provenance(body),
            feature_probability=_array(body["feature_probability"]),
            relative_importance=_array(body["relative_importance"]),
            phases=phases,
            legend=dict(enumerate(names)),
            empirical=empirical,
            theory=theory,
            empirical_codes=encode(empirical),
            theory_codes=encode(theory),
            agreement=float(body["agreement"]),
            extra_norm=_array(body["extra_norm"]),
            extra_superposition=_array(body["extra_superposition"]),
            loss=_array(body["loss"]),
            candidate_losses={k: _array(v) for k, v in body["candidate_losses"].items()},
            W=_array(body["W"]),
            b=_array(body["b"]),
            boundaries=[
                curve
                | {
                    "feature_probability": _array(curve["feature_probability"]),
                    "relative_importance": _array(curve["relative_importance"]),
                }
                for curve in body["boundaries"]
            ],
            thresholds=dict(body["thresholds"]),
        )


@dataclass(frozen=True)
class SAE:
    """A sparse autoencoder on a toy model's hidden layer (``GET /api/saes/{id}``), with numpy
    arrays. Shapes: n = n_features, m = n_hidden, L = n_latents.

    Attributes:
        model_id, instance: the toy model (``Client.model(model_id)``) and its instance.
        features: (m, n), the instance's W; feature_norms, feature_probability: (n,).
        W_enc: (L, m); b_enc: (L,); W_dec: (m, L), unit-norm columns; b_dec: (m,).
        latent_frequency: (L,), the fraction of fresh samples on which each latent fires.
        dead_latents, l0, reconstruction_mse, explained_variance, loss: on those samples.
        cosines: (n, L), cos(W[:, i], W_dec[:, j]).
        mmcs, mcc: the mean max cosine and the one-to-one matched mean cosine over the
            represented features (``represented``; None if there are none).
        feature_matches, matching: (feature, latent, cosine) triples: each represented feature's
            best latent, and the one-to-one matching.
        latent_order: the latents in the order of the features they match.
        history_steps, loss_history: the training-batch loss; resampled: (step, latents) pairs.
    """

    id: str
    cached: bool
    request: dict[str, Any]
    device: str
    train_seconds: float
    model_id: str
    instance: int
    features: np.ndarray
    feature_norms: np.ndarray
    feature_probability: np.ndarray
    represented: list[int]
    W_enc: np.ndarray
    b_enc: np.ndarray
    W_dec: np.ndarray
    b_dec: np.ndarray
    latent_frequency: np.ndarray
    dead_latents: int
    l0: float
    reconstruction_mse: float
    explained_variance: float
    loss: float
    cosines: np.ndarray
    mmcs: float | None
    mcc: float | None
    feature_matches: list[tuple[int, int, float]]
    matching: list[tuple[int, int, float]]
    latent_order: list[int]
    history_steps: np.ndarray
    loss_history: np.ndarray
    resampled: list[tuple[int, list[int]]]

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> SAE:
        def triples(matches: list[dict[str, Any]]) -> list[tuple[int, int, float]]:
            return [(m["feature"], m["latent"], float(m["cosine"])) for m in matches]

        def number(value: Any) -> float | None:
            return None if value is None else float(value)

        return cls(
            **_provenance(body),
            model_id=body["model_id"],
            instance=int(body["instance"]),
            features=_array(body["features"]),
            feature_norms=_array(body["feature_norms"]),
            feature_probability=_array(body["feature_probability"]),
            represented=list(body["represented"]),
            W_enc=_array(body["W_enc"]),
            b_enc=_array(body["b_enc"]),
            W_dec=_array(body["W_dec"]),
            b_dec=_array(body["b_dec"]),
            latent_frequency=_array(body["latent_frequency"]),
            dead_latents=int(body["dead_latents"]),
            l0=float(body["l0"]),
            reconstruction_mse=float(body["reconstruction_mse"]),
            explained_variance=float(body["explained_variance"]),
            loss=float(body["loss"]),
            cosines=_array(body["cosines"]),
            mmcs=number(body["mmcs"]),
            mcc=number(body["mcc"]),
            feature_matches=triples(body["feature_matches"]),
            matching=triples(body["matching"]),
            latent_order=list(body["latent_order"]),
            history_steps=_array(body["history_steps"], np.int64),
            loss_history=_array(body["loss_history"]),
            resampled=[(e["step"], list(e["latents"])) for e in body["resampled"]],
        )


# -- jobs ----------------------------------------------------------------------------------------
class Job:
    """A job on the server (``POST /api/jobs``): poll it, wait for it, cancel it, read its result.

    Args:
        client: the client that made it.
        status: its status when it was made.

    Attributes:
        from_cache: whether the server answered it from its cache at once (the result's
            ``cached``).
    """

    def __init__(self, client: Client, status: JobStatus) -> None:
        self.client = client
        self.id = status.id
        self.kind = status.kind
        self.last = status
        self.from_cache = status.status == "done"  # answered from the cache when made

    def __repr__(self) -> str:
        s = self.last
        return f"Job({self.id!r}, {s.kind}, {s.status}, step {s.step} of {s.steps})"

    def status(self) -> JobStatus:
        """The job now (``GET /api/jobs/{id}``).

        Raises:
            ApiError: 404 if the server no longer knows it (finished jobs are kept an hour).
        """
        self.last = JobStatus.from_json(self.client._json("GET", f"/api/jobs/{self.id}"))
        return self.last

    def cancel(self) -> JobStatus:
        """Cancel it (``DELETE /api/jobs/{id}``): it reads ``cancelled`` unless it had finished.
        The training stops unless another client waits for the same model."""
        self.last = JobStatus.from_json(self.client._json("DELETE", f"/api/jobs/{self.id}"))
        return self.last

    def wait(self, progress: bool = True, timeout: float | None = None) -> JobStatus:
        """Poll until the job is done, with a tqdm bar of step / steps.

        Args:
            progress: show the bar (on stderr).
            timeout: seconds to wait at most (None: as long as it takes).

        Returns:
            The done job's status (its ``result_url`` set).

        Raises:
            JobFailed: the training failed (the message is the server's detail).
            JobCancelled: the job was cancelled.
            TimeoutError: not finished within ``timeout``; the job goes on (wait again, or
                :meth:`cancel` it).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        status = self.last
        what = {
            "model": "model",
            "phase_diagram": "phase diagram",
            "sae": "SAE",
            "double_descent": "double descent",
        }[self.kind]
        with tqdm(
            total=status.steps, unit="step", desc=f"{what} {self.id[:8]}", disable=not progress
        ) as bar:
            while True:
                if not status.finished:
                    status = self.status()
                bar.update(max(status.step - bar.n, 0))
                if status.finished:
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    raise TimeoutError(
                        f"job {self.id} is still {status.status} after {timeout} s (step "
                        f"{status.step} of {status.steps}); it goes on: wait again or cancel it"
                    )
                time.sleep(self.client.poll_interval)
        if status.status == "failed":
            raise JobFailed(f"job {self.id} failed: {status.detail}", status)
        if status.status == "cancelled":
            raise JobCancelled(
                f"job {self.id} was cancelled at step {status.step} of {status.steps}", status
            )
        return status

    def result(
        self, progress: bool = False, timeout: float | None = None
    ) -> ModelResult | PhaseDiagram | SAE | DoubleDescent:
        """The job's result (waiting for it first if it is not done).

        Raises:
            JobFailed, JobCancelled, TimeoutError: as :meth:`wait`.
            ApiError: the result is no longer in the server's cache (404).
        """
        status = self.last if self.last.status == "done" else self.wait(progress, timeout)
        assert status.result_url is not None
        body = self.client._json("GET", status.result_url)
        # The result is read from the cache: it was cached only if the job found it there.
        body["cached"] = self.from_cache
        if self.kind == "model":
            return ModelResult.from_json(body)
        if self.kind == "sae":
            return SAE.from_json(body)
        if self.kind == "double_descent":
            return DoubleDescent.from_json(body)
        return PhaseDiagram.from_json(body)


@dataclass(frozen=True)
class DoubleDescent:
    """A double-descent sweep (``GET /api/double-descent/{id}``) as numpy arrays, one row per T
    (k of them, increasing) and one column per instance (I).

    Attributes:
        n_train: (k,) the training-set sizes T.
        model_ids: each T's model, for :meth:`Client.model` (W, hidden_train, …).
        train_loss, loss: (k, I), the loss on the T training points and on 2¹⁶ fresh samples.
        data_dimensionality: (k, I), the mean over the T points of D_t.
        feature_dimensionality: (k, I, n_features), every feature's Dᵢ.
        feature_norms: (k, I, n_features), every feature's ‖Wᵢ‖.
        peak_n_train: the T of the highest test loss (first instance).
    """

    id: str
    cached: bool
    request: dict[str, Any]
    device: str
    train_seconds: float
    n_train: np.ndarray
    model_ids: list[str]
    train_loss: np.ndarray
    loss: np.ndarray
    data_dimensionality: np.ndarray
    feature_dimensionality: np.ndarray
    feature_norms: np.ndarray
    peak_n_train: int | None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> DoubleDescent:
        points = body["points"]
        return cls(
            **_provenance(body),
            n_train=_array([p["n_train"] for p in points], np.int64),
            model_ids=[p["model_id"] for p in points],
            train_loss=_array([p["train_loss"] for p in points]),
            loss=_array([p["loss"] for p in points]),
            data_dimensionality=_array([p["data_dimensionality"] for p in points]),
            feature_dimensionality=_array([p["feature_dimensionality"] for p in points]),
            feature_norms=_array([p.get("feature_norms", []) for p in points]),
            peak_n_train=body.get("peak_n_train"),
        )


@dataclass(frozen=True)
class Adversarial:
    """An instance's vulnerability to the paper's analytic L2 attack
    (``GET /api/models/{id}/adversarial``; TMS §"Relationship to Adversarial Robustness").

    Attributes:
        epsilon: ε; attack_norm: λ = ε · mean ‖x‖; mean_input_norm: mean ‖x‖.
        clean_loss, attacked_loss: the mean loss of the inputs and of their worst attack.
        vulnerability: (attacked_loss − clean_loss) / λ², 1 for orthogonal unit features;
            vulnerability_stderr: its standard error.
        samples, seed: the inputs; attacked_features: features with (WᵀW)ᵢ ≠ 0.
        worst_feature: (n_features,) how often each feature's attack was the worst.
        dimensions_per_feature: D* of the instance.
    """

    id: str
    instance: int
    epsilon: float
    attack_norm: float
    mean_input_norm: float
    clean_loss: float
    attacked_loss: float
    vulnerability: float
    vulnerability_stderr: float
    samples: int
    seed: int
    attacked_features: int
    worst_feature: np.ndarray
    dimensions_per_feature: float

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Adversarial:
        fields = {k: v for k, v in body.items() if k in cls.__dataclass_fields__}
        return cls(**(fields | {"worst_feature": _array(body["worst_feature"], np.int64)}))


# -- the client ----------------------------------------------------------------------------------
class Client:
    """A connection to an explorer server.

    Args:
        base_url: the server, e.g. ``http://127.0.0.1:8000`` (a path prefix, for a server behind
            a proxy, is kept).
        token: the server's shared token, if it has one (sent as ``Authorization: Bearer``).
        timeout: seconds one HTTP call may take (a training never holds a call open).
        poll_interval: seconds between two polls of a job.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        token: str | None = None,
        *,
        timeout: float = 60.0,
        poll_interval: float = 0.25,
    ) -> None:
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.base_url = base_url
        self.poll_interval = poll_interval
        self._http = httpx.Client(base_url=base_url, headers=headers, timeout=timeout)

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self._http.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise ApiError.from_response(response)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._request(method, path, **kwargs).json()

    # -- jobs ------------------------------------------------------------------------------------
    def submit(self, **fields: Any) -> Job:
        """Start training a model (``POST /api/jobs``) and return its job at once.

        Args:
            fields: ModelRequest's fields (``n_features``, ``n_hidden``, ``feature_probability``,
                ``importance_decay``, ``steps``, …; see the server's /docs).

        Raises:
            ApiError: 422 for a bad request (the detail names the field and the limit), 503 when
                the training queue is full (``retry_after`` says when to retry).
        """
        return self._submit({"model": fields})

    def submit_phase_diagram(self, **fields: Any) -> Job:
        """Start training a phase diagram (PhaseDiagramRequest's fields); as :meth:`submit`."""
        return self._submit({"phase_diagram": fields})

    def submit_sae(self, **fields: Any) -> Job:
        """Start training an SAE (SAERequest's fields: ``model`` (a dict of ModelRequest's
        fields) or ``model_id``, ``n_latents``, ``architecture``, …); as :meth:`submit`."""
        return self._submit({"sae": fields})

    def submit_double_descent(self, **fields: Any) -> Job:
        """Start training a double-descent sweep (DoubleDescentRequest's fields: the model's and
        ``n_train_values``); as :meth:`submit`."""
        return self._submit({"double_descent": fields})

    def _submit(self, body: dict[str, Any]) -> Job:
        return Job(self, JobStatus.from_json(self._json("POST", "/api/jobs", json=body)))

    def job(self, job_id: str) -> Job:
        """A job made earlier (by this client or any other), by its id."""
        job = Job(self, JobStatus(job_id, "model", "queued", 0, 0))
        job.status()
        job.kind = job.last.kind
        job.from_cache = False  # not known: it was made elsewhere
        return job

    # -- results ---------------------------------------------------------------------------------
    def train(
        self, *, progress: bool = True, timeout: float | None = None, **fields: Any
    ) -> ModelResult:
        """Train a model (or load it from the server's cache) and return it with numpy arrays.

        Args:
            progress: show a tqdm bar of the training steps.
            timeout: seconds to wait at most for the training (None: as long as it takes).
            fields: ModelRequest's fields, as :meth:`submit`.

        Raises:
            ApiError: the server refused the request (422, 503).
            JobFailed, JobCancelled, TimeoutError: as :meth:`Job.wait`.
        """
        job = self.submit(**fields)
        job.wait(progress=progress, timeout=timeout)
        result = job.result()
        assert isinstance(result, ModelResult)
        return result

    def phase_diagram(
        self, *, progress: bool = True, timeout: float | None = None, **fields: Any
    ) -> PhaseDiagram:
        """Train a phase diagram (PhaseDiagramRequest's fields: ``n_features``, ``grid_size``,
        ``feature_probability_range``, …) through a job and return its numpy grids; errors as
        :meth:`train`."""
        job = self.submit_phase_diagram(**fields)
        job.wait(progress=progress, timeout=timeout)
        result = job.result()
        assert isinstance(result, PhaseDiagram)
        return result

    def sae(self, *, progress: bool = True, timeout: float | None = None, **fields: Any) -> SAE:
        """Train a sparse autoencoder on a toy model's hidden layer (the model first, if the
        server has not trained it) through a job, and return it with numpy arrays.

        >>> sae = client.sae(model={"n_features": 5, "n_hidden": 2, "feature_probability": 0.05},
        ...                  n_latents=5)
        >>> sae.mmcs, sae.mcc, sae.dead_latents

        Args:
            fields: SAERequest's fields: ``model`` (ModelRequest's fields, as a dict) or
                ``model_id``, and ``instance``, ``n_latents``, ``architecture``,
                ``l1_coefficient``, ``k``, ``steps``, ``batch_size``, ``lr``, ``seed``,
                ``resample_interval``, ``n_restarts``.

        Raises:
            ApiError, JobFailed, JobCancelled, TimeoutError: as :meth:`train`.
        """
        job = self.submit_sae(**fields)
        job.wait(progress=progress, timeout=timeout)
        result = job.result()
        assert isinstance(result, SAE)
        return result

    def get_sae(self, sae_id: str) -> SAE:
        """A stored SAE by its id (``GET /api/saes/{id}``); ApiError 404 if absent."""
        return SAE.from_json(self._json("GET", f"/api/saes/{sae_id}"))

    def double_descent(
        self, *, progress: bool = True, timeout: float | None = None, **fields: Any
    ) -> DoubleDescent:
        """Train a double-descent sweep (the model's fields and ``n_train_values``) through a
        job and return it as numpy arrays; each T's model is ``client.model(sweep.model_ids[k])``.
        Errors as :meth:`train`."""
        job = self.submit_double_descent(**fields)
        job.wait(progress=progress, timeout=timeout)
        result = job.result()
        assert isinstance(result, DoubleDescent)
        return result

    def model(self, model_id: str) -> ModelResult:
        """A stored model by its id (``GET /api/models/{id}``); ApiError 404 if absent."""
        return ModelResult.from_json(self._json("GET", f"/api/models/{model_id}"))

    def adversarial(
        self,
        model_id: str,
        instance: int = 0,
        epsilon: float = 0.1,
        samples: int | None = None,
        seed: int = 0,
    ) -> Adversarial:
        """A stored model's vulnerability to the paper's analytic L2 attack
        (``GET /api/models/{id}/adversarial``); ``samples`` None takes the server's default.
        ApiError 404 if absent, 422 naming the parameter out of range."""
        params: dict[str, Any] = {"instance": instance, "epsilon": epsilon, "seed": seed}
        if samples is not None:
            params["samples"] = samples
        body = self._json("GET", f"/api/models/{model_id}/adversarial", params=params)
        return Adversarial.from_json(body)

    def weights(self, model_id: str) -> dict[str, np.ndarray]:
        """A stored model's weights file (``GET /api/models/{id}/weights``), float32 arrays:
        ``W`` (n_instances, n_hidden, n_features), ``b`` (n_instances, n_features), ``W_out``
        (n_instances, n_features, n_hidden) for the absolute-value model, and ``snapshot_*``
        for a model that kept snapshots. ApiError 404 if absent."""
        blob = self._request("GET", f"/api/models/{model_id}/weights").content
        return load_safetensors(blob)
