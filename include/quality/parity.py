"""Keras/gensim parity: the saved cosine models must agree with gensim's ``similarity``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from include.artifacts.embeddings import Embeddings, take_rows
from include.artifacts.keras_models import (
    RESERVED_ROWS,
    id_similarities,
    load_model_unpacked,
    release_keras_memory,
    word_similarities,
)
from include.errors import ParityError

PARITY_TOLERANCE = 1e-5


def check_parity(embeddings: Embeddings, keras_dir: Path, pairs: int = 200, seed: int = 0) -> dict:
    """Compare cosines of ``pairs`` random word pairs: ``similarity.keras`` (ids) and
    ``similarity_words.keras`` (strings) against gensim ``KeyedVectors.similarity``.

    Unknown words must score 0 through the strings model. gensim holds only the sampled words and
    the models are loaded one at a time, each from its archive's files unpacked to a temporary
    folder (:func:`include.artifacts.keras_models.load_model_unpacked`), so the check's memory is
    one matrix whatever the vocabulary. Returns
    ``{"pairs", "max_abs_diff", "max_abs_diff_words", "unknown_word_similarity", "tolerance"}``;
    raises :class:`ParityError` when a difference reaches ``PARITY_TOLERANCE``.
    """
    rng = np.random.default_rng(seed)
    n_words = len(embeddings)
    first = rng.integers(0, n_words, size=pairs)
    second = rng.integers(0, n_words, size=pairs)
    keyed = _sampled_keyed_vectors(embeddings, np.concatenate([first, second, [0]]))
    word_pairs = [(embeddings.index_to_word[a], embeddings.index_to_word[b]) for a, b in zip(first, second)]
    expected = np.array([keyed.similarity(a, b) for a, b in word_pairs], dtype=np.float64)

    ids_model = load_model_unpacked(Path(keras_dir) / "similarity.keras")
    by_ids = id_similarities(ids_model, first + RESERVED_ROWS, second + RESERVED_ROWS)
    del ids_model
    release_keras_memory()
    words_model = load_model_unpacked(Path(keras_dir) / "similarity_words.keras")
    by_words = word_similarities(words_model, word_pairs)
    unknown = word_similarities(words_model, [("\u2400unknown\u2400", embeddings.index_to_word[0])])
    del words_model
    release_keras_memory()
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


def _sampled_keyed_vectors(embeddings: Embeddings, rows: np.ndarray):
    """A gensim ``KeyedVectors`` of the words at ``rows`` only, with their exported vectors."""
    from gensim.models import KeyedVectors

    rows = np.unique(rows)
    keyed = KeyedVectors(embeddings.vector_size, dtype=np.float32)
    keyed.add_vectors([embeddings.index_to_word[row] for row in rows], take_rows(embeddings.vectors, rows))
    return keyed
