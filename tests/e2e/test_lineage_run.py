"""OpenLineage from a real run: ``make run`` with Airflow's OpenLineage provider and its file
transport (``AIRFLOW__OPENLINEAGE__TRANSPORT``), on a local data root and on an S3 one (a real
moto_server). The events the provider wrote are read back as a lineage backend reads them, and the
graph it would draw is asserted: corpus -> token partition -> model version -> exports, Keras,
neighbour table, report -> manifest -> the model's champion alias, with the facets (token schema,
content hash, data time, row counts, the gate's decision). ``make run`` must also exit on its own
with lineage on, soon after the run ends (the provider's process pool once kept it waiting forever)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest

from include.storage.paths import bundled_corpus_path
from tests.conftest import PROJECT_ROOT, migrated_airflow_home

pytestmark = pytest.mark.slow
DAG_ID = "word2vec_embeddings"
CONF = '{"corpus_path": "bundled:lee", "epochs": 15, "vector_size": 20}'
#: The whole make run must end within this.
RUN_BOUND_SECONDS = 600
#: And its process must exit within this of printing the outcome (it never did before the fix).
EXIT_BOUND_SECONDS = 30


def lineage_env(events: Path) -> dict[str, str]:
    """What a user sets to send lineage to a file (its folder must exist: the transport creates
    none): the provider's transport and the job namespace."""
    events.parent.mkdir(parents=True, exist_ok=True)
    transport = {"type": "file", "log_file_path": str(events), "append": True}
    return {"AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(transport), "AIRFLOW__OPENLINEAGE__NAMESPACE": "word2vec"}


def make_run(tmp_path: Path, env_extra: dict[str, str], conf: str = CONF) -> tuple[int, str, str, float, float]:
    """``make -s run CONF=...`` in a session of its own; returns its exit code, output, the seconds
    the whole run took and the seconds from the outcome line (``Run ... succeeded``) to its exit.
    A run still going after :data:`RUN_BOUND_SECONDS` is killed, with its process group, and fails the test."""
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(migrated_airflow_home(tmp_path / "airflow-home")),
        "PYTHONUNBUFFERED": "1",
        **env_extra,
    }
    for key in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "PYTHONPATH", "EMBEDDINGS_CORPUS_ROOTS"):
        env.pop(key, None)  # as in a user's shell: the Makefile sets what it needs
    started = time.monotonic()
    process = subprocess.Popen(
        ["make", "-s", "run", f"CONF={conf}"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    outcome_at: list[float] = []

    def read_stdout() -> None:
        for line in process.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if line.startswith("Run ") and " succeeded: " in line:
                outcome_at.append(time.monotonic())

    reader = threading.Thread(target=read_stdout, daemon=True)
    reader.start()
    stderr_lines: list[str] = []
    err_reader = threading.Thread(target=lambda: stderr_lines.extend(process.stderr), daemon=True)  # type: ignore[arg-type]
    err_reader.start()
    while process.poll() is None:
        now = time.monotonic()
        hung = bool(outcome_at) and now - outcome_at[0] > EXIT_BOUND_SECONDS
        if hung or now - started > RUN_BOUND_SECONDS:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            bound = f"{EXIT_BOUND_SECONDS} s of printing its outcome" if hung else f"{RUN_BOUND_SECONDS} s"
            pytest.fail(
                f"make run with lineage on did not exit within {bound}:\n"
                f"{''.join(lines)[-2000:]}{''.join(stderr_lines)[-3000:]}"
            )
        time.sleep(0.1)
    code = process.returncode
    ended = time.monotonic()
    reader.join(timeout=10)
    err_reader.join(timeout=10)
    lag = ended - outcome_at[0] if outcome_at else float("nan")
    return code, "".join(lines), "".join(stderr_lines), ended - started, lag


def read_events(path: Path) -> list[dict]:
    assert path.is_file(), f"the file transport wrote no {path}"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def completed(events: list[dict]) -> dict[str, list[dict]]:
    """COMPLETE events of the DAG's tasks, by task id (the job is ``<dag_id>.<task_id>``)."""
    by_task: dict[str, list[dict]] = defaultdict(list)
    for event in events:
        job = event["job"]["name"]
        if event["eventType"] == "COMPLETE" and job.startswith(DAG_ID + "."):
            by_task[job.removeprefix(DAG_ID + ".")].append(event)
    return by_task


def ids(datasets: list[dict]) -> set[tuple[str, str]]:
    return {(d["namespace"], d["name"]) for d in datasets}


def reachable(events: list[dict], start: tuple[str, str]) -> set[tuple[str, str]]:
    """Every dataset a backend's graph reaches from ``start``: dataset -> job that read it -> what
    that job wrote, over all COMPLETE events."""
    edges: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    for event in events:
        if event["eventType"] == "COMPLETE":
            for source in ids(event.get("inputs") or []):
                edges[source] |= ids(event.get("outputs") or [])
    seen, todo = {start}, [start]
    while todo:
        for target in edges[todo.pop()] - seen:
            seen.add(target)
            todo.append(target)
    return seen


def check_graph(events: list[dict], namespace: str, root: str, corpus: tuple[str, str]) -> str:
    """The lineage graph of one promoted run whose data root is ``root`` (a dataset name prefix in
    ``namespace``); returns the version it built."""
    tasks = completed(events)
    expected = {
        "ingest_text",
        "tokenize_to_parquet",
        "commit_tokens",
        "train_word2vec",
        "export_embeddings",
        "build_keras_model",
        "build_neighbour_table",
        "evaluate_embeddings",
        "write_similarity_report",
        "publish",
        "promote",
    }
    assert expected <= set(tasks), sorted(tasks)
    [ingest] = tasks["ingest_text"]
    assert corpus in ids(ingest["inputs"])
    stats = ingest["inputs"][0]["inputFacets"]["inputStatistics"]
    assert stats["rowCount"] > 0 and stats["fileCount"] == 1

    partitions = set()
    for shard in tasks["tokenize_to_parquet"]:
        assert corpus in ids(shard["inputs"])
        [partition] = shard["outputs"]
        assert partition["namespace"] == namespace and partition["name"].startswith(f"{root}/tokens/")
        assert [f["name"] for f in partition["facets"]["schema"]["fields"]] == ["source", "line", "chunk", "tokens"]
        assert partition["outputFacets"]["outputStatistics"]["rowCount"] > 0
        assert partition["facets"]["word2vec_tokens"]["tokens"] > 0
        partitions.add((partition["namespace"], partition["name"]))
    [commit] = tasks["commit_tokens"]
    assert ids(commit["outputs"]) == partitions

    [train] = tasks["train_word2vec"]
    assert ids(train["inputs"]) == partitions
    [model] = train["outputs"]
    facet = model["facets"]["word2vec_modelVersion"]
    version = facet["version"]
    version_id = (namespace, f"{root}/models/{version}")
    assert (model["namespace"], model["name"]) == version_id
    assert facet["model"] == "default" and facet["vocabSize"] == model["outputFacets"]["outputStatistics"]["rowCount"]
    assert facet["corpusTokens"] > facet["vocabSize"] > 0 and facet["epochs"] == 15 and facet["vectorSize"] == 20
    assert model["facets"]["version"]["datasetVersion"] == facet["contentHash"]

    for task, written in (
        ("export_embeddings", {"exports"}),
        ("build_keras_model", {"keras"}),
        ("build_neighbour_table", {"neighbours.parquet", "vector_index.faiss"}),
        ("write_similarity_report", {"report"}),
    ):
        [event] = tasks[task]
        assert version_id in ids(event["inputs"]), task
        assert ids(event["outputs"]) == {(namespace, f"{root}/models/{version}/{name}") for name in written}, task
    [evaluate] = tasks["evaluate_embeddings"]
    assert ids(evaluate["inputs"]) == {version_id} and not evaluate["outputs"]
    [report] = tasks["write_similarity_report"]
    gate = report["run"]["facets"]["word2vec_gate"]
    assert gate["decision"] == "promoted" and gate["version"] == version and gate["reason"]
    manifest_id = (namespace, f"{root}/models/{version}/manifest.json")
    [publish] = tasks["publish"]
    assert ids(publish["inputs"]) == {version_id} and ids(publish["outputs"]) == {manifest_id}
    [promote] = tasks["promote"]
    alias_id = (namespace, f"{root}/registry/default/aliases/champion")
    assert ids(promote["inputs"]) == {manifest_id} and ids(promote["outputs"]) == {alias_id}
    assert promote["outputs"][0]["facets"]["word2vec_alias"]["version"] == version
    assert promote["run"]["facets"]["word2vec_gate"]["decision"] == "promoted"

    graph = reachable(events, corpus)
    assert {version_id, manifest_id, alias_id} | partitions <= graph, "the corpus leads to the champion"
    for written in ("exports", "keras", "neighbours.parquet", "vector_index.faiss", "report"):
        assert (namespace, f"{root}/models/{version}/{written}") in graph
    return version


def test_lineage_of_a_run_on_a_local_root_and_make_run_exits(tmp_path, data_root):
    events = tmp_path / "lineage" / "events.jsonl"
    code, out, err, seconds, lag = make_run(tmp_path, {"EMBEDDINGS_DATA_DIR": str(data_root), **lineage_env(events)})
    assert code == 0 and "succeeded: promoted" in out, out[-2000:] + err[-3000:]
    assert lag < EXIT_BOUND_SECONDS, f"make run exited {lag:.1f} s after printing its outcome"
    namespace = f"file://{socket.gethostname()}"
    corpus = (namespace, os.path.realpath(bundled_corpus_path("lee")))
    version = check_graph(read_events(events), namespace, str(data_root), corpus)
    manifest = json.loads((data_root / "models" / version / "manifest.json").read_text())
    [train] = completed(read_events(events))["train_word2vec"]
    facet = train["outputs"][0]["facets"]["word2vec_modelVersion"]
    assert facet["contentHash"] == manifest["content_hash"] and facet["dataTime"] == manifest["data_time"]
    assert facet["vocabSize"] == manifest["training"]["vocab_size"]
    print(f"make run with lineage on: {seconds:.1f} s, exit {lag:.2f} s after the outcome")

    # a version the gate rejects (a contract change is held for a person): the report says so, and
    # promote, skipped, moves no alias
    worse = '{"corpus_path": "bundled:lee", "epochs": 1, "vector_size": 2, "allow_contract_change": true}'
    code, out, err, _, lag = make_run(tmp_path, {"EMBEDDINGS_DATA_DIR": str(data_root), **lineage_env(events)}, worse)
    assert code == 2 and "succeeded: rejected" in out, out[-2000:] + err[-3000:]  # make turns exit 3 into 2
    assert lag < EXIT_BOUND_SECONDS
    tasks = completed(read_events(events))
    rejected = tasks["write_similarity_report"][-1]["run"]["facets"]["word2vec_gate"]
    assert rejected["decision"] == "rejected" and rejected["version"] != version
    assert tasks["publish"][-1]["run"]["facets"]["word2vec_gate"]["decision"] == "rejected"
    champion = (namespace, f"{data_root}/registry/default/aliases/champion")
    writes = [e for e in read_events(events) if champion in ids(e.get("outputs") or [])]
    assert [e["job"]["name"] for e in writes] == [f"{DAG_ID}.promote"], "only the first run moved the alias"


def test_lineage_of_a_run_on_an_s3_root(tmp_path, s3_bucket):
    events = tmp_path / "lineage" / "events.jsonl"
    env = {
        "EMBEDDINGS_DATA_DIR": f"{s3_bucket}/embeddings",
        "HOME": str(tmp_path / "home"),
        "EMBEDDINGS_LINEAGE_FILE_HOST": "shared-corpora",
        **lineage_env(events),
    }
    code, out, err, _, lag = make_run(tmp_path, env)
    assert code == 0 and "succeeded: promoted" in out, out[-2000:] + err[-3000:]
    assert lag < EXIT_BOUND_SECONDS
    corpus = ("file://shared-corpora", os.path.realpath(bundled_corpus_path("lee")))
    check_graph(read_events(events), s3_bucket, "embeddings", corpus)
