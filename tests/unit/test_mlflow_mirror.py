"""The MLflow mirror's pieces without a server: what a version's run holds, nothing done (and
``mlflow`` not imported) without a tracking URI, and a server that is down, hangs or fails costing
seconds, not MLflow's default retries (the real server: tests/e2e/test_mlflow_mirror.py)."""

from __future__ import annotations

import json
import math
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from include.mlflow_mirror.records import RunFacts, as_param, version_record
from include.mlflow_mirror.sync import mirror_model
from include.storage.layout import data_store
from tests.conftest import PROJECT_ROOT

MANIFEST = {
    "version": "20261205T000000Z-1a2b3c4d",
    "model": "news-en",
    "run_id": "manual__2026-12-05",
    "corpus_id": "lee-1a2b",
    "data_time": "2026-12-05T00:00:00+00:00",
    "content_hash": "1a2b3c4d" * 8,
    "path": "/data/models/20261205T000000Z-1a2b3c4d",
    "params": {"epochs": 10, "epochs_requested": "auto", "probe_words": ["king", "queen"], "sample": 0.001},
    "training": {"vocab_size": 1750, "corpus_words": 58000, "sentences": 300, "train_seconds": 2.0},
    "evaluation": {
        "wordsim353": {"spearman": 0.41, "oov_ratio": 0.4, "scored": 212, "total": 353, "unit": "pairs"},
        "analogies": {"accuracy": None, "oov_ratio": 0.99, "scored": 3, "total": 19544, "unit": "questions"},
    },
    "gate": {
        "decision": "promoted",
        "reason": "first version",
        "deltas": {"wordsim353": -0.01},
        "checks": [
            {"name": "wordsim353", "value": 0.41, "reference": 0.42, "coverage": {"scored": 200, "total": 353}},
            {"name": "degenerate", "value": float("nan"), "reference": None, "coverage": None},
        ],
    },
}


def test_a_version_record_holds_params_metrics_with_coverage_and_tags():
    run = RunFacts(dag_id="word2vec_embeddings", run_id="manual__2026-12-05", step_seconds={"train_word2vec": 3.5})
    record = version_record(MANIFEST, {"neighbour_table": {"recall_at_k": 1.0, "seconds": 0.2}}, run)
    assert record.params["epochs"] == "10" and record.params["epochs_requested"] == "auto"
    assert json.loads(record.params["probe_words"]) == ["king", "queen"]
    metrics = record.metrics
    assert metrics["training.vocab_size"] == 1750 and metrics["training.words_per_second"] == 58000 * 10 / 2.0
    assert metrics["evaluation.wordsim353.spearman"] == 0.41
    assert metrics["evaluation.wordsim353.coverage"] == pytest.approx(212 / 353)
    assert "evaluation.analogies.accuracy" not in metrics, "not computable: left out, never 0"
    assert metrics["evaluation.analogies.scored"] == 3
    assert metrics["gate.wordsim353"] == 0.41 and metrics["gate.wordsim353.reference"] == 0.42
    assert metrics["gate.wordsim353.coverage"] == pytest.approx(200 / 353)
    assert metrics["gate.wordsim353.delta"] == -0.01 and metrics["gate.promoted"] == 1.0
    assert "gate.degenerate" not in metrics and all(math.isfinite(v) for v in metrics.values())
    assert metrics["neighbour_table.recall_at_k"] == 1.0 and metrics["step_seconds.train_word2vec"] == 3.5
    assert record.tags == {
        "version": MANIFEST["version"],
        "model": "news-en",
        "airflow_run_id": "manual__2026-12-05",
        "corpus_id": "lee-1a2b",
        "data_time": MANIFEST["data_time"],
        "content_hash": MANIFEST["content_hash"],
        "gate_decision": "promoted",
        "gate_reason": "first version",
        "path": MANIFEST["path"],
        "dag_id": "word2vec_embeddings",
    }


def test_step_seconds_go_only_to_the_version_the_mirroring_run_built():
    other = RunFacts(dag_id="word2vec_embeddings", run_id="scheduled__later", step_seconds={"publish": 1.0})
    assert not any(key.startswith("step_seconds.") for key in version_record(MANIFEST, None, other).metrics)


def test_long_params_are_cut_to_what_mlflow_holds():
    assert len(as_param("x" * 10_000)) == 6000 and as_param(None) == "null" and as_param(True) == "true"


def test_without_a_tracking_uri_nothing_is_done_and_mlflow_is_not_imported(data_root, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    result = mirror_model(data_store(), "default", [MANIFEST], {"champion": MANIFEST["version"]})
    assert result.skipped and not result.error and not result.runs
    probe = (
        "import sys; from include.registry.registry import ModelRegistry; from include.storage.layout import "
        "data_store; ModelRegistry(data_store()).mirror_to_mlflow('default'); print('mlflow' in sys.modules)"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT_ROOT), "EMBEDDINGS_DATA_DIR": str(data_root)}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_refused_port_is_a_warning_within_a_second(data_root, monkeypatch, caplog):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{_free_port()}")
    started = time.monotonic()
    result = mirror_model(data_store(), "default", [MANIFEST], {})
    assert result.error and "Connection refused" in result.error
    assert time.monotonic() - started < 1
    assert "MLflow mirror of model 'default'" in caplog.text and "source of truth" in caplog.text


def test_a_server_that_never_answers_costs_the_deadline(data_root, monkeypatch):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts connections, never answers
    try:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{listener.getsockname()[1]}")
        monkeypatch.setenv("EMBEDDINGS_MLFLOW_DEADLINE_SECONDS", "2")
        started = time.monotonic()
        result = mirror_model(data_store(), "default", [MANIFEST], {})
        assert result.error and "timed out" in result.error
        assert time.monotonic() - started < 4
    finally:
        listener.close()


class _HealthyButFailing(BaseHTTPRequestHandler):
    """``/health`` answers; every API call is a 503 (MLflow's client retries those)."""

    calls: ClassVar[list[str]] = []

    def do_GET(self):
        self.calls.append(self.path)
        if self.path == "/health":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"OK")
            return
        self.send_response(503)
        self.end_headers()

    do_POST = do_GET

    def log_message(self, *args):
        pass


def test_mlflow_own_retries_are_bounded(data_root, monkeypatch):
    """Past the health probe, a failing API costs MLflow's retries: bounded to one retry after a
    second by the mirror's defaults (MLflow's own: 7 retries, minutes)."""
    for name in (
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR",
        "MLFLOW_HTTP_REQUEST_TIMEOUT",
    ):
        monkeypatch.delenv(name, raising=False)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HealthyButFailing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{server.server_address[1]}")
        started = time.monotonic()
        result = mirror_model(data_store(), "default", [MANIFEST], {})
        elapsed = time.monotonic() - started
    finally:
        server.shutdown()
        server.server_close()
    assert result.error, result
    api_calls = [path for path in _HealthyButFailing.calls if path != "/health"]
    assert 1 <= len(api_calls) <= 2, api_calls  # one try and one retry
    assert elapsed < 10, elapsed


def test_the_step_is_not_configured_without_a_uri_and_returns_the_error_when_mlflow_is_down(data_root, monkeypatch):
    from include.steps.mirror_to_mlflow import NotConfigured, mirror_to_mlflow

    run = RunFacts(dag_id="word2vec_embeddings", run_id="manual__1", step_seconds={})
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert isinstance(mirror_to_mlflow("default", run=run), NotConfigured)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{_free_port()}")
    facts = mirror_to_mlflow("default", run=run)
    assert not isinstance(facts, NotConfigured)
    assert facts["error"] and facts["added"] == [] and facts["model"] == "default"
