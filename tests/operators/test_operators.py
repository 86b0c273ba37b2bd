"""Operators are thin: they call include/ and turn bad input into a failure without retry."""

import re
import shutil
from datetime import UTC, date, datetime
from types import SimpleNamespace

import numpy as np
import pytest
from airflow.sdk import DAG
from airflow.sdk.exceptions import AirflowFailException

import word2vec_operators as ops
from include.artifacts.keras_models import write_keras_models


def _context(run_id="manual__2026-11-25T20:30:00+00:00", conf=None, params=None):
    run_after = datetime(2026, 11, 25, 20, 30, tzinfo=UTC)
    return {
        "run_id": run_id,
        "dag_run": SimpleNamespace(conf=conf or {}, run_after=run_after),
        "params": params or {},
        "data_interval_start": None,
        "data_interval_end": None,
    }


def test_window_and_version_time_follow_the_data_interval():
    context = _context()
    assert ops.data_interval(context) == (None, None)
    assert ops.window_end(context) is None
    assert ops.run_time(context) == datetime(2026, 11, 25, 20, 30, tzinfo=UTC)
    context["data_interval_start"] = datetime(2026, 11, 20, tzinfo=UTC)
    context["data_interval_end"] = datetime(2026, 11, 21, tzinfo=UTC)
    assert ops.window_end(context) == date(2026, 11, 21)
    assert ops.run_time(context) == datetime(2026, 11, 21, tzinfo=UTC)
    context["data_interval_start"] = context["data_interval_end"]  # zero-length: no interval
    assert ops.data_interval(context) == (None, None)


def _ingest_operator(corpus_path):
    with DAG("operator_test", schedule=None, params={"corpus_path": corpus_path, "epochs": 5}):
        return ops.IngestTextOperator(task_id="ingest_text", corpus_path=corpus_path)


def test_ingest_operator_fails_without_retry_on_bad_path(data_root, tmp_path):
    with pytest.raises(AirflowFailException, match="outside the allowed roots"):
        ops.PipelineStepOperator.execute(_ingest_operator(str(tmp_path)), _context())


def test_ingest_operator_refuses_unknown_conf_keys(small_corpus):
    with pytest.raises(
        AirflowFailException, match="unknown DAG run conf key.*'epoch'.*known keys: corpus_path, epochs"
    ):
        ops.PipelineStepOperator.execute(_ingest_operator("corpus"), _context(conf={"epoch": 1}))


def test_ingest_tokenize_and_commit_operators(small_corpus, data_root):
    context = _context()
    facts = ops.PipelineStepOperator.execute(_ingest_operator("corpus"), context)
    assert facts["files"] == 4 and facts["corpus_path"] == str(small_corpus) and facts["shards"] == 4
    for shard in range(facts["shards"]):
        tokenize = ops.TokenizeToParquetOperator(
            task_id=f"tokenize_{shard}", manifest_path=facts["manifest_path"], shard=shard
        )
        assert ops.PipelineStepOperator.execute(tokenize, context)["tokens"] > 0
    assert not list((data_root / "tokens").rglob("_SUCCESS.json")), "nothing is committed before the commit"
    commit = ops.CommitTokensOperator(
        task_id="commit_tokens", manifest_path=facts["manifest_path"], corpus_id=facts["corpus_id"]
    )
    result = ops.PipelineStepOperator.execute(commit, context)
    assert result["corpus_tokens"] == str(data_root / "tokens" / facts["corpus_id"])
    assert result["committed"] == ["snapshot"] and result["tokens"] > 0
    assert len(list((data_root / "tokens" / facts["corpus_id"] / "snapshot").glob("part-*.parquet"))) == 4


def test_keras_operator_fails_without_retry_on_parity_mismatch(trained_version, data_root, monkeypatch):
    import include.steps.build_keras_model as keras_step

    version_dir = data_root / "models" / "v"
    shutil.copytree(trained_version["version_dir"], version_dir)
    shutil.rmtree(version_dir / "keras")

    def shifted(vectors, words, out_dir):  # models whose cosines are not gensim's
        return write_keras_models(vectors + np.float32(0.5), words, out_dir)

    monkeypatch.setattr(keras_step, "write_keras_models", shifted)
    operator = ops.BuildKerasModelOperator(
        task_id="build_keras_model", version_dir=str(version_dir), parity_pairs=20, seed=0
    )
    with pytest.raises(AirflowFailException, match="Keras and gensim cosines differ"):
        ops.PipelineStepOperator.execute(operator, _context())
    assert not (version_dir / "keras").exists() or not list((version_dir / "keras").iterdir()), "no model is kept"


def test_disk_full_fails_without_retry_naming_the_file(trained_version, data_root, monkeypatch):
    import errno

    version_dir = data_root / "models" / "v"
    shutil.copytree(trained_version["version_dir"], version_dir)
    shutil.rmtree(version_dir / "exports", ignore_errors=True)

    import include.artifacts.formats as formats

    def full(path, mode="r", *args, **kwargs):  # the exports' first file cannot be created: the disk is full
        if "w" in mode:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return open(path, mode, *args, **kwargs)

    monkeypatch.setattr(formats, "open", full, raising=False)
    operator = ops.ExportEmbeddingsOperator(task_id="export_embeddings", version_dir=str(version_dir))
    with pytest.raises(AirflowFailException, match=r"disk full while writing '.*word2vec\.txt'"):
        ops.PipelineStepOperator.execute(operator, _context())
    assert not (version_dir / "exports").exists() or not list((version_dir / "exports").rglob("*.*"))
    assert not (version_dir / "manifest.json").exists()
    assert not list(version_dir.rglob(".incoming-*")), "the task's half-written files are dropped"


def test_publish_operator_translates_unchanged_and_conflict(data_root, monkeypatch):
    """The decision is include.steps.publish's (tests/unit/test_step_decisions.py); the operator
    turns ``Unchanged`` into a skip and a version conflict into a failure without retry."""
    from airflow.sdk.exceptions import AirflowSkipException

    import include.steps.publish as publish_step
    from include.errors import VersionConflictError
    from include.steps.train_word2vec import Unchanged

    publish = ops.PublishVersionOperator(task_id="publish", version="v", manifest_path="unused", facts={})
    monkeypatch.setattr(publish_step, "publish", lambda *a, **k: Unchanged("v", "published meanwhile by run x"))
    with pytest.raises(AirflowSkipException, match="published meanwhile by run x"):
        ops.PipelineStepOperator.execute(publish, _context())

    def conflict(*args, **kwargs):
        raise VersionConflictError("model version 'v' already exists; versions are immutable")

    monkeypatch.setattr(publish_step, "publish", conflict)
    with pytest.raises(AirflowFailException, match="already exists"):  # another version of the same name: no retry
        ops.PipelineStepOperator.execute(publish, _context())


def test_ingest_operator_refuses_a_bad_combination_of_params_naming_them(small_corpus):
    with pytest.raises(AirflowFailException, match="negative=0 with hs=0"):
        ops.PipelineStepOperator.execute(
            _ingest_operator("corpus"), _context(params={"corpus_path": "corpus", "negative": 0, "hs": 0})
        )


def test_detect_phrases_operator_is_skipped_when_phrases_are_off(data_root):
    from airflow.sdk.exceptions import AirflowSkipException

    operator = ops.DetectPhrasesOperator(
        task_id="detect_phrases",
        corpus_id="c",
        dated=False,
        history_days=0,
        phrase_settings={"phrases": 0, "phrases_threshold": 10.0},
    )
    with pytest.raises(AirflowSkipException, match="phrases is 0"):
        ops.PipelineStepOperator.execute(operator, _context())
    bad = ops.DetectPhrasesOperator(
        task_id="detect_phrases_bad",
        corpus_id="c",
        dated=False,
        history_days=0,
        phrase_settings={"phrases": 1, "phrases_scoring": "npmi", "phrases_threshold": 10.0},
    )
    with pytest.raises(AirflowFailException, match="phrases_threshold=10.0 is outside -1..1"):
        ops.PipelineStepOperator.execute(bad, _context())


def test_a_sibling_of_a_task_that_failed_for_good_fails_at_once_instead_of_retrying(trained_version, data_root):
    """build_keras_model failed for good: its failure callback removed the run's half-built version
    and staging. build_neighbour_table, running beside it, then finds no embeddings: it fails
    without retries, naming the task that failed first. While the run's staging exists (a run cleared
    and started again), the same error is left to Airflow's retries."""
    from include.storage.layout import data_store, staging_key
    from include.storage.run_records import RunOutcome, update_run_record

    context = {**_context(run_id="run-sibling"), "ti": SimpleNamespace(task_id="build_neighbour_table")}
    missing = data_root / "models" / "20261101T000000Z-deadbeef"
    update_run_record(
        "run-sibling", outcome=RunOutcome.FAILED, failures=[{"task_id": "build_keras_model", "error": "disk full"}]
    )
    operator = ops.BuildNeighbourTableOperator(task_id="build_neighbour_table", version_dir=str(missing), top_k=3)
    with pytest.raises(AirflowFailException, match=r"FileNotFoundError.*had already failed in build_keras_model"):
        ops.PipelineStepOperator.execute(operator, context)

    data_store().put_json(f"{staging_key('run-sibling')}/files/train_word2vec.json", {})  # started again
    with pytest.raises(FileNotFoundError):
        ops.PipelineStepOperator.execute(operator, context)


def test_every_task_logs_its_process_peak_and_current_memory_also_when_it_fails(data_root, caplog):
    caplog.set_level("INFO", logger="word2vec_operators")
    with pytest.raises(AirflowFailException):
        _ingest_operator("no-such-corpus").execute(_context())
    [line] = [r.getMessage() for r in caplog.records if "peak RSS" in r.getMessage()]
    peak, now = (float(n) for n in re.findall(r"([\d.]+) MiB", line))
    assert line.startswith("ingest_text: peak RSS of this process") and 0 < now <= peak


def test_disk_full_on_an_object_store_root_names_the_local_scratch_folder(s3_bucket, monkeypatch):
    """A failed write() names no file; with the data root on S3 the task wrote only to its local
    scratch folder, so that is the folder named (not the local ``data/``, which it never wrote)."""
    import errno
    import tempfile

    monkeypatch.setenv("EMBEDDINGS_DATA_DIR", f"{s3_bucket}/root")

    class FillsTheDisk(ops.PipelineStepOperator):
        def run(self, context):
            raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(AirflowFailException) as failed:
        ops.PipelineStepOperator.execute(FillsTheDisk(task_id="fills_the_disk"), _context())
    assert str(failed.value) == (
        f"disk full while writing under '{tempfile.gettempdir()}' (No space left on device); free space there, "
        "then clear the task to retry"
    )
