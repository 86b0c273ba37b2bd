"""The ``export_embeddings`` step: ``embeddings.npy`` + ``vocab.json`` from the trained model, and
the same vectors in word2vec text/binary and TensorFlow projector formats under ``exports/``."""

from __future__ import annotations

import tempfile
from pathlib import Path

from include.artifacts.embeddings import export_embeddings as export_matrix
from include.artifacts.embeddings import load_embeddings
from include.artifacts.formats import write_projector_files, write_word2vec_formats
from include.storage.layout import data_store
from include.storage.version_files import record_written, relocated


def fetch_model(store, version_prefix: str, scratch: Path) -> Path:
    """The gensim model of a version (``word2vec.model`` and its ``.npy`` side files) as a local file."""
    names = [name for name in store.files(version_prefix) if name.startswith("word2vec.model")]
    for name in names:
        store.fetch(f"{version_prefix}/{name}", scratch)
    local = store.fetch(f"{version_prefix}/word2vec.model", scratch)
    return local


def export_embeddings(model_path: str, version_dir: str, run_id: str) -> dict:
    """The whole ``export_embeddings`` task: the gensim model at ``model_path`` exported into the
    version at ``version_dir`` (locations under the data root). Returns the written files' locations
    and ``vocab_size``/``vector_size``."""
    store = data_store()
    prefix = store.key_of(version_dir)
    with tempfile.TemporaryDirectory(prefix="w2v-export-") as scratch:
        model = fetch_model(store, prefix, Path(scratch))
        with store.writer(prefix, Path(scratch)) as out:
            exported = export_matrix(model, out.folder)
            embeddings = load_embeddings(out.folder)
            formats = {
                **write_word2vec_formats(embeddings, out.folder / "exports"),
                **write_projector_files(embeddings, out.folder / "exports" / "projector"),
            }
        record_written(store, run_id, "export_embeddings", out.files)
    return relocated({**exported, **formats}, out.folder, store, prefix)
