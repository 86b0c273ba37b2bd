"""Operators are thin: they call include/ and turn bad input into a failure without retry."""
import shutil
from datetime import datetime, timezone
from types import SimpleNamespace

import numpy as np
import pytest
from airflow.sdk import DAG
from airflow.sdk.exceptions import AirflowFailException

import word2vec_operators as ops
from include.export import load_embeddings
from include.keras_models import write_keras_models


def _context(run_id="manual__2026-11-25T20:30:00+00:00", conf=None, params=None):
    run_after = datetime(2026, 11, 25, 20, 30, tzinfo=timezone.utc)
    return {"run_id": run_id, "dag_run": SimpleNamespace(conf=conf or {}, run_after=run_after),
            "params": params or {}, "data_interval_start": None, "data_interval_end": None}


def test_partition_date_and_version_time_follow_the_data_interval():
    context = _context()
    assert ops.run_partition_date(context) == "2026-11-25"
    context["data_interval_start"] = datetime(2026, 11, 20, 23, 0, tzinfo=timezone.utc)
    assert ops.run_partition_date(context) == "2026-11-20"
    assert ops.run_time(context) == datetime(2026, 11, 25, 20, 30, tzinfo=timezone.utc)


def _ingest_operator(corpus_path):
    with DAG("operator_test", schedule=None, params={"corpus_path": corpus_path, "epochs": 5}):
        return ops.IngestTextOperator(task_id="ingest_text", corpus_path=corpus_path)


def test_ingest_operator_fails_without_retry_on_bad_path(data_root, tmp_path):
    with pytest.raises(AirflowFailException, match="outside the allowed roots"):
        ops.PipelineStepOperator.execute(_ingest_operator(str(tmp_path)), _context())


def test_ingest_operator_refuses_unknown_conf_keys(small_corpus):
    with pytest.raises(AirflowFailException, match="unknown DAG run conf key.*'epoch'.*known keys: corpus_path, epochs"):
        ops.PipelineStepOperator.execute(_ingest_operator("corpus"), _context(conf={"epoch": 1}))


def test_ingest_and_tokenize_operators_return_paths_and_counts(small_corpus, data_root):
    facts = ops.PipelineStepOperator.execute(_ingest_operator("corpus"), _context())
    assert facts["files"] == 4 and facts["corpus_path"] == str(small_corpus)
    tokenize = ops.TokenizeToParquetOperator(task_id="tokenize_to_parquet", manifest_path=facts["manifest_path"],
                                             corpus_id=facts["corpus_id"])
    result = ops.PipelineStepOperator.execute(tokenize, _context())
    assert result["path"] == str(data_root / "tokens" / facts["corpus_id"] / "dt=2026-11-25")
    assert result["tokens"] > 0


def test_report_operator_fails_without_retry_on_parity_mismatch(trained_version, tmp_path):
    version_dir = tmp_path / "version"
    shutil.copytree(trained_version["version_dir"], version_dir)
    embeddings = load_embeddings(version_dir)
    shutil.rmtree(version_dir / "keras")
    write_keras_models(embeddings.vectors + np.float32(0.5), embeddings.index_to_word, version_dir / "keras")
    operator = ops.WriteSimilarityReportOperator(
        task_id="write_similarity_report", version_dir=str(version_dir), version="v", corpus_path="c",
        corpus_stats={}, probe_words=[], top_k=3, parity_pairs=20, seed=0)
    with pytest.raises(AirflowFailException, match="Keras and gensim cosines differ"):
        ops.PipelineStepOperator.execute(operator, _context(params={"epochs": 1}))
    assert not (version_dir / "report" / "report.json").exists()
