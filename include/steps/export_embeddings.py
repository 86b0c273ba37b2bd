"""The ``export_embeddings`` step: ``embeddings.npy`` + ``vocab.json`` from the trained model, and
the same vectors in word2vec text/binary and TensorFlow projector formats under ``exports/``."""

from __future__ import annotations

from pathlib import Path

from include.artifacts.embeddings import export_embeddings as export_matrix
from include.artifacts.embeddings import load_embeddings
from include.artifacts.formats import write_projector_files, write_word2vec_formats


def export_embeddings(model_path: Path, version_dir: Path) -> dict:
    """The whole ``export_embeddings`` task: the gensim model at ``model_path`` exported into
    ``version_dir``. Returns the written paths and ``vocab_size``/``vector_size``."""
    version_dir = Path(version_dir)
    exported = export_matrix(Path(model_path), version_dir)
    embeddings = load_embeddings(version_dir)
    return {
        **exported,
        **write_word2vec_formats(embeddings, version_dir / "exports"),
        **write_projector_files(embeddings, version_dir / "exports" / "projector"),
    }
