"""models_cache/: one folder per trained request, written atomically, verified on every load.

Layout of an entry ``<cache_dir>/<id>/``, where id is :meth:`ModelRequest.model_id` (64 hex digits):

- ``weights.safetensors``: W (n_instances, n_hidden, n_features) and b (n_instances, n_features),
  float32. Never pickle.
- ``meta.json``: the format version, the id, the library versions, the :class:`ModelResult`
  without W and b (request, metrics, loss history, device, training seconds), and sha256
  checksums of the weights file and of that result.

An entry is first written to a temporary folder beside it and then renamed into place, so a reader
sees a whole entry or none. An entry that does not load and verify is logged, removed and treated
as missing, so that it is retrained; it never reaches a client.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import re
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import safetensors
import torch
from safetensors.torch import load, save

from server import __version__
from server.schemas import CACHE_FORMAT_VERSION, ModelRequest, ModelResult

log = logging.getLogger(__name__)

MODEL_ID = re.compile(r"[0-9a-f]{64}")
WEIGHTS, META = "weights.safetensors", "meta.json"
TMP_PREFIX = ".tmp-"
STALE_TMP_SECONDS = 3600.0


class CorruptEntry(Exception):
    """An entry exists but does not load or verify."""


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
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._remove_stale_temporaries()

    def _remove_stale_temporaries(self) -> None:
        """Drop temporary folders left by a writer that died (older than an hour)."""
        now = time.time()
        for path in self.root.glob(f"{TMP_PREFIX}*"):
            if now - path.stat().st_mtime > STALE_TMP_SECONDS:
                shutil.rmtree(path, ignore_errors=True)

    def path(self, model_id: str) -> Path:
        """The entry folder of ``model_id``; ValueError unless it is 64 lowercase hex digits."""
        if not MODEL_ID.fullmatch(model_id):
            raise ValueError(f"not a model id: {model_id!r}")
        return self.root / model_id

    def load(self, model_id: str) -> ModelResult | None:
        """The stored result (``cached=True``), or None if absent or unusable (then removed)."""
        entry = self.path(model_id)
        if not entry.is_dir():
            return None
        try:
            return self._read(entry, model_id)
        except Exception as exc:  # any defect means: not cached
            log.warning("cache entry %s is unusable (%s); it will be retrained", model_id, exc)
            shutil.rmtree(entry, ignore_errors=True)
            return None

    def _read(self, entry: Path, model_id: str) -> ModelResult:
        meta = json.loads((entry / META).read_text())
        if meta.get("format") != CACHE_FORMAT_VERSION or meta.get("id") != model_id:
            raise CorruptEntry("format or id does not match")
        blob = (entry / WEIGHTS).read_bytes()
        if hashlib.sha256(blob).hexdigest() != meta.get("weights_sha256"):
            raise CorruptEntry("weights checksum does not match")
        if _digest(meta.get("result")) != meta.get("result_sha256"):
            raise CorruptEntry("result checksum does not match")
        tensors = load(blob)
        result = meta["result"]
        if ModelRequest.model_validate(result["request"]).model_id() != model_id:
            raise CorruptEntry("request does not hash to the id")
        W, b = tensors["W"], tensors["b"]
        instances = result["instances"]
        n_features, n_hidden = result["request"]["n_features"], result["request"]["n_hidden"]
        n_instances = len(result["request"]["feature_probability"])
        if W.shape != (n_instances, n_hidden, n_features) or b.shape != (n_instances, n_features):
            raise CorruptEntry(f"weights have shape {tuple(W.shape)}")
        if len(instances) != n_instances:
            raise CorruptEntry(f"{len(instances)} instances for {n_instances} probabilities")
        for k, instance in enumerate(instances):
            instance["W"], instance["b"] = W[k].tolist(), b[k].tolist()
        return ModelResult.model_validate(result | {"cached": True})

    def save(self, result: ModelResult, W: torch.Tensor, b: torch.Tensor) -> None:
        """Write an entry atomically: a temporary folder, fsync, then rename into place.

        Args:
            result: the result to store (its ``instances`` carry W and b; they are stored once,
                in the safetensors file).
            W: (n_instances, n_hidden, n_features); b: (n_instances, n_features).
        """
        final = self.path(result.id)
        blob = save(
            {"W": W.detach().float().cpu().contiguous(), "b": b.detach().float().cpu().contiguous()}
        )
        body = result.model_dump(mode="json")
        body["instances"] = [
            {k: v for k, v in inst.items() if k not in ("W", "b")} for inst in body["instances"]
        ]
        meta: dict[str, Any] = {
            "format": CACHE_FORMAT_VERSION,
            "id": result.id,
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
        tmp = self.root / f"{TMP_PREFIX}{result.id[:16]}-{uuid.uuid4().hex}"
        tmp.mkdir()
        try:
            _fsync_write(tmp / WEIGHTS, blob)
            _fsync_write(tmp / META, json.dumps(meta).encode())
            # A concurrent writer won (keep its entry), or a bad entry is in the way (load
            # removes it).
            if final.exists() and self.load(result.id) is not None:
                return
            os.rename(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        dir_fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # make the rename itself durable
        finally:
            os.close(dir_fd)
