"""Drift between two versions of a corpus's embeddings, by neighbourhoods (vectors of separately
trained models are not aligned, so words are compared through their nearest neighbours)."""

from __future__ import annotations

import numpy as np

from include.artifacts.embeddings import Embeddings
from include.quality.similarity import unit_rows

MOVED_CANDIDATES = 2000  # the most frequent shared words examined for "moved most"
LISTED = 20


def _neighbour_sets(embeddings: Embeddings, words: list[str], top_k: int) -> dict[str, set[str]]:
    unit = unit_rows(np.asarray(embeddings.vectors))
    rows = np.array([embeddings.word_to_index[w] for w in words], dtype=np.int64)
    k = min(top_k, len(embeddings) - 1)
    result: dict[str, set[str]] = {}
    for start in range(0, len(rows), 512):
        block = rows[start : start + 512]
        cosines = unit[block] @ unit.T
        cosines[np.arange(len(block)), block] = -np.inf
        top = np.argpartition(-cosines, k - 1, axis=1)[:, :k] if k > 0 else np.empty((len(block), 0), dtype=int)
        for word_row, neighbours in zip(block, top):
            result[embeddings.index_to_word[word_row]] = {embeddings.index_to_word[i] for i in neighbours}
    return result


def jaccard(first: set, second: set) -> float | None:
    """|A ∩ B| / |A ∪ B|, ``None`` when both are empty."""
    union = first | second
    return round(len(first & second) / len(union), 6) if union else None


def compare_versions(
    current: Embeddings, previous: Embeddings, probe_words: list[str], top_k: int, previous_version: str
) -> dict:
    """Drift of ``current`` against ``previous``: per probe word (in both vocabularies) the Jaccard
    overlap of its top-``top_k`` neighbours; the shared words whose neighbourhoods changed most
    (among the most frequent ones); and the vocabulary added and dropped (most frequent first)."""
    shared_probes = [w for w in probe_words if w in previous.word_to_index and w in current.word_to_index]
    candidates = [w for w in current.index_to_word if w in previous.word_to_index][:MOVED_CANDIDATES]
    words = list(dict.fromkeys(shared_probes + candidates))
    now, before = _neighbour_sets(current, words, top_k), _neighbour_sets(previous, words, top_k)
    overlap = {w: jaccard(now[w], before[w]) for w in words}
    moved = sorted(candidates, key=lambda w: (overlap[w] if overlap[w] is not None else 1.0, current.word_to_index[w]))[
        :LISTED
    ]
    added = [w for w in current.index_to_word if w not in previous.word_to_index]
    dropped = [w for w in previous.index_to_word if w not in current.word_to_index]
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
        "vocab_added": {"count": len(added), "examples": added[:LISTED]},
        "vocab_dropped": {"count": len(dropped), "examples": dropped[:LISTED]},
    }
