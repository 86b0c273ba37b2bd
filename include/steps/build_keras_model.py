"""The ``build_keras_model`` step: Keras 3 models on the version's embeddings, in ``<version>/keras/``,
checked against gensim before they are kept (the parity check)."""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import TypedDict

from include.artifacts.embeddings import fetch_embeddings
from include.artifacts.keras_models import keras_step, write_keras_models
from include.quality.parity import check_parity
from include.storage.layout import data_store
from include.storage.version_files import record_written, relocated

log = logging.getLogger(__name__)


class ParityResult(TypedDict):
    """:func:`include.quality.parity.check_parity`'s result: the Keras models' cosines against gensim's."""

    pairs: int  #: random word pairs compared
    max_abs_diff: float  #: largest |Keras - gensim| cosine difference through ``similarity.keras`` (ids)
    max_abs_diff_words: float  #: the same through ``similarity_words.keras`` (strings)
    unknown_word_similarity: float  #: an unknown word's cosine through the strings model (must be 0)
    tolerance: float  #: the difference that fails the check


class KerasModels(TypedDict):
    """What ``build_keras_model`` tells the tasks after it (``parity`` goes into the report)."""

    keras_dir: str  #: ``<version>/keras`` under the data root (a path or URL)
    files: list[str]  #: the models' file names and ``keras_vocab.json``
    rows: int  #: rows of the models' embedding matrix (the vocabulary plus the reserved rows)
    parity: ParityResult


def build_keras_model(version_dir: str, run_id: str, parity_pairs: int = 200, seed: int = 0) -> KerasModels:
    """The whole ``build_keras_model`` task: the models of :mod:`include.artifacts.keras_models`
    built on the version's ``embeddings.npy`` and ``vocab.json`` (at ``version_dir`` under the data
    root) into its ``keras/``, after :func:`include.quality.parity.check_parity` found the saved
    models' cosines equal to gensim's on ``parity_pairs`` random pairs (drawn with ``seed``).

    Returns the models' locations and ``parity`` (the check's result, for the report). Raises
    :class:`include.errors.ParityError`, publishing no model, when Keras and gensim disagree.
    """
    store = data_store()
    prefix = store.key_of(version_dir)
    with tempfile.TemporaryDirectory(prefix="w2v-keras-") as scratch:
        embeddings = fetch_embeddings(store, prefix, Path(scratch))
        with store.writer(f"{prefix}/keras", Path(scratch)) as out, keras_step():
            started = time.perf_counter()
            paths = write_keras_models(embeddings.vectors, embeddings.index_to_word, out.folder)
            log.info(
                "%d Keras models of %d rows saved in %.2fs",
                len(paths["files"]) - 1,
                paths["rows"],
                time.perf_counter() - started,
            )
            started = time.perf_counter()
            checked = check_parity(embeddings, out.folder, pairs=parity_pairs, seed=seed)
            parity = ParityResult(
                pairs=checked["pairs"],
                max_abs_diff=checked["max_abs_diff"],
                max_abs_diff_words=checked["max_abs_diff_words"],
                unknown_word_similarity=checked["unknown_word_similarity"],
                tolerance=checked["tolerance"],
            )
            log.info(
                "parity over %d pairs: max |keras - gensim| = %.3g (ids), %.3g (strings), checked in %.2fs",
                parity["pairs"],
                parity["max_abs_diff"],
                parity["max_abs_diff_words"],
                time.perf_counter() - started,
            )
        record_written(store, run_id, "build_keras_model", out.files, under="keras")
    located = relocated(paths, out.folder, store, f"{prefix}/keras")
    return KerasModels(keras_dir=located["keras_dir"], files=located["files"], rows=located["rows"], parity=parity)
