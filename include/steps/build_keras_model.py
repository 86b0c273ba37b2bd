"""The ``build_keras_model`` step: Keras 3 models on the exported embeddings, in ``<version>/keras/``."""

from __future__ import annotations

import tempfile
from pathlib import Path

from include.artifacts.embeddings import EMBEDDINGS_FILE, VOCAB_FILE, load_embeddings
from include.artifacts.keras_models import write_keras_models
from include.storage.layout import data_store
from include.storage.version_files import record_written, relocated


def build_keras_model(version_dir: str, run_id: str) -> dict:
    """The whole ``build_keras_model`` task: the models of :mod:`include.artifacts.keras_models`
    built on the version's ``embeddings.npy`` and ``vocab.json`` (at ``version_dir`` under the data
    root) into its ``keras/``. Returns the models' locations."""
    store = data_store()
    prefix = store.key_of(version_dir)
    with tempfile.TemporaryDirectory(prefix="w2v-keras-") as scratch:
        for name in (EMBEDDINGS_FILE, VOCAB_FILE):
            local = store.fetch(f"{prefix}/{name}", Path(scratch))
        embeddings = load_embeddings(local.parent, mmap=True)
        with store.writer(f"{prefix}/keras", Path(scratch)) as out:
            paths = write_keras_models(embeddings.vectors, embeddings.index_to_word, out.folder)
        record_written(store, run_id, "build_keras_model", out.files, under="keras")
    return relocated(paths, out.folder, store, f"{prefix}/keras")
