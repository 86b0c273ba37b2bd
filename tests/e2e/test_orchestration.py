"""Intervals, versions and the quality gate through dag.test() on a real (SQLite) metadata DB."""

import importlib.util
import json
from datetime import UTC, datetime

import pytest

from include.storage.paths import safe_name
from tests.conftest import PROJECT_ROOT, champion
from tests.corpora import dated_corpus, wordsim_corpus

pytestmark = pytest.mark.slow
TINY = {"min_count": 1, "epochs": 1, "vector_size": 8, "workers": 1, "window": 2}


@pytest.fixture(scope="module")
def dag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(PROJECT_ROOT / "dags")).dags["word2vec_embeddings"]


def _record(data_root, dag_run):
    return json.loads((data_root / "runs" / f"{safe_name(dag_run.run_id)}.json").read_text())


def _versions(data_root):
    """The version folders: models/ holds nothing else (the aliases live under registry/)."""
    names = sorted(p.name for p in (data_root / "models").iterdir())
    assert all(p.is_dir() for p in (data_root / "models").iterdir()) and "LATEST" not in names, names
    return names


def _champion(data_root):
    named = champion(data_root)
    assert named, "default@champion is set"
    return named


def _run_interval(dag, day_end, conf):
    from airflow.utils.state import DagRunState

    dag_run = dag.test(run_conf=conf, logical_date=datetime.fromisoformat(day_end).replace(tzinfo=UTC))
    assert dag_run.state == DagRunState.SUCCESS
    return dag_run


def test_intervals_ingest_their_own_days_and_the_champion_never_moves_back(dag, data_root):
    corpus = dated_corpus(data_root / "news", ["2026-11-01", "2026-11-02", "2026-11-03"])
    conf = {"corpus_path": str(corpus), **TINY}

    # dag.test infers the daily interval that ends at the logical date: [11-01, 11-02) for 11-02
    first = _run_interval(dag, "2026-11-02", conf)
    tokens = next((data_root / "tokens").iterdir())
    assert sorted(p.name for p in tokens.iterdir()) == ["dt=2026-11-01"]
    assert _record(data_root, first)["outcome"] == "promoted"
    third = _run_interval(dag, "2026-11-04", conf)
    assert sorted(p.name for p in tokens.iterdir()) == ["dt=2026-11-01", "dt=2026-11-03"]
    current = _champion(data_root)
    assert _record(data_root, third)["version"] == current and current.startswith("20261104T000000Z")
    manifest = json.loads((data_root / "models" / current / "manifest.json").read_text())
    assert list(manifest["partitions"]) == ["dt=2026-11-01", "dt=2026-11-03"]  # history_days 0: all days so far
    assert (
        manifest["partitions"]["dt=2026-11-03"]["files"] == 1
        and len(manifest["partitions"]["dt=2026-11-03"]["sources"]) == 1
    )

    # an older interval, as a backfill would run it: its own partition and version, the champion stays
    second = _run_interval(dag, "2026-11-03", conf)
    assert sorted(p.name for p in tokens.iterdir()) == ["dt=2026-11-01", "dt=2026-11-02", "dt=2026-11-03"]
    record = _record(data_root, second)
    assert record["outcome"] == "published" and f"kept default@champion at {current}" in record["reason"]
    assert _champion(data_root) == current
    assert len(_versions(data_root)) == 3

    # re-running an interval: partition replaced with the same content, no new version, nothing else moves
    before = {p.name: p.stat().st_mtime_ns for p in tokens.iterdir()}
    again = _run_interval(dag, "2026-11-03", conf)
    assert _record(data_root, again)["outcome"] == "unchanged", (_record(data_root, again), _versions(data_root))
    assert len(_versions(data_root)) == 3 and _champion(data_root) == current
    after = {p.name: p.stat().st_mtime_ns for p in tokens.iterdir()}
    assert after["dt=2026-11-01"] == before["dt=2026-11-01"] and after["dt=2026-11-03"] == before["dt=2026-11-03"]

    # history_days bounds the window
    windowed = _run_interval(dag, "2026-11-04", {**conf, "history_days": 1})
    version = _record(data_root, windowed)["version"]
    assert list(json.loads((data_root / "models" / version / "manifest.json").read_text())["partitions"]) == [
        "dt=2026-11-03"
    ]


def _run_dag_main():
    spec = importlib.util.spec_from_file_location("run_dag", PROJECT_ROOT / "scripts" / "run_dag.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_a_worse_model_is_published_as_rejected_and_the_champion_stays(dag, data_root, capsys):
    corpus = wordsim_corpus(data_root / "wordsim" / "corpus.txt")
    good = {"corpus_path": str(corpus), "min_count": 1, "epochs": 10, "vector_size": 32, "window": 3, "workers": 1}
    main = _run_dag_main()
    assert main(["--conf", json.dumps(good)]) == 0
    promoted = _champion(data_root)

    # another vector_size breaks the model's contract: allow_contract_change lets it be trained and
    # published (without it the run fails before training), and the gate rejects it
    worse = {**good, "epochs": 1, "vector_size": 2, "window": 1, "allow_contract_change": True}
    assert main(["--conf", json.dumps(worse)]) == 3
    output = capsys.readouterr()
    assert "succeeded: rejected" in output.out
    assert "champion" in output.err and "unchanged" in output.err and "LATEST" not in output.err
    assert _champion(data_root) == promoted
    [rejected] = [name for name in _versions(data_root) if name != promoted]
    manifest = json.loads((data_root / "models" / rejected / "manifest.json").read_text())
    assert manifest["gate"]["decision"] == "rejected" and manifest["gate"]["compared_with"] == promoted
    assert manifest["gate"]["deltas"]["wordsim353"] < -0.05
    assert "wordsim353" in manifest["gate"]["reason"] and f"Reason:        {manifest['gate']['reason']}" in output.out
    report = json.loads((data_root / "models" / rejected / "report" / "report.json").read_text())
    assert report["gate"] == manifest["gate"]
    assert "rejected" in (data_root / "models" / rejected / "report" / "report.html").read_text()
