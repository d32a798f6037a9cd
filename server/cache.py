"""models_cache/: one folder per trained request, written atomically, verified when read.

Layout of an entry ``<cache_dir>/<id>/``, where id is the request's sha256 (64 hex digits:
:meth:`ModelRequest.model_id`, :meth:`PhaseDiagramRequest.diagram_id`):

- ``weights.safetensors``: the trained tensors, float32. For a model, W (n_instances, n_hidden,
  n_features) and b (n_instances, n_features); the absolute-value model's W_out (n_instances,
  n_features, n_hidden); with snapshots, ``snapshot_W`` (snapshots, n_instances, n_hidden,
  n_features), ``snapshot_b`` (and ``snapshot_W_out``). Never pickle.
- For an SAE (kind ``sae``, ``server/sae_results.py``): W_enc, b_enc, W_dec, b_dec and the
  model instance's ``features``; its scores against them are recomputed on load.
- ``meta.json``: the format version, the kind (``model``, ``phase_diagram`` or ``sae``), the id, the
  library versions, the result without its tensors (for a model, the :class:`ModelResult`
  without W, b, W_out and the n × n ``gram``, and with only the steps of its snapshots: these are
  recomputed from the weights on load, so a 200-feature entry stays small), and sha256 checksums
  of the weights file and of that result.

An entry is first written to a temporary folder beside it (``.tmp-<id>-<pid>-<random>``) and then
renamed into place, so a reader sees a whole entry or none, even if the process is killed
mid-write. Temporary folders whose writer has died are removed when a cache is opened (at the
server's start-up), and count towards ``max_bytes`` while they exist. Only regular files inside
the cache folder are ever opened: a symbolic link, a FIFO or a device in an entry makes the entry
unusable (opening a FIFO would block the reader, and every later request for that id). An entry
that does not load and verify is logged, removed and treated as missing, so that it is
retrained; it never reaches a client. Only safetensors are ever loaded: no file in the cache is
unpickled.

Size: with ``max_bytes`` set, each write evicts the least recently used entries (by meta.json's
modification time, which a successful read renews when it is over ``RENEW_S`` old, or the later
use the memo below noted) until the folder fits, except the
``protected`` ones (what the repository ships) and the entry just written.

Memo: a model read (:meth:`ModelCache.load`) keeps the decoded result of an entry in memory, up
to ``MEMO_MAX_BYTES`` together by an estimate of their size (an entry over
``MEMO_ENTRY_MAX_BYTES`` is read from disk every time), with the ``lstat`` signature of the
entry's folder and both files as they were when it verified: inode, size, and the modification
and change times in nanoseconds. A later read compares the signature first and, when nothing
changed, returns the same result without reading and verifying the files again (a room of
clients asking for the same few models is what the server serves most). Any write to a file
changes its change time, which no user can set, and a rewritten, removed or replaced entry
changes an inode, so such an entry is read and verified again, as on the first read; a missing
one reads as None. Times come from a coarse clock (a few ms; whole seconds on some filesystems),
so a write in the same tick as the last one could leave the signature as it was: like git's
"racily clean" rule, an entry is kept only once every file's last change is ``MEMO_RACY_NS``
older than the read. The memo assumes a local filesystem (a network one may cache attributes).
A kept entry's use is noted in memory, not on disk (a write would make it racy again):
eviction takes the later of meta.json's time and that use, which reaches meta.json when the memo
drops the entry and at the server's shutdown (:meth:`ModelCache.write_uses`). The result is
shared between readers: :class:`ModelResult` is frozen, and nobody edits its lists.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import json
import logging
import os
import platform
import re
import shutil
import stat
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import safetensors
import torch
from safetensors.torch import load, save

from server import __version__
from server.api.schemas.ids import CACHE_FORMAT_VERSION
from server.api.schemas.models import ModelRequest, ModelResult
from server.tms import metrics

log = logging.getLogger(__name__)

MODEL_ID = re.compile(r"[0-9a-f]{64}")
WEIGHTS, META = "weights.safetensors", "meta.json"
TMP_PREFIX = ".tmp-"
STALE_TMP_SECONDS = 3600.0
MEMO_MAX_BYTES = 64 << 20  # the memo's kept results together, estimated
MEMO_ENTRY_MAX_BYTES = 1 << 20  # a result estimated larger is never kept
MEMO_RACY_NS = 2_000_000_000  # how much older than the read a kept file's last change must be
# A read renews meta.json's time (its LRU place) only when it is this old. Longer than the racy
# margin, or an entry read all the time would be renewed before it ever settled.
RENEW_S = 10.0
PY_FLOAT_BYTES = 32  # a float in a Python list: the object and its pointer


MODEL_KIND = "model"
# An instance's fields stored in weights.safetensors, or recomputed from them on load (gram).
_TENSOR_FIELDS = ("W", "b", "W_out", "gram")
T = TypeVar("T")


class CorruptEntry(Exception):
    """An entry exists but does not load or verify."""


@dataclass
class Stored:
    """A verified entry: meta.json's ``result``, the safetensors tensors, and the bytes of the
    weights file they were read from (checked against its checksum)."""

    result: dict[str, Any]
    tensors: dict[str, torch.Tensor]
    blob: bytes = b""


# Builds a value from a verified entry and its id; raises if they do not fit.
Decoder = Callable[[Stored, str], T]

# (inode, size, mtime_ns, ctime_ns) of an entry's folder, weights file and meta.json.
FileSignature = tuple[int, int, int, int]
Signature = tuple[FileSignature, FileSignature, FileSignature]


def _signature(entry: Path) -> Signature | None:
    """The lstat signature of an entry's folder and files, or None if one is missing or of the
    wrong type (a link, say: then the entry is read, and refused, the slow way)."""
    try:
        infos = (os.lstat(entry), os.lstat(entry / WEIGHTS), os.lstat(entry / META))
    except OSError:
        return None
    kinds = (stat.S_ISDIR, stat.S_ISREG, stat.S_ISREG)
    if not all(is_kind(info.st_mode) for is_kind, info in zip(kinds, infos, strict=True)):
        return None
    a, b, c = ((i.st_ino, i.st_size, i.st_mtime_ns, i.st_ctime_ns) for i in infos)
    return a, b, c


def _renew(entry: Path) -> None:
    """Mark an entry used now (meta.json's time), unless it was within ``RENEW_S``: the LRU
    order needs no finer grain, and leaving it be lets the entry settle for the memo. A
    read-only cache still serves, without LRU order."""
    with contextlib.suppress(OSError):
        if time.time() - os.lstat(entry / META).st_mtime >= RENEW_S:
            os.utime(entry / META, follow_symlinks=False)


def _write_use(entry: Path, used_ns: int) -> None:
    """Set meta.json's time to a use the memo noted, if that is later than the time it has."""
    with contextlib.suppress(OSError):
        if os.lstat(entry / META).st_mtime_ns < used_ns:
            os.utime(entry / META, ns=(used_ns, used_ns), follow_symlinks=False)


@dataclass
class _Kept:
    """A memo entry: the signature its files had when it verified, the value, its estimated
    size in bytes and its last use (``time.time_ns()``)."""

    signature: Signature
    value: Any
    size: int
    used_ns: int


def _digest(body: Any) -> str:
    """sha256 of a JSON value in canonical form (sorted keys, no spaces)."""
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def _fsync_write(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


class ModelCache:
    """Trained models on disk, keyed by request hash.

    Args:
        root: the cache folder; created if missing.
        max_bytes: the most bytes the entries may take together; 0 for no limit.
        protected: ids never evicted (the shipped entries).
    """

    def __init__(
        self, root: Path, max_bytes: int = 0, protected: frozenset[str] = frozenset()
    ) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.protected = protected
        root.mkdir(parents=True, exist_ok=True)
        self._remove_stale_temporaries()
        self._memo: OrderedDict[tuple[str, str, Hashable], _Kept] = OrderedDict()  # by use
        self._memo_bytes = 0
        self._memo_lock = threading.Lock()

    def _remove_stale_temporaries(self) -> None:
        """Drop the temporary folders of writers that died (killed mid-write or mid-removal),
        and any older than an hour; log how many and their size."""
        now, removed, freed = time.time(), 0, 0
        for path in self._temporaries():
            try:
                info = path.lstat()
            except OSError:
                continue
            if _writer_alive(path.name) and now - info.st_mtime <= STALE_TMP_SECONDS:
                continue  # another process is writing it now
            freed += _tree_bytes(path)
            _delete(path)
            removed += 1
        if removed:
            log.info("removed %d temporary folders (%d bytes) of writers that died", removed, freed)

    def _temporaries(self) -> list[Path]:
        return [p for p in self.root.iterdir() if p.name.startswith(TMP_PREFIX)]

    def path(self, model_id: str) -> Path:
        """The entry folder of ``model_id``; ValueError unless it is 64 lowercase hex digits."""
        if not MODEL_ID.fullmatch(model_id):
            raise ValueError(f"not a model id: {model_id!r}")
        return self.root / model_id

    def load(self, model_id: str, gram: bool = True) -> ModelResult | None:
        """The stored model (``cached=True``), or None if absent or unusable (then removed).

        ``gram=False`` leaves every instance's n × n WᵀW null instead of computing it from W.
        """
        return self.read(model_id, MODEL_KIND, _DECODE_MODEL[gram], _model_bytes)

    def load_weights(self, model_id: str) -> bytes | None:
        """A stored model's weights.safetensors, verified as :meth:`load` verifies it (W, b,
        W_out, snapshot_*), or None if absent or unusable (then removed)."""
        return self.read(model_id, MODEL_KIND, _model_weights)

    def save(
        self,
        result: ModelResult,
        W: torch.Tensor,
        b: torch.Tensor,
        extra: dict[str, torch.Tensor] | None = None,
    ) -> None:
        """Store a trained model: W (n_instances, n_hidden, n_features), b (n_instances,
        n_features) and the ``extra`` tensors (W_out, snapshot_*) in the safetensors file, the rest
        of the result (without each instance's weights) in meta.json."""
        body = result.model_dump(mode="json")
        body["instances"] = [
            {k: v for k, v in inst.items() if k not in _TENSOR_FIELDS} for inst in body["instances"]
        ]
        if body.get("snapshots"):
            body["snapshots"] = [
                {"index": s["index"], "step": s["step"]} for s in body["snapshots"]
            ]
        self.write(result.id, MODEL_KIND, body, {"W": W, "b": b} | (extra or {}))

    def read(
        self,
        entry_id: str,
        kind: str,
        decode: Decoder[T],
        memo_bytes: Callable[[T], int] | None = None,
    ) -> T | None:
        """An entry's decoded value, or None if absent, of another kind, or unusable.

        Args:
            entry_id: 64 lowercase hex digits.
            kind: the kind the caller expects (``"model"``, ``"phase_diagram"``); an entry of
                another kind is left alone and reads as None.
            decode: builds the value from the verified meta ``result`` and the tensors; raises
                if they do not fit, and the entry is then removed.
            memo_bytes: for the memo (module docstring), the estimated size in bytes of a
                value without meta.json's share: the value is then kept and returned (the same
                object, which its readers must not edit) while the entry's files are unchanged;
                ``decode`` must then be one object for one kind of value (it is part of the
                key). None reads the files every time.

        Raises:
            ValueError: ``entry_id`` is not an id.
        """
        entry = self.path(entry_id)
        key = (entry_id, kind, decode)
        if memo_bytes is not None:
            remembered = self._remembered(entry, key)
            if remembered is not None:
                return remembered  # type: ignore[no-any-return]
        if not os.path.lexists(entry):
            return None
        started = time.time_ns()
        before = _signature(entry) if memo_bytes is not None else None
        try:
            stored = self._stored(entry, entry_id, kind)
            if stored is None:
                return None
            value = decode(stored, entry_id)
        except OSError as exc:
            if not isinstance(exc, FileNotFoundError):  # too many open files, say: not a defect
                log.warning("cache entry %s could not be read (%s)", entry_id, exc)
                return None
            self._unusable(entry_id, exc)  # a file of the entry is missing
            return None
        except Exception as exc:  # any other defect means: not cached
            self._unusable(entry_id, exc)
            return None
        if before is not None and memo_bytes is not None:
            # Kept only if no file changed while it was read, nor lately (the racy rule).
            size = memo_bytes(value) + 4 * before[2][1]  # JSON bytes: about 4× in Python
            if (
                _signature(entry) == before
                and max(info[3] for info in before) <= started - MEMO_RACY_NS
                and size <= MEMO_ENTRY_MAX_BYTES
            ):
                self._keep(key, _Kept(before, value, size, time.time_ns()))
                return value
        _renew(entry)
        return value

    def _remembered(self, entry: Path, key: tuple[str, str, Hashable]) -> Any:
        """The memo's value for ``key`` if the entry's files are as they were when it verified
        (its use noted), else None (and the memo forgets it)."""
        with self._memo_lock:
            kept = self._memo.get(key)
        if kept is None:
            return None
        if _signature(entry) != kept.signature:
            with self._memo_lock:
                if self._memo.get(key) is kept:
                    del self._memo[key]
                    self._memo_bytes -= kept.size
            return None
        kept.used_ns = time.time_ns()
        with self._memo_lock:
            if self._memo.get(key) is kept:
                self._memo.move_to_end(key)
        return kept.value

    def _keep(self, key: tuple[str, str, Hashable], kept: _Kept) -> None:
        """Put ``kept`` in the memo; the least recently used beyond ``MEMO_MAX_BYTES`` leave it,
        and their entries' meta.json gets their last use (their place in the LRU order)."""
        dropped = []
        with self._memo_lock:
            old = self._memo.pop(key, None)
            self._memo_bytes += kept.size - (old.size if old is not None else 0)
            self._memo[key] = kept
            while self._memo_bytes > MEMO_MAX_BYTES and len(self._memo) > 1:
                _, gone = item = self._memo.popitem(last=False)
                self._memo_bytes -= gone.size
                dropped.append(item)
        for (entry_id, _, _), gone in dropped:
            _write_use(self.path(entry_id), gone.used_ns)

    def write_uses(self) -> None:
        """Give every kept entry's meta.json its last use, so that the LRU order outlives this
        process (the server calls this at shutdown)."""
        for entry_id, used_ns in self._memo_uses().items():
            _write_use(self.path(entry_id), used_ns)

    def _memo_uses(self) -> dict[str, int]:
        """Each kept entry's last use (``time.time_ns()``), by id."""
        uses: dict[str, int] = {}
        with self._memo_lock:
            for (entry_id, _, _), kept in self._memo.items():
                uses[entry_id] = max(uses.get(entry_id, 0), kept.used_ns)
        return uses

    def _temporary(self, entry_id: str) -> Path:
        """A fresh folder name beside the entries that no reader ever looks at."""
        return self.root / f"{TMP_PREFIX}{entry_id[:16]}-{os.getpid()}-{uuid.uuid4().hex}"

    def _unusable(self, entry_id: str, exc: Exception) -> None:
        log.warning("cache entry %s is unusable (%s); it will be retrained", entry_id, exc)
        self._remove(entry_id)

    def _remove(self, entry_id: str) -> None:
        """Take an entry away at once (a rename), then delete its files."""
        doomed = self._temporary(entry_id)
        try:
            os.rename(self.path(entry_id), doomed)
        except OSError:
            return  # gone already
        _delete(doomed)  # what a kill leaves here, the next start-up removes

    def size(self) -> int:
        """Bytes taken by the entries and the temporary folders now."""
        return sum(size for _, _, size in self._entries()) + self._temporary_bytes()

    def _temporary_bytes(self) -> int:
        return sum(_tree_bytes(path) for path in self._temporaries())

    def _entries(self) -> list[tuple[float, str, int]]:
        """(last used, id, bytes) of every entry: meta.json's time, or a later use the memo
        noted."""
        found, uses = [], self._memo_uses()
        for path in self.root.iterdir():
            if not MODEL_ID.fullmatch(path.name):
                continue
            try:
                size = _tree_bytes(path)
                used = (path / META).lstat().st_mtime
            except OSError:  # being written or removed
                continue
            found.append((max(used, uses.get(path.name, 0) / 1e9), path.name, size))
        return found

    def evict(self, keep: str = "") -> list[str]:
        """Remove the least recently used entries until the cache fits in ``max_bytes``.

        Args:
            keep: an id to keep besides the protected ones (the entry just written).

        Returns:
            The evicted ids, oldest first (none when ``max_bytes`` is 0).
        """
        if not self.max_bytes:
            return []
        entries = sorted(self._entries())
        # Temporary folders count (a writer's, or debris a kill left) but are not evicted here.
        total = sum(size for _, _, size in entries) + self._temporary_bytes()
        evicted = []
        for _, entry_id, size in entries:
            if total <= self.max_bytes:
                break
            if entry_id in self.protected or entry_id == keep:
                continue
            self._remove(entry_id)
            total -= size
            evicted.append(entry_id)
        if evicted:
            log.info("cache over %d bytes: evicted %d entries", self.max_bytes, len(evicted))
        return evicted

    def _verify(self, entry: Path, entry_id: str, meta: dict[str, Any]) -> Stored:
        if meta.get("format") != CACHE_FORMAT_VERSION or meta.get("id") != entry_id:
            raise CorruptEntry("format or id does not match")
        blob = _read_regular(entry / WEIGHTS)
        if hashlib.sha256(blob).hexdigest() != meta.get("weights_sha256"):
            raise CorruptEntry("weights checksum does not match")
        if _digest(meta.get("result")) != meta.get("result_sha256"):
            raise CorruptEntry("result checksum does not match")
        return Stored(meta["result"], load(blob), blob)

    def write(
        self, entry_id: str, kind: str, body: dict[str, Any], tensors: dict[str, torch.Tensor]
    ) -> None:
        """Write an entry atomically: a temporary folder, fsync, then rename into place.

        Args:
            entry_id: 64 lowercase hex digits.
            kind: what the entry holds, checked by :meth:`read`.
            body: the JSON result, stored in meta.json with its checksum.
            tensors: stored as float32 in weights.safetensors with its checksum.
        """
        final = self.path(entry_id)
        blob = save({k: v.detach().float().cpu().contiguous() for k, v in tensors.items()})
        meta: dict[str, Any] = {
            "format": CACHE_FORMAT_VERSION,
            "kind": kind,
            "id": entry_id,
            "weights_sha256": hashlib.sha256(blob).hexdigest(),
            "result_sha256": _digest(body),
            "versions": {
                "superposition_explorer": __version__,
                "torch": torch.__version__,
                "safetensors": safetensors.__version__,
                "python": platform.python_version(),
            },
            "created": time.time(),
            "result": body,
        }
        tmp = self._temporary(entry_id)
        tmp.mkdir()
        try:
            _fsync_write(tmp / WEIGHTS, blob)
            _fsync_write(tmp / META, json.dumps(meta).encode())
            # A concurrent writer won (keep its entry), or a bad entry is in the way (read
            # removes it).
            if final.exists() and self._entry_is_whole(final, entry_id, kind):
                return
            self._remove(entry_id)
            os.rename(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        dir_fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # make the rename itself durable
        finally:
            os.close(dir_fd)
        self.evict(keep=entry_id)

    def _stored(self, entry: Path, entry_id: str, kind: str) -> Stored | None:
        """The verified entry, or None if it holds another kind.

        Raises:
            CorruptEntry: it is not a folder, or does not verify.
            OSError: a file of it cannot be read.
        """
        if not stat.S_ISDIR(entry.lstat().st_mode):  # a link, or a file, in an entry's place
            raise CorruptEntry("not a folder")
        meta = json.loads(_read_regular(entry / META))
        if meta.get("kind", MODEL_KIND) != kind:
            return None
        return self._verify(entry, entry_id, meta)

    def _entry_is_whole(self, entry: Path, entry_id: str, kind: str) -> bool:
        """Whether the entry in place verifies and is of ``kind`` (ids are content hashes of
        request and kind, so another kind there was tampered with: it is replaced)."""
        try:
            return self._stored(entry, entry_id, kind) is not None
        except Exception:
            return False


def _read_regular(path: Path) -> bytes:
    """A regular file's bytes; never follows a link, never blocks on a FIFO or device.

    Raises:
        CorruptEntry: the path is a link, FIFO, device, folder or socket.
        OSError: it cannot be read (FileNotFoundError if it is missing).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise CorruptEntry(f"{path.name} is a symbolic link") from exc
        raise
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise CorruptEntry(f"{path.name} is not a regular file")
        return f.read()


def _writer_alive(temporary_name: str) -> bool:
    """Whether the process named in a temporary folder's name (``.tmp-<id>-<pid>-<hex>``) runs;
    False for names without a pid (older versions' folders)."""
    parts = temporary_name[len(TMP_PREFIX) :].split("-")
    if len(parts) != 3 or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False  # this process has just opened the cache: none of its writes is running
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


def _tree_bytes(path: Path) -> int:
    """Bytes of the regular files in a folder, links not followed (0 if it is gone)."""
    total = 0
    for root, _, files in os.walk(path):  # os.walk does not follow links to folders
        for name in files:
            with contextlib.suppress(OSError):
                info = os.lstat(os.path.join(root, name))
                total += info.st_size if stat.S_ISREG(info.st_mode) else 0
    return total


def _delete(path: Path) -> None:
    """Remove a folder of the cache, or a link or file in its place, without following links."""
    try:
        if path.is_symlink() or not path.is_dir():
            path.unlink()
        else:
            shutil.rmtree(path)
    except OSError:
        log.warning("could not remove %s; it is removed at the next start-up", path)


def _decode_model(stored: Stored, model_id: str, gram: bool = True) -> ModelResult:
    """A :class:`ModelResult` from a verified entry; CorruptEntry if it does not fit its id."""
    result, tensors = stored.result, stored.tensors
    request = ModelRequest.model_validate(result["request"])
    if request.model_id() != model_id:
        raise CorruptEntry("request does not hash to the id")
    instances = result["instances"]
    I, n, m = request.n_instances, request.n_features, request.n_hidden  # noqa: E741
    untied = request.task == "absolute_value"
    shapes = {"W": (I, m, n), "b": (I, n)} | ({"W_out": (I, n, m)} if untied else {})
    kept = len(result.get("snapshots") or [])
    if (kept > 0) != (request.snapshots > 0):
        raise CorruptEntry(f"{kept} snapshots for a request of {request.snapshots}")
    for name, shape in list(shapes.items()):
        if kept:
            shapes[f"snapshot_{name}"] = (kept, *shape)
    if set(tensors) != set(shapes):
        raise CorruptEntry(f"tensors {sorted(tensors)}, expected {sorted(shapes)}")
    for name, shape in shapes.items():
        if tuple(tensors[name].shape) != shape:
            raise CorruptEntry(f"{name} has shape {tuple(tensors[name].shape)}, not {shape}")
    if len(instances) != I:
        raise CorruptEntry(f"{len(instances)} instances for {I} probabilities")
    grams = metrics.gram(tensors["W"]).tolist() if gram else [None] * I
    for k, instance in enumerate(instances):
        instance["W"], instance["b"] = tensors["W"][k].tolist(), tensors["b"][k].tolist()
        instance["gram"] = grams[k]
        if untied:
            instance["W_out"] = tensors["W_out"][k].tolist()
    if kept:
        measured = metrics.per_feature_measures(tensors["snapshot_W"])  # (snapshots, I, …)
        for k, snapshot in enumerate(result["snapshots"]):
            snapshot.update({name: values[k] for name, values in measured.items()})
    return ModelResult.model_validate(result | {"cached": True})


# One decoder object per form of the result: the memo's key names it.
_DECODE_MODEL = {gram: functools.partial(_decode_model, gram=gram) for gram in (True, False)}


def _model_bytes(result: ModelResult) -> int:
    """The estimated memory of a result's tensor-born lists (W, b, W_out and gram, as Python
    floats); meta.json's share is counted by :meth:`ModelCache.read`."""
    request = result.request
    I, n, m = request.n_instances, request.n_features, request.n_hidden  # noqa: E741
    floats = m * n * (2 if request.task == "absolute_value" else 1) + n
    if result.instances and result.instances[0].gram is not None:
        floats += n * n
    return PY_FLOAT_BYTES * I * floats


def _model_weights(stored: Stored, model_id: str) -> bytes:
    """The verified weights file of a model entry whose tensors fit its request."""
    _decode_model(stored, model_id, gram=False)  # CorruptEntry unless they fit
    return stored.blob
