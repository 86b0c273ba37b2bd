"""Backfills and the quality gate on real Airflow processes (LocalExecutor) and PostgreSQL."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import champion
from tests.corpora import dated_corpus, wordsim_corpus
from tests.integration.checks import run_record, versions_of

pytestmark = pytest.mark.slow
DAG_ID = "word2vec_embeddings"
MODEL = "backfill"
TINY = {"min_count": 1, "epochs": 1, "vector_size": 8, "workers": 1, "window": 2, "model": MODEL}


def _runs(cluster, **params) -> list[dict]:
    return cluster.api("GET", f"/api/v2/dags/{DAG_ID}/dagRuns", params={"limit": 100, **params})["dag_runs"]


def _backfill(cluster, first_day: str, last_day: str, conf: str, *options: str) -> None:
    """``airflow backfill create`` of the DAG from ``first_day`` to ``last_day`` with ``conf``."""
    cluster.cli(
        "backfill",
        "create",
        "--dag-id",
        DAG_ID,
        "--from-date",
        first_day,
        "--to-date",
        last_day,
        *options,
        "--dag-run-conf",
        conf,
        check=True,
    )


def _wait_for_backfill(cluster, count: int, timeout: float = 900) -> list[dict]:
    """Wait until the backfill has ``count`` finished runs and the scheduler has closed it."""
    deadline = time.monotonic() + timeout
    while True:
        runs = [run for run in _runs(cluster) if run["run_type"] == "backfill"]
        backfills = cluster.api("GET", "/api/v2/backfills", params={"dag_id": DAG_ID})["backfills"]
        if (
            len(runs) >= count
            and all(run["state"] in ("success", "failed") for run in runs)
            and backfills
            and all(b["completed_at"] for b in backfills)
        ):
            return runs
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"backfill not done: {[(r['dag_run_id'], r['state']) for r in runs]}\n{cluster.diagnostics()}"
            )
        time.sleep(3)


def test_backfill_of_three_days_then_a_worse_run_through_the_api_is_rejected(local_airflow):
    """One Airflow for two stories of one data root: a 3-day backfill (three partitions, three
    versions, a re-run changing nothing), then a run triggered through the REST API that breaks the
    model's contract (allowed) and is worse: trained, published as rejected, the champion unchanged."""
    cluster, data_root = local_airflow.cluster, local_airflow.data_root
    folder = local_airflow.folder("backfill")
    corpus = dated_corpus(folder / "news", ["2026-11-01", "2026-11-02", "2026-11-03"])
    conf = json.dumps({"corpus_path": str(corpus), **TINY})
    tokens_before = set((data_root / "tokens").iterdir()) if (data_root / "tokens").exists() else set()
    cluster.wait_for_dag(DAG_ID)
    cluster.unpause(DAG_ID)
    _backfill(cluster, "2026-11-01", "2026-11-03", conf)
    runs = _wait_for_backfill(cluster, 3)
    assert sorted(run["state"] for run in runs) == ["success"] * 3, cluster.diagnostics()
    intervals = sorted((run["data_interval_start"][:10], run["data_interval_end"][:10]) for run in runs)
    assert intervals == [("2026-11-01", "2026-11-02"), ("2026-11-02", "2026-11-03"), ("2026-11-03", "2026-11-04")]

    [tokens] = set((data_root / "tokens").iterdir()) - tokens_before  # this corpus's partitions
    assert sorted(p.name for p in tokens.iterdir()) == ["dt=2026-11-01", "dt=2026-11-02", "dt=2026-11-03"]
    versions = versions_of(data_root, MODEL)
    assert [v[:16] for v in versions] == ["20261102T000000Z", "20261103T000000Z", "20261104T000000Z"]
    assert champion(data_root, MODEL) == versions[-1]

    # re-running one interval changes nothing else: no new version, other partitions untouched
    before = {p.name: p.stat().st_mtime_ns for p in tokens.iterdir()}
    _backfill(cluster, "2026-11-02", "2026-11-02", conf, "--reprocess-behavior", "completed")
    _wait_for_backfill(cluster, 3)
    # the re-run is the same DAG run (same run id, same record), now ending "unchanged"
    by_day = {r["data_interval_start"][:10]: r["dag_run_id"] for r in _runs(cluster) if r["run_type"] == "backfill"}
    outcomes = {run_id: run_record(data_root, run_id)["outcome"] for run_id in by_day.values()}
    assert outcomes[by_day["2026-11-02"]] == "unchanged", outcomes
    assert outcomes[by_day["2026-11-03"]] == "promoted", outcomes  # the newest interval holds the champion
    # backfill runs may finish in any order: the oldest, finishing after a newer one, is gated against
    # that newer champion (rejected when its tiny model scores worse) and, if it passes, only published
    assert outcomes[by_day["2026-11-01"]] in ("promoted", "published", "rejected"), outcomes
    assert versions_of(data_root, MODEL) == versions
    after = {p.name: p.stat().st_mtime_ns for p in tokens.iterdir()}
    assert after["dt=2026-11-01"] == before["dt=2026-11-01"] and after["dt=2026-11-03"] == before["dt=2026-11-03"]
    assert champion(data_root, MODEL) == versions[-1]

    # the gate, on a run triggered through the API: another vector_size breaks the model's
    # contract; allowed, so it is trained and published, and rejected (only a promote could take it)
    promoted = champion(data_root, MODEL)
    corpus = wordsim_corpus(folder / "wordsim" / "corpus.txt")
    worse = {"corpus_path": str(corpus), **TINY, "vector_size": 2, "window": 1, "allow_contract_change": True}
    second = cluster.trigger(DAG_ID, worse)
    outcome = cluster.wait_for_run(DAG_ID, second, timeout=900)
    assert outcome.state == "success" and outcome.task_states["promote"] == "skipped", outcome.task_states
    assert champion(data_root, MODEL) == promoted
    [rejected] = [v for v in versions_of(data_root, MODEL) if v not in versions]
    manifest = json.loads((data_root / "models" / rejected / "manifest.json").read_text())
    assert manifest["gate"]["decision"] == "rejected" and manifest["run_id"] == second


# Celery scale-out (mapped tokenize tasks shared by two workers) is tested with workers that share no
# disk, on an S3 data root: tests/integration/test_fault_celery_worker.py.
