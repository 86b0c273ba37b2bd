"""The ``export_embeddings`` step: the version's vectors (``embeddings.npy`` + ``vocab.json``, which
training wrote) in the exchange formats under ``exports/``: word2vec text and binary, and the
TensorFlow projector's TSVs."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TypedDict

from include.artifacts.embeddings import fetch_embeddings
from include.artifacts.formats import write_exports
from include.storage.layout import data_store
from include.storage.version_files import record_written, relocated


class ExportedEmbeddings(TypedDict):
    """What ``export_embeddings`` tells the tasks after it: where each format was written (paths or
    URLs under the data root, :func:`include.artifacts.formats.write_exports`) and the matrix's shape."""

    word2vec_text: str
    word2vec_binary: str
    projector_vectors: str
    projector_metadata: str
    vocab_size: int
    vector_size: int


def export_embeddings(version_dir: str, run_id: str) -> ExportedEmbeddings:
    """The whole ``export_embeddings`` task: the embeddings of the version at ``version_dir`` (a
    location under the data root) written as ``exports/word2vec.txt``, ``exports/word2vec.bin`` and
    ``exports/projector/``. Reads the matrix (memory-mapped where the root is local), never the
    gensim model. Returns the written files' locations and ``vocab_size``/``vector_size``."""
    store = data_store()
    prefix = store.key_of(version_dir)
    with tempfile.TemporaryDirectory(prefix="w2v-export-") as scratch:
        embeddings = fetch_embeddings(store, prefix, Path(scratch))
        with store.writer(f"{prefix}/exports", Path(scratch)) as out:
            formats = write_exports(embeddings, out.folder)
        record_written(store, run_id, "export_embeddings", out.files, under="exports")
    located = relocated(formats, out.folder, store, f"{prefix}/exports")
    return ExportedEmbeddings(
        word2vec_text=located["word2vec_text"],
        word2vec_binary=located["word2vec_binary"],
        projector_vectors=located["projector_vectors"],
        projector_metadata=located["projector_metadata"],
        vocab_size=len(embeddings),
        vector_size=embeddings.vector_size,
    )
