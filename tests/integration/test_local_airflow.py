"""Real Airflow processes, as `make airflow` starts them, driven through the REST API.

- LocalExecutor on PostgreSQL (the integration tests' shared Airflow, tests/integration/conftest.py):
  trigger word2vec_embeddings with a conf, wait for success, check the published artifacts
  reflect that conf, and that the API wants a login.
- `scripts/airflow_local.py start` / `stop` on a fresh SQLite home: prints the address and the
  login, refuses a second start, and leaves no process behind.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import champion
from tests.integration.checks import versions_of
from tests.integration.cluster import PROJECT_ROOT, SCRIPT, free_port

pytestmark = pytest.mark.slow

DAG_ID = "word2vec_embeddings"


def write_corpus(folder: Path, lines: int = 300, seed: int = 3) -> Path:
    """A small English-like corpus (a few topics, clear co-occurrences) as two .txt files."""
    rng = random.Random(seed)
    topics = [
        ["king", "queen", "royal", "palace", "crown", "throne"],
        ["river", "water", "boat", "bridge", "fish", "bank"],
        ["computer", "software", "program", "data", "network", "server"],
    ]
    fillers = ["the", "and", "with", "near", "over"]
    sentences = []
    for _ in range(lines):
        topic = rng.choice(topics)
        sentences.append(
            " ".join(
                rng.choice(topic) if rng.random() < 0.7 else rng.choice(fillers) for _ in range(rng.randint(6, 12))
            )
        )
    folder.mkdir(parents=True)
    half = len(sentences) // 2
    (folder / "part-1.txt").write_text("\n".join(sentences[:half]) + "\n", encoding="utf-8")
    (folder / "part-2.txt").write_text("\n".join(sentences[half:]) + "\n", encoding="utf-8")
    return folder


def test_dag_runs_on_local_executor_with_postgres_and_uses_the_conf(local_airflow):
    import numpy as np

    cluster, data_root = local_airflow.cluster, local_airflow.data_root
    corpus = write_corpus(local_airflow.folder("uses-the-conf") / "corpus")
    conf = {
        "corpus_path": str(corpus),
        "epochs": 2,
        "min_count": 1,
        "vector_size": 16,
        "workers": 1,
        "model": "uses-the-conf",
    }

    # The API wants a login: nothing without a token, nothing with a forged one.
    assert cluster.request("GET", "/api/v2/dags", token=False).status_code in (401, 403)
    assert cluster.request("GET", "/api/v2/dags", token="not-a-jwt").status_code in (401, 403)
    assert cluster.request(
        "POST", f"/api/v2/dags/{DAG_ID}/dagRuns", json={"logical_date": None}, token=False
    ).status_code in (401, 403)
    # The start created the training pool.
    assert cluster.api("GET", "/api/v2/pools/word2vec_training")["slots"] == 1

    run_id = cluster.trigger(DAG_ID, conf)
    # Params out of range or of the wrong type are refused by the API itself, naming the Param
    for bad in ({"epochs": 0}, {"vector_size": "big"}):
        response = cluster.request(
            "POST", f"/api/v2/dags/{DAG_ID}/dagRuns", json={"logical_date": None, "conf": {**conf, **bad}}
        )
        assert response.status_code == 400, response.text
        assert next(iter(bad)) in response.text
    outcome = cluster.wait_for_run(DAG_ID, run_id, timeout=900)
    assert outcome.state == "success", outcome.report
    assert outcome.task_states and all(state in ("success", "skipped") for state in outcome.task_states.values())
    # promote's AssetAlias word2vec_champion resolved to the model's Asset: one event for this run
    events = cluster.api("GET", "/api/v2/assets/events", params={"source_run_id": run_id, "limit": 100})
    champion_events = [e for e in events["asset_events"] if e["source_task_id"] == "promote"]
    assert [e["name"] for e in champion_events] == ["word2vec_model.uses-the-conf"], events

    version = champion(data_root, "uses-the-conf")
    assert version and versions_of(data_root, "uses-the-conf") == [version]  # and models/ holds only versions
    version_dir = data_root / "models" / version
    assert champion_events[0]["extra"].get("version") == version, champion_events[0]
    vocab = json.loads((version_dir / "vocab.json").read_text(encoding="utf-8"))
    embeddings = np.load(version_dir / "embeddings.npy", allow_pickle=False)
    assert embeddings.shape == (len(vocab), 16)  # vector_size from the conf
    assert {"king", "queen", "river"} <= set(vocab)
    report = json.loads((version_dir / "report" / "report.json").read_text(encoding="utf-8"))
    assert report["params"]["epochs"] == 2 and report["params"]["min_count"] == 1
    manifest = json.loads((version_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["run_id"] == run_id, "the version was published by the run we triggered"


def _session_members(session_ids: set[int]) -> list[str]:
    """Live processes (``pid cmdline``) whose session is one of ``session_ids``."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if int(stat[3]) in session_ids and stat[0] not in ("Z", "X"):
            members.append(f"{entry} {cmdline}")
    return members


def test_start_and_stop_on_sqlite_print_the_login_and_leave_nothing_behind(tmp_path):
    home = tmp_path / "airflow-home"
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    env.update(
        {
            "AIRFLOW_HOME": str(home),  # no SQL_ALCHEMY_CONN: SQLite in the home, LocalExecutor
            "AIRFLOW_PORT": str(port),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__CORE__PARALLELISM": "2",
            "EMBEDDINGS_DATA_DIR": str(tmp_path / "data"),
        }
    )

    def script(command: str, timeout: float = 400) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, str(SCRIPT), command],
            env=env,
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    pids: dict[str, int] = {}
    started = script("start")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        pids = {path.stem: int(path.read_text()) for path in (home / "run").glob("*.pid")}
        assert set(pids) == {"scheduler", "dag-processor", "triggerer", "api-server"}
        password = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())["admin"]
        assert f"http://localhost:{port}" in started.stdout
        assert re.search(rf"\badmin / {re.escape(password)}\b", started.stdout), started.stdout
        assert (home / "airflow.db").exists()

        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/api/v2/dags", timeout=30).status_code in (401, 403)
        login = httpx.post(f"{base}/auth/token", json={"username": "admin", "password": password}, timeout=30)
        assert login.status_code in (200, 201), login.text
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        assert httpx.get(f"{base}/api/v2/dags", headers=headers, timeout=30).status_code == 200
        assert httpx.get(f"{base}/api/v2/pools/word2vec_training", headers=headers, timeout=30).json()["slots"] == 1
        # the versions page it prints: behind the login, and says there is nothing yet on an empty data root
        assert f"http://localhost:{port}/word2vec/versions" in started.stdout
        assert httpx.get(f"{base}/word2vec/versions", timeout=30).status_code == 303
        versions = httpx.get(f"{base}/word2vec/versions", headers=headers, timeout=30)
        assert versions.status_code == 200 and "No model version has been published yet" in versions.text

        again = script("start")
        assert again.returncode != 0 and "already running" in again.stderr
        status = script("status")
        assert status.returncode == 0 and status.stdout.count("running") >= 4, status.stdout
    finally:
        stopped = script("stop", timeout=180)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert _session_members(set(pids.values())) == []
    assert not list((home / "run").glob("*.pid"))
    assert "not running" in script("status").stdout
