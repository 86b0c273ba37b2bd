"""Faults with real servers: the Celery broker (Redis) and the metadata database (PostgreSQL)
restarted in the middle of one CeleryExecutor run (one worker). Both are servers of the test's own
(``own_servers.py``: the installed ``redis-server`` and ``postgres`` on free ports of 127.0.0.1,
data under the test's folder), never the machine's shared ones. A :class:`Supervisor` plays the
deployment's process supervisor (systemd ``Restart=always``, a pod's restart policy): it starts
again any Airflow process that exits, 2 s after its last start at the soonest.

1. Redis stopped (SIGTERM; its append-only file keeps the queue) while ``train_word2vec`` runs,
   and started again once the scheduler has failed to queue the tasks after it (down 5-8 s):

   - no Airflow process exits; the running task finishes in its first try (its state goes to the
     api-server, not through Redis);
   - the Celery worker sees the connection drop at once and reconnects on its own, 2 s, 4 s, 6 s...
     apart (Celery's fixed back-off; ``broker_connection_retry`` is on by default, giving up after
     ``broker_connection_max_retries`` = 100 attempts, about 45 minutes): connected again 0.5-5 s
     after Redis was back here, depending on where in its back-off it was;
   - the scheduler's sending of the next tasks fails at once (kombu's own publish retries last
     ~0.6 s, inside ``[celery] operation_timeout`` = 1 s: "Error sending Celery workload ...
     Connection refused"); it fails those task instances, which go ``up_for_retry`` and run as their
     second try after the retry delay (capped at 5 s here; the DAG's 30-60 s otherwise). No Celery
     setting is changed: a longer publish retry policy would be cut off by ``operation_timeout`` and
     would stall the scheduler loop while it waits. The cost of a broker outage is one try of each
     task the scheduler queued meanwhile (and its retry delay); an outage outlasting the tasks'
     retries (2) would fail the run.

2. PostgreSQL restarted (fast shutdown, as ``pg_ctl restart``; down 2 s) while ``build_keras_model``
   runs (first measured with 5 s down; the figures below are from both):

   - the scheduler exits within 0.1-0.9 s ("Exception when executing SchedulerJob._run_scheduler_loop",
     then "Exited execute loop"), the dag-processor and the triggerer within 1-2 s (the triggerer's
     clean-up took up to 10 s more): Airflow leaves their restart to a supervisor.
     Started again while the database is still down, a process may exit again and is started once
     more; the restarted scheduler heartbeats 5-8 s after the database is back (4-9 s of it is the
     scheduler's own start) and carries on from the task instances' states (the old scheduler's
     job still looks alive, so nothing is reset);
   - the api-server and the Celery worker survive: the api-server answers 500 meanwhile and the
     Task SDK retries the task's calls (heartbeat, XCom) with a random exponential back-off
     (``[workers] execution_api_retries`` = 5 attempts, 1 s, 1-2 s, 1-4 s and 1-8 s apart: 4 to
     15 s in all), so the running task finishes in its first try. An outage longer than 4 s can
     exhaust them and fail the try (then retried): with 5 s down, one run's XCom read got four 500s
     and succeeded on its fifth and last attempt, hence the 2 s here. The worker's pooled
     connection to the result backend is dead after the restart, and Celery's database backend
     retries its write of the task's result (3 attempts).

The run then succeeds and publishes exactly one whole version, ``champion`` naming it. On this
machine (2 cores, 2026-12-06, three runs): the run took 58-97 s from trigger to success, the test
93-131 s (the slower ones with the machine busy with other work).
Run with ``-s`` for its ``RESTART FIGURES`` line.
"""

from __future__ import annotations

import json
import time
from datetime import datetime

import pytest

from tests.corpora import random_word_corpus
from tests.integration.checks import assert_one_whole_version, task_process
from tests.integration.cluster import AirflowCluster, Supervisor
from tests.integration.own_servers import OwnPostgres, OwnRedis, postgres_bin, redis_server_bin

pytestmark = pytest.mark.slow
DAG_ID = "word2vec_embeddings"
AFTER_TRAINING = ("export_embeddings", "build_keras_model", "build_neighbour_table", "evaluate_embeddings")
SKIPPED = {"detect_phrases", "mirror_to_mlflow"}  # phrases off; no MLFLOW_TRACKING_URI
# Seconds between PostgreSQL's shutdown and its start: a restart, well inside the 4 s that the Task
# SDK's retries of one call last at the least (see the docstring).
PG_DOWN = 2.0


def _tis(cluster, run_id: str) -> dict[str, dict]:
    """The run's task instances by task id (``task_id[i]`` for a mapped one)."""
    instances = cluster.task_instances(DAG_ID, run_id)
    return {ti["task_id"] + (f"[{ti['map_index']}]" if ti["map_index"] >= 0 else ""): ti for ti in instances}


def _wait(condition, what: str, timeout: float = 300, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(every)
    return result


def _running(cluster, run_id: str, task_id: str) -> dict | None:
    assert cluster.dag_run(DAG_ID, run_id)["state"] in ("queued", "running"), cluster.task_states(DAG_ID, run_id)
    ti = _tis(cluster, run_id).get(task_id)
    return ti if ti and ti["state"] == "running" and task_process(ti["id"]) else None


def _log_times(text: str, marker: str) -> list[float]:
    """time.time() of each log line of ``text`` containing ``marker`` (lines start with an ISO time)."""
    times = []
    for line in text.splitlines():
        if marker in line and line[:4].isdigit():
            times.append(datetime.fromisoformat(line.split()[0].replace("Z", "+00:00")).timestamp())
    return times


def _scheduler_heartbeat(cluster) -> float:
    health = cluster.request("GET", "/api/v2/monitor/health")
    if not health.is_success:
        return 0.0
    beat = (health.json().get("scheduler") or {}).get("latest_scheduler_heartbeat")
    return datetime.fromisoformat(beat).timestamp() if beat else 0.0


def test_celery_run_survives_a_redis_restart_and_a_postgres_restart(tmp_path):
    if postgres_bin() is None or redis_server_bin() is None:
        pytest.skip("needs the PostgreSQL server binaries (initdb, postgres) and redis-server")
    data_root = tmp_path / "data"
    corpus = random_word_corpus(data_root / "corpus" / "part.txt", seed=25).parent
    conf = {"corpus_path": str(corpus), "epochs": 10, "workers": 1, "vector_size": 16, "min_count": 1}
    env = {
        "EMBEDDINGS_DATA_DIR": str(data_root),
        # the DAG's retry delay (30 s, exponential with jitter) capped, to keep the test short
        "AIRFLOW__CORE__MAX_TASK_RETRY_DELAY": "5",
    }
    figures: dict[str, object] = {}
    started = time.monotonic()
    with (
        OwnPostgres(tmp_path / "postgres") as pg,
        OwnRedis(tmp_path / "redis") as broker,
        AirflowCluster(
            tmp_path, executor="CeleryExecutor", celery_workers=1, env_extra=env, pg=pg.address, redis=broker.address
        ) as cluster,
        Supervisor(cluster) as supervisor,
    ):
        figures["cluster_start_s"] = round(time.monotonic() - started, 1)
        run_id = cluster.trigger(DAG_ID, conf)
        triggered = time.monotonic()

        # 1. Redis down while train_word2vec runs, up again once the scheduler failed to queue the next tasks.
        train = _wait(lambda: _running(cluster, run_id, "train_word2vec"), "train_word2vec to run")
        redis_stopped = time.time()
        broker.stop("fast")
        _wait(
            lambda: any(_tis(cluster, run_id)[t]["state"] == "up_for_retry" for t in AFTER_TRAINING),
            "the scheduler to fail queueing a task",
            timeout=120,
        )
        tis = _tis(cluster, run_id)
        not_queued = sorted(t for t in AFTER_TRAINING if tis[t]["state"] == "up_for_retry")
        broker.start()
        redis_back = time.time()
        figures["redis_down_s"] = round(redis_back - redis_stopped, 1)
        figures["redis_not_queued"] = not_queued
        assert tis["train_word2vec"]["state"] == "success", tis["train_word2vec"]
        assert tis["train_word2vec"]["try_number"] == train["try_number"], "training ran through the outage, once"
        assert not supervisor.restarts, f"an Airflow process exited while Redis was down: {supervisor.restarts}"

        # 2. PostgreSQL restarted (fast shutdown, down PG_DOWN s) while build_keras_model runs.
        keras = _wait(lambda: _running(cluster, run_id, "build_keras_model"), "build_keras_model to run")
        pg_stopped = time.time()
        figures["pg_restart"] = {k: round(v, 2) for k, v in pg.restart("fast", down=PG_DOWN).items()}
        pg_back = time.time()
        _wait(lambda: _scheduler_heartbeat(cluster) > pg_back, "a scheduler heartbeat after the restart", every=0.5)
        figures["scheduler_back_after_pg_s"] = round(time.time() - pg_back, 1)

        outcome = cluster.wait_for_run(DAG_ID, run_id, timeout=600)
        figures["run_s"] = round(time.monotonic() - triggered, 1)
        assert outcome.state == "success", outcome.report
        assert {t: s for t, s in outcome.task_states.items() if t not in SKIPPED} == {
            t: "success" for t in outcome.task_states if t not in SKIPPED
        }, outcome.task_states
        tis = _tis(cluster, run_id)
        figures["tries"] = {t: ti["try_number"] for t, ti in tis.items() if ti["try_number"] > 1}
        assert tis["build_keras_model"]["try_number"] == keras["try_number"], "the task survived the restart"
        for task_id in not_queued:
            assert tis[task_id]["try_number"] == 2, f"{task_id} was queued again as its second try"

        restarted = supervisor.restarted(since=pg_stopped)
        figures["restarts_after_pg_stop_s"] = [(name, round(at - pg_stopped, 1)) for name, at in supervisor.restarts]
        assert "celery-worker-1" not in restarted and "api-server" not in restarted, restarted
        worker_log = cluster.service_log("celery-worker-1", lines=1_000_000)
        reconnected = [t for t in _log_times(worker_log, "Connected to redis") if t > redis_back]
        assert reconnected, "the Celery worker reconnected to Redis"
        figures["worker_reconnect_after_redis_s"] = round(reconnected[0] - redis_back, 1)
        # the Task SDK's retries of execution API calls the api-server failed while the database was down
        api_retries = _log_times(worker_log, "Starting call to 'airflow.sdk.api.client.Client.request'")
        figures["task_api_retries_after_pg_stop"] = len([t for t in api_retries if t >= pg_stopped])

    assert_one_whole_version(data_root, run_id)
    record = json.loads(next((data_root / "runs").glob("*.json")).read_text())
    assert record["outcome"] == "promoted", record
    figures["test_s"] = round(time.monotonic() - started, 1)
    print("RESTART FIGURES", figures)
