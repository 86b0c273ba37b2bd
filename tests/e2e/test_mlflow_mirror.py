"""The MLflow mirror against a real MLflow server (``make mlflow``: SQLite backend, artifacts on
local disk, the full ``mlflow`` of the client's version in ``.mlflow-venv``), with the DAG run by
``dag.test()``:

1. a promoted and a rejected version: MLflow's REST API shows the experiment named after the model,
   both runs with their params, metrics and tags, the report and manifest as artifacts, the
   registered model with two versions and ``champion`` on the promoted one;
2. a person's alias move (``ModelStore.promote``, what the CLI and the UI call) moves MLflow's alias;
3. the server stopped: a third run still succeeds, its ``mirror_to_mlflow`` task within seconds,
   with a warning; the server started again, the next mirror adds the version it missed.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT, champion
from tests.corpora import wordsim_corpus

pytestmark = pytest.mark.slow
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
GOOD = {"min_count": 1, "epochs": 10, "vector_size": 32, "window": 3, "workers": 1}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class MlflowServer:
    """``make mlflow`` on a free port with its state in ``home``, started and stopped by the test."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.home / "server.log", "ab")
        command = ["make", "-s", "mlflow", f"MLFLOW_PORT={self.port}", f"MLFLOW_HOME={self.home}"]
        self.process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 600  # the first start may install .mlflow-venv
        while time.monotonic() < deadline:
            assert self.process.poll() is None, (self.home / "server.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise AssertionError("the MLflow server did not start:\n" + (self.home / "server.log").read_text()[-3000:])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        self.process = None

    def get(self, endpoint: str, **query) -> dict:
        url = f"{self.uri}/api/2.0/mlflow/{endpoint}?{urllib.parse.urlencode(query)}"
        with urllib.request.urlopen(url, timeout=30) as answer:
            return json.loads(answer.read())

    def post(self, endpoint: str, body: dict) -> dict:
        request = urllib.request.Request(
            f"{self.uri}/api/2.0/mlflow/{endpoint}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read())

    def runs(self, experiment_id: str) -> dict[str, dict]:
        """version tag -> run (REST form: info, data.params/metrics/tags as lists of key/value)."""
        found = self.post("runs/search", {"experiment_ids": [experiment_id], "max_results": 100}).get("runs", [])
        return {_kv(run["data"]["tags"])["version"]: run for run in found}

    def model_versions(self, name: str) -> dict[str, dict]:
        """version tag -> registered model version."""
        found = self.get("model-versions/search", filter=f"name='{name}'").get("model_versions", [])
        return {_kv(mv.get("tags", []))["version"]: mv for mv in found}

    def aliases(self, name: str) -> dict[str, str]:
        model = self.get("registered-models/get", name=name)["registered_model"]
        return {entry["alias"]: entry["version"] for entry in model.get("aliases", [])}


def screenshot_run_page(server: MlflowServer, experiment_id: str, run_id: str, path: Path) -> None:
    """The run's page in MLflow's UI, in headless Chromium, once it shows the run's params
    (docs/mlflow.md shows this picture). Skipped where Debian's chromium is not installed."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        return
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--window-size=1400,1500"):
        options.add_argument(flag)
    session = webdriver.Chrome(service=Service(driver), options=options)
    try:
        session.get(f"{server.uri}/#/experiments/{experiment_id}/runs/{run_id}")
        WebDriverWait(session, 60).until(lambda s: "vector_size" in s.find_element(By.TAG_NAME, "body").text)
        for close in session.find_elements(By.CSS_SELECTOR, "button[aria-label='Close']"):  # the assistant panel
            try:
                close.click()
            except Exception:  # a hidden button: the picture is taken all the same
                pass
        time.sleep(1)  # the tables settle
        path.parent.mkdir(exist_ok=True)
        assert session.save_screenshot(str(path))
    finally:
        session.quit()


def _kv(entries: list[dict]) -> dict:
    return {entry["key"]: entry["value"] for entry in entries}


@pytest.fixture
def mlflow_server(tmp_path, monkeypatch):
    home = tmp_path / "mlflow"
    home.mkdir()
    server = MlflowServer(home)
    server.start()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.uri)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def dag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(PROJECT_ROOT / "dags")).dags["word2vec_embeddings"]


def _run(dag, conf: dict):
    from airflow.utils.state import DagRunState

    dag_run = dag.test(run_conf=conf, logical_date=None)
    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert dag_run.state == DagRunState.SUCCESS, states
    assert states["mirror_to_mlflow"] == "success", states
    mirror = dag_run.get_task_instance("mirror_to_mlflow")
    return dag_run, mirror.xcom_pull(task_ids="mirror_to_mlflow"), mirror


def test_runs_versions_and_aliases_are_mirrored_and_mlflow_down_costs_seconds(
    dag, data_root, mlflow_server, monkeypatch, caplog
):
    from include.registry.registry import ModelRegistry
    from include.serving.model_store import ModelStore
    from include.storage.layout import data_store

    corpus = wordsim_corpus(data_root / "wordsim" / "corpus.txt")
    good = {"corpus_path": str(corpus), **GOOD}
    first_run, first, _ = _run(dag, good)
    promoted = champion(data_root)
    assert first["error"] is None and first["added"] == [promoted], first
    # another vector_size breaks the model's contract: with allow_contract_change it is trained,
    # published and held by the gate (rejected)
    second_run, second, _ = _run(
        dag, {**good, "epochs": 1, "vector_size": 2, "window": 1, "allow_contract_change": True}
    )
    assert champion(data_root) == promoted
    [rejected] = second["added"]
    assert rejected != promoted and second["error"] is None, second

    # --- what MLflow's REST API shows -------------------------------------------------------------
    experiment = mlflow_server.get("experiments/get-by-name", experiment_name="default")["experiment"]
    runs = mlflow_server.runs(experiment["experiment_id"])
    assert sorted(runs) == sorted([promoted, rejected])
    for version, dag_run, epochs, decision in (
        (promoted, first_run, "10", "promoted"),
        (rejected, second_run, "1", "rejected"),
    ):
        run = runs[version]
        assert run["info"]["status"] == "FINISHED" and run["info"]["run_name"] == version
        params, metrics, tags = (_kv(run["data"][key]) for key in ("params", "metrics", "tags"))
        manifest = json.loads((data_root / "models" / version / "manifest.json").read_text())
        assert params["epochs"] == epochs and params["epochs_requested"] == epochs
        assert params["vector_size"] == str(manifest["params"]["vector_size"])
        assert params["corpus_path"] == str(corpus) and params["model"] == "default"
        assert tags["version"] == version and tags["dag_id"] == "word2vec_embeddings"
        assert tags["airflow_run_id"] == dag_run.run_id and tags["corpus_id"] == manifest["corpus_id"]
        assert tags["data_time"] == manifest["data_time"] and tags["content_hash"] == manifest["content_hash"]
        assert tags["gate_decision"] == decision
        assert metrics["training.vocab_size"] == manifest["training"]["vocab_size"]
        assert metrics["training.corpus_words"] == manifest["training"]["corpus_words"]
        assert metrics["training.words_per_second"] > 0
        assert metrics["gate.promoted"] == (1.0 if decision == "promoted" else 0.0)
        wordsim = manifest["evaluation"]["wordsim353"]
        assert metrics["evaluation.wordsim353.scored"] == wordsim["scored"]
        assert metrics["evaluation.wordsim353.coverage"] == pytest.approx(wordsim["scored"] / wordsim["total"])
        # each step's seconds, of the run that built the version
        for task_id in ("ingest_text", "train_word2vec", "build_keras_model", "publish", "promote"):
            assert metrics[f"step_seconds.{task_id}"] >= 0, sorted(metrics)
        listed = mlflow_server.get("artifacts/list", run_id=run["info"]["run_id"], path="version")
        assert {f["path"] for f in listed["files"]} >= {
            "version/manifest.json",
            "version/report",
            "version/location.json",
        }
    # the rejected version's gate checks carry their coverage
    rejected_metrics = _kv(runs[rejected]["data"]["metrics"])
    assert "gate.wordsim353" in rejected_metrics and "gate.wordsim353.coverage" in rejected_metrics

    screenshot_run_page(
        mlflow_server, experiment["experiment_id"], runs[promoted]["info"]["run_id"], ARTIFACTS / "mlflow-run.png"
    )

    versions = mlflow_server.model_versions("default")
    assert sorted(versions) == sorted([promoted, rejected])
    assert versions[promoted]["run_id"] == runs[promoted]["info"]["run_id"]
    assert versions[promoted]["source"] == f"runs:/{runs[promoted]['info']['run_id']}/version"
    assert mlflow_server.aliases("default") == {"champion": versions[promoted]["version"]}

    # --- a person's alias move is mirrored at once -------------------------------------------------
    ModelStore(model="default").promote(rejected, alias="staging", reason="try the small one", actor="ana")
    assert mlflow_server.aliases("default") == {
        "champion": versions[promoted]["version"],
        "staging": versions[rejected]["version"],
    }

    # --- MLflow down: the run succeeds, the mirror gives up within seconds with a warning ----------
    mlflow_server.stop()
    caplog.set_level(logging.WARNING)
    started = time.monotonic()
    _, third, mirror_ti = _run(dag, {**good, "seed": 2})
    assert third["error"] and third["added"] == [], third
    assert third["seconds"] < 15 and mirror_ti.duration < 20, (third, mirror_ti.duration)
    assert "MLflow mirror of model 'default'" in caplog.text, caplog.text[-3000:]
    assert time.monotonic() - started < 300
    up, down = (first["seconds"], second["seconds"]), third["seconds"]
    print(f"MIRROR_SECONDS up: {up}; down: {down} (task {mirror_ti.duration})")
    newest = ModelRegistry(data_store()).manifests("default")[-1]["version"]
    assert newest not in (promoted, rejected)

    # --- back up: the next mirror adds what the down one missed -----------------------------------
    mlflow_server.start()
    ModelRegistry(data_store()).mirror_to_mlflow("default")
    assert sorted(mlflow_server.model_versions("default")) == sorted([promoted, rejected, newest])
    assert (
        mlflow_server.aliases("default")["champion"]
        == mlflow_server.model_versions("default")[champion(data_root)]["version"]
    )
