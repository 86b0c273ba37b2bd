"""`make run` with the data root in an S3-compatible store (a real moto_server process on
127.0.0.1), set up as a user does it: ``EMBEDDINGS_DATA_DIR=s3://bucket/prefix`` and the standard
``AWS_*`` environment, nothing else. The bucket ends up with one whole version, named by
default@champion (``registry/default/aliases/champion``); nothing is written under the project's
local ``data/``."""

import json
import os
import subprocess
import time

import pytest

from tests.conftest import PROJECT_ROOT, migrated_airflow_home
from tests.s3server import assert_one_whole_champion, bucket_objects, free_port

pytestmark = pytest.mark.slow
CONF = '{"corpus_path": "bundled:lee", "epochs": 15, "vector_size": 20}'


def _make_run(tmp_path, env_extra, conf):
    env = {**os.environ, "AIRFLOW_HOME": str(migrated_airflow_home(tmp_path / "airflow-home")), **env_extra}
    for key in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "PYTHONPATH", "EMBEDDINGS_CORPUS_ROOTS"):
        env.pop(key, None)  # as in a user's shell: the Makefile sets what it needs
    started = time.monotonic()
    result = subprocess.run(
        ["make", "-s", "run", f"CONF={conf}"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=900
    )
    return result, time.monotonic() - started


def _local_data_files() -> set[str]:
    local = PROJECT_ROOT / "data"
    return {str(p) for p in local.rglob("*")} if local.exists() else set()


def test_make_run_on_an_s3_data_root_publishes_a_whole_version_there(tmp_path, s3_endpoint, s3_bucket):
    before = _local_data_files()
    env = {"EMBEDDINGS_DATA_DIR": f"{s3_bucket}/embeddings", "HOME": str(tmp_path / "home")}
    # 15 epochs (CONF): with fewer, Lee's vectors collapse and the gate's degenerate-space check
    # rejects even a model's first version
    result, _ = _make_run(tmp_path, env, CONF)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "succeeded: promoted" in result.stdout
    bucket = s3_bucket.removeprefix("s3://")
    objects = bucket_objects(s3_endpoint, bucket)
    champion, manifest = assert_one_whole_champion(objects)
    registry = sorted(key for key in objects if key.startswith("embeddings/registry/"))
    alias, history = registry  # the alias and the one recorded move
    assert alias == "embeddings/registry/default/aliases/champion", registry
    assert history.startswith("embeddings/registry/default/history/") and history.endswith(".json"), registry
    assert json.loads(objects[history])["to_version"] == champion
    assert f"Model version: {s3_bucket}/embeddings/models/{champion}" in result.stdout
    assert {"embeddings.npy", "vocab.json", "word2vec.model", "report/report.html", "keras/similarity.keras"} <= set(
        manifest["files"]
    )
    summaries = [key for key in objects if key.startswith("embeddings/tokens/") and key.endswith("_SUCCESS.json")]
    assert len(summaries) == 1 and json.loads(objects[summaries[0]])["parts"]
    run_records = [key for key in objects if key.startswith("embeddings/runs/")]
    assert len(run_records) == 1 and json.loads(objects[run_records[0]])["outcome"] == "promoted"
    assert not [key for key in objects if key.startswith("embeddings/staging/")], "the run's scratch is dropped"
    assert _local_data_files() == before, "nothing is written under the local data/"

    again, _ = _make_run(tmp_path, env, CONF)
    assert again.returncode == 0 and "succeeded: unchanged" in again.stdout, again.stderr[-3000:]


def test_unreachable_store_or_missing_bucket_fails_fast_naming_the_url(tmp_path, s3_endpoint, s3_bucket):
    dead = {"EMBEDDINGS_DATA_DIR": "s3://anything/root", "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    result, elapsed = _make_run(tmp_path, dead, "{}")
    assert result.returncode != 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "FAILED ingest_text" in result.stderr and "'s3://anything/root'" in result.stderr
    assert "cannot be reached" in result.stderr
    assert elapsed < 150  # Airflow's start-up and DB migration included; the store's own part is bounded

    missing = {"EMBEDDINGS_DATA_DIR": "s3://no-such-bucket-anywhere/root"}
    result, _ = _make_run(tmp_path, missing, "{}")
    assert result.returncode != 0 and "bucket 'no-such-bucket-anywhere' does not exist" in result.stderr
