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


def choose_probe_words(embeddings: Embeddings, requested: list | None) -> tuple[list[str], list]:
    """``(known, unknown)`` (see :func:`split_probe_words`) of the probe words ``requested``, or of
    :func:`default_probe_words` when none are."""
    return split_probe_words(embeddings, list(requested) if requested else default_probe_words(embeddings))


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


#: A probe word whose nearest neighbour sits at this cosine or above has a vector that barely moved
#: from the shared direction every word starts drifting to; when at least ``UNDERTRAINED_SHARE`` of
#: the probe words do, the model is undertrained. Measured on the Lee corpus (58k tokens, 20 default
#: probe words, 3 seeds): 5 epochs -> all 20 (mean top-1 cosine 1.0), 10 -> 14 of 20 (0.991),
#: 15 -> 1 or 2 (0.94), 20 and more -> none; an 839k-token Wikipedia sample at 3 epochs -> none (0.87).
UNDERTRAINED_COSINE = 0.99
UNDERTRAINED_SHARE = 0.5


def undertraining(neighbours: dict[str, list[list]]) -> dict:
    """Signs of an undertrained model in the probe words' ``neighbours`` (as :func:`nearest_neighbours`
    returns them, best first).

    Returns ``{"undertrained", "probe_words", "top1_at_or_above", "share", "mean_top1_cosine",
    "cosine", "share_threshold"}``: ``undertrained`` is true when at least ``UNDERTRAINED_SHARE``
    of the probe words (with a neighbour) have their nearest neighbour at cosine >= ``UNDERTRAINED_COSINE``.
    With no probe word it is false and the numbers are ``None``.
    """
    top1 = [float(pairs[0][1]) for pairs in neighbours.values() if pairs]
    high = sum(cosine >= UNDERTRAINED_COSINE for cosine in top1)
    share = high / len(top1) if top1 else None
    return {
        "undertrained": share is not None and share >= UNDERTRAINED_SHARE,  # no probe word: False
        "probe_words": len(top1),
        "top1_at_or_above": high,
        "share": None if share is None else round(share, 4),
        "mean_top1_cosine": round(sum(top1) / len(top1), 6) if top1 else None,
        "cosine": UNDERTRAINED_COSINE,
        "share_threshold": UNDERTRAINED_SHARE,
    }
