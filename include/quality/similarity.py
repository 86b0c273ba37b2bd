"""Nearest neighbours and probe words over exported embeddings (numpy only, no unpickling)."""

from __future__ import annotations

import re

import numpy as np

from include.artifacts.embeddings import Embeddings

DEFAULT_PROBE_COUNT = 20
_PLAIN_WORD = re.compile(r"^\w+$")


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), float32."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms == 0, 1, norms)).astype(np.float32)


def default_probe_words(embeddings: Embeddings, count: int = DEFAULT_PROBE_COUNT) -> list[str]:
    """The ``count`` most frequent vocabulary words that are not English stop words (gensim's list)."""
    from itertools import islice

    from gensim.parsing.preprocessing import STOPWORDS

    return list(islice((word for word in embeddings.index_to_word if word not in STOPWORDS), count))


def split_probe_words(embeddings: Embeddings, probe_words: list) -> tuple[list[str], list]:
    """``(known, unknown)``: probe words in the vocabulary (deduplicated, in order), and the rest as given."""
    known: list[str] = []
    unknown: list = []
    for word in probe_words:
        if isinstance(word, str) and word in embeddings.word_to_index:
            if word not in known:
                known.append(word)
        else:
            unknown.append(word)
    return known, unknown


def nearest_neighbours(embeddings: Embeddings, words: list[str], top_k: int) -> dict[str, list[list]]:
    """``{word: [[neighbour, cosine], ...]}``, the ``top_k`` most similar words, the word itself excluded.

    Cosines are rounded to 6 decimals; ties are broken by vocabulary order (more frequent first).
    """
    unit = unit_rows(np.asarray(embeddings.vectors))
    result: dict[str, list[list]] = {}
    k = min(top_k, len(embeddings) - 1)
    for word in words:
        index = embeddings.word_to_index[word]
        cosines = unit @ unit[index]
        cosines[index] = -np.inf
        if k <= 0:
            result[word] = []
            continue
        candidates = np.argpartition(-cosines, k - 1)[:k]
        ordered = candidates[np.lexsort((candidates, -cosines[candidates]))]
        result[word] = [[embeddings.index_to_word[i], round(float(cosines[i]), 6)] for i in ordered]
    return result
