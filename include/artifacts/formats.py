"""Embeddings in the formats other tools open: word2vec text and binary, TensorBoard projector TSVs.

All are written from the exported matrix and vocabulary (``embeddings.npy``, ``vocab.json``), so
they hold exactly the published vectors, rows in vocabulary order. The text formats are formatted
by Arrow's float-to-string cast (shortest text that reads back to the same float32, as gensim's
own writer) a block of rows at a time: no Python per number, memory bounded by the block, so a
million-word vocabulary takes seconds instead of minutes.
"""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from include.artifacts.embeddings import Embeddings, read_rows

WORD2VEC_TEXT = "word2vec.txt"
WORD2VEC_BINARY = "word2vec.bin"
PROJECTOR_VECTORS = "vectors.tsv"
PROJECTOR_METADATA = "metadata.tsv"
#: Rows formatted at once: about 40 MiB of text at 100 dimensions.
BLOCK_ROWS = 32_768


def formatted_blocks(vectors: np.ndarray, words: list[str], threads: int = 2) -> Iterator[tuple]:
    """The rows of ``vectors``, ``BLOCK_ROWS`` at a time, as ``(word2vec_lines, projector_lines,
    block)``: each float32 formatted once, as the shortest text that reads back to it, then joined
    two ways: ``<word> <v1> <v2> ...`` and ``<v1>\t<v2>\t...``, each line ended by ``\n`` (two UTF-8
    Arrow ``Buffer``s, written as they are), and the block itself (little-endian float32, contiguous,
    for the binary format). Yields one such triple per block, in order. ``threads`` blocks are
    formatted at once (Arrow's kernels release the GIL) while the caller writes the one before,
    so at most ``threads + 1`` blocks are in memory."""
    from concurrent.futures import ThreadPoolExecutor

    starts = range(0, vectors.shape[0], BLOCK_ROWS)
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="format") as pool:
        pending: deque = deque()
        for start in starts:
            pending.append(pool.submit(_format_block, vectors, words, start))
            if len(pending) > threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _format_block(vectors: np.ndarray, words: list[str], start: int) -> tuple:
    import pyarrow as pa
    import pyarrow.compute as pc

    block = read_rows(vectors, start, start + BLOCK_ROWS)
    rows, dims = block.shape
    numbers = pc.cast(pa.array(block.reshape(-1)), pa.string())  # the costly part: done once
    per_row = pa.ListArray.from_arrays(pa.array(np.arange(0, rows * dims + 1, dims, dtype=np.int32)), numbers)
    text = pc.binary_join_element_wise(
        pa.array(words[start : start + rows], pa.string()), pc.binary_join(per_row, " "), " "
    )
    return _one_buffer(text), _one_buffer(pc.binary_join(per_row, "\t")), block


def _one_buffer(lines) -> object:
    """Arrow string ``lines`` as one buffer of ``<line>\n`` each."""
    import pyarrow as pa
    import pyarrow.compute as pc

    ended = pc.binary_join_element_wise(lines, "", "\n")
    return pc.binary_join(pa.ListArray.from_arrays(pa.array([0, len(ended)], pa.int32()), ended), "")[0].as_buffer()


def write_exports(embeddings: Embeddings, out_dir: Path) -> dict:
    """Every exchange format, in one pass over the matrix, into ``out_dir``:

    - ``word2vec.txt`` and ``word2vec.bin``, the original C tool's formats (a header
      ``<words> <dimensions>``, then a word and its vector per row; in the binary one, byte for
      byte what gensim's ``KeyedVectors.save_word2vec_format`` writes: ``<word> `` and float32
      bytes), readable by ``KeyedVectors.load_word2vec_format`` and most embedding tools;
    - ``projector/vectors.tsv`` (one row of tab-separated floats per word) and
      ``projector/metadata.tsv`` (the words, one per line, no header: a single column) for the
      TensorBoard Embedding Projector (projector.tensorflow.org: "Load" both files).

    Returns their paths as ``word2vec_text``, ``word2vec_binary``, ``projector_vectors``,
    ``projector_metadata``."""
    out_dir = Path(out_dir)
    (out_dir / "projector").mkdir(parents=True, exist_ok=True)
    paths = {
        "word2vec_text": out_dir / WORD2VEC_TEXT,
        "word2vec_binary": out_dir / WORD2VEC_BINARY,
        "projector_vectors": out_dir / "projector" / PROJECTOR_VECTORS,
        "projector_metadata": out_dir / "projector" / PROJECTOR_METADATA,
    }
    vectors, words = embeddings.vectors, embeddings.index_to_word
    header = f"{vectors.shape[0]} {vectors.shape[1]}\n".encode()
    with (
        open(paths["word2vec_text"], "wb") as text,
        open(paths["word2vec_binary"], "wb") as binary,
        open(paths["projector_vectors"], "wb") as tsv,
    ):
        text.write(header)
        binary.write(header)
        blocks = formatted_blocks(vectors, words)
        for start, (text_lines, tsv_lines, block) in zip(range(0, len(words), BLOCK_ROWS), blocks):
            text.write(text_lines)
            tsv.write(tsv_lines)
            block_words = words[start : start + BLOCK_ROWS]
            # gensim's layout exactly: "<word> " then the raw vector, no separator after it
            binary.write(b"".join(f"{word} ".encode() + row.tobytes() for word, row in zip(block_words, block)))
    with open(paths["projector_metadata"], "w", encoding="utf-8", newline="") as handle:
        # tokens hold no tab or newline; the projector reads one word per line for one column
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        for word in words:
            writer.writerow([word])
    return {name: str(path) for name, path in paths.items()}
