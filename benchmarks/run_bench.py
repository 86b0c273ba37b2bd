"""Benchmark: each step of the pipeline against the plain 2016 recipe (benchmarks/recipe.py),
on the same generated corpus and params, in the same run, on this machine.

Usage: run_bench.py [--tokens N] [--vocab V] [--workers W] [--workdir DIR] [--no-dag] [--memory-mb MB]
Prints a table: step, recipe seconds, ours, ratio (recipe / ours), tokens/s, peak RSS; then the
whole DAG (`make run`) against the recipe script, a re-run against the first run, and optionally the
peak RSS of tokenizing a corpus of MB megabytes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RECIPE = HERE / "recipe.py"
sys.path.insert(0, str(ROOT))

from benchmarks.recipe import RECIPE_PARAMS  # noqa: E402  (the recipe's params, given to the DAG as conf)


def run_child(args: list[str]) -> tuple[str, float, float]:
    """Run a child process; return (stdout, wall seconds, the peak RSS in MiB of it and its own children).

    The peak comes from ``wait4`` for this child alone. Linux keeps a process's peak RSS across
    ``exec``, so this process stays small (the corpora are generated in children too): a child
    forked from a big parent would otherwise report the parent's size as its own.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(args, stdout=out, stderr=err, cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": "0"})
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode(errors="replace")
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({child.returncode}):\n{stderr[-3000:]}")
    return stdout, wall, usage.ru_maxrss / 1024


def write_corpus_in_child(folder: Path, tokens: int, vocab: int, files: int = 8) -> dict:
    """Generate a corpus (benchmarks/corpus.py) in a child process; returns its facts."""
    out, _, _ = run_child([sys.executable, str(HERE / "corpus.py"), str(folder), str(tokens), str(vocab), str(files)])
    return json.loads(out.strip().splitlines()[-1])


def recipe_stages(output: str) -> dict[str, float]:
    """The recipe prints ``stage seconds`` lines; key them by the stage name before any ``_``-suffix."""
    stages = {}
    for line in output.splitlines():
        name, _, value = line.rpartition(" ")
        try:
            stages[name.split("_tokens=")[0].split("_vocab=")[0]] = float(value)
        except ValueError:
            continue
    return stages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=1_000_000)
    parser.add_argument("--vocab", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--dag",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time `make run` on the same corpus, twice (the second reuses everything)",
    )
    parser.add_argument(
        "--memory-mb",
        type=int,
        default=0,
        help="also tokenize a generated corpus of this many MB and report the peak RSS",
    )
    args = parser.parse_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="w2v-bench-"))
    facts = write_corpus_in_child(work / "corpus", args.tokens, args.vocab)
    print(
        f"corpus: {facts['tokens']:,} tokens, Zipf vocabulary of {facts['vocab']:,}, {facts['files']} files, "
        f"{facts['bytes'] / 1e6:.1f} MB; {args.workers} workers; {work}",
        flush=True,
    )

    out_recipe, recipe_wall, recipe_rss = run_child(
        [sys.executable, str(RECIPE), str(work / "corpus"), str(work / "recipe"), str(args.workers)]
    )
    recipe = recipe_stages(out_recipe)
    ours = {}
    for step in ("tokenize", "train", "neighbours"):
        out, wall, peak = run_child([sys.executable, str(HERE / "steps.py"), step, str(work), str(args.workers)])
        ours[step] = {**json.loads(out.strip().splitlines()[-1]), "wall": wall, "child_peak": peak}

    recipe_tokens = int(re.search(r"tokenize_pass_tokens=(\d+)", out_recipe).group(1))
    if recipe_tokens != ours["tokenize"]["tokens"]:
        raise SystemExit(f"token counts differ: recipe {recipe_tokens:,}, ours {ours['tokenize']['tokens']:,}")
    rows = [
        ("tokenize to Parquet", recipe.get("tokenize_pass"), ours["tokenize"]["seconds"], ours["tokenize"]),
        ("train (5 epochs)", recipe.get("train"), ours["train"]["seconds"], ours["train"]),
        (
            "all-vocabulary neighbours",
            recipe.get("report_most_similar"),
            ours["neighbours"]["seconds"],
            ours["neighbours"],
        ),
    ]
    print(f"\n{'step':28} {'recipe s':>9} {'ours s':>8} {'ratio':>6} {'tokens/s (ours)':>16} {'peak RSS MiB':>13}")
    for name, theirs, mine, detail in rows:
        ratio = theirs / mine if theirs and mine else float("nan")
        rate = facts["tokens"] / mine if name.startswith("tokenize") else float("nan")
        print(
            f"{name:28} {theirs or float('nan'):9.2f} {mine:8.2f} {ratio:6.2f} {rate:16,.0f} "
            f"{detail['peak_rss_mib']:13.0f}"
        )
    total_ours = sum(o["wall"] for o in ours.values())
    print(
        f"{'recipe script (wall) / our steps (wall)':40} {recipe_wall:7.2f} {total_ours:8.2f} "
        f"{recipe_wall / total_ours:6.2f}   recipe peak RSS {recipe_rss:.0f} MiB"
    )
    if args.dag:
        first, again = time_make_run(work, args.workers)
        print(
            f"{'whole DAG: recipe script / make run':40} {recipe_wall:7.2f} {first:8.2f} {recipe_wall / first:6.2f}"
            f"   make run = {first / recipe_wall:.2f}x the recipe's wall time"
        )
        print(
            f"{'re-run, same inputs: make run again':40} {first:7.2f} {again:8.2f} {first / again:6.2f}"
            f"   the re-run takes {again / first:.0%} of the first"
        )
    if args.memory_mb:
        peak, size, seconds = tokenize_memory(work, args.memory_mb, args.workers)
        print(
            f"tokenize a {size / 1e9:.2f} GB corpus: {seconds:.1f} s, peak RSS {peak:.0f} MiB "
            f"(largest of the step's processes)"
        )
    return 0


def time_make_run(work: Path, workers: int) -> tuple[float, float]:
    """Wall seconds of ``make run`` on the bench corpus with the recipe's params, then of the same
    run again (nothing changed: it reuses the tokens and skips training). Airflow's metadata
    database is set up first, untimed, in its own AIRFLOW_HOME."""
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(work / "airflow"),
        "EMBEDDINGS_DATA_DIR": str(work / "data"),
        "EMBEDDINGS_CORPUS_ROOTS": str(work / "corpus"),
    }
    subprocess.run(["make", "-s", "airflow-db"], cwd=ROOT, env=env, check=True, capture_output=True)
    conf = json.dumps(
        {
            "corpus_path": str(work / "corpus"),
            "workers": workers,
            "tokenize_shards": workers,
            **dict(RECIPE_PARAMS.items()),
        }
    )
    walls = []
    for attempt in ("first", "again"):
        started = time.perf_counter()
        result = subprocess.run(
            ["make", "-s", "run", f"CONF={conf}"], cwd=ROOT, env=env, capture_output=True, text=True
        )
        walls.append(time.perf_counter() - started)
        (work / f"make-run-{attempt}.log").write_text(result.stdout + result.stderr)
        if result.returncode != 0:
            raise SystemExit(f"make run ({attempt}) failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return walls[0], walls[1]


def tokenize_memory(work: Path, megabytes: int, workers: int) -> tuple[float, int, float]:
    """Tokenize a generated corpus of about ``megabytes`` MB; return (peak RSS MiB of the step, bytes, seconds)."""
    big = work / "memory"
    facts = write_corpus_in_child(big / "corpus", int(megabytes * 1e6 / 9.1), 100_000, files=16)
    out, wall, _ = run_child([sys.executable, str(HERE / "steps.py"), "tokenize", str(big), str(workers)])
    return json.loads(out.strip().splitlines()[-1])["peak_rss_mib"], facts["bytes"], wall


if __name__ == "__main__":
    sys.exit(main())
