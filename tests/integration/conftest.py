"""One LocalExecutor Airflow (PostgreSQL, scheduler, dag-processor, triggerer, api-server) shared by
the integration tests that need nothing else of it, so its start (~15 s of migration and process
start-up) is paid once, not once per test: the modules that use it are one xdist unit of work
(``SHARED_AIRFLOW_MODULES`` in tests/conftest.py), so they run one after another on one worker.

Tests keep apart as users of one deployment do: each sends its runs to a model of its own
(``"model": ...`` in the conf), reads its corpus from a folder of its own under the data root and
checks only its own versions, run records and alias history. Between two tests, a run the first one
left unfinished is marked failed and a service it stopped is started again, so one failure does not
queue or break the next test's runs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.integration.cluster import AirflowCluster, _load_script

DAG_ID = "word2vec_embeddings"

#: What the tests sharing the cluster need of its configuration; each is harmless to the others.
SHARED_ENV = {
    # the DAG's retry delay (30 s, exponential with jitter) capped: a retry is what is tested, not its wait
    "AIRFLOW__CORE__MAX_TASK_RETRY_DELAY": "5",
    # How often a scheduler looks for task instances of a dead scheduler (default 300 s); one is
    # dead once its heartbeat is [scheduler] scheduler_health_check_threshold old (default 30 s;
    # 15 s here, three times the scheduler's own heartbeat interval).
    "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "5",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD": "15",
}


@dataclass
class SharedAirflow:
    """The shared cluster and its data root (``EMBEDDINGS_DATA_DIR`` of every process)."""

    cluster: AirflowCluster
    data_root: Path

    def folder(self, name: str) -> Path:
        """A new, empty folder ``<data root>/<name>`` for one test's corpus."""
        path = self.data_root / name
        path.mkdir(parents=True)
        return path

    def random_word_conf(self, model: str, seed: int, epochs: int) -> dict:
        """The conf of a run of ``model`` on a random-word corpus of its own (``tests.corpora``), big
        enough that training at ``workers: 1`` lasts ``epochs`` half-seconds or so: long enough to
        be caught mid-epoch."""
        from tests.corpora import random_word_corpus

        corpus = random_word_corpus(self.folder(model) / "big.txt", seed=seed).parent
        return {
            "corpus_path": str(corpus),
            "epochs": epochs,
            "workers": 1,
            "vector_size": 32,
            "min_count": 1,
            "model": model,
        }

    def tidy(self) -> None:
        """Start again any service a test stopped, then fail every run still queued or running."""
        script = _load_script()
        for name, pid in self.cluster.pids().items():
            if not script.session_members({pid}):
                self.cluster.start_service(name)
        runs = self.cluster.api("GET", f"/api/v2/dags/{DAG_ID}/dagRuns", params={"limit": 100})["dag_runs"]
        unfinished = [run["dag_run_id"] for run in runs if run["state"] in ("queued", "running")]
        for run_id in unfinished:
            path = f"/api/v2/dags/{DAG_ID}/dagRuns/{quote(run_id, safe='')}"
            self.cluster.api("PATCH", path, json={"state": "failed"})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(
            state == "running" for run_id in unfinished for state in self.cluster.task_states(DAG_ID, run_id).values()
        ):
            time.sleep(1)


class SharedAirflowHolder:
    """Starts the shared cluster on first use and stops it when :meth:`close` is called: after
    this worker's last integration test (:func:`pytest_runtest_teardown`) or at the session's end,
    so an idle Airflow does not take CPU from the rest of the suite."""

    def __init__(self, tmp_path_factory):
        self._tmp_path_factory = tmp_path_factory
        self._cluster: AirflowCluster | None = None
        self._shared: SharedAirflow | None = None

    def get(self) -> SharedAirflow:
        if self._shared is None:
            tmp = self._tmp_path_factory.mktemp("shared-airflow")
            data_root = tmp / "data"
            data_root.mkdir()
            env = {"EMBEDDINGS_DATA_DIR": str(data_root), **SHARED_ENV}
            cluster = AirflowCluster(tmp, executor="LocalExecutor", env_extra=env)
            cluster.__enter__()
            self._cluster = cluster
            cluster.wait_for_dag(DAG_ID)
            self._shared = SharedAirflow(cluster, data_root)
        return self._shared

    def close(self) -> None:
        cluster, self._cluster, self._shared = self._cluster, None, None
        if cluster is not None:
            cluster.__exit__(None, None, None)


HOLDER = pytest.StashKey[SharedAirflowHolder]()


@pytest.fixture(scope="session")
def _shared_local_airflow(request, tmp_path_factory) -> Iterator[SharedAirflowHolder]:
    holder = SharedAirflowHolder(tmp_path_factory)
    request.config.stash[HOLDER] = holder
    yield holder
    holder.close()


@pytest.fixture
def local_airflow(_shared_local_airflow) -> Iterator[SharedAirflow]:
    """The shared LocalExecutor Airflow, left tidy for the next test (see the module's docstring)."""
    shared = _shared_local_airflow.get()
    yield shared
    shared.tidy()


def pytest_collection_modifyitems(session, config, items):
    """Refuse a test that uses ``local_airflow`` outside ``SHARED_AIRFLOW_MODULES`` (tests/conftest.py):
    xdist would hand its module to another worker, which would start a second shared Airflow."""
    from tests.conftest import PROJECT_ROOT, SHARED_AIRFLOW_MODULES

    outside = [
        item.nodeid
        for item in items
        if "local_airflow" in getattr(item, "fixturenames", ())
        and Path(str(item.path)).relative_to(PROJECT_ROOT).as_posix() not in SHARED_AIRFLOW_MODULES
    ]
    if outside:
        raise pytest.UsageError(f"add their modules to SHARED_AIRFLOW_MODULES in tests/conftest.py: {outside}")


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item, nextitem):
    """Stop the shared cluster once this worker's next test is not an integration test: `make test`
    hands the integration modules out first (tests/conftest.py ``LONG_FIRST``), so none follows."""
    here = Path(__file__).parent
    if nextitem is None or here not in Path(str(nextitem.path)).parents:
        holder = item.config.stash.get(HOLDER, None)
        if holder is not None:
            holder.close()
