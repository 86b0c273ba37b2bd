"""The plain 2016 gensim -> Keras recipe, on today's APIs: the baseline every benchmark compares against.

What the recipe does, and nothing more (gensim 4 renamed ``syn0`` to ``wv.vectors`` and ``vocab``
to ``wv.key_to_index``; Keras 3 dropped ``merge(mode='cos')`` for ``Dot(normalize=True)``):

1. a sentence iterator over every file of a folder that tokenizes each line with gensim's
   ``simple_preprocess`` every time it is iterated (once to build the vocabulary, once per epoch);
2. ``Word2Vec(sentences, ...)`` trained from that Python iterable;
3. ``np.save`` of the weight matrix and ``json.dump`` of the word -> row dictionary;
4. a Keras ``Embedding`` layer given those weights, and a cosine model of two word ids;
5. ``most_similar`` for every word of the vocabulary (the recipe's similarity report).

Usage: ``recipe.py CORPUS_DIR OUT_DIR [WORKERS]``. Each stage prints one ``<stage> <seconds>`` line
(``tokenize_pass_tokens=<n>`` and ``report_most_similar_vocab=<n>`` carry counts in the stage name);
``benchmarks/run_bench.py`` reads them. The training params are ``RECIPE_PARAMS``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

#: The recipe's hard-coded training params (the benchmark gives the DAG the same ones as conf).
RECIPE_PARAMS = {"vector_size": 100, "window": 5, "min_count": 5, "epochs": 5, "seed": 1}
NEIGHBOURS = 10


class StageClock:
    """Prints the seconds since the previous stage as ``<stage> <seconds>``."""

    def __init__(self) -> None:
        self.started = self.last = time.perf_counter()

    def mark(self, stage: str) -> None:
        now = time.perf_counter()
        print(f"{stage} {now - self.last:.3f}", flush=True)
        self.last = now


class LineSentences:
    """Every line of every file in ``folder`` (sorted by name), tokenized with ``simple_preprocess``
    anew on each iteration, as the recipe's generator did (undecodable bytes replaced)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __iter__(self):
        from gensim.utils import simple_preprocess

        for path in sorted(p for p in self.folder.iterdir() if p.is_file()):
            with path.open(encoding="utf-8", errors="replace") as lines:
                for line in lines:
                    yield simple_preprocess(line)


def cosine_model(weights):
    """A Keras model of two word ids -> their cosine, on a frozen ``Embedding`` holding ``weights``."""
    import keras

    embedding = keras.layers.Embedding(
        weights.shape[0], weights.shape[1], trainable=False, embeddings_initializer=keras.initializers.Constant(weights)
    )
    first = keras.Input(shape=(1,), dtype="int32")
    second = keras.Input(shape=(1,), dtype="int32")
    cosine = keras.layers.Dot(axes=2, normalize=True)([embedding(first), embedding(second)])
    return keras.Model([first, second], cosine)


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        raise SystemExit(__doc__)
    corpus, out = Path(argv[0]), Path(argv[1])
    workers = int(argv[2]) if len(argv) > 2 else 3
    clock = StageClock()
    import numpy as np
    from gensim.models import Word2Vec

    clock.mark("import_gensim")
    out.mkdir(parents=True, exist_ok=True)
    sentences = LineSentences(corpus)
    tokens = sum(len(sentence) for sentence in sentences)
    clock.mark(f"tokenize_pass_tokens={tokens}")
    model = Word2Vec(sentences, workers=workers, **RECIPE_PARAMS)
    clock.mark("train")
    np.save(out / "embeddings.npy", model.wv.vectors)
    (out / "vocab.json").write_text(json.dumps(dict(model.wv.key_to_index)))
    clock.mark("export")
    import keras  # noqa: F401  (timed on its own, as the recipe did)

    clock.mark("import_keras")
    cosine_model(model.wv.vectors)
    clock.mark("build_keras")
    report = {word: model.wv.most_similar(word, topn=NEIGHBOURS) for word in model.wv.index_to_key}
    clock.mark(f"report_most_similar_vocab={len(report)}")
    print(f"total {time.perf_counter() - clock.started:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
