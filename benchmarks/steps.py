"""One step of the pipeline, timed, in its own process: ``steps.py STEP WORKDIR [WORKERS]`` prints
JSON with the step's seconds and this process's peak RSS. Run by benchmarks/run_bench.py.

Steps: ``tokenize``, ``train`` (with the export of embeddings.npy), ``neighbours`` (the
all-vocabulary table, exact or HNSW by ``EMBEDDINGS_EXACT_NEIGHBOURS_MAX``), ``index`` (the
version's vector index, flat or IVF by ``EMBEDDINGS_INDEX_EXACT_MAX``, its recall@10 measured),
``export``, ``keras`` and ``evaluate`` (the DAG's ``export_embeddings``, ``build_keras_model`` with
its parity check, and ``evaluate_embeddings`` without a champion, on what ``train`` wrote; TensorFlow's
import is inside the ``keras`` step's clock, as in the task) and ``floor`` (gensim's
``Word2Vec(corpus_file=...)`` alone on the LineSentence file of the same tokens, written before the
clock starts)."""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.recipe import RECIPE_PARAMS as PARAMS
from include.storage.partitions import SNAPSHOT


def tokenize(work: Path, workers: int) -> dict:
    """What the DAG's ingest_text, mapped tokenize_to_parquet and commit_tokens tasks do, with the
    bench folder as the data root: one manifest, ``workers`` shards tokenized in parallel
    processes, one commit."""
    import multiprocessing
    import os
    from datetime import date

    os.environ["EMBEDDINGS_DATA_DIR"] = str(work)
    from include.steps.commit_tokens import commit_tokens
    from include.steps.ingest_text import ingest_text
    from include.steps.tokenize_to_parquet import tokenize_to_parquet

    facts = ingest_text("corpus", run_id="bench", conf={}, declared_params=[], max_shards=workers)
    jobs = [(facts["manifest_path"], number, "bench") for number in range(facts["shards"])]
    with multiprocessing.get_context("fork").Pool(min(workers, len(jobs))) as pool:
        pool.starmap(tokenize_to_parquet, jobs)
    return commit_tokens(facts["manifest_path"], facts["corpus_id"], "bench", date.today())


def snapshot_partition(work: Path) -> Path:
    """The committed snapshot partition the tokenize step wrote under the bench folder."""
    return next((work / "tokens").glob(f"*/{SNAPSHOT}"))


def write_floor_input(work: Path) -> Path:
    """The LineSentence file of the bench's tokens, written once for the floor (untimed)."""
    from include.steps.train_word2vec import write_line_sentence_file

    corpus_file = work / "floor" / "corpus.txt"
    if not corpus_file.exists():
        corpus_file.parent.mkdir(parents=True, exist_ok=True)
        write_line_sentence_file(snapshot_partition(work), corpus_file.with_suffix(".partial"))
        corpus_file.with_suffix(".partial").replace(corpus_file)
    return corpus_file


def gensim_floor(corpus_file: Path, workers: int) -> dict:
    """gensim's training alone: the ``Word2Vec(corpus_file=...)`` constructor (vocabulary and
    training) on an already tokenized LineSentence file, the recipe's params, ``workers`` threads.
    The floor no pipeline around gensim can go under."""
    from gensim.models import Word2Vec

    model = Word2Vec(corpus_file=str(corpus_file), workers=workers, **PARAMS)
    return {"vocab_size": len(model.wv), "corpus_words": int(model.corpus_total_words)}


#: The steps after training that read the version ``train`` wrote under ``work/model``.
VERSION_STEPS = ("export", "keras", "evaluate")


def version_step(step: str, work: Path) -> dict:
    """One of :data:`VERSION_STEPS`, as its task runs it, with the bench folder as the data root and
    ``work/model`` as the version; returns the step's facts (sizes, not the files' locations)."""
    import os

    os.environ["EMBEDDINGS_DATA_DIR"] = str(work)
    version = str(work / "model")
    if step == "export":
        from include.steps.export_embeddings import export_embeddings

        exported = export_embeddings(version, run_id="bench")
        return {"vocab_size": exported["vocab_size"], "bytes": du(work / "model" / "exports")}
    if step == "keras":
        from include.steps.build_keras_model import build_keras_model

        models = build_keras_model(version, run_id="bench")
        return {"rows": models["rows"], "bytes": du(work / "model" / "keras"), **models["parity"]}
    from include.steps.evaluate_embeddings import evaluate_embeddings

    facts = evaluate_embeddings(version, model="bench", corpus_id="bench", probe_words=None, top_k=10)
    return {"mean_top1_cosine": facts["degenerate"]["value"]}


def du(folder: Path) -> int:
    """Bytes of the files under ``folder``."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def main() -> None:
    step, work = sys.argv[1], Path(sys.argv[2])
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    # Libraries are imported before the clock starts, as the recipe imports gensim before its
    # stages start: the table compares the work; the whole-run line compares everything.
    import numpy  # noqa: F401
    import pandas  # noqa: F401  (pyarrow.compute imports it on first use)
    import pyarrow.compute
    import pyarrow.parquet  # noqa: F401

    if step != "tokenize":
        import gensim.models  # noqa: F401
    if step in ("neighbours", "index"):
        import faiss  # noqa: F401
    floor_input = write_floor_input(work) if step == "floor" else None
    started = time.perf_counter()
    facts: dict = {}
    if step == "tokenize":
        facts = tokenize(work, workers)
    elif step == "train":
        from include.steps.train_word2vec import Word2VecParams, train_word2vec

        # writes embeddings.npy and vocab.json beside the model, as the train_word2vec task does
        facts = train_word2vec(
            snapshot_partition(work), Word2VecParams(workers=workers, **PARAMS), work / "model" / "w2v.model"
        )
    elif step == "floor":
        facts = gensim_floor(floor_input, workers)
    elif step == "neighbours":
        from include.artifacts.embeddings import load_embeddings
        from include.quality.neighbour_table import write_neighbour_table

        facts = write_neighbour_table(load_embeddings(work / "model"), 10, work / "model" / "neighbours.parquet")
    elif step == "index":
        from include.artifacts.embeddings import load_embeddings
        from include.quality.similarity import unit_rows
        from include.quality.vector_index import INDEX_FILE, write_vector_index

        unit = unit_rows(load_embeddings(work / "model").vectors)
        facts = write_vector_index(unit, work / "model" / INDEX_FILE)
    elif step in VERSION_STEPS:
        facts = version_step(step, work)
    else:
        raise SystemExit(f"unknown step {step!r}")
    seconds = time.perf_counter() - started
    peak_mib = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024
    print(
        json.dumps(
            {
                "step": step,
                "seconds": seconds,
                "peak_rss_mib": peak_mib,
                **{k: v for k, v in facts.items() if isinstance(v, (int, float, str))},
            }
        )
    )


if __name__ == "__main__":
    main()
