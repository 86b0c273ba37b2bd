"""Benchmark: each step of the pipeline against the plain 2016 recipe (benchmarks/recipe.py),
on the same generated corpus and params, in the same run, on this machine.

Usage: run_bench.py [--tokens N] [--vocab V] [--workers W] [--workdir DIR] [--no-dag] [--memory-mb MB]
                    [--repeat N] [--s3] [--integrations PAIRS]
                    [--sweep V1,V2,...] [--sweep-tokens N] [--sweep-corpus T1,T2,...] [--sweep-corpus-vocab V]
                    [--sweep-exact-max N] [--no-compare]
Prints a table: step, recipe seconds, ours, ratio (recipe / ours), tokens/s, peak RSS; the vector
index's build time and recall@10 (``vector index: ...``); gensim's
training alone (the floor); then the whole DAG (`make run`) against the recipe script and as a
multiple of the floor (with ``--repeat N``, the median of N pairs of the floor and a first
``make run`` one after the other), each task's duration in that run (from Airflow's metadata
database), a re-run against the first run, and optionally the peak RSS of tokenizing a corpus of MB megabytes.
``--integrations PAIRS`` times what OpenLineage and MLflow cost installed but not configured.

``--sweep`` adds a vocabulary sweep: for each vocabulary size, a corpus of ``--sweep-tokens`` tokens
in which every word occurs at least ``min_count`` times (benchmarks/corpus.py ``floor``);
``--sweep-corpus`` adds corpus sizes at ``--sweep-corpus-vocab`` words. For each point: every
step's seconds and peak RSS, each in a process of its own (tokenize, train, gensim's training
alone, the neighbour table with its method and recall, the vector index with its kind, build time
and recall@10 on a line of its own, the exports, the Keras models, the evaluation), and
``make run`` (with ``--dag``) with its multiple of gensim alone in time and in peak RSS beside
issue 26's goals and its task durations; then all points as one Markdown table (the cost table).
``--no-compare`` skips the recipe comparison (the sweep alone).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
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
from benchmarks.steps import VERSION_STEPS  # noqa: E402  (the steps after training steps.py runs)


def run_child(args: list[str], env: dict | None = None) -> tuple[str, float, float]:
    """Run a child process; return (stdout, wall seconds, the peak RSS in MiB of it and its own children).

    The peak comes from ``wait4`` for this child alone. Linux keeps a process's peak RSS across
    ``exec``, so this process stays small (the corpora are generated in children too): a child
    forked from a big parent would otherwise report the parent's size as its own.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(
            args, stdout=out, stderr=err, cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": "0", **(env or {})}
        )
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode(errors="replace")
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({child.returncode}):\n{stderr[-3000:]}")
    return stdout, wall, usage.ru_maxrss / 1024


def write_corpus_in_child(folder: Path, tokens: int, vocab: int, files: int = 8, floor: int = 0) -> dict:
    """Generate a corpus (benchmarks/corpus.py) in a child process; returns its facts."""
    out, _, _ = run_child(
        [sys.executable, str(HERE / "corpus.py"), str(folder), str(tokens), str(vocab), str(files), str(floor)]
    )
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
    parser.add_argument("--sweep", default="", help="vocabulary sizes for the sweep, e.g. 10000,100000,1000000")
    parser.add_argument("--sweep-tokens", type=int, default=10_000_000, help="tokens of each --sweep corpus")
    parser.add_argument(
        "--sweep-corpus",
        default="",
        help="corpus sizes in tokens for the sweep, each at --sweep-corpus-vocab words, e.g. 1000000,50000000",
    )
    parser.add_argument("--sweep-corpus-vocab", type=int, default=100_000)
    parser.add_argument(
        "--sweep-exact-max",
        type=int,
        default=None,
        help="EMBEDDINGS_EXACT_NEIGHBOURS_MAX and EMBEDDINGS_INDEX_EXACT_MAX for the sweep "
        "(default: the settings' own defaults)",
    )
    parser.add_argument(
        "--sweep-hnsw",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="above the exact threshold, also time the HNSW table beside the default one (minutes at 1M words)",
    )
    parser.add_argument(
        "--s3",
        action="store_true",
        help="also time `make run` with the data root in an S3 server (moto_server on 127.0.0.1) against "
        "the same run on a local data root",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="pairs of gensim's training alone and a first `make run`, one right after the other; the "
        "median pair's ratio is reported (the machine's speed drifts between minutes)",
    )
    parser.add_argument(
        "--integrations",
        type=int,
        default=0,
        metavar="PAIRS",
        help="PAIRS pairs of a first `make run` with OpenLineage and MLflow installed but not configured "
        "(the default) and one with the OpenLineage provider disabled; prints what being installed costs",
    )
    parser.add_argument(
        "--compare",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the recipe against each step on --tokens/--vocab (--no-compare: the sweep alone)",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat must be at least 1, got {args.repeat}")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="w2v-bench-"))
    if args.compare:
        compare(args, work)
    if args.sweep or args.sweep_corpus:
        sweep(args, work / "sweep")
    return 0


def compare(args: argparse.Namespace, work: Path) -> None:
    """The recipe against each of our steps on one corpus, the floor, and ``make run``."""
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
        ours[step] = run_step(step, work, args.workers)
    index = run_step("index", work, args.workers)
    after = {step: run_step(step, work, args.workers) for step in VERSION_STEPS}
    floor = run_step("floor", work, args.workers)

    recipe_tokens = int(re.search(r"tokenize_pass_tokens=(\d+)", out_recipe).group(1))
    if recipe_tokens != ours["tokenize"]["tokens"]:
        raise SystemExit(f"token counts differ: recipe {recipe_tokens:,}, ours {ours['tokenize']['tokens']:,}")
    rows = [
        ("tokenize to Parquet", recipe.get("tokenize_pass"), ours["tokenize"]["seconds"], ours["tokenize"]),
        ("train (5 epochs)", recipe.get("train"), ours["train"]["seconds"], ours["train"]),
        (
            "neighbour table",
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
    table = ours["neighbours"]
    print(
        f"  neighbour table: the recipe's most_similar of all {table['vocab_size']:,} words; ours "
        f"{table['method']}, {table['words']:,} words (recall@{table['k']} {table['recall_at_k']})"
    )
    print(index_line(index))
    print(
        "  steps after training (ours, seconds / peak RSS MiB): "
        + ", ".join(f"{k} {cell(v)}" for k, v in after.items())
    )
    total_ours = sum(o["wall"] for o in ours.values())
    print(
        f"{'recipe script (wall) / our steps (wall)':40} {recipe_wall:7.2f} {total_ours:8.2f} "
        f"{recipe_wall / total_ours:6.2f}   recipe peak RSS {recipe_rss:.0f} MiB"
    )
    print(
        f"{'gensim training alone (the floor)':40} {floor['seconds']:7.2f} s   Word2Vec(corpus_file=...) on the "
        f"tokenized LineSentence file, {args.workers} workers, peak RSS {floor['peak_rss_mib']:.0f} MiB"
    )
    if args.dag:
        first, again, tasks = time_make_run(work, args.workers)
        print(
            f"{'whole DAG: recipe script / make run':40} {recipe_wall:7.2f} {first:8.2f} {recipe_wall / first:6.2f}"
            f"   make run = {first / recipe_wall:.2f}x the recipe's wall time"
        )
        pairs = [{"floor": floor["seconds"], "make_run": first, "tasks": tasks}]
        pairs += floor_pairs(work, args.workers, args.repeat - 1)
        median = print_floor_pairs(pairs)
        print_task_durations(median["tasks"], median["make_run"])
        print(
            f"{'re-run, same inputs: make run again':40} {first:7.2f} {again:8.2f} {first / again:6.2f}"
            f"   the re-run takes {again / first:.0%} of the first"
        )
    if args.integrations:
        print_integrations_off(integrations_off_pairs(work, args.workers, args.integrations))
    if args.s3:
        local, remote = time_s3_data_root(work, args.workers, first if args.dag else None)
        print(
            f"{'make run, data root local / S3 (moto)':40} {local:7.2f} {remote:8.2f} {remote / local:6.2f}"
            f"   the S3 data root costs {remote / local - 1:+.0%} (moto_server on 127.0.0.1: an in-memory "
            "S3 server on this machine, not the network latency of a real store)"
        )
    if args.memory_mb:
        peak, size, seconds = tokenize_memory(work, args.memory_mb, args.workers)
        print(
            f"tokenize a {size / 1e9:.2f} GB corpus: {seconds:.1f} s, peak RSS {peak:.0f} MiB "
            f"(largest of the step's processes)"
        )


def index_line(index: dict) -> str:
    """The vector index's line: kind, words, build time, recall@10 beside its goal."""
    probes = f", {index['nprobe']} of {index['nlist']} lists probed" if index["kind"] == "ivf" else ""
    return (
        f"  vector index: {index['kind']}, {index['words']:,} words, built in {index['build_seconds']:.2f} s"
        f"{probes}; recall@10 {index['recall_at_10']:.4f} on {index['recall_sample']:,} sampled words "
        f"(goal >= 0.95), peak RSS {index['peak_rss_mib']:.0f} MiB"
    )


def run_step(step: str, work: Path, workers: int, env: dict | None = None) -> dict:
    """Run ``steps.py STEP`` in a child; its JSON facts plus ``wall`` and ``child_peak`` (MiB)."""
    out, wall, peak = run_child([sys.executable, str(HERE / "steps.py"), step, str(work), str(workers)], env)
    return {**json.loads(out.strip().splitlines()[-1]), "wall": wall, "child_peak": peak}


def read_task_durations(airflow_home: Path, run: int = -1) -> list[dict]:
    """Each task's duration in one ``make run`` (``run``: index of the run in the database, -1 the
    last), from the metadata database of ``airflow_home`` (SQLite): ``[{"task_id", "tries",
    "seconds", "start"}]`` in start order; a mapped task's seconds span its first start to its last end."""
    import sqlite3
    from datetime import datetime

    with sqlite3.connect(f"file:{airflow_home / 'airflow.db'}?mode=ro", uri=True) as db:
        runs = [row[0] for row in db.execute("SELECT run_id FROM dag_run ORDER BY id")]
        if not runs:
            return []
        rows = db.execute(
            "SELECT task_id, start_date, end_date FROM task_instance WHERE run_id = ? AND start_date IS NOT NULL",
            (runs[run],),
        ).fetchall()
    tasks: dict[str, dict] = {}
    for task_id, start, end in rows:
        start_at = datetime.fromisoformat(str(start))
        end_at = datetime.fromisoformat(str(end)) if end else start_at
        entry = tasks.setdefault(task_id, {"task_id": task_id, "tries": 0, "start": start_at, "end": end_at})
        entry["tries"] += 1
        entry["start"], entry["end"] = min(entry["start"], start_at), max(entry["end"], end_at)
    ordered = sorted(tasks.values(), key=lambda t: t["start"])
    return [
        {
            "task_id": t["task_id"],
            "tries": t["tries"],
            "seconds": round((t["end"] - t["start"]).total_seconds(), 2),
            "start": t["start"].isoformat(),
        }
        for t in ordered
    ]


def print_task_durations(tasks: list[dict], make_run_seconds: float) -> None:
    """Print each task's seconds in the run, their sum (dag.test() runs them one after another),
    then the fixed part: the run's wall time outside its tasks (Python's and Airflow's start-up,
    parsing and syncing the DAG, the gaps between tasks), which no corpus size changes."""
    print("make run, seconds per task (Airflow's task_instance start/end dates):")
    for task in tasks:
        mapped = f" ({task['tries']} mapped)" if task["tries"] > 1 else ""
        print(f"  {task['task_id']:32} {task['seconds']:8.2f}{mapped}")
    in_tasks = sum(t["seconds"] for t in tasks)
    print(f"  {'sum of tasks':32} {in_tasks:8.2f}")
    print(
        f"make run, fixed part: {make_run_seconds - in_tasks:.2f} s of its {make_run_seconds:.2f} s outside its "
        "tasks (start-up, DAG parsing and syncing, between tasks)"
    )


#: The steps each sweep point times in a process of its own, in order (benchmarks/steps.py), with
#: the name the cost table gives them.
SWEEP_STEPS = {
    "tokenize": "tokenize",
    "train": "train",
    "floor": "gensim alone",
    "neighbours": "neighbours",
    "index": "vector index",
    "export": "export",
    "keras": "keras",
    "evaluate": "evaluate",
}


def sweep_points(args: argparse.Namespace) -> list[tuple[int, int]]:
    """The sweep's (tokens, vocabulary) points: each ``--sweep`` vocabulary at ``--sweep-tokens``,
    then each ``--sweep-corpus`` size at ``--sweep-corpus-vocab`` words, without repeats."""
    points = [(args.sweep_tokens, int(size)) for size in args.sweep.split(",") if size.strip()]
    points += [(int(size), args.sweep_corpus_vocab) for size in args.sweep_corpus.split(",") if size.strip()]
    return list(dict.fromkeys(points))


def cell(step: dict) -> str:
    """One step's ``seconds / peak MiB``."""
    return f"{step['seconds']:.2f} / {step['peak_rss_mib']:,.0f}"


def sweep(args: argparse.Namespace, work: Path) -> list[dict]:
    """The sweep (see the module docstring): each point's steps, each in a process of its own, and
    ``make run`` (with ``--dag``); prints a row per point as it finishes and appends it to
    ``work/sweep.jsonl``, then the cost table in Markdown and each point's ``make run`` against its
    goals; returns the rows."""
    from benchmarks.recipe import RECIPE_PARAMS

    env = {}
    if args.sweep_exact_max is not None:
        env["EMBEDDINGS_EXACT_NEIGHBOURS_MAX"] = str(args.sweep_exact_max)
        env["EMBEDDINGS_INDEX_EXACT_MAX"] = str(args.sweep_exact_max)
    print(
        f"\nsweep: corpora in which every word occurs >= min_count ({RECIPE_PARAMS['min_count']}) times, "
        f"{args.workers} workers; each step in a process of its own, seconds / peak RSS MiB"
        + (f", EMBEDDINGS_EXACT_NEIGHBOURS_MAX={args.sweep_exact_max}" if env else ""),
        flush=True,
    )
    rows = []
    for tokens, size in sweep_points(args):
        point = work / f"t{tokens}-v{size}"
        facts = write_corpus_in_child(point / "corpus", tokens, size, floor=RECIPE_PARAMS["min_count"])
        row: dict = {"vocab_generated": size, "tokens": facts["tokens"], "bytes": facts["bytes"]}
        for step in SWEEP_STEPS:
            row[step] = run_step(step, point, args.workers, env)
        row["vocab"] = row["train"]["vocab_size"]
        table = row["neighbours"]
        line = (
            f"{row['tokens']:>12,} tokens {row['vocab']:>9,} words: "
            + ", ".join(f"{name} {cell(row[step])}" for step, name in SWEEP_STEPS.items())
            + f"; neighbour table {table['method']} (recall {table['recall_at_k']:.4f})"
        )
        if args.sweep_hnsw and table["method"] != "exact":  # the alternative the default was chosen over
            row["neighbours_hnsw"] = run_step(
                "neighbours", point, args.workers, {**env, "EMBEDDINGS_LARGE_VOCAB_NEIGHBOURS": "hnsw"}
            )
            line += f"; hnsw table {cell(row['neighbours_hnsw'])} (recall {row['neighbours_hnsw']['recall_at_k']:.4f})"
        if args.dag:
            wall, peak = make_run(point, args.workers, "first", env)
            row["make_run"] = {
                "seconds": wall,
                "peak_rss_mib": peak,
                "tasks": read_task_durations(point / "airflow"),
                "x_floor": wall / row["floor"]["seconds"],
                "x_floor_peak": peak / row["floor"]["peak_rss_mib"],
            }
            line += f"; make run {wall:.2f} / {peak:,.0f} ({row['make_run']['x_floor']:.2f}x gensim alone)"
        print(line, flush=True)
        print(index_line(row["index"]), flush=True)
        with open(work / "sweep.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")
        rows.append(row)
    print("\ncost table (seconds / peak RSS MiB of each step in a process of its own):\n")
    print(cost_table(rows))
    if args.dag:
        for row in rows:
            run = row["make_run"]
            print(
                f"\n{row['tokens']:,} tokens, {row['vocab']:,} words: make run = {run['x_floor']:.2f}x gensim's "
                f"training alone (goal <= {SWEEP_RATIO_GOAL}x at about 1M words); its peak RSS = "
                f"{run['x_floor_peak']:.2f}x gensim's "
                f"(goal <= {MEMORY_RATIO_GOAL}x at about 1M words)"
            )
            print_task_durations(row["make_run"]["tasks"], row["make_run"]["seconds"])
    return rows


def cost_table(rows: list[dict]) -> str:
    """The sweep's rows as a Markdown table: each step's ``seconds / peak MiB``, and ``make run``'s
    with its multiple of gensim alone where it ran."""
    dag = all("make_run" in row for row in rows)
    head = ["tokens", "words"] + list(SWEEP_STEPS.values()) + (["make run", "x gensim alone"] if dag else [])
    lines = ["| " + " | ".join(head) + " |", "|" + " ---: |" * len(head)]
    for row in rows:
        cells = [f"{row['tokens']:,}", f"{row['vocab']:,}"] + [cell(row[step]) for step in SWEEP_STEPS]
        if dag:
            cells += [cell(row["make_run"]), f"{row['make_run']['x_floor']:.2f}x"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def floor_pairs(work: Path, workers: int, count: int) -> list[dict]:
    """``count`` more pairs of gensim's training alone and, right after it, a first ``make run``
    (on a data root of its own, so it tokenizes and trains again): ``[{"floor", "make_run",
    "tasks"}]``. The machine's speed drifts by several percent within minutes, so each ratio is
    taken between neighbours in time."""
    pairs = []
    for number in range(2, count + 2):
        floor = run_step("floor", work, workers)["seconds"]
        data_root = work / f"data-pair-{number}"
        wall, _ = make_run(work, workers, f"pair-{number}", {"EMBEDDINGS_DATA_DIR": str(data_root)})
        pairs.append({"floor": floor, "make_run": wall, "tasks": read_task_durations(work / "airflow")})
        shutil.rmtree(data_root, ignore_errors=True)
    return pairs


#: Issue 26's goals for ``make run`` against gensim's training alone on the same corpus: the median
#: pair at the bench's 10M tokens, and a sweep point of about a million words.
RATIO_GOAL, SWEEP_RATIO_GOAL = 1.2, 1.4
#: Issue 26's goal for the whole ``make run``'s peak RSS against gensim's training alone's, at about 1M words.
MEMORY_RATIO_GOAL = 1.5


def print_floor_pairs(pairs: list[dict]) -> dict:
    """Print each pair's ratio of ``make run`` to gensim's training alone and the median pair's
    (the lower middle one of an even count); returns the median pair."""
    for pair in pairs:
        pair["ratio"] = pair["make_run"] / pair["floor"]
    if len(pairs) > 1:
        for number, pair in enumerate(pairs, 1):
            print(
                f"  pair {number}: gensim training alone {pair['floor']:.2f} s, then make run {pair['make_run']:.2f} s:"
                f" {pair['ratio']:.2f}x"
            )
    median = sorted(pairs, key=lambda pair: pair["ratio"])[(len(pairs) - 1) // 2]
    of = f" (median of {len(pairs)} pairs)" if len(pairs) > 1 else ""
    print(
        f"{'make run / gensim training alone':40} {median['make_run']:7.2f} {median['floor']:8.2f} "
        f"{median['ratio']:6.2f}   make run = {median['ratio']:.2f}x gensim's training alone{of} "
        f"(goal <= {RATIO_GOAL}x at 10M tokens)"
    )
    return median


def time_make_run(work: Path, workers: int) -> tuple[float, float, list[dict]]:
    """Wall seconds of ``make run`` on the bench corpus with the recipe's params, then of the same
    run again (nothing changed: it reuses the tokens and skips training), and the first run's task
    durations (read before the second run, which may replace the first's task instances)."""
    first, _ = make_run(work, workers, "first")
    tasks = read_task_durations(work / "airflow")
    again, _ = make_run(work, workers, "again")
    return first, again, tasks


#: What configures the integrations of issue 28; the runs that time them unconfigured drop these.
INTEGRATION_SETTINGS = (
    "MLFLOW_TRACKING_URI",
    "AIRFLOW__OPENLINEAGE__TRANSPORT",
    "OPENLINEAGE_URL",
    "OPENLINEAGE_CONFIG",
)


def integrations_off_pairs(work: Path, workers: int, count: int) -> list[dict]:
    """``count`` pairs of a first ``make run`` (each on a data root of its own) as installed with
    neither integration configured, then with the OpenLineage provider disabled
    (``[openlineage] disabled``: its plugin is not loaded at all): ``[{"unconfigured",
    "disabled", "mirror"}]`` in seconds, ``mirror`` being the ``mirror_to_mlflow`` task's own
    duration in the unconfigured run (it skips without ``MLFLOW_TRACKING_URI``)."""
    unset = dict.fromkeys(INTEGRATION_SETTINGS)  # None: make_run leaves the variable out
    pairs = []
    for number in range(1, count + 1):
        pair: dict = {}
        for kind, extra in (("unconfigured", {}), ("disabled", {"AIRFLOW__OPENLINEAGE__DISABLED": "True"})):
            data_root = work / f"data-integrations-{kind}-{number}"
            env = {**unset, **extra, "EMBEDDINGS_DATA_DIR": str(data_root)}
            pair[kind], _ = make_run(work, workers, f"integrations-{kind}-{number}", env)
            if kind == "unconfigured":
                tasks = read_task_durations(work / "airflow")
                pair["mirror"] = next((t["seconds"] for t in tasks if t["task_id"] == "mirror_to_mlflow"), float("nan"))
            shutil.rmtree(data_root, ignore_errors=True)
        pairs.append(pair)
    return pairs


def print_integrations_off(pairs: list[dict]) -> None:
    """Print each pair, then the median pair's difference against the spread between pairs (noise)."""
    for number, pair in enumerate(pairs, 1):
        print(
            f"  integrations pair {number}: unconfigured {pair['unconfigured']:.2f} s, OpenLineage disabled "
            f"{pair['disabled']:.2f} s, mirror_to_mlflow {pair['mirror']:.2f} s"
        )
    differences = sorted(pair["unconfigured"] / pair["disabled"] - 1 for pair in pairs)
    median = differences[(len(differences) - 1) // 2]
    runs = [pair[kind] for pair in pairs for kind in ("unconfigured", "disabled")]
    spread = (max(runs) - min(runs)) / min(runs)
    mirror = max(pair["mirror"] for pair in pairs)
    print(
        f"{'make run, integrations unconfigured':40} {median:+.1%} against OpenLineage disabled (median of "
        f"{len(pairs)} pairs; all {len(runs)} runs within {spread:.1%} of each other); mirror_to_mlflow "
        f"without MLFLOW_TRACKING_URI: at most {mirror:.2f} s"
    )


def time_s3_data_root(work: Path, workers: int, local: float | None = None) -> tuple[float, float]:
    """Wall seconds of a first ``make run`` on a fresh local data root (``local``: the bench's own
    first ``make run``, which is one; ``None`` = run one), then of the same run with the data root
    in a fresh bucket of a moto_server process (scripts/s3_server.py), same corpus."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from s3_server import create_bucket, moto_server, s3_env

    if local is None:
        local, _ = make_run(work, workers, "local-root", {"EMBEDDINGS_DATA_DIR": str(work / "data-local")})
    with moto_server(work) as endpoint:
        create_bucket(endpoint, "bench")
        env = {**s3_env(endpoint), "EMBEDDINGS_DATA_DIR": "s3://bench/data", "HOME": str(work / "home")}
        remote, _ = make_run(work, workers, "s3-root", env)
    return local, remote


def make_run(work: Path, workers: int, attempt: str, env_extra: dict | None = None) -> tuple[float, float]:
    """Run ``make run`` on ``work/corpus`` with the recipe's params and ``workers``, in its own
    AIRFLOW_HOME and data root under ``work`` (the metadata database is set up first, untimed;
    ``env_extra`` overrides the environment, a ``None`` value removes the variable);
    the log goes to ``work/make-run-<attempt>.log``. Returns (wall seconds, peak RSS MiB of its
    largest process, from ``wait4``)."""
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(work / "airflow"),
        # its own metadata database, whatever the caller's environment says (the tests set theirs)
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{work / 'airflow' / 'airflow.db'}",
        "EMBEDDINGS_DATA_DIR": str(work / "data"),
        "EMBEDDINGS_CORPUS_ROOTS": str(work / "corpus"),
        **(env_extra or {}),
    }
    env = {name: value for name, value in env.items() if value is not None}  # None in env_extra: unset
    subprocess.run(["make", "-s", "airflow-db"], cwd=ROOT, env=env, check=True, capture_output=True)
    conf = json.dumps(
        {
            "corpus_path": str(work / "corpus"),
            "workers": workers,
            "tokenize_shards": workers,
            **dict(RECIPE_PARAMS.items()),
        }
    )
    log_path = work / f"make-run-{attempt}.log"
    with open(log_path, "wb") as log_file:
        started = time.perf_counter()
        # scripts/run gives the run's own exit code (make turns every failure into 2)
        child = subprocess.Popen(
            [str(ROOT / "scripts" / "run"), conf], cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
    # 3: the gate rejected the version (on a synthetic corpus the vectors may look collapsed), but
    # every step ran and the version was published: the work timed is the same
    if os.waitstatus_to_exitcode(status) not in (0, 3):
        raise SystemExit(f"make run ({attempt}) failed ({status}):\n{log_path.read_text(errors='replace')[-3000:]}")
    return wall, usage.ru_maxrss / 1024


def tokenize_memory(work: Path, megabytes: int, workers: int) -> tuple[float, int, float]:
    """Tokenize a generated corpus of about ``megabytes`` MB; return (peak RSS MiB of the step, bytes, seconds)."""
    big = work / "memory"
    facts = write_corpus_in_child(big / "corpus", int(megabytes * 1e6 / 9.1), 100_000, files=16)
    out, wall, _ = run_child([sys.executable, str(HERE / "steps.py"), "tokenize", str(big), str(workers)])
    return json.loads(out.strip().splitlines()[-1])["peak_rss_mib"], facts["bytes"], wall


if __name__ == "__main__":
    sys.exit(main())
