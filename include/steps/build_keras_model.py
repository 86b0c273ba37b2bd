"""The ``build_keras_model`` step: Keras 3 models on the exported embeddings, in ``<version>/keras/``."""

from __future__ import annotations

from pathlib import Path

from include.artifacts.embeddings import load_embeddings
from include.artifacts.keras_models import write_keras_models


def build_keras_model(version_dir: Path) -> dict:
    """The whole ``build_keras_model`` task: the models of :mod:`include.artifacts.keras_models`
    built on ``version_dir``'s ``embeddings.npy`` and ``vocab.json``; returns their paths."""
    embeddings = load_embeddings(Path(version_dir))
    return write_keras_models(embeddings.vectors, embeddings.index_to_word, Path(version_dir) / "keras")
