"""The embedding matrix and its vocabulary (written by ``export_embeddings``), and their loader.

``embeddings.npy`` is float32 ``[n_words, vector_size]`` (gensim's ``wv.vectors``, once
``syn0``); row ``i`` is the word whose index in ``vocab.json`` (``{"word": i}``) is ``i``, in
gensim's order (most frequent first).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TypeGuard

import numpy as np

from include.errors import PipelineInputError
from include.storage.atomic_io import write_json_atomic

EMBEDDINGS_FILE = "embeddings.npy"
VOCAB_FILE = "vocab.json"


@dataclass(frozen=True)
class Embeddings:
    """An exported matrix and both directions of its vocabulary."""

    vectors: np.ndarray
    word_to_index: dict[str, int]
    index_to_word: list[str]

    def __len__(self) -> int:
        return len(self.index_to_word)

    @property
    def vector_size(self) -> int:
        return int(self.vectors.shape[1])

    def to_keyed_vectors(self):
        """A gensim ``KeyedVectors`` holding the same words and vectors (no unpickling involved)."""
        from gensim.models import KeyedVectors

        keyed = KeyedVectors(self.vector_size, dtype=np.float32)
        keyed.add_vectors(self.index_to_word, self.vectors)
        return keyed


def export_embeddings(model_path: Path, out_dir: Path) -> dict:
    """Write ``embeddings.npy`` and ``vocab.json`` of the gensim model saved at ``model_path`` into
    ``out_dir`` (see :func:`write_embeddings`). ``model_path`` is a model this pipeline trained
    and saved in its own folder (loading a gensim model unpickles it)."""
    from gensim.models import Word2Vec

    return write_embeddings(Word2Vec.load(str(model_path)).wv, out_dir)


def write_embeddings(keyed_vectors, out_dir: Path) -> dict:
    """Write ``embeddings.npy`` (float32 ``wv.vectors``) and ``vocab.json`` (``wv.key_to_index``)
    of gensim ``keyed_vectors`` into ``out_dir``. Training calls it on the model still in memory,
    so the matrix is written once and never read back from the pickled model.
    Returns ``{"embeddings_path", "vocab_path", "vocab_size", "vector_size"}``.
    """
    vectors = np.ascontiguousarray(keyed_vectors.vectors, dtype=np.float32)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    embeddings_path = out_dir / EMBEDDINGS_FILE
    np.save(embeddings_path, vectors, allow_pickle=False)
    vocab_path = out_dir / VOCAB_FILE
    write_json_atomic(vocab_path, dict(keyed_vectors.key_to_index), indent=None)
    return {
        "embeddings_path": str(embeddings_path),
        "vocab_path": str(vocab_path),
        "vocab_size": int(vectors.shape[0]),
        "vector_size": int(vectors.shape[1]),
    }


def read_rows(vectors: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of ``vectors`` as a new C-ordered little-endian float32 array; safe to
    call from several threads at once.

    From a memory map of a whole ``.npy`` file (``load_embeddings(mmap=True)``) the rows are read
    from the file (``os.preadv``), so the map's pages are never touched: rows copied out of the map
    would leave every page they touched mapped, and the whole file (381 MiB at 1M words x 100)
    would count in the process's RSS until the map closes, beside the copies the caller makes.
    """
    stop = max(min(stop, vectors.shape[0]), start)
    if stop == start or not _maps_whole_file(vectors):
        return np.ascontiguousarray(vectors[start:stop], dtype="<f4")
    assert vectors.filename  # a map of a whole file has one
    handle = os.open(vectors.filename, os.O_RDONLY)
    try:
        return _pread_rows(handle, vectors, start, stop)
    finally:
        os.close(handle)


def take_rows(vectors: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The rows of ``vectors`` at the indices ``rows`` (any order), read as :func:`read_rows` reads
    them: one read per row from a memory-mapped file (opened once), where indexing the map would
    fault in pages around each row (the kernel reads ahead), hundreds of MiB for a few hundred rows."""
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) and not 0 <= rows.min() <= rows.max() < vectors.shape[0]:
        raise IndexError(f"row indices must be in 0..{vectors.shape[0] - 1}, got {rows.min()}..{rows.max()}")
    if not len(rows) or not _maps_whole_file(vectors):
        return np.ascontiguousarray(vectors[rows], dtype="<f4").reshape(len(rows), vectors.shape[1])
    assert vectors.filename  # a map of a whole file has one
    handle = os.open(vectors.filename, os.O_RDONLY)
    try:
        return np.concatenate([_pread_rows(handle, vectors, int(row), int(row) + 1) for row in rows])
    finally:
        os.close(handle)


def _pread_rows(handle: int, vectors: np.memmap, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` (``start < stop``, within the matrix) of the map ``vectors`` read from
    its file, open as ``handle``; raises :class:`PipelineInputError` naming the file when it ends
    early (cut short while read)."""
    block = np.empty((stop - start, vectors.shape[1]), dtype="<f4")
    view = block.reshape(-1).data.cast("B")
    position = int(vectors.offset) + start * vectors.shape[1] * 4
    done = 0
    while done < len(view):
        count = os.preadv(handle, [view[done:]], position + done)
        if count == 0:
            raise PipelineInputError(f"'{vectors.filename}' ended before row {stop}: truncated while read")
        done += count
    return block


def _maps_whole_file(vectors: np.ndarray) -> TypeGuard[np.memmap]:
    """True when ``vectors`` is a C-ordered little-endian float32 memory map of all of its file's
    data (``np.load(mmap_mode="r")``), not a slice of one."""
    if not isinstance(vectors, np.memmap) or not vectors.filename or vectors.ndim != 2:
        return False
    if vectors.dtype != np.dtype("<f4") or not vectors.flags.c_contiguous:
        return False
    try:
        return os.path.getsize(vectors.filename) == int(vectors.offset) + vectors.nbytes
    except OSError:
        return False


def fetch_embeddings(store, version_prefix: str, scratch: Path, mmap: bool = True) -> Embeddings:
    """The embeddings of the version at ``version_prefix`` in ``store`` (a
    :class:`include.storage.store.Store`), loaded from a local folder: the data root itself when
    it is local, else copies under ``scratch``. ``mmap`` maps the matrix instead of reading it."""
    for name in (EMBEDDINGS_FILE, VOCAB_FILE):
        local = store.fetch(f"{version_prefix}/{name}", Path(scratch))
    return load_embeddings(local.parent, mmap=mmap)


def load_embeddings(folder: Path, mmap: bool = False) -> Embeddings:
    """Load ``embeddings.npy`` and ``vocab.json`` from ``folder`` (a model version or export folder).

    Checks that the vocabulary's indices are exactly ``0..n-1`` and that there is one row per
    word; raises :class:`PipelineInputError` naming the file otherwise. Never unpickles.
    """
    folder = Path(folder)
    embeddings_path, vocab_path = folder / EMBEDDINGS_FILE, folder / VOCAB_FILE
    try:
        vectors = np.load(embeddings_path, mmap_mode="r" if mmap else None, allow_pickle=False)
        word_to_index = json.loads(vocab_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise PipelineInputError(f"cannot load embeddings from '{folder}': {error}") from error
    if vectors.ndim != 2 or vectors.dtype != np.float32:
        raise PipelineInputError(f"'{embeddings_path}' must be a float32 matrix, got {vectors.dtype} {vectors.shape}")
    if not isinstance(word_to_index, dict):
        raise PipelineInputError(f"'{vocab_path}' must hold a JSON object {{word: index}}")
    index_to_word: list[str | None] = [None] * len(word_to_index)
    for word, index in word_to_index.items():
        if type(index) is not int or not 0 <= index < len(index_to_word) or index_to_word[index] is not None:
            raise PipelineInputError(f"'{vocab_path}': index {index!r} of word {word!r} is not a unique 0..n-1 index")
        index_to_word[index] = word
    if len(index_to_word) != vectors.shape[0]:
        raise PipelineInputError(
            f"'{vocab_path}' has {len(index_to_word)} words but '{embeddings_path}' has {vectors.shape[0]} rows"
        )
    # n unique indices in 0..n-1 filled every slot: no None is left, which mypy cannot follow
    return Embeddings(vectors=vectors, word_to_index=word_to_index, index_to_word=index_to_word)  # type: ignore[arg-type]
