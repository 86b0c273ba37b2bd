"""Keras/gensim parity: the saved cosine models must agree with gensim's ``similarity``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from include.artifacts.embeddings import Embeddings
from include.artifacts.keras_models import RESERVED_ROWS, id_similarities, load_model, word_similarities
from include.errors import ParityError

PARITY_TOLERANCE = 1e-5


def check_parity(embeddings: Embeddings, keras_dir: Path, pairs: int = 200, seed: int = 0) -> dict:
    """Compare cosines of ``pairs`` random word pairs: ``similarity.keras`` (ids) and
    ``similarity_words.keras`` (strings) against gensim ``KeyedVectors.similarity``.

    Unknown words must score 0 through the strings model. Returns
    ``{"pairs", "max_abs_diff", "max_abs_diff_words", "unknown_word_similarity", "tolerance"}``;
    raises :class:`ParityError` when a difference reaches ``PARITY_TOLERANCE``.
    """
    keyed = embeddings.to_keyed_vectors()
    rng = np.random.default_rng(seed)
    n_words = len(embeddings)
    first = rng.integers(0, n_words, size=pairs)
    second = rng.integers(0, n_words, size=pairs)
    expected = np.array(
        [keyed.similarity(embeddings.index_to_word[a], embeddings.index_to_word[b]) for a, b in zip(first, second)],
        dtype=np.float64,
    )
    by_ids = id_similarities(
        load_model(Path(keras_dir) / "similarity.keras"), first + RESERVED_ROWS, second + RESERVED_ROWS
    )
    words_model = load_model(Path(keras_dir) / "similarity_words.keras")
    word_pairs = [(embeddings.index_to_word[a], embeddings.index_to_word[b]) for a, b in zip(first, second)]
    by_words = word_similarities(words_model, word_pairs)
    unknown = word_similarities(words_model, [("\u2400unknown\u2400", embeddings.index_to_word[0])])
    result = {
        "pairs": int(pairs),
        "max_abs_diff": float(np.max(np.abs(by_ids - expected))),
        "max_abs_diff_words": float(np.max(np.abs(by_words - expected))),
        "unknown_word_similarity": float(unknown[0]),
        "tolerance": PARITY_TOLERANCE,
    }
    if (
        max(result["max_abs_diff"], result["max_abs_diff_words"], abs(result["unknown_word_similarity"]))
        >= PARITY_TOLERANCE
    ):
        raise ParityError(f"Keras and gensim cosines differ: {result}")
    return result
