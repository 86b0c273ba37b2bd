"""default@champion under a real race: N processes promote N versions at once, each stopped at a
barrier between reading the alias (``registry/default/aliases/champion`` and its ETag) and writing
it, so the writes really overlap. The champion ends at the newest data time, refused writes were
read again and decided again, every recorded move went forward, and no version is lost."""

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
    """Promote ``version`` with a barrier after the first read of default@champion; return the refused swaps."""
    os.environ.update(env, EMBEDDINGS_DATA_DIR=root, EMBEDDINGS_KEEP_VERSIONS="0")
    from include.registry.registry import alias_key
    from include.steps.promote import promote
    from include.storage import store as store_module

    refused, first = [0], [True]
    for backend in (store_module.LocalStore, store_module.S3Store):
        read, swap = backend.read_versioned, backend.swap

        def read_then_wait(self, key, _read=read):
            found = _read(self, key)
            if key == alias_key("default", "champion") and first[0]:
                first[0] = False
                try:
                    barrier.wait(20)
                except threading.BrokenBarrierError:
                    pass
            return found

        def counted_swap(self, key, data, expected, _swap=swap):
            try:
                return _swap(self, key, data, expected)
            except (store_module.PreconditionFailed, store_module.AlreadyExists):  # stale token / created meanwhile
                refused[0] += 1
                raise

        backend.read_versioned, backend.swap = read_then_wait, counted_swap
    promote(version, decision="promoted", reason="ok", run_id=f"run-{version}")
    return refused[0]


def test_concurrent_promotions_end_at_the_newest_data_time(root):
    from include.registry.registry import ModelRegistry
    from include.storage.store import open_store
    from include.storage.versions import list_versions

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
    registry = ModelRegistry(store)
    assert registry.resolve("default", alias="champion") == names[-1], "the champion is at the newest data time"
    assert store.read_bytes("registry/default/aliases/champion").decode().strip() == names[-1]
    assert not store.exists("models/LATEST"), "the previous layout's pointer is never written"
    moves = registry.history("default", "champion")
    assert moves and all(m["from_version"] is None or m["from_version"] < m["to_version"] for m in moves), moves
    assert names[-1] in {m["to_version"] for m in moves}
    assert sum(refused) >= 1, "the barrier made the writes overlap: some must have been refused and retried"
    assert [v["version"] for v in list_versions(store)] == names, "no version is lost"
