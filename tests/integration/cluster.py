"""A real Airflow 3 for integration tests: its own PostgreSQL database, AIRFLOW_HOME and ports,
started through ``scripts/airflow_local.py start`` (as ``make airflow`` does) and always torn down.

    with AirflowCluster(tmp_path, env_extra={"EMBEDDINGS_DATA_DIR": str(data_root)}) as cluster:
        run_id = cluster.trigger("word2vec_embeddings", {"epochs": 2})
        outcome = cluster.wait_for_run("word2vec_embeddings", run_id, timeout=600)
        assert outcome.state == "success", outcome.report

The scheduler creates no scheduled runs (``[scheduler] use_job_schedule`` off) unless
``scheduled_runs=True``: a test sees only the runs it triggers or backfills.

``executor="CeleryExecutor", celery_workers=N`` adds N Celery workers (``w<N>@%h``, concurrency 1,
prefetch 1) on a Redis database of their own (``redis://127.0.0.1:6379/<n>``, claimed with a lock
key and flushed at exit) with the test database as result backend.

``pg={"host": ..., "port": ..., "user": ...}`` and ``redis=(host, port)`` put the database and the
broker on other servers than the machine's shared ones: a PostgreSQL and a Redis of the test's own
(``tests/integration/own_servers.py``), which the test may then stop and restart.
``with Supervisor(cluster):`` starts again every service that exits, as a deployment's process
supervisor does.

``__exit__`` stops every process (SIGTERM to each process group, SIGKILL after a timeout), drops
the database and frees the Redis database, also when the test failed or the start did.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import httpx

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = PROJECT_ROOT / "scripts" / "airflow_local.py"
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
REDIS = ("127.0.0.1", 6379)
REDIS_LOCK_KEY = "w2v-integration-test-lock"
USER = "admin"
FINISHED_RUN_STATES = {"success", "failed"}


def free_port() -> int:
    """A TCP port nothing listens on right now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _load_script():
    spec = importlib.util.spec_from_file_location("airflow_local", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class RunOutcome:
    """The end of a DAG run: its state, every task instance's state (``task_id`` or
    ``task_id[map_index]`` -> state) and, for a failed run, the failed tasks' log tails."""

    state: str
    task_states: dict[str, str | None] = field(default_factory=dict)
    report: str = ""


class AirflowCluster:
    """Context manager: scheduler, dag-processor, triggerer, api-server (and Celery workers) on a
    fresh PostgreSQL database, reachable at ``base_url`` with ``admin`` and the generated password."""

    def __init__(
        self,
        tmp_path: Path,
        executor: str = "LocalExecutor",
        celery_workers: int = 0,
        env_extra: dict[str, str] | None = None,
        start_timeout: float = 300,
        scheduled_runs: bool = False,
        pg: dict[str, object] | None = None,
        redis: tuple[str, int] | None = None,
    ):
        if celery_workers and executor != "CeleryExecutor":
            raise ValueError("celery_workers needs executor='CeleryExecutor'")
        self.tmp_path = Path(tmp_path)
        self.home = self.tmp_path / "airflow-home"
        self.executor = executor
        self.celery_workers = celery_workers if executor != "CeleryExecutor" else max(celery_workers, 1)
        self.env_extra = dict(env_extra or {})
        self.start_timeout = start_timeout
        self.scheduled_runs = scheduled_runs
        self.pg = dict(pg or PG)
        self.redis = tuple(redis or REDIS)
        self.db_name = f"w2v_it_{uuid.uuid4().hex[:12]}"
        self.db_url = f"postgresql+psycopg2://{self.pg['user']}@{self.pg['host']}:{self.pg['port']}/{self.db_name}"
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.redis_db: int | None = None
        self.env: dict[str, str] = {}
        self.process_env: dict[str, str] = {}
        self.start_output = ""
        self.password: str | None = None
        self._token: str | None = None
        self._client: httpx.Client | None = None
        self._db_created = False

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> AirflowCluster:
        try:
            self._start()
        except BaseException:
            self._teardown()
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        problems = self._teardown()
        if problems and exc_type is None:
            raise RuntimeError("cluster teardown: " + "; ".join(problems))

    def _start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self._create_database()
        self.env = self._build_env()
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, str(SCRIPT), "start"],
            env=self.env,
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=self.start_timeout + 300,
        )
        self.start_output = result.stdout + result.stderr
        self.start_seconds = time.monotonic() - started
        if result.returncode != 0:
            raise RuntimeError(
                f"airflow_local.py start failed ({result.returncode}):\n{self.start_output}\n{self.diagnostics()}"
            )
        passwords = self.home / "simple_auth_manager_passwords.json.generated"
        self.password = json.loads(passwords.read_text(encoding="utf-8"))[USER]
        # Exactly the environment the script gave the processes (JWT secret, execution API URL, ...).
        settings = _load_script().Settings(self.env)
        settings.finish_env()
        self.process_env = settings.env
        self._client = httpx.Client(base_url=self.base_url, timeout=60)

    def _build_env(self) -> dict[str, str]:
        # Nothing of the outer Airflow configuration (tests/conftest.py points it at a SQLite home).
        env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW_PORT": str(self.port),
                "AIRFLOW_HOST": "127.0.0.1",
                "AIRFLOW_START_TIMEOUT": str(int(self.start_timeout)),
                "AIRFLOW_STOP_TIMEOUT": "20",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.db_url,
                "AIRFLOW__CORE__EXECUTOR": self.executor,
                "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",  # trigger() unpauses, as a user does
                "AIRFLOW__CORE__PARALLELISM": "4",  # LocalExecutor forks this many workers up front
                # Only the runs a test creates (trigger, backfill): an unpaused DAG with a schedule would
                # otherwise get a scheduled run with its default params at once.
                "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": str(self.scheduled_runs),
                # The DAG files do not change while a test runs: parsed at the start, listed and parsed
                # again only every few minutes (each parse costs the dag-processor ~0.3 s of CPU).
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "60",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "300",
                # The scheduler looks for the next task 0.5 s after the last one ended, not 1 s (its
                # default idle sleep). Measured on an idle cluster, the scheduler's CPU a minute: 5.5 s
                # at 0.2 s, 2.0 s at 0.5 s, 1.5 s at 1 s; the suite is CPU-bound on two cores.
                "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
                # Log servers on ports of their own, so a developer's `make airflow` can run alongside.
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
                "PYTHONPATH": str(PROJECT_ROOT),
                "TF_CPP_MIN_LOG_LEVEL": "2",
                "KERAS_BACKEND": "tensorflow",
            }
        )
        if self.executor == "CeleryExecutor":
            self.redis_db = self._claim_redis_db()
            env.update(
                {
                    "AIRFLOW_CELERY_WORKERS": str(self.celery_workers),
                    "AIRFLOW_CELERY_CONCURRENCY": "1",
                    "AIRFLOW__CELERY__BROKER_URL": f"redis://{self.redis[0]}:{self.redis[1]}/{self.redis_db}",
                    "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{self.db_url}",
                    "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
                }
            )
        env.update(self.env_extra)
        return env

    def _teardown(self) -> list[str]:
        problems = []
        if self._client is not None:
            self._client.close()
            self._client = None
        recorded = self.pids() if (self.home / "run").exists() else {}
        if recorded:
            try:
                result = subprocess.run(
                    [sys.executable, str(SCRIPT), "stop"],
                    env=self.env or {**os.environ, "AIRFLOW_HOME": str(self.home)},
                    cwd=PROJECT_ROOT,
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
                if result.returncode != 0:
                    problems.append(f"airflow_local.py stop: {result.stdout}{result.stderr}")
            except subprocess.TimeoutExpired:
                problems.append("airflow_local.py stop timed out")
            # Check independently of the script: nothing may be left in the sessions it started.
            script = _load_script()
            survivors = script.session_members(set(recorded.values()))
            if survivors:
                problems.append(f"processes left after stop, killed: {survivors}")
                for pid in survivors:
                    script._signal(pid, signal.SIGKILL)
                script.stop_processes(self.home, timeout=5, quiet=True)
        try:
            self._drop_database()
        except Exception as error:
            problems.append(f"dropping database {self.db_name}: {error}")
        try:
            self._release_redis_db()
        except Exception as error:
            problems.append(f"releasing redis db {self.redis_db}: {error}")
        return problems

    # ------------------------------------------------------------------ PostgreSQL and Redis

    def _pg_admin(self):
        import psycopg2

        connection = psycopg2.connect(dbname="postgres", connect_timeout=10, **self.pg)
        connection.autocommit = True
        return connection

    def _create_database(self) -> None:
        connection = self._pg_admin()
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{self.db_name}"')
            self._db_created = True
        finally:
            connection.close()

    def _drop_database(self) -> None:
        if not self._db_created:
            return
        connection = self._pg_admin()
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
            self._db_created = False
        finally:
            connection.close()

    def _claim_redis_db(self) -> int:
        """A Redis database number (1..15) that is empty and that no other test run holds: claimed
        with a lock key set only if absent, so two test sessions never share a broker queue."""
        import redis

        try:
            count = int(redis.Redis(*self.redis, db=0).config_get("databases").get("databases", 16))
        except redis.RedisError:
            count = 16
        candidates = list(range(1, count))
        random.shuffle(candidates)
        for number in candidates:
            client = redis.Redis(*self.redis, db=number)
            if client.set(REDIS_LOCK_KEY, self.db_name, nx=True, ex=6 * 3600):
                if client.dbsize() == 1:
                    return number
                client.delete(REDIS_LOCK_KEY)  # holds someone's data: leave it alone
        raise RuntimeError("no free Redis database for the Celery broker")

    def _release_redis_db(self) -> None:
        if self.redis_db is None:
            return
        import redis

        client = redis.Redis(*self.redis, db=self.redis_db)
        if client.get(REDIS_LOCK_KEY) == self.db_name.encode():
            client.flushdb()
        self.redis_db = None

    # ------------------------------------------------------------------ REST API

    def token(self) -> str:
        """A JWT for ``admin`` from ``POST /auth/token`` (cached)."""
        if self._token is None:
            response = httpx.post(
                f"{self.base_url}/auth/token", json={"username": USER, "password": self.password}, timeout=30
            )
            assert response.status_code in (200, 201), f"login failed: {response.status_code} {response.text}"
            self._token = response.json()["access_token"]
        return self._token

    def request(self, method: str, path: str, json=None, params=None, token: str | bool = True) -> httpx.Response:
        """The raw response of ``method path``; ``token=False`` sends no Authorization header."""
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {self.token() if token is True else token}"
        return self._client.request(method, path, json=json, params=params, headers=headers)

    def api(self, method: str, path: str, json=None, params=None):
        """``method path`` as admin; the parsed JSON answer. Fails the test on a non-2xx status."""
        response = self.request(method, path, json=json, params=params)
        assert response.is_success, f"{method} {path} -> {response.status_code}: {response.text[:2000]}"
        return response.json() if response.content else None

    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> dict:
        """The DAG's API record once the dag-processor has parsed it. Fails with the import errors
        if there are any and the DAG has not appeared 30 s after they were first seen."""
        deadline = time.monotonic() + timeout
        errors_seen_at = None
        while True:
            response = self.request("GET", f"/api/v2/dags/{quote(dag_id, safe='')}")
            if response.status_code == 200:
                return response.json()
            errors = self.api("GET", "/api/v2/importErrors").get("import_errors", [])
            if errors and errors_seen_at is None:
                errors_seen_at = time.monotonic()
            timed_out = time.monotonic() > deadline
            if errors and (timed_out or time.monotonic() - errors_seen_at > 30):
                details = "\n\n".join(f"{error['filename']}:\n{error['stack_trace'][-3000:]}" for error in errors)
                raise AssertionError(f"DAG {dag_id} not loaded; import errors:\n{details}")
            if timed_out:
                raise TimeoutError(f"DAG {dag_id} not parsed within {timeout}s\n{self.diagnostics()}")
            time.sleep(0.5)

    def unpause(self, dag_id: str) -> None:
        self.api("PATCH", f"/api/v2/dags/{quote(dag_id, safe='')}", json={"is_paused": False})

    def trigger(self, dag_id: str, conf: dict, logical_date: str | None = None, run_id: str | None = None) -> str:
        """Wait for the DAG, unpause it, start a run with ``conf``; returns its run id."""
        self.wait_for_dag(dag_id)
        self.unpause(dag_id)
        body = {"logical_date": logical_date, "conf": conf}
        if run_id:
            body["dag_run_id"] = run_id
        return self.api("POST", f"/api/v2/dags/{quote(dag_id, safe='')}/dagRuns", json=body)["dag_run_id"]

    def dag_run(self, dag_id: str, run_id: str) -> dict:
        return self.api("GET", f"/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        """Every task instance of the run (all pages)."""
        path = f"/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}/taskInstances"
        instances: list[dict] = []
        while True:
            page = self.api("GET", path, params={"limit": 100, "offset": len(instances)})
            instances.extend(page["task_instances"])
            if not page["task_instances"] or len(instances) >= page["total_entries"]:
                return instances

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        return {_ti_name(ti): ti["state"] for ti in self.task_instances(dag_id, run_id)}

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int = -1) -> str:
        """The task's log for one try, one line per record, from the API as the UI shows it."""
        path = (
            f"/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}/taskInstances/"
            f"{quote(task_id, safe='')}/logs/{try_number}"
        )
        response = self.request("GET", path, params={"full_content": "true", "map_index": map_index})
        if not response.is_success:
            return f"(log unavailable: {response.status_code} {response.text[:300]})"
        lines = []
        for record in response.json().get("content", []):
            if isinstance(record, dict):
                text = f"{record.get('level', '')} {record.get('event', '')}".strip()
                for error in record.get("error_detail") or []:  # the exception chain, without frames
                    if isinstance(error, dict):
                        text += f"\n    {error.get('exc_type')}: {error.get('exc_value')}"
                lines.append(text)
            else:
                lines.append(str(record))
        return "\n".join(lines)

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 600) -> RunOutcome:
        """Poll the run until it succeeds or fails. A failed run's outcome carries the task states
        and the last lines of each failed task's log; a timeout raises with the states and the
        services' logs."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.dag_run(dag_id, run_id)["state"]
            if state in FINISHED_RUN_STATES:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"run {run_id} still {state} after {timeout}s; tasks: "
                    f"{self.task_states(dag_id, run_id)}\n{self.diagnostics()}"
                )
            time.sleep(0.5)
        instances = self.task_instances(dag_id, run_id)
        outcome = RunOutcome(state=state, task_states={_ti_name(ti): ti["state"] for ti in instances})
        if state != "success":
            parts = [f"run {run_id} {state}; tasks: {outcome.task_states}"]
            for ti in instances:
                if ti["state"] == "failed":
                    log = self.task_log(
                        dag_id, run_id, ti["task_id"], max(ti.get("try_number") or 1, 1), ti.get("map_index", -1)
                    )
                    parts.append(
                        f"--- {_ti_name(ti)} (try {ti.get('try_number')}):\n" + "\n".join(log.splitlines()[-40:])
                    )
            outcome.report = "\n".join(parts)
        return outcome

    # ------------------------------------------------------------------ CLI and logs

    def cli(self, *args: str, timeout: float = 300, check: bool = False) -> subprocess.CompletedProcess:
        """``airflow <args>`` against this cluster's database and configuration
        (e.g. ``cli("backfill", "create", "--dag-id", ...)``)."""
        airflow = Path(sys.executable).parent / "airflow"
        result = subprocess.run(
            [str(airflow), *args],
            env=self.process_env,
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"airflow {' '.join(args)} -> {result.returncode}\n{result.stdout}\n{result.stderr}")
        return result

    def pids(self) -> dict[str, int]:
        """name -> pid of every process the start recorded."""
        return {path.stem: int(path.read_text()) for path in sorted((self.home / "run").glob("*.pid"))}

    def session_pids(self, name: str) -> list[int]:
        """Live pids of service ``name``'s session: the service and everything it started (task
        runners of the LocalExecutor, Celery pool processes and their tasks), even in other groups."""
        return sorted(_load_script().session_members({self.pids()[name]}))

    def stop_service(self, name: str, sig: int = signal.SIGTERM, timeout: float = 120) -> float:
        """Stop one service (``"scheduler"``, ``"celery-worker-1"``, ...) as a process supervisor
        does: ``sig`` to its process group, then wait until every process of its session has
        exited; whatever is left after ``timeout`` seconds is SIGKILLed. With ``SIGKILL`` every
        process of the session is killed at once (a crashed or OOM-killed container). Returns the
        seconds until the session was empty. The service can be started again with
        :meth:`start_service`."""
        script = _load_script()
        leader = self.pids()[name]
        started = time.monotonic()
        script._signal_group(leader, sig)
        if sig == signal.SIGKILL:
            for pid in script.session_members({leader}):
                script._signal(pid, signal.SIGKILL)
        deadline = started + timeout
        while script.session_members({leader}) and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid in script.session_members({leader}):
            script._signal(pid, signal.SIGKILL)
        while script.session_members({leader}):
            if time.monotonic() > deadline + 30:
                raise RuntimeError(f"{name} (session {leader}) did not die: {script.session_members({leader})}")
            time.sleep(0.2)
        return time.monotonic() - started

    def start_service(self, name: str) -> int:
        """Start service ``name`` again with the command and environment of the first start (its
        log continues in logs/<name>.log); returns its pid. Stop it first with :meth:`stop_service`."""
        script = _load_script()
        settings = script.Settings(self.env)
        settings.finish_env()
        args = dict(settings.services())[name]
        old = self.pids().get(name)
        if old and script.session_members({old}):
            raise RuntimeError(f"{name} (pid {old}) is still running")
        with open(self.home / "logs" / f"{name}.log", "a", encoding="utf-8") as log:
            log.write(f"\n===== restarted by the test at {time.strftime('%H:%M:%S')} =====\n")
            log.flush()
            env, cwd = settings.service_env_and_cwd(name)
            process = subprocess.Popen(
                [script.airflow_executable(), *args],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=cwd,
            )
        _write_atomically(self.home / "run" / f"{name}.pid", f"{process.pid}\n")  # pids() may read it meanwhile
        stat = script._proc_stat(process.pid)
        if stat:
            _write_atomically(self.home / "run" / f"{name}.started", f"{stat[3]}\n")
        return process.pid

    def service_log(self, name: str, lines: int = 40) -> str:
        path = self.home / "logs" / f"{name}.log"
        if not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

    def diagnostics(self, lines: int = 25) -> str:
        """The last lines of every service's log, for failure messages."""
        logs = sorted((self.home / "logs").glob("*.log")) if (self.home / "logs").exists() else []
        return "\n".join(f"=== {path.name}\n{self.service_log(path.stem, lines)}" for path in logs)


class Supervisor:
    """What a deployment's process supervisor (systemd's ``Restart=always``, a Kubernetes pod's
    restart policy) does: a thread that, every ``interval`` seconds, starts again each service of
    ``cluster`` whose session has no live process left (:meth:`AirflowCluster.start_service`), no
    sooner than ``backoff`` seconds after that service's last start. ``restarts`` lists
    ``(service, time.time())`` of each start it made.

    A context manager: leave it before the cluster's own exit, which then stops what it started.
    Do not :meth:`AirflowCluster.stop_service` a service under it (it would be started again)."""

    def __init__(self, cluster: AirflowCluster, interval: float = 0.5, backoff: float = 2.0):
        self.cluster = cluster
        self.interval = interval
        self.backoff = backoff
        self.restarts: list[tuple[str, float]] = []
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="airflow-supervisor", daemon=True)

    def restarted(self, since: float = 0.0) -> list[str]:
        """The services started again at or after ``since`` (time.time()), once per start."""
        return [name for name, at in self.restarts if at >= since]

    def _run(self) -> None:
        script = _load_script()
        last_start: dict[str, float] = {}
        while not self._stop.wait(self.interval):
            try:
                for name, pid in self.cluster.pids().items():
                    if script.session_members({pid}):
                        continue
                    if time.monotonic() - last_start.get(name, float("-inf")) < self.backoff:
                        continue
                    last_start[name] = time.monotonic()
                    self.cluster.start_service(name)
                    self.restarts.append((name, time.time()))
            except Exception as error:  # keep supervising; reported on exit
                self.errors.append(error)

    def __enter__(self) -> Supervisor:
        self._thread.start()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._stop.set()
        self._thread.join(timeout=60)
        if self.errors and exc_type is None:
            raise RuntimeError(f"supervisor errors: {self.errors!r}")


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)


def _ti_name(ti: dict) -> str:
    index = ti.get("map_index", -1)
    return ti["task_id"] if index is None or index < 0 else f"{ti['task_id']}[{index}]"
