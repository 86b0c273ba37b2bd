"""Embeddings in the formats other tools open: word2vec text and binary, TensorBoard projector TSVs.

All are written from the exported matrix and vocabulary (``embeddings.npy``, ``vocab.json``), so
they hold exactly the published vectors, rows in vocabulary order. The text formats are formatted
by Arrow's float-to-string cast (shortest text that reads back to the same float32, as gensim's
own writer) a block of rows at a time: no Python per number, memory bounded by the block, so a
million-word vocabulary takes seconds instead of minutes.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from include.artifacts.embeddings import Embeddings

WORD2VEC_TEXT = "word2vec.txt"
WORD2VEC_BINARY = "word2vec.bin"
PROJECTOR_VECTORS = "vectors.tsv"
PROJECTOR_METADATA = "metadata.tsv"
#: Rows formatted at once: about 40 MiB of text at 100 dimensions.
BLOCK_ROWS = 32_768


def formatted_rows(vectors: np.ndarray, separator: str, words: list[str] | None = None) -> Iterator:
    """The rows of ``vectors`` as text lines, ``BLOCK_ROWS`` at a time: each float32 as the shortest
    text that reads back to it, joined by ``separator``, each line prefixed by its word and
    ``separator`` when ``words`` is given, and ended by ``\\n``. Yields one UTF-8 buffer (an Arrow
    ``Buffer``, written as it is) per block."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n, dims = vectors.shape
    for start in range(0, n, BLOCK_ROWS):
        block = np.ascontiguousarray(vectors[start : start + BLOCK_ROWS], dtype=np.float32)
        rows = len(block)
        numbers = pc.cast(pa.array(block.reshape(-1)), pa.string())
        offsets = pa.array(np.arange(0, rows * dims + 1, dims, dtype=np.int32))
        lines = pc.binary_join(pa.ListArray.from_arrays(offsets, numbers), separator)
        if words is not None:
            lines = pc.binary_join_element_wise(pa.array(words[start : start + rows], pa.string()), lines, separator)
        lines = pc.binary_join_element_wise(lines, "", "\n")  # "<line>\n"
        whole = pc.binary_join(pa.ListArray.from_arrays(pa.array([0, rows], pa.int32()), lines), "")
        yield whole[0].as_buffer()


def write_word2vec_formats(embeddings: Embeddings, out_dir: Path) -> dict:
    """``word2vec.txt`` and ``word2vec.bin``, the original C tool's formats (a header
    ``<words> <dimensions>``, then a word and its vector per row; in the binary one, byte for byte
    what gensim's ``KeyedVectors.save_word2vec_format`` writes: ``<word> `` and float32 bytes): readable by
    ``KeyedVectors.load_word2vec_format`` and by most embedding tools. Returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    text, binary = out_dir / WORD2VEC_TEXT, out_dir / WORD2VEC_BINARY
    n, dims = embeddings.vectors.shape
    header = f"{n} {dims}\n".encode()
    with open(text, "wb") as handle:
        handle.write(header)
        for block in formatted_rows(embeddings.vectors, " ", embeddings.index_to_word):
            handle.write(block)
    with open(binary, "wb") as handle:
        handle.write(header)
        for start in range(0, n, BLOCK_ROWS):
            block = np.ascontiguousarray(embeddings.vectors[start : start + BLOCK_ROWS], dtype="<f4")
            words = embeddings.index_to_word[start : start + BLOCK_ROWS]
            # gensim's layout exactly: "<word> " then the raw vector, no separator after it
            handle.write(b"".join(f"{word} ".encode() + row.tobytes() for word, row in zip(words, block)))
    return {"word2vec_text": str(text), "word2vec_binary": str(binary)}


def write_projector_files(embeddings: Embeddings, out_dir: Path) -> dict:
    """``vectors.tsv`` (one row of tab-separated floats per word) and ``metadata.tsv`` (the words,
    one per line, no header: a single column) for the TensorBoard Embedding Projector
    (projector.tensorflow.org: "Load" both files). Returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    vectors, metadata = out_dir / PROJECTOR_VECTORS, out_dir / PROJECTOR_METADATA
    with open(vectors, "wb") as handle:
        for block in formatted_rows(embeddings.vectors, "\t"):
            handle.write(block)
    with open(metadata, "w", encoding="utf-8", newline="") as handle:
        # tokens hold no tab or newline; the projector reads one word per line for one column
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        for word in embeddings.index_to_word:
            writer.writerow([word])
    return {"projector_vectors": str(vectors), "projector_metadata": str(metadata)}
