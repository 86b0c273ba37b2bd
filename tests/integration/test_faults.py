"""Faults with real processes: the training task killed mid-epoch is retried and publishes a whole version."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.integration.checks import assert_one_whole_version, task_process

pytestmark = pytest.mark.slow
DAG_ID = "word2vec_embeddings"
EPOCHS = 30  # about 15 s of training: time to catch it mid-epoch, not more


def test_training_killed_mid_epoch_is_retried_and_the_version_is_whole(local_airflow):
    cluster, data_root = local_airflow.cluster, local_airflow.data_root
    conf = local_airflow.random_word_conf("killed-training", seed=11, epochs=EPOCHS)
    # the shared cluster caps the DAG's retry delay at 5 s (AIRFLOW__CORE__MAX_TASK_RETRY_DELAY):
    # the retry is what is tested, not its wait
    run_id = cluster.trigger(DAG_ID, conf)
    killed = None
    deadline = time.monotonic() + 600
    while killed is None:
        assert time.monotonic() < deadline, cluster.task_states(DAG_ID, run_id)
        train = next((ti for ti in cluster.task_instances(DAG_ID, run_id) if ti["task_id"] == "train_word2vec"), None)
        if (
            train
            and train["state"] == "running"
            and f"epoch 2/{EPOCHS}" in cluster.task_log(DAG_ID, run_id, "train_word2vec", train["try_number"])
        ):
            pid = task_process(train["id"])
            if pid:
                os.kill(pid, signal.SIGKILL)
                killed = train["try_number"]
        time.sleep(0.5)
    outcome = cluster.wait_for_run(DAG_ID, run_id, timeout=900)
    assert outcome.state == "success", outcome.report
    train = next(ti for ti in cluster.task_instances(DAG_ID, run_id) if ti["task_id"] == "train_word2vec")
    assert train["try_number"] == killed + 1, "the killed try was retried once"
    first_log = cluster.task_log(DAG_ID, run_id, "train_word2vec", killed)
    assert f"epoch {EPOCHS}/{EPOCHS}" not in first_log

    # one whole version of the model, named by its champion, and nothing half-written under models/
    assert_one_whole_version(data_root, run_id, model="killed-training")
