"""One contract, every backend: the local store and a real S3 server (moto_server) give the same
answers to the same calls, including a compare-and-swap race between processes."""

import multiprocessing
import os

import pytest

from include.storage.store import (
    AlreadyExists,
    LocalStore,
    PreconditionFailed,
    StorageConfigError,
    checked,
    open_store,
)


def test_bytes_json_and_listing(store, tmp_path):
    assert store.read_versioned("a/b.json") is None
    store.put_json("a/b.json", {"x": 1})
    store.put_bytes("a/c/d.bin", b"\x00\x01")
    assert store.read_json("a/b.json") == {"x": 1}
    assert store.exists("a/b.json") and not store.exists("a/zz")
    assert store.children("a") == ["b.json", "c"]
    assert store.files("a") == {"b.json": len(store.read_bytes("a/b.json")), "c/d.bin": 2}
    assert store.children("nothing") == [] and store.files("nothing") == {}
    assert store.modified("a/b.json") is not None and store.modified("nope") is None
    with pytest.raises(FileNotFoundError, match="zz"):
        store.read_bytes("a/zz")
    store.delete_tree("a/c")
    assert store.files("a") == {"b.json": len(store.read_bytes("a/b.json"))}
    store.delete("a/b.json")
    store.delete("a/b.json")  # absent is fine
    assert store.files("a") == {}


def test_create_only_refuses_a_second_write(store):
    store.put_bytes("models/v/.claim", b"run-1", create_only=True)
    with pytest.raises(AlreadyExists):
        store.put_bytes("models/v/.claim", b"run-2", create_only=True)
    assert store.read_bytes("models/v/.claim") == b"run-1"


def test_swap_needs_the_token_it_read(store):
    store.swap("registry/m/aliases/a", b"v1\n", None)  # create-only when absent
    with pytest.raises(PreconditionFailed):
        store.swap("registry/m/aliases/a", b"v0\n", None)
    first = store.read_versioned("registry/m/aliases/a")
    store.swap("registry/m/aliases/a", b"v2\n", first.token)
    with pytest.raises(PreconditionFailed):
        store.swap("registry/m/aliases/a", b"v3\n", first.token)  # stale token: refused
    assert store.read_bytes("registry/m/aliases/a") == b"v2\n"


def test_writer_publishes_whole_files_with_checksums_or_nothing(store, tmp_path):
    with store.writer("models/v", tmp_path) as out:
        (out.folder / "keras").mkdir()
        (out.folder / "keras" / "m.keras").write_bytes(b"model")
        (out.folder / "vocab.json").write_text("{}")
    assert set(out.files) == {"keras/m.keras", "vocab.json"} and out.files["vocab.json"]["bytes"] == 2
    assert store.files("models/v") == {"keras/m.keras": 5, "vocab.json": 2}
    with pytest.raises(RuntimeError), store.writer("models/w", tmp_path) as out:
        (out.folder / "half.npy").write_bytes(b"x")
        raise RuntimeError("the task failed")
    assert store.files("models/w") == {}, "nothing of a failed block is published"
    local = store.fetch("models/v/keras/m.keras", tmp_path / "scratch")
    assert local.read_bytes() == b"model"
    assert (store.fetch_tree("models/v", tmp_path / "scratch") / "vocab.json").read_text() == "{}"


def test_every_published_file_carries_its_own_checksum_and_size(store, tmp_path):
    """Files are checksummed side by side: each manifest entry is still its own file's, empty and
    multi-block files included."""
    import hashlib

    contents = {f"part-{i}.bin": os.urandom(size) for i, size in enumerate([0, 1, 4095, 3 << 20, 1 << 20, 77])}
    with store.writer("models/c", tmp_path) as out:
        for name, data in contents.items():
            (out.folder / name).write_bytes(data)
    assert out.files == {
        name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)} for name, data in contents.items()
    }
    assert store.files("models/c") == {name: len(data) for name, data in contents.items()}


def _increment(location: str, rounds: int, barrier, env: dict) -> int:
    """Add ``rounds`` to the counter at ``counter`` by compare-and-swap; return the refused writes."""
    os.environ.update(env)
    store = open_store(location)
    refused = 0
    for _ in range(rounds):
        while True:
            current = store.read_versioned("counter")
            barrier.wait()  # every process has read the same token before any writes
            try:
                store.swap("counter", str(int(current.data) + 1).encode(), current.token)
                break
            except PreconditionFailed:
                refused += 1
    return refused


def test_compare_and_swap_race_between_processes_loses_no_increment(store):
    """N processes x M rounds of read-modify-swap, each round started at a barrier so the reads and
    writes really overlap: the counter ends at N x M, and writes were refused and retried."""
    store.put_bytes("counter", b"0")
    processes, rounds = 3, 4
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        barrier = manager.Barrier(processes)
        # a loser retries alone: let the barrier break then, not wait for the others forever
        barrier = _TimedBarrier(barrier)
        env = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
        with context.Pool(processes) as pool:
            refused = pool.starmap(_increment, [(store.url, rounds, barrier, env)] * processes)
    assert int(store.read_bytes("counter")) == processes * rounds
    assert sum(refused) >= 1, "the barrier made the swaps overlap, so some must have been refused"


class _TimedBarrier:
    """A manager Barrier whose ``wait`` gives up after a second (a broken barrier is reset)."""

    def __init__(self, barrier) -> None:
        self.barrier = barrier

    def wait(self) -> None:
        import threading

        try:
            self.barrier.wait(1.0)
        except threading.BrokenBarrierError:
            try:
                self.barrier.reset()
            except Exception:
                pass


def test_local_store_is_the_default_for_a_path(tmp_path):
    assert isinstance(open_store(tmp_path), LocalStore) and isinstance(open_store(f"file://{tmp_path}"), LocalStore)


def test_protocols_without_compare_and_swap_are_refused_by_name():
    with pytest.raises(StorageConfigError, match="'memory://' offers no compare-and-swap"):
        open_store("memory://bucket/root")
    with pytest.raises(StorageConfigError, match="no fsspec filesystem for 'nosuchfs://'"):
        open_store("nosuchfs://bucket/root")


def test_missing_bucket_and_refused_credentials_name_the_url(s3_bucket, monkeypatch):
    with pytest.raises(StorageConfigError, match="bucket 'no-such-bucket-here' does not exist"):
        checked(open_store("s3://no-such-bucket-here/root"))
    checked(open_store(f"{s3_bucket}/root"))  # the probe: create-only really refuses a second write


def test_unreachable_endpoint_fails_fast_naming_the_url(s3_bucket, monkeypatch):
    import time

    from tests.s3server import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    started = time.monotonic()
    with pytest.raises(StorageConfigError, match="cannot be reached"):
        checked(open_store("s3://anywhere/root"))
    assert time.monotonic() - started < 30
