"""Embeddings in the formats other tools open: word2vec text and binary, TensorBoard projector TSVs.

All are written from the exported matrix and vocabulary (``embeddings.npy``, ``vocab.json``), so
they hold exactly the published vectors, rows in vocabulary order.
"""

from __future__ import annotations

import csv
from pathlib import Path

from include.artifacts.embeddings import Embeddings

WORD2VEC_TEXT = "word2vec.txt"
WORD2VEC_BINARY = "word2vec.bin"
PROJECTOR_VECTORS = "vectors.tsv"
PROJECTOR_METADATA = "metadata.tsv"


def write_word2vec_formats(embeddings: Embeddings, out_dir: Path) -> dict:
    """``word2vec.txt`` and ``word2vec.bin`` (the original C tool's formats, via gensim's
    ``KeyedVectors.save_word2vec_format``): readable by ``KeyedVectors.load_word2vec_format`` and by
    most embedding tools. Returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    keyed = embeddings.to_keyed_vectors()
    text, binary = out_dir / WORD2VEC_TEXT, out_dir / WORD2VEC_BINARY
    keyed.save_word2vec_format(str(text), binary=False)
    keyed.save_word2vec_format(str(binary), binary=True)
    return {"word2vec_text": str(text), "word2vec_binary": str(binary)}


def write_projector_files(embeddings: Embeddings, out_dir: Path) -> dict:
    """``vectors.tsv`` (one row of tab-separated floats per word) and ``metadata.tsv`` (the words,
    one per line, no header: a single column) for the TensorBoard Embedding Projector
    (projector.tensorflow.org: "Load" both files). Returns their paths."""
    import numpy as np

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    vectors, metadata = out_dir / PROJECTOR_VECTORS, out_dir / PROJECTOR_METADATA
    np.savetxt(vectors, np.asarray(embeddings.vectors), delimiter="\t", fmt="%.6g")
    with open(metadata, "w", encoding="utf-8", newline="") as handle:
        # tokens hold no tab or newline; the projector reads one word per line for one column
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        for word in embeddings.index_to_word:
            writer.writerow([word])
    return {"projector_vectors": str(vectors), "projector_metadata": str(metadata)}
