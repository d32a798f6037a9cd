"""The cache round-trips results, verifies entries and ignores broken ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from pydantic import ValidationError

from server import cache as cache_module
from server.api.schemas.models import LossPoint, ModelRequest, ModelResult
from server.cache import META, WEIGHTS, ModelCache, _read_regular
from server.results import instance_results


def make_result(request: ModelRequest) -> tuple[ModelResult, torch.Tensor, torch.Tensor]:
    request = request.normalised()
    torch.manual_seed(0)
    W = torch.randn(request.n_instances, request.n_hidden, request.n_features)
    b = torch.randn(request.n_instances, request.n_features)
    loss = torch.rand(request.n_instances)
    result = ModelResult(
        id=request.model_id(),
        cached=False,
        request=request,
        device="cpu",
        train_seconds=0.5,
        loss_history=[LossPoint(step=1, loss=[0.1] * 2)],
        instances=instance_results(request, W, b, loss),
    )
    return result, W, b


REQUEST = ModelRequest(n_features=4, n_hidden=2, feature_probability=[0.1, 0.5])


def test_round_trip_is_exact(tmp_path: Path) -> None:
    cache = ModelCache(tmp_path)
    result, W, b = make_result(REQUEST)
    cache.save(result, W, b)
    loaded = cache.load(result.id)
    assert loaded is not None and loaded.cached
    assert loaded.model_dump(exclude={"cached"}) == result.model_dump(exclude={"cached"})
    entry = tmp_path / result.id
    assert sorted(p.name for p in entry.iterdir()) == [META, WEIGHTS]
    meta = json.loads((entry / META).read_text())
    assert meta["versions"]["torch"] == torch.__version__
    assert "W" not in meta["result"]["instances"][0]  # weights live in safetensors only
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_missing_entry_is_none(tmp_path: Path) -> None:
    assert ModelCache(tmp_path).load("0" * 64) is None


@pytest.mark.parametrize("bad_id", ["../etc", "A" * 64, "0" * 63, "", "0" * 64 + "/.."])
def test_ids_never_become_arbitrary_paths(tmp_path: Path, bad_id: str) -> None:
    with pytest.raises(ValueError):
        ModelCache(tmp_path).path(bad_id)


def corrupt_truncated_weights(entry: Path) -> None:
    blob = (entry / WEIGHTS).read_bytes()
    (entry / WEIGHTS).write_bytes(blob[: len(blob) // 2])


def corrupt_flipped_weight(entry: Path) -> None:
    blob = bytearray((entry / WEIGHTS).read_bytes())
    blob[-1] ^= 0xFF
    (entry / WEIGHTS).write_bytes(bytes(blob))


def corrupt_meta_json(entry: Path) -> None:
    (entry / META).write_text("{not json")


def corrupt_meta_request(entry: Path) -> None:
    meta = json.loads((entry / META).read_text())
    meta["result"]["request"]["seed"] = 99  # no longer hashes to the folder's id
    (entry / META).write_text(json.dumps(meta))


def corrupt_meta_metric(entry: Path) -> None:
    meta = json.loads((entry / META).read_text())
    meta["result"]["instances"][0]["superposition"][0] += 0.5  # a bit flip in a number
    (entry / META).write_text(json.dumps(meta))


def corrupt_missing_weights(entry: Path) -> None:
    (entry / WEIGHTS).unlink()


CORRUPTIONS = [
    corrupt_truncated_weights,
    corrupt_flipped_weight,  # the same size
    corrupt_meta_json,
    corrupt_meta_request,
    corrupt_meta_metric,  # the same size, or nearly
    corrupt_missing_weights,
]


@pytest.mark.parametrize("corrupt", CORRUPTIONS)
def test_broken_entries_are_ignored_and_removed(tmp_path: Path, corrupt) -> None:  # type: ignore[no-untyped-def]
    cache = ModelCache(tmp_path)
    result, W, b = make_result(REQUEST)
    cache.save(result, W, b)
    corrupt(tmp_path / result.id)
    assert cache.load(result.id) is None
    assert not (tmp_path / result.id).exists()
    cache.save(result, W, b)  # and the retrained result can be stored again
    assert cache.load(result.id) is not None


def test_pickle_files_are_never_loaded(tmp_path: Path) -> None:
    cache = ModelCache(tmp_path)
    result, W, b = make_result(REQUEST)
    cache.save(result, W, b)
    entry = tmp_path / result.id
    (entry / WEIGHTS).unlink()
    torch.save({"W": W, "b": b}, entry / "weights.pt")  # a pickle in the entry is not read
    assert cache.load(result.id) is None


def saved(cache: ModelCache, seed: int) -> str:
    """Store a model whose request differs by seed; return its id."""
    result, W, b = make_result(REQUEST.model_copy(update={"seed": seed}))
    cache.save(result, W, b)
    return result.id


def entry_bytes(root: Path, entry_id: str) -> int:
    return sum(f.stat().st_size for f in (root / entry_id).iterdir())


def test_a_size_limit_evicts_the_least_recently_used_but_never_protected(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    tmp_path = tmp_path_factory.mktemp("cache")
    probe = ModelCache(tmp_path_factory.mktemp("probe"))
    size = entry_bytes(probe.root, saved(probe, 0))  # every entry below has this size (±digits)
    shipped = saved(ModelCache(tmp_path), 100)  # an old entry that the repository ships
    cache = ModelCache(tmp_path, max_bytes=int(3.5 * size), protected=frozenset({shipped}))
    first, second = saved(cache, 1), saved(cache, 2)
    assert cache.evict() == []  # three entries fit
    old = time.time() - 100
    for entry_id in (shipped, first, second):  # make the order of use unambiguous
        os.utime(tmp_path / entry_id / META, (old, old))
    assert cache.load(first) is not None  # reading renews it: second is now the oldest
    third = saved(cache, 3)
    assert not (tmp_path / second).exists()
    assert {shipped, first, third} <= {p.name for p in tmp_path.iterdir()}
    assert cache.size() <= cache.max_bytes
    # Over the limit with nothing but protected and just-written entries: they all stay.
    tight = ModelCache(tmp_path, max_bytes=1, protected=frozenset({shipped}))
    fourth = saved(tight, 4)
    assert {p.name for p in tmp_path.iterdir()} == {shipped, fourth}
    assert tight.load(shipped) is not None and tight.load(fourth) is not None


def test_no_limit_keeps_everything(tmp_path: Path) -> None:
    cache = ModelCache(tmp_path)
    ids = {saved(cache, seed) for seed in range(5)}
    assert cache.evict() == [] and {p.name for p in tmp_path.iterdir()} == ids


def test_a_transient_read_error_keeps_the_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = ModelCache(tmp_path)
    entry_id = saved(cache, 0)
    real = cache_module._read_regular

    def busy(path: Path) -> bytes:
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(cache_module, "_read_regular", busy)
    assert cache.load(entry_id) is None  # a miss for now…
    monkeypatch.setattr(cache_module, "_read_regular", real)
    assert cache.load(entry_id) is not None  # …but the entry was not thrown away
    (tmp_path / entry_id / WEIGHTS).unlink()  # a missing file, though, is a broken entry
    assert cache.load(entry_id) is None and not (tmp_path / entry_id).exists()


def dead_pid() -> int:
    """A pid no process has now: a child that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temporary_folders_of_dead_writers_go_at_start_up_and_count_meanwhile(
    tmp_path: Path,
) -> None:
    """Killed writers left .tmp-* folders with partial weights that survived restarts and
    escaped the size limit."""
    cache = ModelCache(tmp_path)
    entry_id = saved(cache, 0)
    dead = tmp_path / f".tmp-{entry_id[:16]}-{dead_pid()}-{'a' * 32}"
    legacy = tmp_path / f".tmp-{entry_id[:16]}-{'b' * 32}"  # an older version's name, no pid
    alive = tmp_path / f".tmp-{entry_id[:16]}-{os.getppid()}-{'c' * 32}"  # a writer still at it
    for folder in (dead, legacy, alive):
        folder.mkdir()
        (folder / WEIGHTS).write_bytes(b"\0" * 10_000)
    assert cache.size() >= entry_bytes(tmp_path, entry_id) + 30_000
    reopened = ModelCache(tmp_path)
    assert not dead.exists() and not legacy.exists()
    assert alive.exists()  # another live process may be writing it
    assert reopened.size() == entry_bytes(tmp_path, entry_id) + 10_000
    assert reopened.load(entry_id) is not None


def test_an_entry_whose_kind_was_tampered_with_is_replaced(tmp_path: Path) -> None:
    """Before: the write saw a 'whole' entry, kept it, and every POST then trained again."""
    cache = ModelCache(tmp_path)
    result, W, b = make_result(REQUEST)
    cache.save(result, W, b)
    meta_path = tmp_path / result.id / META
    meta = json.loads(meta_path.read_text())
    meta["kind"] = "phase_diagram"
    meta_path.write_text(json.dumps(meta))
    assert cache.load(result.id) is None
    cache.save(result, W, b)
    assert json.loads(meta_path.read_text())["kind"] == "model"
    assert cache.load(result.id) is not None


def test_links_are_never_followed(tmp_path: Path) -> None:
    root, outside = tmp_path / "cache", tmp_path / "outside"
    outside.mkdir()
    cache = ModelCache(root)
    entry_id = saved(cache, 0)
    secret = outside / "weights.safetensors"
    os.replace(root / entry_id / WEIGHTS, secret)
    os.symlink(secret, root / entry_id / WEIGHTS)
    assert cache.load(entry_id) is None
    assert secret.exists() and not (root / entry_id).exists()  # the link went, not its target
    # An entry folder that is itself a link (to a whole, valid entry elsewhere).
    other = saved(cache, 1)
    os.replace(root / other, outside / other)
    os.symlink(outside / other, root / other, target_is_directory=True)
    assert cache.load(other) is None
    assert (outside / other / META).exists() and not os.path.lexists(root / other)


@pytest.mark.timeout(30)
def test_a_fifo_in_an_entry_never_blocks_a_read(tmp_path: Path) -> None:
    """Before: a FIFO as weights.safetensors hung the GET, and every POST for that id."""
    cache = ModelCache(tmp_path)
    entry_id = saved(cache, 0)
    (tmp_path / entry_id / WEIGHTS).unlink()
    os.mkfifo(tmp_path / entry_id / WEIGHTS)
    assert cache.load(entry_id) is None
    assert not (tmp_path / entry_id).exists()
    result, W, b = make_result(REQUEST.model_copy(update={"seed": 0}))
    cache.save(result, W, b)  # retrained and stored again
    assert cache.load(entry_id) is not None


# -- the memo of verified entries ------------------------------------------------------------

QUICK_RACY_NS = 200_000_000  # this filesystem's times are fine-grained: settle in 0.2 s, not 2


@pytest.fixture
def quick_settle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_module, "MEMO_RACY_NS", QUICK_RACY_NS)


def settle() -> None:
    time.sleep(cache_module.MEMO_RACY_NS / 1e9 + 0.05)


def settled(cache: ModelCache, seed: int) -> str:
    """A stored entry whose files last changed longer ago than the memo's racy margin."""
    entry_id = saved(cache, seed)
    settle()
    return entry_id


@pytest.fixture
def kept(tmp_path: Path, quick_settle: None) -> tuple[ModelCache, str]:
    """A cache in tmp_path and the id of one settled entry in it."""
    cache = ModelCache(tmp_path)
    return cache, settled(cache, 0)


def test_a_settled_entry_is_served_from_memory_until_a_file_changes(
    tmp_path: Path, kept: tuple[ModelCache, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cache, entry_id = kept
    first = cache.load(entry_id)
    without_gram = cache.load(entry_id, gram=False)
    assert first is not None and without_gram is not None
    assert without_gram.instances[0].gram is None and first.instances[0].gram is not None

    def no_reads(path: Path) -> bytes:
        raise AssertionError(f"{path} read again")

    monkeypatch.setattr(cache_module, "_read_regular", no_reads)
    assert cache.load(entry_id) is first
    assert cache.load(entry_id, gram=False) is without_gram
    monkeypatch.setattr(cache_module, "_read_regular", _read_regular)
    os.utime(tmp_path / entry_id / META)  # a change of the file (its time) is a change
    again = cache.load(entry_id)
    assert again is not None and again is not first
    assert again.model_dump() == first.model_dump()


def test_a_freshly_written_entry_is_read_every_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write within the clock's tick of the last one could leave the signature as it was:
    entries whose files changed within the racy margin are never kept."""
    monkeypatch.setattr(cache_module, "MEMO_RACY_NS", 10**12)  # everything is fresh
    cache = ModelCache(tmp_path)
    entry_id = saved(cache, 0)
    first = cache.load(entry_id)
    assert first is not None and cache.load(entry_id) is not first


@pytest.mark.usefixtures("quick_settle")
def test_an_entry_read_all_the_time_settles_and_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: a read renewed meta.json's time each time it was over RENEW_S old, and with a
    RENEW_S shorter than the racy margin, that kept the entry racy for ever."""
    monkeypatch.setattr(cache_module, "RENEW_S", 1.5 * QUICK_RACY_NS / 1e9)  # one renewal here
    assert cache_module.RENEW_S * 1e9 > cache_module.MEMO_RACY_NS
    cache = ModelCache(tmp_path)
    entry_id = saved(cache, 0)
    until = time.monotonic() + 4 * QUICK_RACY_NS / 1e9
    while time.monotonic() < until:
        assert cache.load(entry_id) is not None
        time.sleep(0.01)
    kept = cache.load(entry_id)
    assert kept is not None and cache.load(entry_id) is kept


def test_a_result_estimated_too_large_is_never_kept(
    kept: tuple[ModelCache, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cache, entry_id = kept
    monkeypatch.setattr(cache_module, "MEMO_ENTRY_MAX_BYTES", 1000)  # a few hundred floats
    first = cache.load(entry_id)
    assert first is not None and cache.load(entry_id) is not first


@pytest.mark.parametrize("corrupt", CORRUPTIONS)
def test_a_kept_entry_that_breaks_is_verified_again_and_removed(
    tmp_path: Path, kept: tuple[ModelCache, str], corrupt: Callable[[Path], None]
) -> None:
    cache, entry_id = kept
    result = cache.load(entry_id)
    assert result is not None and cache.load(entry_id) is result
    corrupt(tmp_path / entry_id)
    assert cache.load(entry_id) is None
    assert not (tmp_path / entry_id).exists()


def test_a_kept_entry_removed_or_replaced_is_not_served(
    tmp_path: Path, kept: tuple[ModelCache, str]
) -> None:
    cache, entry_id = kept
    result = cache.load(entry_id)
    assert result is not None and cache.load(entry_id) is result
    other = ModelCache(tmp_path)  # another process: it removes the entry, then stores it anew
    other._remove(entry_id)
    assert cache.load(entry_id) is None
    saved(other, 0)
    replaced = cache.load(entry_id)
    assert replaced is not None and replaced is not result


@pytest.mark.usefixtures("quick_settle")
def test_kept_entries_keep_their_place_in_the_lru_order(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A memo hit writes nothing to disk: eviction counts its use all the same, and the use
    reaches meta.json when the memo drops the entry, or at shutdown."""
    tmp_path = tmp_path_factory.mktemp("cache")
    probe = ModelCache(tmp_path_factory.mktemp("probe"))
    size = entry_bytes(probe.root, saved(probe, 0))
    cache = ModelCache(tmp_path, max_bytes=int(2.5 * size))
    first, second = saved(cache, 1), saved(cache, 2)
    old = time.time() - 100
    os.utime(tmp_path / first / META, (old - 10, old - 10))  # on disk, first is the oldest
    os.utime(tmp_path / second / META, (old, old))
    settle()
    kept = cache.load(first)
    assert kept is not None and cache.load(first) is kept  # kept: meta.json is not touched
    assert (tmp_path / first / META).stat().st_mtime == pytest.approx(old - 10)
    third = saved(cache, 3)  # over the limit: the least recently used goes
    assert not (tmp_path / second).exists() and (tmp_path / first).exists()
    # The memo drops its least recently used entry when over MEMO_MAX_BYTES.
    before = time.time()
    assert cache.load(first) is kept
    monkeypatch.setattr(cache_module, "MEMO_MAX_BYTES", cache._memo_bytes)
    settle()
    assert cache.load(third) is not None  # kept in its turn; first leaves the memo
    assert before <= (tmp_path / first / META).stat().st_mtime <= time.time()
    # At shutdown every kept entry's use is written.
    assert cache.load(third) is not None
    third_used = time.time()
    cache.write_uses()
    assert (tmp_path / third / META).stat().st_mtime == pytest.approx(third_used, abs=0.5)


def test_renewals_are_rarer_than_the_racy_margin() -> None:
    assert cache_module.RENEW_S * 1e9 > cache_module.MEMO_RACY_NS


def test_a_result_is_frozen() -> None:
    result, _, _ = make_result(REQUEST)
    with pytest.raises(ValidationError):
        result.cached = True  # type: ignore[misc]
