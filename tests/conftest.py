"""Shared fixtures. Every test gets its own data root; Airflow-backed tests get their own
AIRFLOW_HOME with a fresh SQLite metadata DB (see tests/airflow_home.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            return set(next((line for line in cpuinfo if line.startswith("flags")), "").split())
    except OSError:
        return set()


# gensim trains through scipy's OpenBLAS, which picks its kernels by CPU: the AVX-512 ones round
# differently from the AVX2 ("Haswell") ones the recorded sha256 of embeddings.npy were made with
# (tests/unit/test_golden_training.py). Pinning the AVX2 kernels where the CPU has them makes those
# tests check our code, not the machine's CPU. It must be set before OpenBLAS is loaded.
if {"avx2", "fma"} <= _cpu_flags():
    os.environ.setdefault("OPENBLAS_CORETYPE", "Haswell")

# Airflow reads its configuration on first import: point it at a private home before any test
# module imports it, so tests never touch the developer's .airflow/ or a running Airflow.
AIRFLOW_TEST_HOME = Path(tempfile.mkdtemp(prefix="w2v-airflow-tests-"))
AIRFLOW_TEST_ENV = {
    "AIRFLOW_HOME": str(AIRFLOW_TEST_HOME),
    "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
    "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{AIRFLOW_TEST_HOME / 'airflow.db'}",
    "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), str(PROJECT_ROOT / "plugins")]),
}
os.environ.update(AIRFLOW_TEST_ENV)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(AIRFLOW_TEST_HOME, ignore_errors=True)
    for template in _MIGRATED_TEMPLATE:
        shutil.rmtree(template, ignore_errors=True)


# The folders whose tests run a real Airflow, a make run or a benchmark, longest first. `make test`
# runs the suite on three xdist workers by module (-n 3 --dist loadscope --no-loadscope-reorder; on
# two cores the third worker runs while the others wait on a server, docs/testing.md): a module's
# tests (or SHARED_AIRFLOW_MODULES' together) run on one worker, so a module-scoped fixture (an
# Airflow with two runs, a browser, trained models) is built once, not once on each worker; modules
# are handed out in the order below, so the minutes-long ones start first and the worker that
# finishes early takes the short ones left, instead of one worker running a three-minute backfill
# alone at the end.
LONG_FIRST = ("tests/integration/", "tests/benchmarks/", "tests/e2e/", "tests/faults/")


#: The modules whose tests use the LocalExecutor Airflow of tests/integration/conftest.py. That
#: Airflow is started once per xdist worker, so they are one unit of work (:func:`pytest_xdist_make_scheduler`):
#: all on one worker, one start (about 20 s and as many CPU seconds) instead of one on each worker.
SHARED_AIRFLOW_MODULES = frozenset(
    f"tests/integration/{name}.py"
    for name in (
        "test_backfill_and_gate",
        "test_fault_concurrent_runs",
        "test_fault_restarts",
        "test_faults",
        "test_local_airflow",
    )
)


def pytest_xdist_make_scheduler(config, log):
    """``--dist loadscope`` with :data:`SHARED_AIRFLOW_MODULES` as one scope; every other module
    is a scope of its own, as in xdist's own ``loadscope``."""
    if config.getoption("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedAirflowScopes(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return "shared LocalExecutor Airflow" if module in SHARED_AIRFLOW_MODULES else super()._split_scope(nodeid)

    return SharedAirflowScopes(config, log)


def pytest_collection_modifyitems(session, config, items):
    """Run the tests of ``LONG_FIRST`` folders first (in that order), then the other tests marked
    ``slow``, then the rest; within each group the collection order stays (so a module's tests stay
    together)."""

    def rank(item) -> int:
        where = Path(str(item.path)).relative_to(PROJECT_ROOT).as_posix()
        folder = next((number for number, folder in enumerate(LONG_FIRST) if where.startswith(folder)), None)
        if folder is not None:
            return folder
        return len(LONG_FIRST) + (0 if item.get_closest_marker("slow") else 1)

    items.sort(key=rank)


def champion(data_root: Path, model: str = "default") -> str | None:
    """The version ``<model>@champion`` names in a local data root (its alias file
    ``registry/<model>/aliases/champion``, stripped), or ``None`` when the alias is not set."""
    alias = Path(data_root) / "registry" / model / "aliases" / "champion"
    if not alias.is_file():
        return None
    return alias.read_text(encoding="utf-8").strip() or None


@pytest.fixture(scope="session")
def airflow_db():
    """The private Airflow home with its SQLite metadata DB migrated (once per session: a copy of
    the DB :func:`migrated_airflow_home` migrates once per test process)."""
    return migrated_airflow_home(AIRFLOW_TEST_HOME)


_MIGRATED_TEMPLATE: list[Path] = []


def migrated_airflow_home(home: Path) -> Path:
    """``home`` made an Airflow home whose SQLite metadata DB is already migrated, as ``make run``
    leaves it after its first ``airflow db migrate`` (``airflow.db`` and the Makefile's ``.migrated``
    stamp); a home that has them already is left as it is. The DB is a copy of one migrated once
    per test process, so each test's first ``make run`` skips the 4 CPU seconds of migrating
    (``test_scripts_run_exits_with_the_documented_codes`` still migrates a new home through
    ``make``). Returns ``home``."""
    if not _MIGRATED_TEMPLATE:
        template = Path(tempfile.mkdtemp(prefix="w2v-airflow-template-"))
        env = {**os.environ, "AIRFLOW_HOME": str(template)}
        env.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")  # SQLite in the home, as make run has it
        subprocess.run(
            [str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
            env=env,
            check=True,
            capture_output=True,
            timeout=300,
        )
        _MIGRATED_TEMPLATE.append(template)
    if not (home / ".migrated").exists():  # a home already in use keeps its runs
        home.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_MIGRATED_TEMPLATE[0] / "airflow.db", home / "airflow.db")
        (home / ".migrated").touch()  # newer than .venv/.installed: make's airflow-db target is done
    return home


@pytest.fixture
def data_root(tmp_path, monkeypatch) -> Path:
    """An empty data root for this test (EMBEDDINGS_DATA_DIR), with no extra corpus roots."""
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv("EMBEDDINGS_DATA_DIR", str(root))
    monkeypatch.delenv("EMBEDDINGS_CORPUS_ROOTS", raising=False)
    return root


@pytest.fixture
def small_corpus(data_root) -> Path:
    """A folder of text inside the data root: two .txt files, a .gz and a .bz2 in a sub-folder."""
    import bz2
    import gzip

    corpus = data_root / "corpus"
    (corpus / "more").mkdir(parents=True)
    sentences = [
        "the king rules the kingdom and the queen rules beside the king",
        "a man and a woman walk to the market in the old town",
        "the queen speaks to the people of the kingdom every year",
        "children play in the park while the man reads the paper",
    ]
    (corpus / "a.txt").write_text("\n".join(sentences * 30) + "\n", encoding="utf-8")
    (corpus / "b.TXT").write_text("\n".join(reversed(sentences * 30)), encoding="utf-8")
    (corpus / "more" / "c.txt.gz").write_bytes(gzip.compress(("\n".join(sentences * 20) + "\n").encode()))
    (corpus / "more" / "d.bz2").write_bytes(bz2.compress(("\n".join(sentences * 20) + "\n").encode()))
    (corpus / ".hidden.txt").write_text("hidden words never read\n", encoding="utf-8")
    (corpus / "notes.md").write_text("markdown is not a corpus file\n", encoding="utf-8")
    return corpus


def synthetic_sentences(count: int = 400, seed: int = 7) -> list[str]:
    """Deterministic English-like sentences over a small vocabulary with clear co-occurrences."""
    import random

    rng = random.Random(seed)
    topics = [
        ["king", "queen", "royal", "palace", "crown", "throne"],
        ["river", "water", "boat", "bridge", "fish", "bank"],
        ["computer", "software", "program", "data", "network", "server"],
        ["garden", "flower", "tree", "grass", "seed", "leaf"],
    ]
    fillers = ["the", "and", "with", "near", "over", "under"]
    lines = []
    for _ in range(count):
        topic = rng.choice(topics)
        words = [rng.choice(topic) if rng.random() < 0.7 else rng.choice(fillers) for _ in range(rng.randint(6, 14))]
        lines.append(" ".join(words))
    return lines


@pytest.fixture(scope="session")
def trained_version(tmp_path_factory):
    """A staged model version built once per session by the library functions alone:
    tokens -> Word2Vec (workers=1, seed=1) -> embeddings.npy/vocab.json -> keras/.
    Returns a dict of paths and the trained params."""
    from include.artifacts.embeddings import export_embeddings, load_embeddings
    from include.artifacts.keras_models import write_keras_models
    from include.steps.ingest_text import ingest_corpus, read_manifest
    from include.steps.train_word2vec import Word2VecParams, train_word2vec
    from include.text.tokens import tokenize_files

    base = tmp_path_factory.mktemp("trained")
    corpus = base / "corpus.txt"
    corpus.write_text("\n".join(synthetic_sentences()) + "\n", encoding="utf-8")
    manifest_path = base / "ingest_manifest.json"
    ingest_corpus(corpus, manifest_path)
    tokens = tokenize_files(read_manifest(manifest_path), base / "tokens")
    params = Word2VecParams(vector_size=16, window=3, min_count=2, epochs=3, workers=1, seed=1)
    version_dir = base / "version"
    stats = train_word2vec(Path(tokens["path"]), params, version_dir / "word2vec.model")
    export_embeddings(version_dir / "word2vec.model", version_dir)
    embeddings = load_embeddings(version_dir)
    write_keras_models(embeddings.vectors, embeddings.index_to_word, version_dir / "keras")
    return {
        "version_dir": version_dir,
        "tokens_dir": Path(tokens["path"]),
        "params": params,
        "stats": stats,
        "manifest_path": manifest_path,
        "corpus": corpus,
    }


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory):
    """A ``moto_server`` process on 127.0.0.1 for the whole session; its endpoint URL."""
    from tests.s3server import moto_server

    with moto_server(tmp_path_factory.mktemp("moto")) as endpoint:
        yield endpoint


@pytest.fixture
def s3_bucket(s3_endpoint, monkeypatch, request) -> str:
    """A fresh bucket on the session's moto server, with the standard AWS_* environment pointing at
    it (fake keys); returns ``s3://<bucket>``."""
    import re
    import uuid

    from include.storage import store as store_module
    from tests.s3server import create_bucket, s3_env

    for name, value in s3_env(s3_endpoint).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("EMBEDDINGS_STORAGE_OPTIONS", raising=False)
    store_module.configure(None)
    bucket = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:40].strip("-") + "-" + uuid.uuid4().hex[:8]
    create_bucket(s3_endpoint, bucket)
    return f"s3://{bucket}"
