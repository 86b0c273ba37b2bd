"""Faults with real processes: the scheduler stopped and started again in the middle of a run.

Two restarts in one run on the LocalExecutor, whose task processes are children of the scheduler:

- SIGTERM while ``train_word2vec`` runs: the scheduler stops gracefully, letting the running task
  finish (its try succeeds, nothing new starts while it is down); started again, it carries on.
- SIGKILL of the scheduler and everything it started while ``build_keras_model`` runs (a crash):
  the task dies with it; the restarted scheduler finds the orphaned task instance, resets it and
  runs it again as a new try.

Either way the run ends in success and publishes one whole version.
"""

from __future__ import annotations

import signal
import time

import pytest

from tests.integration.checks import assert_one_whole_version, run_record, task_process

pytestmark = pytest.mark.slow
DAG_ID = "word2vec_embeddings"
EPOCHS = 40


def _ti(cluster, run_id: str, task_id: str) -> dict | None:
    return next((ti for ti in cluster.task_instances(DAG_ID, run_id) if ti["task_id"] == task_id), None)


def _wait_until_running(cluster, run_id: str, task_id: str, log_text: str | None = None, timeout: float = 600) -> dict:
    """The task instance once it runs, its process exists and (if given) its log shows ``log_text``."""
    deadline = time.monotonic() + timeout
    while True:
        ti = _ti(cluster, run_id, task_id)
        if (
            ti
            and ti["state"] == "running"
            and task_process(ti["id"])
            and (log_text is None or log_text in cluster.task_log(DAG_ID, run_id, task_id, ti["try_number"]))
        ):
            return ti
        assert time.monotonic() < deadline, f"{task_id} never ran: {cluster.task_states(DAG_ID, run_id)}"
        assert cluster.dag_run(DAG_ID, run_id)["state"] in ("queued", "running"), cluster.task_states(DAG_ID, run_id)
        time.sleep(0.5)


def test_scheduler_stopped_and_restarted_during_a_run_completes_it(local_airflow):
    cluster, data_root = local_airflow.cluster, local_airflow.data_root
    conf = local_airflow.random_word_conf("restarts", seed=13, epochs=EPOCHS)
    # The shared cluster looks for orphaned task instances every 5 s and takes a scheduler for dead
    # 15 s after its last heartbeat (tests/integration/conftest.py, SHARED_ENV).
    run_id = cluster.trigger(DAG_ID, conf)

    # 1. SIGTERM mid-training: a graceful stop waits for the running task.
    train = _wait_until_running(cluster, run_id, "train_word2vec", log_text=f"epoch 2/{EPOCHS}")
    stop_seconds = cluster.stop_service("scheduler", signal.SIGTERM, timeout=300)
    states = cluster.task_states(DAG_ID, run_id)
    assert states["train_word2vec"] == "success", (states, cluster.service_log("scheduler"))
    assert states["export_embeddings"] in (None, "scheduled"), f"a task started while stopping: {states}"
    log = cluster.task_log(DAG_ID, run_id, "train_word2vec", train["try_number"])
    assert f"epoch {EPOCHS}/{EPOCHS}" in log, "the running training was let finish"
    time.sleep(5)
    assert cluster.dag_run(DAG_ID, run_id)["state"] == "running"
    assert cluster.task_states(DAG_ID, run_id)["export_embeddings"] in (None, "scheduled"), "no scheduler, no task"
    cluster.start_service("scheduler")

    # 2. SIGKILL of the scheduler and its task processes while the Keras models are built.
    keras = _wait_until_running(cluster, run_id, "build_keras_model")
    killed_try = keras["try_number"]
    cluster.stop_service("scheduler", signal.SIGKILL, timeout=30)
    assert _ti(cluster, run_id, "build_keras_model")["state"] == "running", "the kill left it running in the DB"
    cluster.start_service("scheduler")

    outcome = cluster.wait_for_run(DAG_ID, run_id, timeout=600)
    assert outcome.state == "success", outcome.report
    # every task succeeded; detect_phrases is skipped (phrases are off by default) and so is
    # mirror_to_mlflow (no MLFLOW_TRACKING_URI here)
    skipped = {"detect_phrases", "mirror_to_mlflow"}
    assert {t: s for t, s in outcome.task_states.items() if t not in skipped} == {
        t: "success" for t in outcome.task_states if t not in skipped
    }, outcome.task_states
    assert {t: outcome.task_states[t] for t in skipped} == dict.fromkeys(skipped, "skipped")
    keras = _ti(cluster, run_id, "build_keras_model")
    assert keras["try_number"] == killed_try + 1, "the killed task ran again as a new try"
    assert _ti(cluster, run_id, "train_word2vec")["try_number"] == train["try_number"], "training ran once"
    print(f"graceful stop took {stop_seconds:.1f}s")

    assert_one_whole_version(data_root, run_id, model="restarts")
    assert run_record(data_root, run_id)["outcome"] == "promoted"
