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
    current: Embeddings, previous: Embeddings, probe_words: list[str], top_k: int, previous_version: str
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
