"""Neighbour and similarity search over one loaded version, for the models browser.

:func:`load_version` memory-maps a version's matrix and computes each row's length once (the only
copy held in memory) and opens its vector index (``vector_index.faiss``, once per process) when the
version has one; :func:`nearest_words` answers through the index (a version published before
indexes: one exact pass over the matrix), :func:`word_similarity` from the matrix, with cosines
rounded to 6 decimals. Words are looked up as given, then lower-cased.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from include.artifacts.embeddings import Embeddings, load_embeddings
from include.quality.vector_index import VectorIndex, open_vector_index
from include.serving.request_checks import UnknownWordError

#: Rows whose lengths are computed at once (bounds the temporary copy while loading).
NORM_SLICE_ROWS = 65536


@dataclass(frozen=True)
class LoadedVersion:
    """A version's embeddings (memory-mapped, read through the page cache), each row's length
    (float32, one per word: the only copy held in memory) and its vector index (``None`` for a
    version published without one)."""

    version: str
    embeddings: Embeddings
    norms: np.ndarray
    index: VectorIndex | None = None

    def cosine(self, i: int, j: int) -> float:
        """Cosine of rows ``i`` and ``j`` (0 when either is a zero row)."""
        vectors = self.embeddings.vectors
        scale = float(self.norms[i]) * float(self.norms[j])
        dot = float(np.dot(np.asarray(vectors[i], dtype=np.float64), np.asarray(vectors[j], dtype=np.float64)))
        return dot / scale if scale > 0 else 0.0

    def cosines(self, index: int) -> np.ndarray:
        """Cosine of row ``index`` with every row (float32; 0 against a zero row)."""
        vectors = self.embeddings.vectors
        dots = np.asarray(vectors @ np.asarray(vectors[index], dtype=np.float32), dtype=np.float32)
        scale = self.norms * self.norms[index]
        return np.divide(dots, scale, out=np.zeros_like(dots), where=scale > 0)


def load_version(version: str, folder: Path, index: Path | None = None) -> LoadedVersion:
    """Version ``version`` from the local ``folder`` holding its ``embeddings.npy`` and
    ``vocab.json``, with the vector index at ``index`` (``None``: the version has none)."""
    embeddings = load_embeddings(folder, mmap=True)
    vectors, step = embeddings.vectors, NORM_SLICE_ROWS  # row lengths in slices: no full-size temporary
    norms = np.concatenate(
        [
            np.linalg.norm(np.asarray(vectors[i : i + step], dtype=np.float32), axis=1)
            for i in range(0, len(vectors), step)
        ]
        or [np.zeros(0)]
    ).astype(np.float32)
    return LoadedVersion(version, embeddings, norms, open_vector_index(index) if index else None)


def find_word(loaded: LoadedVersion, word: str) -> tuple[str, int]:
    """``(word as found, its row)``: ``word`` itself, else lower-cased; :class:`UnknownWordError` otherwise."""
    vocab = loaded.embeddings.word_to_index
    for candidate in (word, word.lower()):
        if candidate in vocab:
            return candidate, vocab[candidate]
    raise UnknownWordError(f"'{word}' is not in the vocabulary of version {loaded.version}")


def nearest_words(loaded: LoadedVersion, word: str, k: int) -> dict:
    """``{"version", "word", "k", "neighbours": [[word, cosine], ...]}``: the ``k`` words with the
    highest cosine to ``word``, itself excluded, cosines rounded to 6 decimals, ties in
    vocabulary order (as :func:`include.quality.similarity.nearest_neighbours`); through the
    version's vector index when it has one."""
    word, index = find_word(loaded, word)
    words = loaded.embeddings.index_to_word
    if loaded.index is not None:
        rows, found = loaded.index.neighbours(index, k)
        pairs = [[words[i], round(float(c), 6)] for i, c in zip(rows.tolist(), found.tolist())]
        return {"version": loaded.version, "word": word, "k": k, "neighbours": pairs}
    cosines = loaded.cosines(index)
    cosines[index] = -np.inf
    count = min(k, len(loaded.embeddings) - 1)
    if count <= 0:
        return {"version": loaded.version, "word": word, "k": k, "neighbours": []}
    candidates = np.argpartition(-cosines, count - 1)[:count]
    ordered = candidates[np.lexsort((candidates, -cosines[candidates]))]
    return {
        "version": loaded.version,
        "word": word,
        "k": k,
        "neighbours": [[words[i], round(float(cosines[i]), 6)] for i in ordered],
    }


def word_similarity(loaded: LoadedVersion, first: str, second: str) -> dict:
    """``{"version", "a", "b", "cosine"}``: the cosine of two words (6 decimals)."""
    first, i = find_word(loaded, first)
    second, j = find_word(loaded, second)
    return {"version": loaded.version, "a": first, "b": second, "cosine": round(float(loaded.cosine(i, j)), 6)}
