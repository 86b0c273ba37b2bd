"""Benchmark: any word's neighbours through a version's vector index, in-process and through a real
Airflow api-server under load, optionally with the model's alias moving during the load.

Usage: neighbour_load.py [--words N] [--dims D] [--spread X] [--workdir DIR] [--queries Q] [--exact-queries E]
                         [--kinds flat,ivf,hnsw] [--clients C] [--seconds S] [--server-workers W]
                         [--no-server] [--index-from-centres] [--versions 1|2] [--move-alias M]
                         [--pool-words P] [--memory-mb MB]

1. A synthetic version of ``--words`` words x ``--dims`` (default 1M x 100) is published into a
   fresh data root through the project's own functions: ``write_embeddings``, the
   ``build_neighbour_table`` step (the neighbour table and the vector index, its recall@10
   measured), ``write_version_manifest`` (every file with its size and sha256) and the registry's
   ``champion`` alias. Its vectors are clustered (seed 1): words around 2,000 random centres, each
   ``--spread`` (default 1.0: a nearest neighbour at cosine 0.63 on average) times a standard
   normal away, as trained embeddings have neighbourhoods; uniform random vectors have none to
   find (a larger spread: less structure, more IVF lists probed for the same recall).
   ``--index-from-centres`` builds the same kind of index in seconds instead (for the load test):
   an IVF index whose lists are the generator's centres (the IVF lists the pipeline would make at
   1M words number 2,000 too) with each word added to its own centre's list (no k-means, no
   assignment search), ``nprobe`` raised until recall@10 on 200 sampled words reaches 0.95, and no
   neighbour table (the api-server does not read it).
   ``--versions 2`` publishes a second version: the same rows under a shuffled vocabulary (seed 3),
   so every word has other neighbours there, its matrix and index hard links to the first's files
   (nothing is built twice; its manifest lists them with their sha256 like any other).
2. In-process (unless ``--queries 0``): ``ModelStore().load().neighbours(word, 10)`` for
   ``--queries`` random words (seed 2): p50 and p99, the first query apart (it opens the index);
   then ``--exact-queries`` words by the path of versions published without an index (one exact
   pass over the matrix each).
3. ``--kinds``: each index kind built on the same vectors (build seconds, recall@10 on the
   pipeline's 1,000-word sample, query p50/p99): how the kind and ``EMBEDDINGS_INDEX_EXACT_MAX``
   were chosen. HNSW (M 32, efConstruction 64) raises efSearch until recall@10 >= 0.95.
4. Unless ``--no-server``: a real ``airflow api-server`` (SQLite metadata database, SimpleAuthManager,
   the project's plugins, ``--server-workers`` uvicorn workers, default 2: one per core,
   ``EMBEDDINGS_SERVING_MEMORY_MB`` from ``--memory-mb`` when given) on a free port; with
   ``--queries 0`` and no ``--kinds`` it starts while the versions are built. A token from
   ``/auth/token``; the plugin's app built in each worker (``/word2vec/api/models``, no version
   read) and each process's RSS read (``/proc/<pid>/status``); each worker warmed up; then
   ``--clients`` threads, each with its own keep-alive HTTP connection, ask
   ``/word2vec/api/models/default/neighbours?word=...&k=10`` (``default@champion``) for random
   words for ``--seconds`` seconds (``--pool-words P``: words drawn from P random words whose
   answers in each version are computed beforehand from the version's own index, and every answer
   is compared with the one of the version it names). ``--move-alias M`` moves ``champion``
   between the two versions M times during the load, evenly spaced, through the app's alias route
   (``POST /word2vec/api/models/default/aliases/champion``). Prints answers/s, p50/p95/p99/max
   latency and the errors (5xx, other statuses, connection errors, malformed answers), beside the
   goals (>= 200 answers/s, p99 <= 100 ms, no errors; in-process p50 <= 2 ms, p99 <= 10 ms); with
   a pool, the answers whose neighbours are not those of the version they name (goal 0) and those
   begun after a move was answered that still name the version before it (goal 0); and each
   api-server process's peak RSS (``VmHWM``) against the bound: its RSS before any version was
   read, plus ``EMBEDDINGS_SERVING_MEMORY_MB``, plus one version's charge (the catalog's cache
   holds at most the former, and reads a version before it lets the least recently used go).

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


def synthetic_clusters(
    words: int, dims: int, seed: int = 1, spread: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(vectors, centres, around)``: ``words`` x ``dims`` float32 vectors around ``CENTRES``
    random centres (seeded), each at ``spread`` times a standard normal from its centre (the
    larger, the less structure); ``around[i]`` is the centre row ``i`` was drawn around."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((min(CENTRES, words), dims), dtype=np.float32)
    vectors = np.empty((words, dims), dtype=np.float32)
    around = np.empty(words, dtype=np.int64)
    step = 131_072
    for start in range(0, words, step):
        stop = min(start + step, words)
        around[start:stop] = rng.integers(0, len(centres), stop - start)
        noise = rng.standard_normal((stop - start, dims), dtype=np.float32)
        vectors[start:stop] = centres[around[start:stop]] + spread * noise
    return vectors, centres, around


def synthetic_vectors(words: int, dims: int, seed: int = 1, spread: float = 1.0) -> np.ndarray:
    """The vectors of :func:`synthetic_clusters`."""
    return synthetic_clusters(words, dims, seed, spread)[0]


#: Words whose recall@10 is measured for an index built from the centres (exact search of each
#: costs a pass over the matrix: 200 take a few seconds at 1M words, the pipeline's 1,000 half a minute).
CENTRES_RECALL_SAMPLE = 200


def index_from_centres(unit: np.ndarray, centres: np.ndarray, around: np.ndarray, path: Path) -> dict:
    """An IVF index like the pipeline's (``IndexIVFFlat``, inner product, a direct map, ``nprobe``
    stored) of the unit rows ``unit``, whose lists are the generator's ``centres`` with each row
    added to the list of the centre it was drawn around: no k-means, no assignment search.
    ``nprobe`` is the smallest power of two whose recall@10 on :data:`CENTRES_RECALL_SAMPLE`
    sampled words (seed 0) reaches the pipeline's goal, measured as readers search. Written to
    ``path``; returns the facts ``write_vector_index`` returns (those of a recall sample of 200)."""
    import faiss
    from faiss.contrib.ivf_tools import add_preassigned

    from include.quality.neighbour_table import exact_search, recall_at_k
    from include.quality.similarity import unit_rows
    from include.quality.vector_index import MIN_RECALL, RECALL_K, RECALL_SEED, _search_rows

    started = time.perf_counter()
    n, dims = unit.shape
    quantizer = faiss.IndexFlatIP(dims)
    quantizer.add(np.ascontiguousarray(unit_rows(centres), dtype=np.float32))
    index = faiss.IndexIVFFlat(quantizer, dims, len(centres), faiss.METRIC_INNER_PRODUCT)
    add_preassigned(index, unit, np.ascontiguousarray(around, dtype=np.int64))
    index.make_direct_map()
    built = time.perf_counter()
    sample = np.sort(np.random.default_rng(RECALL_SEED).choice(n, size=min(CENTRES_RECALL_SAMPLE, n), replace=False))
    exact, _ = exact_search(unit, sample, RECALL_K)
    nprobe = 1
    while True:
        index.nprobe = nprobe
        recall = recall_at_k(_search_rows(index, unit, sample, RECALL_K), exact)
        if recall >= MIN_RECALL or nprobe >= index.nlist:
            break
        nprobe = min(nprobe * 2, index.nlist)
    measured = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    faiss.write_index(index, str(path))
    return {
        "kind": "ivf",
        "words": n,
        "dims": dims,
        "nlist": int(index.nlist),
        "nprobe": int(index.nprobe),
        "path": str(path),
        "bytes": path.stat().st_size,
        "build_seconds": round(built - started, 3),
        "recall_at_10": round(float(recall), 6),
        "recall_k": RECALL_K,
        "recall_sample": len(sample),
        "recall_seed": RECALL_SEED,
        "recall_seconds": round(measured - built, 3),
        "seconds": round(time.perf_counter() - started, 3),
        "built_from": "the generator's centres",
    }


def word_names(words: int) -> list[str]:
    return [f"w{i:07d}" for i in range(words)]


def new_version_name() -> str:
    return f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(4)}"


def publish_synthetic(root: Path, words: int, dims: int, spread: float = 1.0, from_centres: bool = False) -> dict:
    """Publish a synthetic version of model ``default`` into the data root ``root`` (see the module
    docstring) and name it ``champion``; returns its name, the vector index's facts,
    ``footprint``, what the api-server's catalog charges for it
    (:func:`include.serving.neighbour_search.footprint_bytes`), and ``reading_bytes``, the part of it
    a version just read holds (its vocabulary and row lengths; its maps are not resident until
    searched). ``from_centres``: the index built by :func:`index_from_centres`, no neighbour table."""
    os.environ["EMBEDDINGS_DATA_DIR"] = str(root)
    from include.artifacts.embeddings import EMBEDDINGS_FILE, Embeddings, write_embeddings
    from include.quality.vector_index import INDEX_FILE
    from include.registry.registry import ModelRegistry
    from include.serving.neighbour_search import footprint_bytes, vocabulary_bytes
    from include.steps.build_neighbour_table import build_neighbour_table
    from include.storage.layout import data_store, version_key
    from include.storage.publish import write_version_manifest
    from include.storage.version_files import record_written, written_files

    store = data_store()
    started = time.perf_counter()
    vectors, centres, around = synthetic_clusters(words, dims, spread=spread)
    version = new_version_name()
    prefix = version_key(version)
    names = word_names(words)
    key_to_index = {w: i for i, w in enumerate(names)}
    with tempfile.TemporaryDirectory(prefix="w2v-load-") as scratch, store.writer(prefix, Path(scratch)) as out:
        write_embeddings(SimpleNamespace(vectors=vectors, key_to_index=key_to_index), out.folder)
    record_written(store, RUN_ID, "train_word2vec", out.files)
    generated = time.perf_counter()
    if from_centres:
        for start in range(0, words, 131_072):  # unit rows in place: the raw vectors are written
            block = vectors[start : start + 131_072]
            block /= np.maximum(np.linalg.norm(block, axis=1, keepdims=True), 1e-12)
        with tempfile.TemporaryDirectory(prefix="w2v-load-") as scratch, store.writer(prefix, Path(scratch)) as out:
            index = index_from_centres(vectors, centres, around, out.folder / INDEX_FILE)
        del vectors
        record_written(store, RUN_ID, "build_neighbour_table", out.files)
        facts: dict = {"method": "none: the index alone (--index-from-centres)", "vector_index": index}
    else:
        del vectors
        facts = build_neighbour_table(store.key_url(prefix), RUN_ID, 10)["neighbour_table"]
        index = facts["vector_index"]
    folder = root / prefix
    mapped = np.load(folder / EMBEDDINGS_FILE, mmap_mode="r")
    embeddings = Embeddings(mapped, key_to_index, names)
    charge = footprint_bytes(embeddings, np.zeros(words, np.float32), folder / INDEX_FILE)
    reading = vocabulary_bytes(embeddings) + 4 * words  # held before its maps are touched: vocabulary, row lengths
    del key_to_index, mapped, embeddings
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
        "footprint": charge,
        "reading_bytes": reading,
    }


#: The second version's vocabulary is shuffled with this seed.
SHUFFLE_SEED = 3


def publish_shuffled(root: Path, first: str, words: int) -> dict:
    """Publish a second version of model ``default`` beside ``first`` (not aliased): the same rows
    under a shuffled vocabulary (word ``i`` of :func:`word_names` is row ``rows[i]``, ``rows`` a
    permutation, seed :data:`SHUFFLE_SEED`), so each word's neighbours differ from ``first``'s; its
    matrix and vector index are hard links to ``first``'s files (the same rows: the same index).
    Returns ``{"version", "rows", "seconds"}``."""
    from include.artifacts.embeddings import EMBEDDINGS_FILE, VOCAB_FILE
    from include.quality.vector_index import INDEX_FILE
    from include.storage.atomic_io import write_json_atomic
    from include.storage.layout import data_store, version_key
    from include.storage.publish import write_version_manifest
    from include.storage.store import LocalStore
    from include.storage.version_files import record_written, written_files

    started = time.perf_counter()
    store = data_store()
    assert isinstance(store, LocalStore), "a second version is linked on a local data root only"
    run_id = f"{RUN_ID}-shuffled"
    version = new_version_name()
    rows = np.random.default_rng(SHUFFLE_SEED).permutation(words)
    names = word_names(words)
    source = root / version_key(first)
    with (
        tempfile.TemporaryDirectory(prefix="w2v-load-") as scratch,
        store.writer(version_key(version), Path(scratch)) as out,
    ):
        for name in (EMBEDDINGS_FILE, INDEX_FILE):
            os.link(source / name, out.folder / name)
        write_json_atomic(out.folder / VOCAB_FILE, dict(zip(names, rows.tolist())), indent=None)
    record_written(store, run_id, "train_word2vec", out.files)
    manifest = {
        "version": version,
        "run_id": run_id,
        "model": MODEL,
        "data_time": datetime.now(UTC).isoformat(),
        "training": {"vocab_size": words},
        "evaluation": {},
        "gate": {"decision": "promoted", "reason": f"{first}'s rows under a shuffled vocabulary (load benchmark)"},
    }
    write_version_manifest(store, version, manifest, written_files(store, run_id))  # type: ignore[arg-type]
    return {"version": version, "rows": rows, "seconds": round(time.perf_counter() - started, 2)}


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
    stopped with its whole process group on exit). :meth:`start` runs ``airflow db migrate`` and
    starts the server, :meth:`wait` waits until it answers; entering the context does both, unless
    :meth:`start` was called already. ``env``: more environment variables for the server."""

    def __init__(self, home: Path, data_root: Path, workers: int, env: dict[str, str] | None = None) -> None:
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
            **(env or {}),
        }
        self.process: subprocess.Popen | None = None
        self.log = None

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        airflow = str(Path(sys.executable).parent / "airflow")
        migrate = subprocess.run(
            [airflow, "db", "migrate"], env=self.env, capture_output=True, text=True, timeout=600, check=False
        )
        if migrate.returncode:
            raise SystemExit(f"airflow db migrate failed:\n{migrate.stderr[-3000:]}")
        self.log = open(self.home / "api-server.log", "wb")  # noqa: SIM115 - closed in __exit__
        self.process = subprocess.Popen(
            [airflow, "api-server", "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers)],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait(self) -> None:
        assert self.process is not None, "start() first"
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the api-server exited:\n{(self.home / 'api-server.log').read_text()[-3000:]}")
            try:
                status, _ = self.request("GET", "/api/v2/monitor/health")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(1)
        raise SystemExit("the api-server did not answer within 300 s")

    def __enter__(self) -> ApiServer:
        if self.process is None:
            self.start()
        self.wait()
        return self

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self.log:
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

    def processes(self) -> dict[int, dict]:
        """The server's processes (its session: the ``airflow api-server`` process and the uvicorn
        workers it spawned), each ``{"role", "rss_mib", "peak_rss_mib", "anonymous_mib", "file_mib"}``
        from ``/proc/<pid>/status`` (``VmRSS``, ``VmHWM``: the most it was ever resident, and the
        resident memory's anonymous and file-backed parts: mapped version files are the latter)."""
        assert self.process is not None
        found = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                session = int(stat[stat.rindex(")") + 2 :].split()[3])
                if session != self.process.pid:
                    continue
                status = dict(line.split(":", 1) for line in (entry / "status").read_text().splitlines() if ":" in line)
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except (OSError, ValueError):
                continue  # gone meanwhile
            pid = int(entry.name)
            role = "main" if pid == self.process.pid else ("worker" if "spawn_main" in command else "other")
            kib = {key: int(status.get(key, "0 kB").split()[0]) for key in ("VmRSS", "VmHWM", "RssAnon", "RssFile")}
            found[pid] = {
                "role": role,
                "rss_mib": round(kib["VmRSS"] / 1024, 1),
                "peak_rss_mib": round(kib["VmHWM"] / 1024, 1),
                "anonymous_mib": round(kib["RssAnon"] / 1024, 1),
                "file_mib": round(kib["RssFile"] / 1024, 1),
            }
        return found


def neighbours_path(word: str) -> str:
    return f"/word2vec/api/models/{MODEL}/neighbours?" + urllib.parse.urlencode({"word": word, "k": 10})


def similarity_path(first: str, second: str) -> str:
    return f"/word2vec/api/models/{MODEL}/similarity?" + urllib.parse.urlencode({"a": first, "b": second})


Answer = list[list]  # [[word, cosine], ...] as the API answers


class Expected:
    """What the api-server must answer in each version for the words of a pool (row numbers of the
    first version), computed here as the catalog computes it: each word's neighbours from the
    version's own vector index, and each word's vector and row length for a similarity (the second
    version's rows are a permutation of the first's, ``rows``: see :func:`publish_shuffled`)."""

    def __init__(self, root: Path, first: str, second: str | None, rows: np.ndarray | None, pool: list[int]) -> None:
        from include.artifacts.embeddings import EMBEDDINGS_FILE, take_rows
        from include.quality.vector_index import INDEX_FILE, read_vector_index
        from include.storage.layout import version_key

        index = read_vector_index(root / version_key(first) / INDEX_FILE)
        names = word_names(index.size)
        matrix = np.load(root / version_key(first) / EMBEDDINGS_FILE, mmap_mode="r")
        self.neighbours: dict[str, dict[str, Answer]] = {}
        self.vectors: dict[str, dict[str, tuple[np.ndarray, float]]] = {}

        def answer(row: int, word_of) -> Answer:
            found, cosines = index.neighbours(row, 10)
            return [[word_of(i), round(float(c), 6)] for i, c in zip(found.tolist(), cosines.tolist())]

        placed = {first: (np.asarray(pool), names.__getitem__)}
        if second is not None and rows is not None:
            word_of_row = np.argsort(rows)  # the second version's row r holds word word_of_row[r]
            placed[second] = (rows[pool], lambda r: names[int(word_of_row[r])])
        for version, (at, word_of) in placed.items():
            self.neighbours[version] = {names[i]: answer(int(r), word_of) for i, r in zip(pool, at.tolist())}
            vectors = take_rows(matrix, at)
            norms = np.linalg.norm(vectors, axis=1).astype(np.float32)
            self.vectors[version] = {names[i]: (vectors[n], float(norms[n])) for n, i in enumerate(pool)}

    def cosine(self, version: str, first: str, second: str) -> float | None:
        """The cosine the catalog answers for two pool words in ``version`` (``LoadedVersion.cosine``)."""
        if version not in self.vectors:
            return None
        (a, norm_a), (b, norm_b) = self.vectors[version][first], self.vectors[version][second]
        scale = norm_a * norm_b
        dot = float(np.dot(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)))
        return round(dot / scale if scale > 0 else 0.0, 6)


def load(
    server: ApiServer,
    token: str,
    words: int,
    clients: int,
    seconds: float,
    pool: list[int] | None = None,
    expected: Expected | None = None,
    moves: list[str] | None = None,
    similarity_every: int = 0,
) -> dict:
    """``clients`` threads, each on its own keep-alive connection, asking for random words'
    neighbours for ``seconds`` (from ``pool`` when given; every ``similarity_every``-th request of
    a client the similarity of two pool words instead): answers/s, latency percentiles, errors by
    kind. ``expected``: each answer is compared with the one of the version it names. ``moves``:
    the versions ``champion`` is moved to during the load, evenly spaced, through the app's alias
    route; answers begun after a move was answered must name its version until the next move is sent."""
    names = word_names(words)
    timings: list[list[float]] = [[] for _ in range(clients)]
    errors: dict[str, list[list[str]]] = {
        kind: [[] for _ in range(clients)] for kind in ("5xx", "status", "connection", "malformed", "mixed")
    }
    answered: list[list[tuple[float, float, str]]] = [[] for _ in range(clients)]  # (began, ended, version)
    similarities = [0] * clients
    alike = [0] * clients  # answers the other version would have given as well
    start = threading.Barrier(clients + 2)
    stop_at = [0.0]
    moved: list[dict] = []

    def client(number: int) -> None:
        rng = np.random.default_rng(100 + number)
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        headers = {"Authorization": f"Bearer {token}"}
        asked = 0
        start.wait()
        while time.perf_counter() < stop_at[0]:
            asked += 1
            drawn = int(rng.integers(0, len(pool) if pool else words))
            word = names[pool[drawn] if pool else drawn]
            # the other word of a similarity: another pool word (a word with itself is 1.0 in every version)
            other = names[pool[(drawn + 1 + int(rng.integers(0, len(pool) - 1))) % len(pool)]] if pool else ""
            similar = bool(pool and similarity_every and asked % similarity_every == 0)
            path = similarity_path(word, other) if similar else neighbours_path(word)
            began = time.perf_counter()
            try:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as error:
                errors["connection"][number].append(repr(error))
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
                continue
            ended = time.perf_counter()
            if response.status != 200:
                kind = "5xx" if response.status >= 500 else "status"
                errors[kind][number].append(f"{response.status}: {body[:200]!r}")
                continue
            try:
                found = json.loads(body)
                version = found["version"]
                assert isinstance(version, str)
                if similar:
                    cosine = found["cosine"]
                    assert found["a"] == word and found["b"] == other and isinstance(cosine, float)
                else:
                    neighbours = found["neighbours"]
                    assert len(neighbours) == 10 and found["word"] == word
            except (ValueError, KeyError, TypeError, AssertionError):
                errors["malformed"][number].append(f"{body[:200]!r}")
                continue
            timings[number].append(ended - began)
            answered[number].append((began, ended, version))
            similarities[number] += similar
            if expected is None:
                continue
            if similar:
                want = expected.cosine(version, word, other)
                if want is None or abs(want - cosine) > 2e-6:
                    errors["mixed"][number].append(f"{word}~{other} at {version}: {cosine}, expected {want}")
                # would it also pass as another version's answer? (then the check could not tell them apart)
                others = [expected.cosine(v, word, other) for v in expected.vectors if v != version]
                alike[number] += any(c is not None and abs(c - cosine) <= 2e-6 for c in others)
            else:
                if expected.neighbours.get(version, {}).get(word) != neighbours:
                    errors["mixed"][number].append(f"{word} at {version}: {neighbours[:3]}...")
                alike[number] += any(a.get(word) == neighbours for v, a in expected.neighbours.items() if v != version)

    def mover() -> None:
        start.wait()
        began = time.perf_counter()
        for number, target in enumerate(moves or []):
            time.sleep(max(0.0, began + seconds * (number + 1) / (len(moves or []) + 1) - time.perf_counter()))
            sent = time.perf_counter()
            status, body = server.request(
                "POST",
                f"/word2vec/api/models/{MODEL}/aliases/champion",
                {"version": target, "reason": f"load benchmark: move {number + 1}"},
                token=token,
            )
            moved.append({"to": target, "sent": sent, "answered": time.perf_counter(), "status": status})
            if status != 200:
                moved[-1]["body"] = body[:300].decode(errors="replace")

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    threads.append(threading.Thread(target=mover, daemon=True))
    for thread in threads:
        thread.start()
    stop_at[0] = time.perf_counter() + seconds
    began = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    latencies = [t for per_client in timings for t in per_client]
    failed = {kind: [e for per_client in lists for e in per_client] for kind, lists in errors.items()}
    every = [a for per_client in answered for a in per_client]
    by_version: dict[str, int] = {}
    for _, _, version in every:
        by_version[version] = by_version.get(version, 0) + 1
    # an answer begun after a move was answered, and ended before the next was sent, names its version
    stale = 0
    for number, move in enumerate(moved):
        until = moved[number + 1]["sent"] if number + 1 < len(moved) else float("inf")
        stale += sum(1 for b, e, v in every if b > move["answered"] and e < until and v != move["to"])
    result = {
        "clients": clients,
        "seconds": round(wall, 2),
        "answers": len(latencies),
        "similarity_answers": sum(similarities),
        "answers_per_s": round(len(latencies) / wall, 1),
        "errors": sum(len(failed[kind]) for kind in ("5xx", "status", "connection", "malformed")),
        "errors_5xx": len(failed["5xx"]),
        "errors_status": len(failed["status"]),
        "errors_connection": len(failed["connection"]),
        "errors_malformed": len(failed["malformed"]),
        "first_errors": [e for kind in ("5xx", "status", "connection", "malformed") for e in failed[kind]][:3],
        "by_version": by_version,
        "slow_answers_over_1s": sum(1 for t in latencies if t > 1.0),
        **percentiles(latencies),
    }
    if expected is not None:
        result |= {
            "checked": len(latencies),
            "mixed": len(failed["mixed"]),
            "first_mixed": failed["mixed"][:3],
            "same_in_the_other_version": sum(alike),
        }
    if moves:
        result |= {
            "moves": [{"to": m["to"], "at_s": round(m["sent"] - began, 2), "status": m["status"]} for m in moved],
            "stale_after_move": stale,
        }
    return result


def warm_up(server: ApiServer, token: str, words: int, clients: int) -> float:
    """Requests from ``clients`` threads at once until every one has had an answer, so every
    api-server worker has loaded the version (checked its files, opened the index). Seconds taken."""
    began = time.perf_counter()
    names = word_names(words)
    failures = concurrently(server, token, [neighbours_path(names[number % words]) for number in range(clients * 4)])
    if failures:
        raise SystemExit(f"warm-up requests failed: {failures[:3]}")
    return time.perf_counter() - began


def concurrently(server: ApiServer, token: str, paths: list[str]) -> list[str]:
    """GET each of ``paths`` at once, one thread (and connection) each; the failures."""
    failures: list[str] = []

    def ask(path: str) -> None:
        status, body = server.request("GET", path, token=token)
        if status != 200:
            failures.append(f"{status}: {body[:300]!r}")

    threads = [threading.Thread(target=ask, args=(path,)) for path in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


def memory_bound(before: dict[int, dict], after: dict[int, dict], budget_mib: float, reading_mib: float) -> dict:
    """Each api-server process's peak RSS against the documented bound
    (:data:`include.serving.catalog.PROCESS_BASE_MIB`, plus ``EMBEDDINGS_SERVING_MEMORY_MB``,
    ``budget_mib``, plus what one version being read holds before the least recently used one is
    let go, ``reading_mib``: its vocabulary and row lengths; its maps are not resident yet).
    ``before``: the processes once the app was built, before any version was read."""
    from include.serving.catalog import PROCESS_BASE_MIB

    bound = round(PROCESS_BASE_MIB + budget_mib + reading_mib, 1)
    peak = max((p["peak_rss_mib"] for p in after.values()), default=0.0)
    return {
        "processes": {str(pid): p for pid, p in sorted(after.items())},
        "before_any_version_mib": {str(pid): p["peak_rss_mib"] for pid, p in sorted(before.items())},
        "base_mib": PROCESS_BASE_MIB,
        "budget_mib": budget_mib,
        "reading_mib": reading_mib,
        "bound_mib": bound,
        "peak_rss_mib": peak,
        "sum_of_peaks_mib": round(sum(p["peak_rss_mib"] for p in after.values()), 1),
        "within_bound": peak <= bound,
    }


def evictions(log: Path) -> int:
    """Versions the catalogs evicted, from the api-server's log (``include.serving.catalog``'s lines)."""
    text = log.read_text(errors="replace") if log.is_file() else ""
    return sum(
        len([v for v in line.split("; evicted ", 1)[1].split(";", 1)[0].split(", ") if v != "none"])
        for line in text.splitlines()
        if "; evicted " in line
    )


# ------------------------------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--words", type=int, default=1_000_000, help="vocabulary of the synthetic version")
    parser.add_argument("--dims", type=int, default=100, help="dimensions of its vectors")
    parser.add_argument(
        "--spread", type=float, default=1.0, help="distance of each vector from its centre (more: less structure)"
    )
    parser.add_argument("--workdir", default=None, help="folder for the data root and Airflow (default: a temp one)")
    parser.add_argument("--queries", type=int, default=2000, help="in-process queries timed (0: none)")
    parser.add_argument("--exact-queries", type=int, default=20, help="queries timed without the index")
    parser.add_argument("--kinds", default="", help="index kinds to compare, e.g. flat,ivf,hnsw (default: none)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent HTTP clients")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the load run")
    parser.add_argument("--server-workers", type=int, default=2, help="uvicorn workers of the api-server")
    parser.add_argument("--no-server", action="store_true", help="in-process measurements only")
    parser.add_argument(
        "--index-from-centres",
        action="store_true",
        help="build the IVF index from the generator's centres in seconds (no k-means, no neighbour table)",
    )
    parser.add_argument(
        "--versions", type=int, choices=(1, 2), default=1, help="2: also a version with a shuffled vocabulary"
    )
    parser.add_argument(
        "--move-alias", type=int, default=0, help="moves of champion between the versions during the load"
    )
    parser.add_argument(
        "--pool-words",
        type=int,
        default=0,
        help="ask words from this many, each answer checked (0: any word, unchecked)",
    )
    parser.add_argument(
        "--similarity-every",
        type=int,
        default=0,
        help="with --pool-words: every Nth request of a client is a similarity of two pool words (0: none)",
    )
    parser.add_argument("--memory-mb", type=int, default=None, help="EMBEDDINGS_SERVING_MEMORY_MB of the api-server")
    parser.add_argument("--json-out", default=None, help="also write the result to this file")
    args = parser.parse_args(argv)
    if args.move_alias and args.versions < 2:
        parser.error("--move-alias needs --versions 2")

    work = Path(args.workdir or tempfile.mkdtemp(prefix="w2v-neighbour-load-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    root = work / "data"
    result: dict = {"words": args.words, "dims": args.dims, "spread": args.spread, "goals": GOALS}
    kinds = [kind.strip() for kind in args.kinds.split(",") if kind.strip()]
    began = time.perf_counter()
    server = None
    starting = None
    if not args.no_server:
        from include.settings import DEFAULT_SERVING_MEMORY_MB

        budget_mb = args.memory_mb if args.memory_mb is not None else DEFAULT_SERVING_MEMORY_MB
        extra = {"EMBEDDINGS_SERVING_MEMORY_MB": str(budget_mb)}
        server = ApiServer(work / "airflow", root, args.server_workers, extra)
        if args.queries == 0 and not kinds:  # nothing timed in-process: the server starts meanwhile
            starting = threading.Thread(target=server.start, daemon=True)
            starting.start()
    published = publish_synthetic(root, args.words, args.dims, args.spread, args.index_from_centres)
    result["published"] = published
    index = published["vector_index"]
    probes = f", {index['nprobe']} of {index['nlist']} lists probed" if index["kind"] == "ivf" else ""
    step = "the index from the centres" if args.index_from_centres else "build_neighbour_table"
    print(
        f"version {published['version']}: {args.words:,} words x {args.dims} "
        f"(vectors {published['generate_seconds']} s); {step} {published['neighbour_step_seconds']} s",
        flush=True,
    )
    print(
        f"  vector index: {index['kind']}, built in {index['build_seconds']:.2f} s{probes}; recall@10 "
        f"{index['recall_at_10']:.4f} on {index['recall_sample']:,} sampled words (goal >= 0.95); "
        f"{index['bytes'] / 2**20:.0f} MiB",
        flush=True,
    )
    second = None
    if args.versions == 2:
        second = publish_shuffled(root, published["version"], args.words)
        result["second"] = {"version": second["version"], "seconds": second["seconds"]}
        print(
            f"version {second['version']}: its rows under a shuffled vocabulary, in {second['seconds']} s", flush=True
        )
    pool, expected = None, None
    if args.pool_words:
        checking = time.perf_counter()
        pool = (
            np.random.default_rng(4).choice(args.words, size=min(args.pool_words, args.words), replace=False).tolist()
        )
        expected = Expected(
            root,
            published["version"],
            second["version"] if second else None,
            second["rows"] if second else None,
            pool,
        )
        print(f"answers of {len(pool):,} words in each version computed in {time.perf_counter() - checking:.1f} s")
    if args.queries:
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
    if kinds:
        result["kinds"] = compare_kinds(root, published["version"], kinds, args.queries)
        print(f"{'kind':>6} {'words':>9} {'build s':>8} {'recall@10':>9} {'p50 ms':>7} {'p99 ms':>7} {'MiB':>6}")
        for row in result["kinds"]:
            print(
                f"{row['kind']:>6} {row['words']:>9,} {row['build_seconds']:>8.2f} {row['recall_at_10']:>9.4f} "
                f"{row['p50_ms']:>7.3f} {row['p99_ms']:>7.3f} {row['bytes'] / 2**20:>6.0f}",
                flush=True,
            )
    result["prepare_seconds"] = round(time.perf_counter() - began, 1)
    if server is not None:
        if starting is not None:
            starting.join()
        with server:
            ready = time.perf_counter()
            token = server.token()
            failures = concurrently(
                server, token, [f"/word2vec/api/models?n={n}" for n in range(8 * args.server_workers)]
            )
            if failures:
                raise SystemExit(f"/word2vec/api/models failed: {failures[:3]}")
            before = server.processes()
            warm = warm_up(server, token, args.words, args.clients)
            print(
                f"api-server on {server.base} ({args.server_workers} workers) ready {ready - began:.1f} s after "
                f"the start, warmed up in {warm:.1f} s",
                flush=True,
            )
            moves = [(second["version"], published["version"])[n % 2] for n in range(args.move_alias)] if second else []
            http_result = load(
                server, token, args.words, args.clients, args.seconds, pool, expected, moves, args.similarity_every
            )
            after = server.processes()
            evicted = evictions(server.home / "api-server.log")
        memory = memory_bound(before, after, budget_mb, round(published["reading_bytes"] / 2**20, 1))
        memory["evictions"] = evicted
        result["http"] = {**http_result, "server_workers": args.server_workers, "warm_up_seconds": round(warm, 2)}
        result["memory"] = memory
        print(
            f"through the api-server, {http_result['clients']} clients for {http_result['seconds']} s: "
            f"{http_result['answers_per_s']:.1f} answers/s (goal >= 200), p50 {http_result['p50_ms']:.1f} ms, "
            f"p95 {http_result['p95_ms']:.1f} ms, p99 {http_result['p99_ms']:.1f} ms (goal <= 100), "
            f"max {http_result['max_ms']:.1f} ms, errors {http_result['errors']} (goal 0)",
            flush=True,
        )
        print(
            f"  errors: 5xx {http_result['errors_5xx']}, other statuses {http_result['errors_status']}, "
            f"connection {http_result['errors_connection']}, malformed {http_result['errors_malformed']}; "
            f"answers by version: {http_result['by_version']}",
            flush=True,
        )
        if expected is not None:
            print(
                f"  answers checked against the version they name: {http_result['checked']:,}, "
                f"mixed {http_result['mixed']} (goal 0); answers the other version gives too "
                f"{http_result['same_in_the_other_version']}",
                flush=True,
            )
        if moves:
            shown = ", ".join(f"{m['at_s']} s ({m['status']})" for m in http_result["moves"])
            print(
                f"  champion moved {len(http_result['moves'])} times at {shown}; answers naming the version "
                f"before a move already answered: {http_result['stale_after_move']} (goal 0)",
                flush=True,
            )
        peaks = ", ".join(f"{p['role']} {p['peak_rss_mib']:,.0f}" for p in memory["processes"].values())
        print(
            f"  peak RSS (VmHWM) of the api-server's processes: {memory['peak_rss_mib']:,.0f} MiB at most "
            f"({peaks}); bound {memory['bound_mib']:,.0f} MiB = {memory['base_mib']:,.0f} + "
            f"{memory['budget_mib']:,.0f} EMBEDDINGS_SERVING_MEMORY_MB + {memory['reading_mib']:,.0f} of a version "
            f"being read; versions evicted: {memory['evictions']}",
            flush=True,
        )
    result["total_seconds"] = round(time.perf_counter() - began, 1)
    text = json.dumps(result)
    if args.json_out:
        Path(args.json_out).write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
