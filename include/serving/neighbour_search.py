"""Neighbour and similarity search over one loaded version, for the models browser.

:func:`load_version` memory-maps a version's matrix, computes each row's length once (read from
the file, so computing them maps none of the matrix's pages: only the rows a similarity asks for
become resident) and maps its vector index (``vector_index.faiss``) when the version has one;
:func:`footprint_bytes` is what a loaded version may hold in memory, the charge of the catalog's
bounded cache. :func:`nearest_words` answers through the index (a version published before
indexes: one exact pass over the matrix), :func:`word_similarity` from the matrix, with cosines
rounded to 6 decimals. Every answer names the version it was computed from. Words are looked up
as given, then lower-cased.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from include.artifacts.embeddings import Embeddings, load_embeddings, read_rows
from include.quality.vector_index import VectorIndex, read_vector_index
from include.serving.request_checks import UnknownWordError

#: Rows whose lengths are computed at once (bounds the temporary copy while loading).
NORM_SLICE_ROWS = 65536


@dataclass(frozen=True)
class LoadedVersion:
    """A version's embeddings (memory-mapped, read through the page cache), each row's length
    (float32, one per word), its vector index (``None`` for a version published without one;
    memory-mapped, held by this object alone) and ``footprint``, the bytes it may hold in memory
    (:func:`footprint_bytes`)."""

    version: str
    embeddings: Embeddings
    norms: np.ndarray
    index: VectorIndex | None = None
    footprint: int = 0

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


def vocabulary_bytes(embeddings: Embeddings) -> int:
    """The Python objects of a vocabulary: the dict, the list, each word's string and its index's
    int (``sys.getsizeof``; about 128 bytes a word for 8-character words, 122 MiB at 1M words,
    where loading it grew the process's RSS by 145 MiB: allocator overhead comes on top)."""
    words = embeddings.index_to_word
    strings = sum(map(sys.getsizeof, words))
    return sys.getsizeof(embeddings.word_to_index) + sys.getsizeof(words) + strings + 32 * len(words)


def footprint_bytes(embeddings: Embeddings, norms: np.ndarray, index_path: Path | None) -> int:
    """What a loaded version may hold in memory: the matrix and the vector index as mapped (their
    file sizes: the pages searches touch count in the process's RSS, an IVF index's lists nearly
    all of them after a few thousand random words), the row lengths and the vocabulary
    (:func:`vocabulary_bytes`). 905 MiB for 1M words x 100 (381 MiB matrix, 398 MiB IVF index, 4 MiB
    row lengths, 122 MiB vocabulary)."""
    vectors = embeddings.vectors
    mapped = os.path.getsize(vectors.filename) if isinstance(vectors, np.memmap) and vectors.filename else None
    matrix = mapped if mapped is not None else int(vectors.nbytes)
    index = os.path.getsize(index_path) if index_path is not None else 0
    return int(matrix + index + norms.nbytes + vocabulary_bytes(embeddings))


def load_version(version: str, folder: Path, index: Path | None = None) -> LoadedVersion:
    """Version ``version`` from the local ``folder`` holding its ``embeddings.npy`` and
    ``vocab.json``, with the vector index at ``index`` (``None``: the version has none)."""
    embeddings = load_embeddings(folder, mmap=True)
    vectors, step = embeddings.vectors, NORM_SLICE_ROWS  # row lengths in slices: no full-size temporary
    norms = np.concatenate(
        [np.linalg.norm(read_rows(vectors, i, i + step), axis=1) for i in range(0, len(vectors), step)] or [np.zeros(0)]
    ).astype(np.float32)
    opened = read_vector_index(index) if index else None
    return LoadedVersion(version, embeddings, norms, opened, footprint_bytes(embeddings, norms, index))


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
