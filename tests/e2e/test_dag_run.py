"""The DAG end to end with dag.test() on a real (SQLite) Airflow metadata DB, and its bad-input paths."""

import json
import time

import numpy as np
import pytest

from include.storage.paths import safe_name
from tests.conftest import PROJECT_ROOT, champion

pytestmark = pytest.mark.slow
SMALL = {"min_count": 1, "epochs": 2, "vector_size": 16, "workers": 1, "window": 3}


@pytest.fixture(scope="module")
def dag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(PROJECT_ROOT / "dags")).dags["word2vec_embeddings"]


def _task_states(dag_run):
    return {ti.task_id: (ti.state, ti.try_number) for ti in dag_run.get_task_instances()}


def test_full_run_publishes_a_consistent_version(dag, small_corpus, data_root):
    from airflow.utils.state import DagRunState
    from gensim.models import Word2Vec

    from include.artifacts.embeddings import load_embeddings
    from include.artifacts.keras_models import RESERVED_ROWS, load_model
    from include.storage.publish import file_sha256

    conf = {"corpus_path": str(small_corpus), "probe_words": ["king", "<b>bold</b>", "", "zebra"], "top_k": 3, **SMALL}
    dag_run = dag.test(run_conf=conf, logical_date=None)
    assert dag_run.state == DagRunState.SUCCESS, _task_states(dag_run)

    models = data_root / "models"
    version = champion(data_root)
    version_dir = models / version
    assert ":" not in version and "+" not in version
    assert sorted(p.name for p in models.iterdir()) == [version], "models/ holds only version folders"
    registry = data_root / "registry"
    assert [p.name for p in registry.iterdir()] == ["default"]
    assert [p.name for p in (registry / "default" / "aliases").iterdir()] == ["champion"]
    assert len(list((registry / "default" / "history").glob("*.json"))) == 1, "one recorded champion move"
    promoted = dag_run.get_task_instance("promote").xcom_pull(task_ids="promote")
    assert promoted == {"champion": version, "model": "default", "pruned": []}
    assert not (data_root / "staging").exists() or not any((data_root / "staging").iterdir())
    record = json.loads(next((data_root / "runs").glob("*.json")).read_text())
    assert record["outcome"] == "promoted" and record["version"] == version

    manifest = json.loads((version_dir / "manifest.json").read_text())
    assert manifest["version"] == version and manifest["run_id"] == dag_run.run_id
    assert manifest["model"] == "default"
    assert manifest["gate"]["decision"] == "promoted" and list(manifest["partitions"]) == ["snapshot"]
    assert len(manifest["partitions"]["snapshot"]["sources"]) == 4  # the sha256 of each input file
    assert manifest["content_hash"].startswith(version.split("-")[1])
    for name in (
        "word2vec.model",
        "embeddings.npy",
        "vocab.json",
        "keras/embedding.keras",
        "keras/similarity.keras",
        "keras/similarity_words.keras",
        "keras/keras_vocab.json",
        "report/report.json",
        "report/report.html",
    ):
        assert manifest["files"][name]["sha256"] == file_sha256(version_dir / name), name
    assert len(manifest["inputs"]) == 4
    assert manifest["params"]["corpus_path"] == str(small_corpus)

    embeddings = load_embeddings(version_dir)
    model = Word2Vec.load(str(version_dir / "word2vec.model"))
    assert embeddings.index_to_word == model.wv.index_to_key
    assert np.array_equal(embeddings.vectors, model.wv.vectors)
    weights = load_model(version_dir / "keras" / "similarity.keras").get_layer("word_embedding").get_weights()[0]
    assert np.array_equal(weights[RESERVED_ROWS:], embeddings.vectors)

    report = json.loads((version_dir / "report" / "report.json").read_text())
    assert report["version"] == version
    assert report["vocab_size"] == len(embeddings)
    assert report["corpus"]["files"] == 4
    assert report["corpus"]["tokens"] == model.corpus_total_words
    assert report["oov_probe_words"] == ["<b>bold</b>", "", "zebra"]
    assert [w for w, _ in report["neighbours"]["king"]] == [w for w, _ in model.wv.most_similar("king", topn=3)]
    assert report["parity"]["max_abs_diff"] < 1e-5
    html = (version_dir / "report" / "report.html").read_text()
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html

    assert report["gate"]["decision"] == "promoted"
    assert "promoted" in html

    parts = sorted((data_root / "tokens").glob("*/snapshot/part-*.parquet"))
    assert len(parts) == 4, "one shard per file, tokenize_shards defaults to 4"
    mapped = [ti for ti in dag_run.get_task_instances() if ti.task_id == "tokenize_to_parquet"]
    assert sorted(ti.map_index for ti in mapped) == [0, 1, 2, 3]

    # the same inputs, params and code again: nothing new is published, and the run says so
    again = dag.test(run_conf=conf, logical_date=None)
    assert again.state == DagRunState.SUCCESS
    assert sorted(p.name for p in models.iterdir()) == [version] and champion(data_root) == version
    assert len(list((registry / "default" / "history").glob("*.json"))) == 1, "the champion did not move"
    states = _task_states(again)
    assert states["train_word2vec"][0] == "skipped" and states["publish"][0] == "skipped"
    assert states["tokenize_to_parquet"][0] == "skipped", "the partition is reused, not tokenized again"
    assert states["commit_tokens"][0] == "success"
    assert sorted((data_root / "tokens").glob("*/snapshot/part-*.parquet")) == parts
    record = json.loads((data_root / "runs" / f"{safe_name(again.run_id)}.json").read_text())
    assert record["outcome"] == "unchanged" and record["version"] == version


def _expect_fast_failure(dag, data_root, conf, failing_task, message):
    from airflow.utils.state import DagRunState, TaskInstanceState

    started = time.monotonic()
    dag_run = dag.test(run_conf=conf, logical_date=None)
    elapsed = time.monotonic() - started
    assert dag_run.state == DagRunState.FAILED
    states = _task_states(dag_run)
    assert states[failing_task] == (TaskInstanceState.FAILED, 1), states  # failed without a retry
    assert elapsed < 25, f"bad input must fail fast, took {elapsed:.1f}s"
    assert not (data_root / "models").exists() or not any((data_root / "models").iterdir())
    record = json.loads((data_root / "runs" / f"{safe_name(dag_run.run_id)}.json").read_text())
    assert record["outcome"] == "failed"
    [failure] = [f for f in record["failures"] if f["task_id"] == failing_task]
    assert message in failure["error"]
    return failure["error"]


def test_corpus_outside_allowed_roots_is_refused(dag, data_root, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret words here\n")
    error = _expect_fast_failure(
        dag, data_root, {"corpus_path": str(outside)}, "ingest_text", "outside the allowed roots"
    )
    assert str(outside) in error and str(data_root) in error


def test_missing_corpus_is_refused(dag, data_root):
    _expect_fast_failure(dag, data_root, {"corpus_path": "no/such/folder"}, "ingest_text", "does not exist")


def test_empty_directory_is_refused(dag, data_root):
    (data_root / "empty").mkdir()
    _expect_fast_failure(dag, data_root, {"corpus_path": "empty"}, "ingest_text", "holds no .txt")


def test_lines_without_tokens_are_refused(dag, data_root):
    (data_root / "digits").mkdir()
    (data_root / "digits" / "n.txt").write_text("123 456\n7 8 9 ! ?\n")
    _expect_fast_failure(dag, data_root, {"corpus_path": "digits"}, "commit_tokens", "no line yields a token")
    assert not (data_root / "tokens").exists() or not any((data_root / "tokens").rglob("*.parquet"))


def test_min_count_leaving_no_vocabulary_is_refused(dag, data_root, small_corpus):
    _expect_fast_failure(
        dag,
        data_root,
        {"corpus_path": str(small_corpus), "min_count": 100000},
        "train_word2vec",
        "min_count=100000 leaves an empty vocabulary",
    )


def test_unknown_conf_key_is_refused_with_the_known_keys(dag, data_root, small_corpus):
    error = _expect_fast_failure(
        dag,
        data_root,
        {"corpus_path": str(small_corpus), "epoch": 3},
        "ingest_text",
        "unknown DAG run conf key(s) 'epoch'",
    )
    assert "epochs" in error


def test_param_of_wrong_type_is_refused_before_the_run(dag, data_root):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError, match="epochs"):
        dag.test(run_conf={"epochs": "many"}, logical_date=None)
    assert not (data_root / "models").exists()
