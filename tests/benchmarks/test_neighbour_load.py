"""benchmarks/neighbour_load.py at a small scale: a synthetic version of 20,000 words published
through the project's functions (IVF index: the threshold lowered to 5,000), in-process queries, the
kinds compared, and a real api-server under 4 concurrent HTTP clients. It asserts that everything
runs, answers and has no error, not the timings (docs/performance.md quotes a full-size run)."""

import json
import os
import re
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow


def test_neighbour_load_benchmark_runs_against_a_real_api_server(tmp_path):
    env = {**os.environ, "EMBEDDINGS_INDEX_EXACT_MAX": "5000"}
    env.pop("AIRFLOW_HOME", None)
    result = subprocess.run(
        [
            sys.executable,
            "benchmarks/neighbour_load.py",
            "--words",
            "20000",
            "--dims",
            "32",
            "--queries",
            "300",
            "--exact-queries",
            "5",
            "--kinds",
            "flat,ivf",
            "--clients",
            "4",
            "--seconds",
            "3",
            "--server-workers",
            "2",
            "--workdir",
            str(tmp_path),
            "--json-out",
            str(tmp_path / "result.json"),
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    found = json.loads((tmp_path / "result.json").read_text())
    index = found["published"]["vector_index"]
    assert index["kind"] == "ivf" and index["words"] == 20000 and index["recall_sample"] == 1000
    assert index["recall_at_10"] >= 0.95 and index["build_seconds"] > 0
    assert found["in_process"]["queries"] == 300 and found["in_process"]["p50_ms"] > 0
    assert found["in_process"]["without_index"]["queries"] == 5
    assert [row["kind"] for row in found["kinds"]] == ["flat", "ivf"]
    assert found["kinds"][0]["recall_at_10"] == 1.0
    http = found["http"]
    assert http["errors"] == 0 and http["answers"] > 0 and http["clients"] == 4, http
    index_line = r"^  vector index: ivf, built in [\d.]+ s, \d+ of \d+ lists probed; recall@10 "
    assert re.search(index_line, result.stdout, re.M)
    assert re.search(r"^through the api-server, 4 clients for [\d.]+ s: [\d.]+ answers/s", result.stdout, re.M)
    # the published version is whole: every file, the index too, listed with its size and sha256
    manifest = json.loads(next((tmp_path / "data" / "models").glob("*/manifest.json")).read_text())
    assert {"embeddings.npy", "vocab.json", "neighbours.parquet", "vector_index.faiss"} <= set(manifest["files"])
    assert manifest["files"]["vector_index.faiss"]["bytes"] == index["bytes"]
