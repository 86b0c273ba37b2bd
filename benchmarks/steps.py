"""One step of the pipeline, timed, in its own process: ``steps.py STEP WORKDIR`` prints JSON with
the step's seconds and this process's peak RSS. Run by benchmarks/run_bench.py."""
from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PARAMS = dict(vector_size=100, window=5, min_count=5, epochs=5, seed=1)  # the recipe's


def main() -> None:
    step, work = sys.argv[1], Path(sys.argv[2])
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    started = time.perf_counter()
    facts: dict = {}
    if step == "tokenize":
        from include.ingest import ingest_corpus, read_manifest
        from include.tokens import tokenize_files

        ingest_corpus(work / "corpus", work / "manifest.json")
        facts = tokenize_files(read_manifest(work / "manifest.json"), work / "tokens")
    elif step == "train":
        from include.export import export_embeddings
        from include.train import Word2VecParams, train_word2vec

        facts = train_word2vec(work / "tokens", Word2VecParams(workers=workers, **PARAMS), work / "model" / "w2v.model")
        export_embeddings(work / "model" / "w2v.model", work / "model")
    elif step == "neighbours":
        from include.export import load_embeddings
        from include.neighbour_table import write_neighbour_table

        facts = write_neighbour_table(load_embeddings(work / "model"), 10, work / "model" / "neighbours.parquet")
    else:
        raise SystemExit(f"unknown step {step!r}")
    seconds = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"step": step, "seconds": seconds, "peak_rss_mib": peak_mib,
                      **{k: v for k, v in facts.items() if isinstance(v, (int, float, str))}}))


if __name__ == "__main__":
    main()
