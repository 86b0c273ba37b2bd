"""Faults with real processes: two runs of the same data interval at once, on one data root.

One Airflow never runs the same interval twice at once: a second run of a logical date is refused,
and a second manual run waits, since the DAG allows one active run (the first test checks both on
a real scheduler, the integration tests' shared Airflow). But two deployments, or
``airflow dags test`` beside a running Airflow, can share a data root. Here two
``airflow dags test word2vec_embeddings 2026-11-02`` processes, each with its own metadata DB,
start at the same moment: both tokenize the day into the same partition ``dt=2026-11-01`` (one in
one shard, the other in three, so a partition mixed from both would show), both train the same
version and race to publish it and to move default@champion.

Both must end cleanly: one publishes and promotes the version, the other finds it published and
ends ``unchanged``. The partition is one run's whole output, the one version folder is whole,
default@champion names it, and training saw exactly the rows of a whole partition.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from include.storage.publish import file_sha256
from tests.conftest import PROJECT_ROOT, champion, migrated_airflow_home, synthetic_sentences
from tests.integration.checks import assert_version_whole, run_record

pytestmark = pytest.mark.slow
DAG_ID = "word2vec_embeddings"
LOGICAL_DATE = "2026-11-02"  # the daily interval [2026-11-01, 2026-11-02): partition dt=2026-11-01
PARAMS = {"epochs": 10, "min_count": 1, "vector_size": 16, "workers": 1, "window": 3}


def _corpus(root: Path) -> list[Path]:
    rng = random.Random(3)
    vocabulary = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9))) for _ in range(2000)
    ]
    day = root / "2026-11-01"
    day.mkdir(parents=True)
    paths = []
    for number in range(4):
        path = day / f"news-{number}.txt"
        path.write_text(
            "\n".join(" ".join(rng.choices(vocabulary, k=rng.randint(1, 20))) for _ in range(20_000)) + "\n",
            encoding="utf-8",
        )
        paths.append(path)
    (root / "2026-11-02").mkdir()  # the next day: outside the interval, never read
    (root / "2026-11-02" / "later.txt").write_text("words of another day\n", encoding="utf-8")
    return paths


def _airflow_env(home: Path, data_root: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "PYTHONPATH": str(PROJECT_ROOT),
            "EMBEDDINGS_DATA_DIR": str(data_root),
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "KERAS_BACKEND": "tensorflow",
        }
    )
    return env


def _utc(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def test_one_airflow_refuses_a_second_run_of_an_interval_and_queues_a_second_manual_run(local_airflow):
    cluster, data_root = local_airflow.cluster, local_airflow.data_root
    corpus = local_airflow.folder("one-run-at-once") / "corpus.txt"
    corpus.write_text("\n".join(synthetic_sentences(count=3000)) + "\n", encoding="utf-8")
    conf = {
        "corpus_path": str(corpus),
        "min_count": 1,
        "epochs": 1,
        "vector_size": 8,
        "workers": 1,
        "model": "one-run-at-once",
    }
    # a day no other test of the shared Airflow runs (the backfill test takes 2026-11-01..03)
    logical_date = "2026-10-02T00:00:00Z"
    first = cluster.trigger(DAG_ID, conf, logical_date=logical_date)
    again = cluster.request("POST", f"/api/v2/dags/{DAG_ID}/dagRuns", json={"logical_date": logical_date, "conf": conf})
    assert again.status_code == 409, (again.status_code, again.text)
    assert "Unique constraint violation" in again.text, again.text
    second = cluster.trigger(DAG_ID, conf)  # a manual run (no logical date): reads the same snapshot partition
    while cluster.dag_run(DAG_ID, first)["state"] in ("queued", "running"):
        assert cluster.dag_run(DAG_ID, second)["state"] == "queued", "two runs of the DAG at once"
        time.sleep(1)
    outcomes = [cluster.wait_for_run(DAG_ID, run_id, timeout=600) for run_id in (first, second)]
    assert [outcome.state for outcome in outcomes] == ["success", "success"], [o.report for o in outcomes]
    runs = [cluster.dag_run(DAG_ID, run_id) for run_id in (first, second)]
    assert _utc(runs[1]["start_date"]) >= _utc(runs[0]["end_date"]), runs
    assert run_record(data_root, first)["outcome"] == "promoted"
    assert run_record(data_root, second)["outcome"] == "unchanged", run_record(data_root, second)  # same inputs
    assert champion(data_root, "one-run-at-once") == run_record(data_root, first)["version"]


def test_two_runs_of_the_same_interval_at_once_publish_one_whole_version(tmp_path):
    from include.text.tokens import iter_token_rows

    data_root = tmp_path / "data"
    paths = _corpus(data_root / "news")
    airflow = str(Path(sys.executable).parent / "airflow")
    envs = [_airflow_env(migrated_airflow_home(tmp_path / f"airflow-{name}"), data_root) for name in ("a", "b")]

    confs = [{"corpus_path": str(data_root / "news"), "tokenize_shards": shards, **PARAMS} for shards in (1, 3)]
    started = time.monotonic()
    runs = [
        subprocess.Popen(
            [airflow, "dags", "test", DAG_ID, LOGICAL_DATE, "-c", json.dumps(conf)],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for env, conf in zip(envs, confs)
    ]
    outputs = [process.communicate(timeout=900)[0] for process in runs]
    seconds = time.monotonic() - started
    for process, output in zip(runs, outputs):
        assert process.returncode == 0 and "state=success" in output, output[-5000:]

    records = [json.loads(path.read_text()) for path in (data_root / "runs").glob("*.json")]
    assert sorted(record["outcome"] for record in records) == ["promoted", "unchanged"], records
    unchanged = next(record for record in records if record["outcome"] == "unchanged")
    assert "nothing new to publish" in unchanged["reason"]

    # one version, whole, named by default@champion, moved once
    models = data_root / "models"
    [version] = [p.name for p in models.iterdir() if p.is_dir()]
    assert not [p.name for p in models.iterdir() if p.name != version], "no half-written folder"
    assert champion(data_root) == version
    assert len(list((data_root / "registry" / "default" / "history").glob("*.json"))) == 1
    assert {record["version"] for record in records} == {version}
    manifest = assert_version_whole(models / version)

    # the partition: one run's whole output, exactly the rows of the day's files
    import pyarrow.parquet as pq

    [partition] = list((data_root / "tokens").glob("*/dt=*"))
    assert partition.name == "dt=2026-11-01" and not list(partition.glob(".*"))
    summary = json.loads((partition / "_SUCCESS.json").read_text())
    # each run wrote part files of its own; the summary names one run's whole set, which training read
    named = summary["parts"]
    assert len(named) in (1, 3) and len({name.rsplit("-", 1)[0] for name in named}) == 1, named
    assert {p.name for p in partition.glob("*.parquet")} >= set(named)
    table = pq.read_table([partition / name for name in named])
    committed = Counter(
        zip(table.column("source").to_pylist(), table.column("line").to_pylist(), table.column("chunk").to_pylist())
    )
    expected = Counter((str(path), line, chunk) for path in paths for line, chunk, _ in iter_token_rows(path))
    assert committed == expected, "rows missing or twice"
    assert summary["rows"] == table.num_rows and summary["files"] == len(paths)
    assert sorted(summary["sources"]) == sorted(file_sha256(path) for path in paths)
    assert manifest["training"]["sentences"] == table.num_rows, "training read one whole partition"
    assert list(manifest["partitions"]) == ["dt=2026-11-01"]

    staging = data_root / "staging"
    assert not staging.exists() or not list(staging.iterdir()), "no run leaves its scratch behind"
    print(f"two runs at once took {seconds:.0f}s")
