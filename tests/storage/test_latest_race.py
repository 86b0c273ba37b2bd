"""LATEST under a real race: N processes promote N versions at once, each stopped at a barrier
between reading LATEST (and its ETag) and writing it, so the writes really overlap. LATEST ends at
the newest data time, refused writes were read again and decided again, and no version is lost."""

import json
import multiprocessing
import os
import threading

import pytest

PROCESSES = 4


@pytest.fixture(params=["local", "s3"])
def root(request, tmp_path):
    return str(tmp_path / "root") if request.param == "local" else f"{request.getfixturevalue('s3_bucket')}/root"


def _promote_at_the_barrier(root: str, version: str, barrier, env: dict) -> int:
    """Promote ``version`` with a barrier after the first read of LATEST; return the refused swaps."""
    os.environ.update(env, EMBEDDINGS_DATA_DIR=root, EMBEDDINGS_KEEP_VERSIONS="0")
    from include.steps.promote import promote
    from include.storage import store as store_module
    from include.storage.layout import LATEST_KEY

    refused, first = [0], [True]
    for backend in (store_module.LocalStore, store_module.S3Store):
        read, swap = backend.read_versioned, backend.swap

        def read_then_wait(self, key, _read=read):
            found = _read(self, key)
            if key == LATEST_KEY and first[0]:
                first[0] = False
                try:
                    barrier.wait(20)
                except threading.BrokenBarrierError:
                    pass
            return found

        def counted_swap(self, key, data, expected, _swap=swap):
            try:
                return _swap(self, key, data, expected)
            except store_module.PreconditionFailed:
                refused[0] += 1
                raise

        backend.read_versioned, backend.swap = read_then_wait, counted_swap
    promote(version, decision="promoted", reason="ok", run_id=f"run-{version}")
    return refused[0]


def test_concurrent_promotions_end_at_the_newest_data_time(root):
    from include.storage.store import open_store
    from include.storage.versions import list_versions, read_latest

    store = open_store(root)
    names = [f"2026110{day}T000000Z-0000000{day}" for day in range(1, PROCESSES + 1)]
    for day, name in enumerate(names, start=1):
        manifest = {
            "version": name,
            "corpus_id": "c",
            "data_time": f"2026-11-0{day}T00:00:00+00:00",
            "gate": {"decision": "promoted"},
        }
        store.put_bytes(f"models/{name}/manifest.json", json.dumps(manifest).encode())
    env = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        barrier = manager.Barrier(PROCESSES)
        with context.Pool(PROCESSES) as pool:
            refused = pool.starmap(_promote_at_the_barrier, [(root, name, barrier, env) for name in names])
    assert read_latest(store) == names[-1], "LATEST is at the newest data time"
    assert sum(refused) >= 1, "the barrier made the writes overlap: some must have been refused and retried"
    assert [v["version"] for v in list_versions(store)] == names, "no version is lost"
