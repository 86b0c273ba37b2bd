"""`make bench` at 1M tokens: it runs the recipe and every step of ours and prints the table
(timings are not asserted here: the README quotes a full-size run)."""

import re
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow


def test_bench_runs_and_prints_the_table(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "benchmarks/run_bench.py",
            "--tokens",
            "1000000",
            "--vocab",
            "5000",
            "--workdir",
            str(tmp_path),
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for step in ("tokenize to Parquet", "train (5 epochs)", "all-vocabulary neighbours"):
        line = next(line for line in result.stdout.splitlines() if line.startswith(step))
        numbers = re.findall(r"\d+\.\d+", line)
        assert len(numbers) >= 3 and all(float(n) > 0 for n in numbers[:2]), line
    assert re.search(r"^whole DAG: recipe script / make run .* make run = [\d.]+x", result.stdout, re.M)
    assert re.search(r"^re-run, same inputs: make run again .* the re-run takes \d+%", result.stdout, re.M)
    again = (tmp_path / "make-run-again.log").read_text()
    assert "succeeded: unchanged" in again, again[-2000:]
    assert list(tmp_path.glob("tokens/*/snapshot/part-bench-00000.parquet"))
    assert (tmp_path / "model" / "neighbours.parquet").is_file()
    assert (tmp_path / "recipe" / "embeddings.npy").is_file()
