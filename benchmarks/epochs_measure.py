"""Measure how many Word2Vec epochs a corpus needs: for each epoch count and seed, train as the
pipeline does (include.steps.train_word2vec.train_word2vec_on_file, the DAG's default params) and
print the mean top-1 cosine of the default probe words, `government`'s top 10, the WordSim-353
Spearman and the training time.

Usage: epochs_measure.py CORPUS_FILE [--epochs 5,10,20] [--seeds 1,2,3] [--workers 0] [--json OUT]
(CORPUS_FILE: text, .bz2 or .gz; tokenized with gensim's simple_preprocess, as the pipeline does).
The numbers behind ``epochs: auto`` (include/steps/train_word2vec.py) and the README's "Epochs"
table are in ``benchmarks/epochs_measurements.json``, with the commands that produced them.
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus")
    parser.add_argument("--epochs", default="5,10,15,20,25,30,35,40,50")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--json")
    args = parser.parse_args()

    import numpy as np
    from gensim.models import Word2Vec
    from gensim.utils import simple_preprocess

    from include.artifacts.embeddings import Embeddings
    from include.artifacts.word_counts import WordCounts
    from include.quality.evaluation import evaluate_keyed_vectors
    from include.quality.similarity import default_probe_words, nearest_neighbours
    from include.steps.train_word2vec import Word2VecParams, train_word2vec_on_file

    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        opener = {".bz2": bz2.open, ".gz": gzip.open}.get(Path(args.corpus).suffix, open)
        with opener(args.corpus, "rt", encoding="utf-8", errors="replace") as handle:
            lines = [" ".join(simple_preprocess(line)) for line in handle]
        lines = [line for line in lines if line]
        tokens = sum(len(line.split()) for line in lines)
        print(f"{args.corpus}: {len(lines)} lines, {tokens} tokens", flush=True)
        for epochs in [int(e) for e in args.epochs.split(",")]:
            for seed in [int(s) for s in args.seeds.split(",")]:
                corpus_file = Path(scratch) / "corpus.txt"
                corpus_file.write_text("\n".join(lines) + "\n")
                model_path = Path(scratch) / "w2v.model"
                params = Word2VecParams(epochs=epochs, seed=seed, workers=args.workers)
                counts = WordCounts()
                counts.add_rows([line.split() for line in lines])
                started = time.perf_counter()
                stats = train_word2vec_on_file(corpus_file, counts, params, model_path)
                seconds = time.perf_counter() - started
                wv = Word2Vec.load(str(model_path)).wv
                emb = Embeddings(np.asarray(wv.vectors), dict(wv.key_to_index), list(wv.index_to_key))
                probes = default_probe_words(emb)
                neighbours = nearest_neighbours(emb, probes, 10)
                top1 = [n[0][1] for n in neighbours.values()]
                high = sum(c >= 0.99 for c in top1) / len(top1)
                gov = (
                    [w for w, _ in nearest_neighbours(emb, ["government"], 10)["government"]]
                    if "government" in wv
                    else []
                )
                score = evaluate_keyed_vectors(emb.to_keyed_vectors())["wordsim353"]["spearman"]
                row = {
                    "epochs": epochs,
                    "seed": seed,
                    "tokens": stats["corpus_words"],
                    "mean_top1": round(float(np.mean(top1)), 3),
                    "share_top1_ge_099": round(high, 2),
                    "wordsim353": score,
                    "seconds": round(seconds, 2),
                    "government": gov,
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
