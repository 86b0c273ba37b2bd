"""A worker SIGKILLed after some of a version's files are uploaded and before its manifest, on an S3
data root served by a real ``moto_server`` process: no version with a manifest is left, every
reader ignores the half-built folder (and default@champion stays where it was), the sweep leaves it to the
retry, and the retry publishes a whole version, exactly the files its manifest lists. Publishing
it again writes nothing (the manifest is create-only): a retry of the same run's publish gives the
same result, so promote still moves default@champion; another run of the same inputs ends unchanged.

The worker is a child process running the ``export_embeddings`` step through the real
:class:`~include.storage.store.S3Store`; only its pace is changed, inside the child: it pauses after
each upload, so the kill lands between two uploads every time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest

from include.errors import NotInRegistryError
from include.registry.registry import ModelRegistry
from include.serving.artifact_source import StoreArtifactSource
from include.serving.catalog import Catalog
from include.serving.model_store import ModelStore
from include.serving.request_checks import NotFoundError
from include.steps.build_keras_model import build_keras_model
from include.steps.build_neighbour_table import build_neighbour_table
from include.steps.commit_tokens import commit_tokens
from include.steps.evaluate_embeddings import evaluate_embeddings
from include.steps.ingest_text import ingest_text
from include.steps.promote import promote
from include.steps.publish import publish
from include.steps.tokenize_to_parquet import tokenize_to_parquet
from include.steps.train_word2vec import Unchanged, Word2VecParams, train_version
from include.steps.write_similarity_report import write_similarity_report
from include.storage.layout import data_store, version_key
from include.storage.sweep import sweep
from include.storage.versions import find_by_content_hash, list_versions
from tests.conftest import PROJECT_ROOT, synthetic_sentences
from tests.s3server import FAKE_KEYS

PREFIX = "root"  # the data root is s3://<bucket>/root
CHAMPION_KEY = "registry/default/aliases/champion"  # the alias file naming default@champion
PAUSE_AFTER_UPLOAD = 120  # seconds the killed worker waits after each upload: the kill lands in the first wait

# The worker: runs export_embeddings(version_dir, run_id) and prints its result as JSON. With a
# pause, every file is still uploaded by the real S3Store.writer (Written.publish hands each one to
# its upload), and the worker says so and waits before the next one.
WORKER = """
import json, sys, time

from include.storage.store import Written

version_dir, run_id, pause = sys.argv[1], sys.argv[2], float(sys.argv[3])
if pause:
    publish_files = Written.publish

    def publish_slowly(self, put):
        def put_then_pause(path, relative):
            put(path, relative)
            print("uploaded", relative, flush=True)
            time.sleep(pause)

        publish_files(self, put_then_pause)

    Written.publish = publish_slowly

from include.steps.export_embeddings import export_embeddings

print(json.dumps(export_embeddings(version_dir, run_id)), flush=True)
"""


def _worker(tmp_path, version_dir: str, run_id: str, pause: float) -> subprocess.Popen:
    script = tmp_path / "worker.py"
    script.write_text(WORKER, encoding="utf-8")
    home = tmp_path / f"worker-home-{time.monotonic_ns()}"
    home.mkdir()
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "HOME": str(home), "TMPDIR": str(home)}
    return subprocess.Popen(
        [sys.executable, str(script), version_dir, run_id, str(pause)],
        cwd=home,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _train(corpus, run_id: str, params: Word2VecParams, data_time: datetime) -> tuple[dict, dict]:
    """ingest_text, tokenize_to_parquet (each shard), commit_tokens and train_word2vec of one run."""
    ingest = ingest_text(str(corpus), run_id=run_id, conf={}, declared_params=[])
    for shard in range(ingest["shards"]):
        tokenize_to_parquet(ingest["manifest_path"], shard, run_id)
    commit_tokens(ingest["manifest_path"], ingest["corpus_id"], run_id, data_time.date())
    trained = train_version(
        corpus_id=ingest["corpus_id"],
        dated=False,
        window_end=None,
        history_days=0,
        params=params,
        run_id=run_id,
        data_time=data_time,
    )
    assert not isinstance(trained, Unchanged), trained
    return ingest, trained


def _publish_args(ingest: dict, trained: dict, run_id: str) -> dict:
    facts = {
        "corpus_id": ingest["corpus_id"],
        "content_hash": trained["content_hash"],
        "data_time": trained["data_time"],
        "partitions": trained["partitions"],
        "training": {key: trained[key] for key in ("vocab_size", "corpus_words", "sentences", "train_seconds")},
    }
    return {"run_id": run_id, "manifest_path": ingest["manifest_path"], "facts": facts}


def _finish(ingest: dict, trained: dict, run_id: str, params: Word2VecParams, export_done: bool = False) -> dict:
    """The steps after training as the DAG runs them (export_embeddings unless ``export_done``),
    up to publish. Returns the report's facts (its gate ``decision`` and ``reason``)."""
    version_dir = trained["version_dir"]
    if not export_done:
        from include.steps.export_embeddings import export_embeddings

        export_embeddings(version_dir, run_id)
    keras = build_keras_model(version_dir, run_id, parity_pairs=50)
    neighbours = build_neighbour_table(version_dir, run_id, top_k=5)
    evaluation = evaluate_embeddings(
        version_dir, model="default", corpus_id=ingest["corpus_id"], probe_words=None, top_k=5
    )
    report = write_similarity_report(
        version_dir,
        model="default",
        version=trained["version"],
        run_id=run_id,
        params={**dataclasses.asdict(params), "corpus_path": ingest["corpus_path"]},
        corpus_id=ingest["corpus_id"],
        corpus_stats={"files": ingest["files"], "lines": ingest["lines"], "tokens": trained["corpus_words"]},
        probe_words=None,
        top_k=5,
        gate_tolerance=100.0,  # the gate promotes: this test is about files, not scores
        parity=keras["parity"],
        evaluation=evaluation,
        neighbour_table=neighbours["neighbour_table"],
        epochs_choice=trained["epochs_choice"],
    )
    published = publish(trained["version"], **_publish_args(ingest, trained, run_id))
    assert not isinstance(published, Unchanged), published
    assert published["version"] == trained["version"] and published["version_path"] == version_dir
    return report


def _champion(store) -> str:
    """The version default@champion names: its alias file, which the registry resolves the same."""
    named = store.read_bytes(CHAMPION_KEY).decode("utf-8").strip()
    assert ModelRegistry(store).resolve("default", alias="champion") == named
    return named


class Bucket:
    """What the bucket holds, read with boto3 straight from the server (not through the Store)."""

    def __init__(self, endpoint: str, name: str) -> None:
        import boto3

        keys = {
            "aws_access_key_id": FAKE_KEYS["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": FAKE_KEYS["AWS_SECRET_ACCESS_KEY"],
            "region_name": FAKE_KEYS["AWS_DEFAULT_REGION"],
        }
        self.client = boto3.client("s3", endpoint_url=endpoint, **keys)
        self.name = name

    def listing(self, prefix: str = "") -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix)
        return [entry["Key"] for page in pages for entry in page.get("Contents", [])]

    def version(self, version: str) -> dict[str, bytes]:
        """The objects of one version folder: name inside the version -> bytes."""
        prefix = f"{PREFIX}/{version_key(version)}/"
        return {
            key[len(prefix) :]: self.client.get_object(Bucket=self.name, Key=key)["Body"].read()
            for key in self.listing(prefix)
        }

    def version_names(self, version: str) -> set[str]:
        prefix = f"{PREFIX}/{version_key(version)}/"
        return {key[len(prefix) :] for key in self.listing(prefix)}


@pytest.mark.slow
def test_worker_killed_between_uploads_and_manifest_leaves_no_version_and_the_retry_publishes_a_whole_one(
    tmp_path, monkeypatch, s3_endpoint, s3_bucket
):
    bucket = Bucket(s3_endpoint, s3_bucket.removeprefix("s3://"))
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "text.txt").write_text("\n".join(synthetic_sentences(300)) + "\n", encoding="utf-8")
    monkeypatch.setenv("EMBEDDINGS_DATA_DIR", f"{s3_bucket}/{PREFIX}")
    monkeypatch.setenv("EMBEDDINGS_CORPUS_ROOTS", str(corpus))
    monkeypatch.setenv("EMBEDDINGS_CACHE_DIR", str(tmp_path / "model-cache"))
    store = data_store()
    assert store.url == f"{s3_bucket}/{PREFIX}"
    params = Word2VecParams(vector_size=8, window=2, min_count=2, epochs=2, workers=1, seed=1)

    # A version promoted earlier: default@champion names it, and it must stay the only one readers see.
    earlier_ingest, earlier = _train(corpus, "earlier_run", params, datetime(2026, 11, 1, tzinfo=UTC))
    report = _finish(earlier_ingest, earlier, "earlier_run", params)
    promote(earlier["version"], decision=report["decision"], reason=report["reason"], run_id="earlier_run")
    assert _champion(store) == earlier["version"]
    assert bucket.listing(f"{PREFIX}/registry/default/aliases/") == [f"{PREFIX}/{CHAMPION_KEY}"]
    assert not store.exists("models/LATEST")

    # The run whose worker dies: trained (claim, model, embeddings.npy, vocab.json uploaded) ...
    run_id = "killed_run"
    newer = dataclasses.replace(params, seed=2)  # other params: another content hash, another version
    ingest, trained = _train(corpus, run_id, newer, datetime(2026, 11, 2, tzinfo=UTC))
    version, version_dir = trained["version"], trained["version_dir"]
    assert version != earlier["version"] and version_dir == f"{s3_bucket}/{PREFIX}/models/{version}"
    before_export = bucket.version_names(version)
    assert {".claim", "word2vec.model", "embeddings.npy", "vocab.json"} <= before_export
    assert not [name for name in before_export if name.startswith("exports/")]

    # ... then export_embeddings, SIGKILLed once the bucket holds some of its files.
    worker = _worker(tmp_path, version_dir, run_id, PAUSE_AFTER_UPLOAD)
    try:
        deadline = time.monotonic() + 60
        while True:
            if bucket.listing(f"{PREFIX}/models/{version}/exports/"):
                break
            assert worker.poll() is None, worker.communicate()
            assert time.monotonic() < deadline, "the worker uploaded nothing within 60 s"
            time.sleep(0.1)
        os.kill(worker.pid, signal.SIGKILL)
        out, err = worker.communicate(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert worker.returncode == -signal.SIGKILL, err[-2000:]
    assert out.count("uploaded ") <= 1 and "{" not in out, out  # killed before its second upload, unfinished

    left = bucket.version(version)
    killed_files = {name: data for name, data in left.items() if name.startswith("exports/")}
    assert len(killed_files) == 1, sorted(left)
    assert "manifest.json" not in left and ".claim" in left
    assert [key for key in bucket.listing() if key.endswith("/manifest.json")] == [
        f"{PREFIX}/models/{earlier['version']}/manifest.json"
    ], "no version with a manifest beside the earlier one"
    assert not store.exists(f"staging/{run_id}/files/export_embeddings.json"), "the killed task recorded nothing"

    # Every reader ignores the half-built version.
    assert [v["version"] for v in list_versions(store)] == [earlier["version"]]
    assert _champion(store) == earlier["version"]
    assert find_by_content_hash(store, trained["content_hash"]) is None
    models = ModelStore(store=store, cache=tmp_path / "model-store-cache")
    assert models.versions() == [earlier["version"]] and models.latest() == earlier["version"]
    with pytest.raises(NotInRegistryError, match=f"no version '{version}'; its versions: {earlier['version']}$"):
        models.load(version)
    catalog = Catalog(StoreArtifactSource(store, cache=None))
    assert [row.version for row in catalog.summaries()] == [earlier["version"]]
    assert catalog.resolve("latest") == earlier["version"]
    with pytest.raises(NotFoundError):
        catalog.resolve(version)
    with pytest.raises(NotFoundError):
        StoreArtifactSource(store).local_file(version, "embeddings.npy")

    # The sweep (every ingest_text runs it) leaves a young half-built version to its retry.
    assert sweep(store) == {"versions": [], "staging": [], "uploads": []}
    assert bucket.version_names(version) == set(left)

    # The retry: export_embeddings again in a fresh worker process, then the rest of the run.
    retry = _worker(tmp_path, version_dir, run_id, 0)
    out, err = retry.communicate(timeout=120)
    assert retry.returncode == 0, err[-3000:]
    exported = json.loads(out.strip().splitlines()[-1])
    assert exported["vocab_size"] == trained["vocab_size"]
    report = _finish(ingest, trained, run_id, newer, export_done=True)

    files = bucket.version(version)
    manifest_bytes = files.pop("manifest.json")
    manifest = json.loads(manifest_bytes)
    assert manifest["version"] == version and manifest["run_id"] == run_id
    assert manifest["content_hash"] == trained["content_hash"]
    listed = manifest["files"]
    assert set(files) == set(listed), "the version holds exactly the files its manifest lists (no claim, no leftover)"
    for name, entry in listed.items():
        assert entry["bytes"] == len(files[name]), name
        assert entry["sha256"] == hashlib.sha256(files[name]).hexdigest(), name
    exports = {name for name in listed if name.startswith("exports/")}
    assert set(killed_files) < exports, "the killed worker had uploaded some, not all, of the step's files"
    for required in ("word2vec.model", "embeddings.npy", "vocab.json", "keras/similarity.keras", "report/report.json"):
        assert required in listed
    assert [v["version"] for v in list_versions(store)] == [earlier["version"], version]

    # Publishing again writes nothing: the manifest is create-only. A retry of this run's publish
    # (its worker lost after the manifest) gives the same result, so promote still runs; another
    # run of the same inputs ends unchanged.
    again = publish(version, **_publish_args(ingest, trained, run_id))
    assert again == {
        "version": version,
        "version_path": version_dir,
        "decision": report["decision"],
        "report_html": f"{version_dir}/report/report.html",
    }
    other = publish(version, **{**_publish_args(ingest, trained, run_id), "run_id": "another_run"})
    assert isinstance(other, Unchanged) and f"published meanwhile by run {run_id}" in other.reason
    assert bucket.version(version) == {**files, "manifest.json": manifest_bytes}

    promote(version, decision=report["decision"], reason=report["reason"], run_id=run_id)
    assert _champion(store) == version
    assert models.load("latest").version == version == models.load().version
