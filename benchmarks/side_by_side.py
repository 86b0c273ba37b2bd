"""What running the steps after training side by side could save: the best case for any executor.

Usage: side_by_side.py WORKDIR [--steps index,export,keras,evaluate] [--workers W]
(--steps: any of index, neighbours, export, keras, evaluate.)

WORKDIR is a bench folder in which ``steps.py tokenize`` and ``steps.py train`` have run (a version
in ``WORKDIR/model``). Runs each of ``--steps`` (``benchmarks/steps.py``, each in a process of its
own) one after another, then all of them at once, and prints the wall seconds of both, each step's
own seconds, and the highest sum of the processes' resident memory while they ran (sampled every
0.1 s from ``/proc``; the largest process alone is what ``wait4`` reports). No executor is involved:
no process start beyond Python's, no polling, no task bookkeeping, so an executor that runs these
steps side by side saves at most the difference printed. The last line is JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.steps import VERSION_STEPS  # noqa: E402  (the DAG's steps after training steps.py runs)

DEFAULT_STEPS = ("index", *VERSION_STEPS)
#: What steps.py runs on a trained version (``WORKDIR/model``): the index and the all-vocabulary
#: table beside the DAG's steps after training.
ON_A_VERSION = ("index", "neighbours", *VERSION_STEPS)


def resident_mib(pids: list[int]) -> float:
    """The summed resident memory of the live processes among ``pids``, in MiB (0 for any gone)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as handle:
                total += int(handle.read().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total * 4096 / 2**20


def read_back(handle) -> str:
    """All that was written to the temporary file ``handle``."""
    handle.seek(0)
    return handle.read()


def run_steps(work: Path, steps: list[str], workers: int, together: bool) -> dict:
    """Run ``steps`` on ``work`` one after another or all at once; returns ``{"wall", "steps":
    {step: seconds}, "peak_sum_mib"}`` (the highest summed RSS of the step processes alive at once)."""
    command = [sys.executable, str(HERE / "steps.py")]
    started = time.perf_counter()
    outputs: dict[str, str] = {}
    peak_sum = 0.0
    batches = [steps] if together else [[step] for step in steps]
    for batch in batches:
        # the children's output goes to files: TensorFlow's logging alone could fill a pipe that
        # nobody reads while the loop below samples memory
        with contextlib.ExitStack() as files:
            logs = {step: [files.enter_context(tempfile.TemporaryFile("w+")) for _ in range(2)] for step in batch}
            children = {
                step: subprocess.Popen([*command, step, str(work), str(workers)], stdout=out, stderr=err, text=True)
                for step, (out, err) in logs.items()
            }
            while any(child.poll() is None for child in children.values()):
                peak_sum = max(peak_sum, resident_mib([child.pid for child in children.values()]))
                time.sleep(0.1)
            for step, child in children.items():
                out, err = (read_back(handle) for handle in logs[step])
                if child.returncode != 0:
                    raise SystemExit(f"steps.py {step} failed (exit {child.returncode}):\n{err[-2000:]}")
                outputs[step] = out
    wall = time.perf_counter() - started
    seconds = {step: json.loads(out.strip().splitlines()[-1])["seconds"] for step, out in outputs.items()}
    return {"wall": wall, "steps": seconds, "peak_sum_mib": peak_sum}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--steps", default=",".join(DEFAULT_STEPS))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    steps = [step for step in args.steps.split(",") if step]
    unknown = sorted(set(steps) - set(ON_A_VERSION)) or ([] if steps else ["(none)"])
    if unknown:
        parser.error(f"--steps: {', '.join(unknown)} is not a step on a version; choose from {', '.join(ON_A_VERSION)}")
    if not (args.workdir / "model" / "embeddings.npy").exists():
        print(f"{args.workdir}/model/embeddings.npy not found: run steps.py tokenize and train first", file=sys.stderr)
        return 2
    serial = run_steps(args.workdir, steps, args.workers, together=False)
    together = run_steps(args.workdir, steps, args.workers, together=True)
    for name, result in (("one after another", serial), ("side by side", together)):
        each = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in result["steps"].items())
        print(f"{name:18} wall {result['wall']:6.1f} s, peak RSS summed {result['peak_sum_mib']:,.0f} MiB ({each})")
    saved = serial["wall"] - together["wall"]
    print(f"{'saved at most':18} {saved:6.1f} s ({saved / serial['wall']:.0%} of the steps' wall)")
    print(json.dumps({"serial": serial, "side_by_side": together, "saved": saved}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
