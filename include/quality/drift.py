"""Drift between two versions of a corpus's embeddings, by neighbourhoods (vectors of separately
trained models are not aligned, so words are compared through their nearest neighbours)."""

from __future__ import annotations

import numpy as np

from include.artifacts.embeddings import Embeddings
from include.quality.similarity import unit_rows

MOVED_CANDIDATES = 2000  # the most frequent shared words examined for "moved most"
LISTED = 20


def _neighbour_sets(embeddings: Embeddings, words: list[str], top_k: int) -> dict[str, set[str]]:
    """The top-``top_k`` neighbours of each of ``words`` (exact, self excluded), as sets of words.
    Costs ``len(words) * n_words * d`` multiply-adds in FAISS's bounded blocks (never a
    ``[words, n_words]`` matrix in memory)."""
    from include.quality.neighbour_table import exact_search

    unit = np.ascontiguousarray(unit_rows(np.asarray(embeddings.vectors)))
    rows = np.array([embeddings.word_to_index[w] for w in words], dtype=np.int64)
    k = min(top_k, len(embeddings) - 1)
    if k <= 0 or len(rows) == 0:
        return {w: set() for w in words}
    indices, _ = exact_search(unit, rows, k)
    return {
        embeddings.index_to_word[row]: {embeddings.index_to_word[i] for i in found} for row, found in zip(rows, indices)
    }


def jaccard(first: set, second: set) -> float | None:
    """|A ∩ B| / |A ∪ B|, ``None`` when both are empty."""
    union = first | second
    return round(len(first & second) / len(union), 6) if union else None


def compare_versions(
    current: Embeddings, previous: Embeddings, probe_words: list[str], top_k: int, previous_version: str | None
) -> dict:
    """Drift of ``current`` against ``previous``: per probe word (in both vocabularies) the Jaccard
    overlap of its top-``top_k`` neighbours; the shared words whose neighbourhoods changed most
    (among the ``MOVED_CANDIDATES`` most frequent ones, so the cost is linear in the vocabulary);
    and the vocabulary added and dropped (counts, and the most frequent examples)."""
    from itertools import islice

    shared_probes = [w for w in probe_words if w in previous.word_to_index and w in current.word_to_index]
    candidates = list(islice((w for w in current.index_to_word if w in previous.word_to_index), MOVED_CANDIDATES))
    words = list(dict.fromkeys(shared_probes + candidates))
    now, before = _neighbour_sets(current, words, top_k), _neighbour_sets(previous, words, top_k)
    overlap = {w: jaccard(now[w], before[w]) for w in words}
    moved = sorted(candidates, key=lambda w: (overlap[w] if overlap[w] is not None else 1.0, current.word_to_index[w]))[
        :LISTED
    ]
    shared = len(current.word_to_index.keys() & previous.word_to_index.keys())
    added = list(islice((w for w in current.index_to_word if w not in previous.word_to_index), LISTED))
    dropped = list(islice((w for w in previous.index_to_word if w not in current.word_to_index), LISTED))
    return {
        "previous_version": previous_version,
        "top_k": top_k,
        "probe_jaccard": {w: overlap[w] for w in shared_probes},
        "mean_jaccard": round(float(np.mean([overlap[w] for w in candidates if overlap[w] is not None])), 6)
        if candidates
        else None,
        "moved_most": [
            {"word": w, "jaccard": overlap[w], "neighbours_now": sorted(now[w]), "neighbours_before": sorted(before[w])}
            for w in moved
        ],
        "moved_candidates": len(candidates),
        "vocab_added": {"count": len(current) - shared, "examples": added},
        "vocab_dropped": {"count": len(previous) - shared, "examples": dropped},
    }


#: The most frequent words both versions know that the gate's neighbour overlap examines (beside
#: the probe words): enough to average out single words, few enough to stay cheap on any vocabulary.
OVERLAP_WORDS = 1000
OVERLAP_TOP_K = 10


def neighbour_overlap(
    current: Embeddings, previous: Embeddings, probe_words: list[str], top_k: int = OVERLAP_TOP_K
) -> dict:
    """Mean neighbour overlap@``top_k`` of ``current`` with ``previous``: for each probe word known to
    both and each of the ``OVERLAP_WORDS`` most frequent words (of ``current``) known to both, the
    share (0..1) of its ``top_k`` nearest neighbours (each version searched over its whole
    vocabulary) that are the same words, averaged.

    Returns ``{"value": mean or None, "words": words compared, "candidates": words examined (the
    probe words and ``OVERLAP_WORDS`` most frequent of ``current``), "top_k"}``; ``value`` is ``None``
    when no word is known to both (nothing to compare). Costs ``words * n_words * d`` per version.
    """
    from itertools import islice

    shared_probes = [w for w in probe_words if w in previous.word_to_index and w in current.word_to_index]
    frequent = islice((w for w in current.index_to_word if w in previous.word_to_index), OVERLAP_WORDS)
    words = list(dict.fromkeys(shared_probes + list(frequent)))
    own_probes = [w for w in probe_words if w in current.word_to_index]
    examined = len(dict.fromkeys(own_probes + list(current.index_to_word[:OVERLAP_WORDS])))
    k = min(top_k, len(current) - 1, len(previous) - 1)
    if not words or k <= 0:
        return {"value": None, "words": 0, "candidates": examined, "top_k": top_k}
    now, before = _neighbour_sets(current, words, k), _neighbour_sets(previous, words, k)
    shares = [len(now[w] & before[w]) / k for w in words]
    return {"value": round(float(np.mean(shares)), 6), "words": len(words), "candidates": examined, "top_k": k}


#: The most frequent words whose nearest neighbour the degenerate-space check looks at.
DEGENERATE_WORDS = 100


def mean_top1_cosine(embeddings: Embeddings, words: int = DEGENERATE_WORDS) -> dict:
    """Mean cosine of the ``words`` most frequent words with their nearest neighbour (self excluded,
    searched over the whole vocabulary): near 1 when every vector points the same way (a
    collapsed, untrained space). Returns ``{"value": mean or None (fewer than 2 words), "words"}``."""
    from include.quality.neighbour_table import exact_search

    count = min(words, len(embeddings))
    if len(embeddings) < 2 or count == 0:
        return {"value": None, "words": 0}
    unit = np.ascontiguousarray(unit_rows(np.asarray(embeddings.vectors)))
    _, cosines = exact_search(unit, np.arange(count, dtype=np.int64), 1)
    return {"value": round(float(np.mean(cosines[:, 0])), 6), "words": count}
