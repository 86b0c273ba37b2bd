"""Celery workers that share no disk, one of them SIGKILLed in the middle of a mapped tokenize task.

Two Celery workers, each with its own HOME, TMPDIR and working directory, and the data root in an
S3 server (moto_server on 127.0.0.1): they share only read-only things (the code, the venv, the DAG
folder, the corpus) and the Airflow home. They share the mapped ``tokenize_to_parquet`` tasks. The
test kills the worker running one of them (the worker, its pool process and the task process: a
crashed machine or an OOM-killed container) once that task has tokenized its first file of three.
The task's heartbeat stops; the scheduler fails it after ``[scheduler]
task_instance_heartbeat_timeout`` (300 s by default, 20 s here) and retries it (after at most
``[core] max_task_retry_delay``, 5 s here) on the surviving worker, which reads and writes
everything through the bucket. So the mapped shards ran on both workers. The committed token
partition then holds exactly the rows of a direct tokenization of the corpus: none missing, none
twice; the bucket holds one whole version and default@champion naming it
(``registry/default/aliases/champion``), and nothing was written under the project's local
``data/``, into either worker's working directory or left in the survivor's scratch.

Each corpus file ends with many lines of a lone accented letter: no token (no row, nothing to
train on), but read and tokenized line by line, so the task runs for seconds, not milliseconds.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT
from tests.integration.checks import task_process
from tests.integration.cluster import AirflowCluster
from tests.s3server import assert_one_whole_champion, bucket_objects, s3_env

pytestmark = pytest.mark.slow
DAG_ID = "word2vec_embeddings"
FILES, SHARDS = 6, 2  # three files per shard
FILLER_LINES = 600_000  # "é" lines per file: 2 s or more of tokenizing each, without a token
TINY = {"min_count": 1, "epochs": 1, "vector_size": 8, "workers": 1, "window": 2}


def _write_corpus(folder: Path) -> list[Path]:
    """The corpus files: each is its sentences, then FILLER_LINES lines of a lone "é". The same
    sentences without the filler go to ``<folder>.sentences/`` under the same names (see
    ``_expected_rows``)."""
    folder.mkdir(parents=True)
    sentences_only = folder.parent / f"{folder.name}.sentences"
    sentences_only.mkdir()
    rng = random.Random(21)
    vocabulary = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9))) for _ in range(300)
    ]
    paths = []
    for number in range(FILES):
        lines = [" ".join(rng.choice(vocabulary) for _ in range(rng.randint(1, 15))) for _ in range(3000)]
        text = "\n".join(lines) + "\n"
        path = folder / f"part-{number}.txt.gz"
        path.write_bytes(gzip.compress((text + "é\n" * FILLER_LINES).encode("utf-8"), compresslevel=1))
        (sentences_only / path.name).write_bytes(gzip.compress(text.encode("utf-8"), compresslevel=1))
        paths.append(path)
    return paths


def _expected_rows(paths: list[Path]) -> dict[tuple[str, int, int], list[str]]:
    """The token rows of a direct tokenization of the corpus, ``(source, line, chunk) -> tokens``.
    Tokenized from the copies without the filler (same line numbers: the filler comes last), which
    takes a fraction of the time; a row from a filler line would still show as unexpected."""
    from include.text.tokens import iter_token_rows

    rows = {}
    for path in paths:
        copy = path.parent.parent / f"{path.parent.name}.sentences" / path.name
        rows.update({(str(path), line, chunk): words for line, chunk, words in iter_token_rows(copy)})
    return rows


def _session_of(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[3])
    except (OSError, ValueError, IndexError):
        return None


def _wait_for_mid_shard(cluster, run_id: str, timeout: float = 300) -> tuple[dict, int, str]:
    """A running mapped tokenize instance that has read its first file but not its last: the
    instance, its task process and the Celery worker (service name) running it."""
    logs = cluster.home / "logs" / f"dag_id={DAG_ID}"
    workers = {pid: name for name, pid in cluster.pids().items() if name.startswith("celery-worker")}
    deadline = time.monotonic() + timeout
    instances: list[dict] = []
    while True:
        assert time.monotonic() < deadline, f"no tokenize task caught mid-shard: {cluster.task_states(DAG_ID, run_id)}"
        if not instances:
            instances = [
                ti
                for ti in cluster.task_instances(DAG_ID, run_id)
                if ti["task_id"] == "tokenize_to_parquet" and ti["map_index"] >= 0
            ]
        for ti in instances:
            log = next(
                logs.glob(f"run_id=*/task_id=tokenize_to_parquet/map_index={ti['map_index']}/attempt=1.log"), None
            )
            text = log.read_text(encoding="utf-8", errors="replace") if log else ""
            if f"read file 1/{FILES // SHARDS}" in text and f"read file {FILES // SHARDS}/" not in text:
                pid = task_process(ti["id"])
                if pid and _session_of(pid) in workers:
                    return ti, pid, workers[_session_of(pid)]
        time.sleep(0.05)


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_celery_worker_sharing_no_disk_killed_mid_tokenize_is_retried_on_the_other(tmp_path, s3_endpoint, s3_bucket):
    corpus = tmp_path / "corpus"  # read-only input, as a mounted corpus would be
    paths = _write_corpus(corpus)
    corpus.chmod(0o555)
    local_data_before = _files(PROJECT_ROOT / "data")
    workers = tmp_path / "workers"
    conf = {"corpus_path": str(corpus), "tokenize_shards": SHARDS, **TINY}
    env = {
        **s3_env(s3_endpoint),
        "EMBEDDINGS_DATA_DIR": f"{s3_bucket}/embeddings",
        "EMBEDDINGS_CORPUS_ROOTS": str(corpus),
        "AIRFLOW_CELERY_WORKER_DIRS": str(workers),
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
        # the DAG's retry delay (30 s, exponential with jitter: 30 to 60 s here) capped, to keep it short
        "AIRFLOW__CORE__MAX_TASK_RETRY_DELAY": "5",
    }
    with AirflowCluster(tmp_path, executor="CeleryExecutor", celery_workers=2, env_extra=env) as cluster:
        run_id = cluster.trigger(DAG_ID, conf)
        victim, _task_pid, dead_worker = _wait_for_mid_shard(cluster, run_id)
        cluster.stop_service(dead_worker, signal.SIGKILL)
        assert task_process(victim["id"]) is None, "the task process died with its worker"
        survivor = next(name for name in cluster.pids() if name.startswith("celery-worker") and name != dead_worker)

        outcome = cluster.wait_for_run(DAG_ID, run_id, timeout=600)
        assert outcome.state == "success", outcome.report
        mapped = {
            ti["map_index"]: ti
            for ti in cluster.task_instances(DAG_ID, run_id)
            if ti["task_id"] == "tokenize_to_parquet"
        }
        assert sorted(mapped) == list(range(SHARDS))
        retried = mapped[victim["map_index"]]
        assert retried["state"] == "success" and retried["try_number"] == victim["try_number"] + 1, retried
        first_try = cluster.task_log(DAG_ID, run_id, "tokenize_to_parquet", victim["try_number"], victim["map_index"])
        assert f"read file {FILES // SHARDS}/" not in first_try, "the first try was killed before its last file"
        second_try = cluster.task_log(DAG_ID, run_id, "tokenize_to_parquet", retried["try_number"], victim["map_index"])
        assert f"read file {FILES // SHARDS}/{FILES // SHARDS}" in second_try
        # each worker logs the workloads it executes, with the log path of the task's try
        tries = {
            number: f"task_id=tokenize_to_parquet/map_index={victim['map_index']}/attempt={number}.log"
            for number in (victim["try_number"], retried["try_number"])
        }
        dead_log = cluster.service_log(dead_worker, lines=100_000)
        survivor_log = cluster.service_log(survivor, lines=100_000)
        assert tries[victim["try_number"]] in dead_log and tries[retried["try_number"]] not in dead_log
        assert tries[retried["try_number"]] in survivor_log, "the retry ran on the surviving worker"
        assert not cluster.session_pids(dead_worker), "the killed worker stays dead"

    objects = bucket_objects(s3_endpoint, s3_bucket.removeprefix("s3://"))
    [summary_key] = [key for key in objects if key.startswith("embeddings/tokens/") and key.endswith("/_SUCCESS.json")]
    partition = summary_key.rsplit("/", 1)[0]
    assert partition.endswith("/snapshot"), partition
    in_partition = sorted(key for key in objects if key.startswith(partition + "/"))
    assert not [key for key in in_partition if key.rsplit("/", 1)[1].startswith(".")], "no partial file committed"
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.concat_tables(
        [pq.read_table(io.BytesIO(objects[key])) for key in in_partition if key.endswith(".parquet")]
    )
    keys = list(
        zip(table.column("source").to_pylist(), table.column("line").to_pylist(), table.column("chunk").to_pylist())
    )
    committed = Counter(keys)
    expected = _expected_rows(paths)
    assert not [row for row, count in committed.items() if count > 1], "duplicate rows"
    assert set(committed) == set(expected), (
        f"missing {len(set(expected) - set(committed))}, unexpected {len(set(committed) - set(expected))}"
    )
    assert dict(zip(keys, table.column("tokens").to_pylist())) == expected
    summary = json.loads(objects[summary_key])
    assert summary["rows"] == table.num_rows == len(expected)
    assert summary["tokens"] == sum(len(words) for words in expected.values())

    assert_one_whole_champion(objects)
    assert _files(PROJECT_ROOT / "data") == local_data_before, "nothing written under the local data/"
    # the killed worker's scratch keeps what its SIGKILLed task held; the survivor finished every task it ran
    scratch = [f for f in _files(workers / survivor / "tmp") if f.startswith("w2v-")]
    assert not scratch, f"{survivor} left its task scratch behind: {scratch[:10]}"
    for worker in ("celery-worker-1", "celery-worker-2"):
        assert _files(workers / worker / "cwd") == [], f"{worker} wrote into its working directory"
