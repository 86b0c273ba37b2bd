"""The DAG with phrases on (dag.test()): the version's vocabulary holds the phrases, its report
lists them, its manifest checksums phrases.json; a bad combination of Params fails at ingest."""

import json

import pytest

from tests.conftest import PROJECT_ROOT, champion
from tests.e2e.test_dag_run import SMALL, _expect_fast_failure, _task_states
from tests.unit.test_phrases import phrase_lines

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(PROJECT_ROOT / "dags")).dags["word2vec_embeddings"]


def test_a_run_with_phrases_publishes_them_in_vocab_report_and_manifest(dag, data_root):
    from airflow.utils.state import DagRunState

    corpus = data_root / "phrased"
    corpus.mkdir()
    (corpus / "a.txt").write_text("\n".join(phrase_lines()) + "\n", encoding="utf-8")
    conf = {
        "corpus_path": "phrased",
        **SMALL,
        "phrases": 2,
        "phrases_min_count": 3,
        "phrases_threshold": 0.5,
        "phrases_scoring": "npmi",
    }
    dag_run = dag.test(run_conf=conf, logical_date=None)
    states = _task_states(dag_run)
    assert dag_run.state == DagRunState.SUCCESS, states
    assert states["detect_phrases"][0] == "success"

    version_dir = data_root / "models" / champion(data_root)
    vocab = json.loads((version_dir / "vocab.json").read_text())
    assert {"children_of_israel", "new_york_city"} <= set(vocab)
    report = json.loads((version_dir / "report" / "report.json").read_text())
    assert report["params"]["phrases"] == 2
    assert "children_of_israel" in [p["phrase"] for p in report["phrases"]["most_frequent"]]
    assert "children_of_israel" in (version_dir / "report" / "report.html").read_text()
    manifest = json.loads((version_dir / "manifest.json").read_text())
    assert "phrases.json" in manifest["files"]

    again = dag.test(run_conf=conf, logical_date=None)  # same inputs, params and code: nothing to learn
    states = _task_states(again)
    assert again.state == DagRunState.SUCCESS, states
    assert states["detect_phrases"][0] == "skipped" and states["train_word2vec"][0] == "skipped"


def test_negative_zero_without_hierarchical_softmax_fails_at_ingest_naming_the_params(dag, data_root, small_corpus):
    error = _expect_fast_failure(
        dag, data_root, {"corpus_path": str(small_corpus), "negative": 0}, "ingest_text", "negative=0 with hs=0"
    )
    assert "hs to 1" in error
