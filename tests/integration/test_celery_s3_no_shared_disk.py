"""Workers that share no disk: two Celery workers, each with its own HOME, TMPDIR and working
directory, and the data root in an S3 server (moto_server on 127.0.0.1). They share only
read-only things (the code, the venv, the DAG folder, the corpus) and the Airflow home. The run
succeeds, the mapped tokenize shards ran on both workers, the bucket holds one whole version and
default@champion naming it (``registry/default/aliases/champion``), and nothing was left under
either worker's own folders or the project's local data/."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.integration.cluster import AirflowCluster
from tests.s3server import bucket_objects, s3_env

pytestmark = pytest.mark.slow
DAG_ID = "word2vec_embeddings"
TINY = {"min_count": 1, "epochs": 1, "vector_size": 8, "workers": 1, "window": 2}


def _files(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_two_celery_workers_sharing_no_writable_folder_publish_to_s3(tmp_path, s3_endpoint, s3_bucket):
    from tests.conftest import PROJECT_ROOT

    corpus = tmp_path / "corpus"  # read-only input, as a mounted corpus would be
    corpus.mkdir()
    words = ["king", "queen", "man", "woman", "river", "boat", "water", "city", "market", "school", "garden", "tree"]
    for number in range(4):  # four files of similar size: four shards
        lines = [" ".join(words[(number + i + j) % len(words)] for j in range(10)) for i in range(3000)]
        (corpus / f"part-{number}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    corpus.chmod(0o555)
    local_data_before = _files(PROJECT_ROOT / "data")
    workers = tmp_path / "workers"
    env = {
        **s3_env(s3_endpoint),
        "EMBEDDINGS_DATA_DIR": f"{s3_bucket}/embeddings",
        "EMBEDDINGS_CORPUS_ROOTS": str(corpus),
        "AIRFLOW_CELERY_WORKER_DIRS": str(workers),
    }
    conf = {"corpus_path": str(corpus), "tokenize_shards": 4, **TINY}
    with AirflowCluster(tmp_path, executor="CeleryExecutor", celery_workers=2, env_extra=env) as cluster:
        run_id = cluster.trigger(DAG_ID, conf)
        outcome = cluster.wait_for_run(DAG_ID, run_id, timeout=900)
        assert outcome.state == "success", outcome.report
        mapped = [ti for ti in cluster.task_instances(DAG_ID, run_id) if ti["task_id"] == "tokenize_to_parquet"]
        worker_logs = {
            name: cluster.service_log(name, lines=100_000)
            for name in cluster.pids()
            if name.startswith("celery-worker")
        }
    assert sorted(ti["map_index"] for ti in mapped) == list(range(4))
    ran = {name: log.count("tokenize_to_parquet") for name, log in worker_logs.items()}
    tails = "\n".join(f"--- {name}, last lines:\n{log[-4000:]}" for name, log in worker_logs.items())
    assert len(ran) == 2 and all(count > 0 for count in ran.values()), f"mapped tokenize per worker: {ran}\n{tails}"

    objects = bucket_objects(s3_endpoint, s3_bucket.removeprefix("s3://"))
    champion = objects["embeddings/registry/default/aliases/champion"].decode().strip()
    assert "embeddings/models/LATEST" not in objects
    manifest = json.loads(objects[f"embeddings/models/{champion}/manifest.json"])
    for name, entry in manifest["files"].items():
        data = objects[f"embeddings/models/{champion}/{name}"]
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], name
    versions = {key.split("/")[2] for key in objects if key.startswith("embeddings/models/") and key.count("/") > 2}
    assert versions == {champion}
    assert _files(PROJECT_ROOT / "data") == local_data_before, "nothing written under the local data/"
    for worker in ("celery-worker-1", "celery-worker-2"):
        scratch = [f for f in _files(workers / worker / "tmp") if f.startswith("w2v-")]
        assert not scratch, f"{worker} left its task scratch behind: {scratch[:10]}"
        assert _files(workers / worker / "cwd") == [], f"{worker} wrote into its working directory"
