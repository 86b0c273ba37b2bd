"""Benchmark: any word's neighbours through a version's vector index, in-process and through a real
Airflow api-server under load.

Usage: neighbour_load.py [--words N] [--dims D] [--spread X] [--workdir DIR] [--queries Q] [--exact-queries E]
                         [--kinds flat,ivf,hnsw] [--clients C] [--seconds S] [--server-workers W]
                         [--no-server]

1. A synthetic version of ``--words`` words x ``--dims`` (default 1M x 100) is published into a
   fresh data root through the project's own functions: ``write_embeddings``, the
   ``build_neighbour_table`` step (the neighbour table and the vector index, its recall@10
   measured), ``write_version_manifest`` (every file with its size and sha256) and the registry's
   ``champion`` alias. Its vectors are clustered (seed 1): words around 2,000 random centres, each
   ``--spread`` (default 1.0: a nearest neighbour at cosine 0.63 on average) times a standard
   normal away, as trained embeddings have neighbourhoods; uniform random vectors have none to
   find (a larger spread: less structure, more IVF lists probed for the same recall).
2. In-process: ``ModelStore().load().neighbours(word, 10)`` for ``--queries`` random words (seed 2):
   p50 and p99, the first query apart (it opens the index); then ``--exact-queries`` words by the
   path of versions published without an index (one exact pass over the matrix each).
3. ``--kinds``: each index kind built on the same vectors (build seconds, recall@10 on the
   pipeline's 1,000-word sample, query p50/p99): how the kind and ``EMBEDDINGS_INDEX_EXACT_MAX``
   were chosen. HNSW (M 32, efConstruction 64) raises efSearch until recall@10 >= 0.95.
4. Unless ``--no-server``: a real ``airflow api-server`` (SQLite metadata database, SimpleAuthManager,
   the project's plugins, ``--server-workers`` uvicorn workers, default 2: one per core) on a free
   port; a token from ``/auth/token``; each worker warmed up; then ``--clients`` threads, each
   with its own keep-alive HTTP connection, ask
   ``/word2vec/api/models/default/neighbours?word=...&k=10`` for random words for ``--seconds``
   seconds. Prints answers/s, p50/p95/p99/max latency and the errors, beside the goals
   (>= 200 answers/s, p99 <= 100 ms, no errors; in-process p50 <= 2 ms, p99 <= 10 ms).

The last line is the whole result as JSON (``--json-out`` writes it to a file too).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

MODEL = "default"
RUN_ID = "bench-neighbour-load"
CENTRES = 2000
GOALS = {"in_process_p50_ms": 2.0, "in_process_p99_ms": 10.0, "answers_per_s": 200.0, "http_p99_ms": 100.0}


def percentiles(seconds: list[float]) -> dict[str, float]:
    """p50, p95, p99 and max of ``seconds``, in milliseconds."""
    if not seconds:
        return {"p50_ms": float("nan"), "p95_ms": float("nan"), "p99_ms": float("nan"), "max_ms": float("nan")}
    values = np.asarray(seconds) * 1000
    return {
        "p50_ms": round(float(np.percentile(values, 50)), 3),
        "p95_ms": round(float(np.percentile(values, 95)), 3),
        "p99_ms": round(float(np.percentile(values, 99)), 3),
        "max_ms": round(float(values.max()), 3),
    }


def synthetic_vectors(words: int, dims: int, seed: int = 1, spread: float = 1.0) -> np.ndarray:
    """``words`` x ``dims`` float32 vectors around ``CENTRES`` random centres (seeded), each at
    ``spread`` times a standard normal from its centre (the larger, the less structure)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((min(CENTRES, words), dims), dtype=np.float32)
    vectors = np.empty((words, dims), dtype=np.float32)
    step = 131_072
    for start in range(0, words, step):
        stop = min(start + step, words)
        around = rng.integers(0, len(centres), stop - start)
        vectors[start:stop] = centres[around] + spread * rng.standard_normal((stop - start, dims), dtype=np.float32)
    return vectors


def word_names(words: int) -> list[str]:
    return [f"w{i:07d}" for i in range(words)]


def publish_synthetic(root: Path, words: int, dims: int, spread: float = 1.0) -> dict:
    """Publish a synthetic version of model ``default`` into the data root ``root`` (see the module
    docstring) and name it ``champion``; returns its name and the vector index's facts."""
    os.environ["EMBEDDINGS_DATA_DIR"] = str(root)
    from include.artifacts.embeddings import write_embeddings
    from include.registry.registry import ModelRegistry
    from include.steps.build_neighbour_table import build_neighbour_table
    from include.storage.layout import data_store, version_key
    from include.storage.publish import write_version_manifest
    from include.storage.version_files import record_written, written_files

    store = data_store()
    started = time.perf_counter()
    vectors = synthetic_vectors(words, dims, spread=spread)
    version = f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(4)}"
    prefix = version_key(version)
    keyed = SimpleNamespace(vectors=vectors, key_to_index={w: i for i, w in enumerate(word_names(words))})
    with tempfile.TemporaryDirectory(prefix="w2v-load-") as scratch, store.writer(prefix, Path(scratch)) as out:
        write_embeddings(keyed, out.folder)
    record_written(store, RUN_ID, "train_word2vec", out.files)
    del vectors, keyed
    generated = time.perf_counter()
    facts = build_neighbour_table(store.key_url(prefix), RUN_ID, 10)["neighbour_table"]
    index = facts["vector_index"]
    manifest = {
        "version": version,
        "run_id": RUN_ID,
        "model": MODEL,
        "data_time": datetime.now(UTC).isoformat(),
        "training": {"vocab_size": words, "vector_size": dims},
        "evaluation": {},
        "gate": {"decision": "promoted", "reason": "synthetic vectors for the load benchmark"},
    }
    write_version_manifest(store, version, manifest, written_files(store, RUN_ID))  # type: ignore[arg-type]
    ModelRegistry(store).move_alias(MODEL, "champion", version, actor="bench", reason="load benchmark", run_id=RUN_ID)
    return {
        "version": version,
        "generate_seconds": round(generated - started, 2),
        "neighbour_step_seconds": round(time.perf_counter() - generated, 2),
        "neighbour_table": {k: v for k, v in facts.items() if k != "vector_index"},
        "vector_index": index,
    }


def in_process(words: int, queries: int, exact_queries: int) -> dict:
    """``ModelStore.neighbours`` timed per query through the index, then by the exact fallback."""
    from include.serving.model_store import ModelStore

    names = word_names(words)
    rng = np.random.default_rng(2)
    asked = [names[i] for i in rng.integers(0, words, queries + 1)]
    opened = time.perf_counter()
    model = ModelStore(model=MODEL).load()
    loaded = time.perf_counter() - opened
    first = time.perf_counter()
    model.neighbours(asked[0], 10)
    first_seconds = time.perf_counter() - first
    timings = []
    for word in asked[1:]:
        began = time.perf_counter()
        found = model.neighbours(word, 10)
        timings.append(time.perf_counter() - began)
        assert len(found) == 10, found
    result = {
        "load_seconds": round(loaded, 3),
        "first_query_ms": round(first_seconds * 1000, 3),
        "queries": queries,
        **percentiles(timings),
    }
    if exact_queries:
        model.index = None  # the path of a version published without an index
        exact = []
        for word in asked[1 : exact_queries + 1]:
            began = time.perf_counter()
            model.neighbours(word, 10)
            exact.append(time.perf_counter() - began)
        result["without_index"] = {"queries": len(exact), **percentiles(exact)}
    return result


def compare_kinds(root: Path, version: str, kinds: list[str], queries: int) -> list[dict]:
    """Each index kind on the version's vectors: build, recall@10, per-query latency."""
    import faiss

    from include.artifacts.embeddings import load_embeddings
    from include.quality.neighbour_table import exact_search, recall_at_k
    from include.quality.similarity import unit_rows
    from include.quality.vector_index import (
        MIN_RECALL,
        RECALL_K,
        RECALL_SAMPLE,
        RECALL_SEED,
        VectorIndex,
        _search_rows,
        open_vector_index,
        write_vector_index,
    )

    unit = np.ascontiguousarray(unit_rows(load_embeddings(root / "models" / version, mmap=True).vectors))
    n = len(unit)
    rows = np.random.default_rng(2).integers(0, n, queries)
    rows_out = []
    for kind in kinds:
        path = root / f"compare-{kind}.faiss"
        if kind == "hnsw":
            started = time.perf_counter()
            index = faiss.IndexHNSWFlat(unit.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = 64
            index.add(unit)
            built = time.perf_counter() - started
            sample = np.sort(np.random.default_rng(RECALL_SEED).choice(n, size=min(RECALL_SAMPLE, n), replace=False))
            exact, _ = exact_search(unit, sample, RECALL_K)
            ef = 16
            while True:
                index.hnsw.efSearch = ef
                recall = recall_at_k(_search_rows(index, unit, sample, RECALL_K), exact)
                if recall >= MIN_RECALL or ef >= 4096:
                    break
                ef *= 2
            faiss.write_index(index, str(path))
            facts = {"kind": kind, "build_seconds": round(built, 3), "recall_at_10": round(recall, 6), "ef_search": ef}
            searcher = VectorIndex(faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC), path)
        else:
            facts = write_vector_index(unit, path, kind=kind)
            searcher = open_vector_index(path)
        timings = []
        for row in rows:
            began = time.perf_counter()
            searcher.neighbours(int(row), 10)
            timings.append(time.perf_counter() - began)
        keep = ("kind", "build_seconds", "recall_at_10", "nlist", "nprobe", "ef_search")
        found = {"words": n, **{k: facts[k] for k in keep if k in facts}, "bytes": path.stat().st_size}
        rows_out.append({**found, **percentiles(timings)})
        del searcher
        path.unlink()
    return rows_out


# ------------------------------------------------------------------------------------------ the server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ApiServer:
    """``airflow api-server`` on a fresh SQLite metadata database in ``home`` (context manager:
    stopped with its whole process group on exit)."""

    def __init__(self, home: Path, data_root: Path, workers: int) -> None:
        self.home, self.port, self.workers = home, free_port(), workers
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__AUTH_MANAGER": (
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__API__BASE_URL": self.base,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "EMBEDDINGS_DATA_DIR": str(data_root),
            "PYTHONPATH": str(ROOT),
        }
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> ApiServer:
        self.home.mkdir(parents=True, exist_ok=True)
        airflow = str(Path(sys.executable).parent / "airflow")
        migrate = subprocess.run(
            [airflow, "db", "migrate"], env=self.env, capture_output=True, text=True, timeout=600, check=False
        )
        if migrate.returncode:
            raise SystemExit(f"airflow db migrate failed:\n{migrate.stderr[-3000:]}")
        self.log = open(self.home / "api-server.log", "wb")  # closed in __exit__
        self.process = subprocess.Popen(
            [airflow, "api-server", "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers)],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the api-server exited:\n{(self.home / 'api-server.log').read_text()[-3000:]}")
            try:
                status, _ = self.request("GET", "/api/v2/monitor/health")
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(1)
        raise SystemExit("the api-server did not answer within 300 s")

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()

    def request(self, method: str, path: str, body: dict | None = None, token: str = "") -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            if token:
                headers["Authorization"] = f"Bearer {token}"
            connection.request(method, path, json.dumps(body) if body is not None else None, headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def token(self) -> str:
        passwords = json.loads((self.home / "simple_auth_manager_passwords.json.generated").read_text())
        status, body = self.request("POST", "/auth/token", {"username": "admin", "password": passwords["admin"]})
        if status not in (200, 201):
            raise SystemExit(f"/auth/token answered {status}: {body[:300]!r}")
        return json.loads(body)["access_token"]


def neighbours_path(word: str) -> str:
    return f"/word2vec/api/models/{MODEL}/neighbours?" + urllib.parse.urlencode({"word": word, "k": 10})


def load(server: ApiServer, token: str, words: int, clients: int, seconds: float) -> dict:
    """``clients`` threads, each on its own keep-alive connection, asking for random words'
    neighbours for ``seconds``: answers/s, latency percentiles, errors."""
    names = word_names(words)
    timings: list[list[float]] = [[] for _ in range(clients)]
    errors: list[list[str]] = [[] for _ in range(clients)]
    start = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def client(number: int) -> None:
        rng = np.random.default_rng(100 + number)
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        headers = {"Authorization": f"Bearer {token}"}
        start.wait()
        while time.perf_counter() < stop_at[0]:
            path = neighbours_path(names[int(rng.integers(0, words))])
            began = time.perf_counter()
            try:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                body = response.read()
                elapsed = time.perf_counter() - began
                if response.status != 200 or len(json.loads(body)["neighbours"]) != 10:
                    errors[number].append(f"{response.status}: {body[:200]!r}")
                else:
                    timings[number].append(elapsed)
            except (OSError, http.client.HTTPException) as error:
                errors[number].append(repr(error))
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        connection.close()

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    stop_at[0] = time.perf_counter() + seconds
    began = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    answered = [t for per_client in timings for t in per_client]
    failed = [e for per_client in errors for e in per_client]
    return {
        "clients": clients,
        "seconds": round(wall, 2),
        "answers": len(answered),
        "answers_per_s": round(len(answered) / wall, 1),
        "errors": len(failed),
        "first_errors": failed[:3],
        **percentiles(answered),
    }


def warm_up(server: ApiServer, token: str, words: int, clients: int) -> float:
    """Requests from ``clients`` threads at once until every one has had an answer, so every
    api-server worker has loaded the version (checked its files, opened the index). Seconds taken."""
    began = time.perf_counter()
    pending = list(range(clients * 4))
    names = word_names(words)
    failures: list[str] = []

    def ask(number: int) -> None:
        status, body = server.request("GET", neighbours_path(names[number % words]), token=token)
        if status != 200:
            failures.append(f"{status}: {body[:300]!r}")

    threads = [threading.Thread(target=ask, args=(n,)) for n in pending]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(f"warm-up requests failed: {failures[:3]}")
    return time.perf_counter() - began


# ------------------------------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--words", type=int, default=1_000_000, help="vocabulary of the synthetic version")
    parser.add_argument("--dims", type=int, default=100, help="dimensions of its vectors")
    parser.add_argument(
        "--spread", type=float, default=1.0, help="distance of each vector from its centre (more: less structure)"
    )
    parser.add_argument("--workdir", default=None, help="folder for the data root and Airflow (default: a temp one)")
    parser.add_argument("--queries", type=int, default=2000, help="in-process queries timed")
    parser.add_argument("--exact-queries", type=int, default=20, help="queries timed without the index")
    parser.add_argument("--kinds", default="", help="index kinds to compare, e.g. flat,ivf,hnsw (default: none)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent HTTP clients")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the load run")
    parser.add_argument("--server-workers", type=int, default=2, help="uvicorn workers of the api-server")
    parser.add_argument("--no-server", action="store_true", help="in-process measurements only")
    parser.add_argument("--json-out", default=None, help="also write the result to this file")
    args = parser.parse_args(argv)

    work = Path(args.workdir or tempfile.mkdtemp(prefix="w2v-neighbour-load-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    root = work / "data"
    result: dict = {"words": args.words, "dims": args.dims, "spread": args.spread, "goals": GOALS}
    published = publish_synthetic(root, args.words, args.dims, args.spread)
    result["published"] = published
    index = published["vector_index"]
    probes = f", {index['nprobe']} of {index['nlist']} lists probed" if index["kind"] == "ivf" else ""
    print(
        f"version {published['version']}: {args.words:,} words x {args.dims} "
        f"(vectors {published['generate_seconds']} s); build_neighbour_table {published['neighbour_step_seconds']} s",
        flush=True,
    )
    print(
        f"  vector index: {index['kind']}, built in {index['build_seconds']:.2f} s{probes}; recall@10 "
        f"{index['recall_at_10']:.4f} on {index['recall_sample']:,} sampled words (goal >= 0.95); "
        f"{index['bytes'] / 2**20:.0f} MiB",
        flush=True,
    )
    found = in_process(args.words, args.queries, args.exact_queries)
    result["in_process"] = found
    print(
        f"in-process ModelStore.neighbours, {found['queries']:,} random words: p50 {found['p50_ms']:.3f} ms "
        f"(goal <= 2), p99 {found['p99_ms']:.3f} ms (goal <= 10); load {found['load_seconds']} s, "
        f"first query {found['first_query_ms']:.1f} ms",
        flush=True,
    )
    if "without_index" in found:
        slow = found["without_index"]
        print(
            f"  without the index (versions published before it), {slow['queries']} words: "
            f"p50 {slow['p50_ms']:.1f} ms, p99 {slow['p99_ms']:.1f} ms",
            flush=True,
        )
    kinds = [kind.strip() for kind in args.kinds.split(",") if kind.strip()]
    if kinds:
        result["kinds"] = compare_kinds(root, published["version"], kinds, args.queries)
        print(f"{'kind':>6} {'words':>9} {'build s':>8} {'recall@10':>9} {'p50 ms':>7} {'p99 ms':>7} {'MiB':>6}")
        for row in result["kinds"]:
            print(
                f"{row['kind']:>6} {row['words']:>9,} {row['build_seconds']:>8.2f} {row['recall_at_10']:>9.4f} "
                f"{row['p50_ms']:>7.3f} {row['p99_ms']:>7.3f} {row['bytes'] / 2**20:>6.0f}",
                flush=True,
            )
    if not args.no_server:
        with ApiServer(work / "airflow", root, args.server_workers) as server:
            token = server.token()
            warm = warm_up(server, token, args.words, args.clients)
            print(f"api-server on {server.base} ({args.server_workers} workers), warmed up in {warm:.1f} s", flush=True)
            http_result = load(server, token, args.words, args.clients, args.seconds)
        result["http"] = {**http_result, "server_workers": args.server_workers, "warm_up_seconds": round(warm, 2)}
        print(
            f"through the api-server, {http_result['clients']} clients for {http_result['seconds']} s: "
            f"{http_result['answers_per_s']:.1f} answers/s (goal >= 200), p50 {http_result['p50_ms']:.1f} ms, "
            f"p95 {http_result['p95_ms']:.1f} ms, p99 {http_result['p99_ms']:.1f} ms (goal <= 100), "
            f"max {http_result['max_ms']:.1f} ms, errors {http_result['errors']} (goal 0)",
            flush=True,
        )
    text = json.dumps(result)
    if args.json_out:
        Path(args.json_out).write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
