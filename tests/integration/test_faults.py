"""Faults with real processes: the training task killed mid-epoch is retried and publishes a whole version."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.conftest import champion
from tests.corpora import random_word_corpus
from tests.integration.checks import assert_version_whole, task_process
from tests.integration.cluster import AirflowCluster

pytestmark = pytest.mark.slow
DAG_ID = "word2vec_embeddings"
EPOCHS = 30  # about 15 s of training: time to catch it mid-epoch, not more


def test_training_killed_mid_epoch_is_retried_and_the_version_is_whole(tmp_path):
    data_root = tmp_path / "data"
    corpus = random_word_corpus(data_root / "corpus" / "big.txt", seed=11).parent
    conf = {"corpus_path": str(corpus), "epochs": EPOCHS, "workers": 1, "vector_size": 32, "min_count": 1}

    env = {
        "EMBEDDINGS_DATA_DIR": str(data_root),
        # the DAG's retry delay (30 s, exponential with jitter) capped: the retry is what is tested, not its wait
        "AIRFLOW__CORE__MAX_TASK_RETRY_DELAY": "5",
    }
    with AirflowCluster(tmp_path, env_extra=env) as cluster:
        run_id = cluster.trigger(DAG_ID, conf)
        killed = None
        deadline = time.monotonic() + 600
        while killed is None:
            assert time.monotonic() < deadline, cluster.task_states(DAG_ID, run_id)
            train = next(
                (ti for ti in cluster.task_instances(DAG_ID, run_id) if ti["task_id"] == "train_word2vec"), None
            )
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

    models = data_root / "models"
    promoted = champion(data_root)
    assert promoted, "default@champion is set"
    version_dir = models / promoted
    manifest = assert_version_whole(version_dir)
    assert manifest["run_id"] == run_id
    for required in ("word2vec.model", "embeddings.npy", "vocab.json", "keras/similarity.keras", "report/report.json"):
        assert required in manifest["files"]
    assert not [p for p in models.iterdir() if p.name.startswith(".") and p.is_dir()], "no half-written folder"
    assert [p.name for p in models.iterdir()] == [promoted], "models/ holds the one version and nothing else"
