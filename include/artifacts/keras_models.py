"""Keras 3 models whose ``Embedding`` weights are the exported matrix (built by ``build_keras_model``).

Keras row layout: 0 = padding (``mask_zero``), 1 = unknown word, ``i + 2`` = the word whose
vocab index is ``i``. The weights are set after the layer is built (a ``Constant`` initializer
would write the whole matrix into the saved config) and frozen. Files, all loadable with
``keras.saving.load_model(path, safe_mode=True)`` (no ``Lambda``, no custom layer):

- ``embedding.keras``: int ids ``(batch, n)`` -> vectors ``(batch, n, vector_size)``
- ``similarity.keras``: two int32 inputs ``(batch, 1)`` -> cosine ``(batch, 1)``
- ``embedding_words.keras`` / ``similarity_words.keras``: the same from strings, through a
  ``StringLookup`` whose vocabulary is stored as an asset (unknown words -> row 1, cosine 0)
- ``keras_vocab.json``: ``{"word": keras_index}`` exactly as the lookup maps words.

Keras 3 ``predict()`` refuses numpy string arrays: pass ``tf.constant`` tensors, or use
:func:`word_similarities` / :func:`word_vectors`.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from include.artifacts.embeddings import read_rows
from include.storage.atomic_io import write_json_atomic

PAD_INDEX = 0
UNKNOWN_INDEX = 1
RESERVED_ROWS = 2
EMBEDDING_LAYER = "word_embedding"
LOOKUP_LAYER = "word_lookup"
FILES = ("embedding.keras", "similarity.keras", "embedding_words.keras", "similarity_words.keras")


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Without oneDNN TensorFlow allocates CPU tensors with malloc, which returns a freed matrix to
    # the system; oneDNN's pool kept all it ever held (1.6 GB after the step at 1M words, which
    # every later task of a `make run` process then ran on top of). Our models only look rows up
    # and take dot products: oneDNN's kernels change nothing here. An explicit setting wins.
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import keras

    return keras


#: Rows copied into the Keras variable at a time (25 MiB at 100 dimensions): no full-size copy.
ASSIGN_BLOCK_ROWS = 65_536


def _frozen_embedding(vectors: np.ndarray):
    """A frozen ``Embedding`` of ``vectors`` behind two zero rows (padding, unknown). It starts
    at zeros (a random initial matrix would cost one more full copy) and ``vectors`` (an array or a
    memory map) is written into it in blocks of rows, in place (a row scatter: slicing the variable
    to assign a block would first read the whole variable, one full copy per block: 16 at a
    million words), so the variable is the only full-size copy made."""
    import tensorflow as tf

    keras = _keras()
    rows, dimensions = vectors.shape[0] + RESERVED_ROWS, vectors.shape[1]
    layer = keras.layers.Embedding(
        rows, dimensions, embeddings_initializer="zeros", mask_zero=True, trainable=False, name=EMBEDDING_LAYER
    )
    layer.build((None, 1))
    variable = layer.embeddings.value  # the backend's variable (tensorflow: a resource variable)
    for start in range(0, vectors.shape[0], ASSIGN_BLOCK_ROWS):
        block = read_rows(vectors, start, start + ASSIGN_BLOCK_ROWS)  # from a map: read, not mapped in
        first = RESERVED_ROWS + start
        variable.scatter_update(tf.IndexedSlices(block, tf.range(first, first + len(block))))
    return layer


def _known_vocabulary(lookup, index_to_word: list[str]) -> None:
    """Give ``lookup`` (a ``StringLookup`` whose vocabulary was set from ``index_to_word``) its
    ``get_vocabulary`` as the list it would decode from its table: ``["", "[UNK]", *index_to_word]``.
    Saving a model calls it to write the vocabulary asset, and Keras's own decodes and re-orders
    every string (about 4 s per save at a million words, twice per version).
    ``tests/unit/test_keras_models.py`` checks it against Keras's own."""
    special = [lookup.mask_token, lookup.oov_token]
    words = list(index_to_word)

    def get_vocabulary(include_special_tokens: bool = True) -> list[str]:
        return special + words if include_special_tokens else list(words)

    lookup.get_vocabulary = get_vocabulary


def _cosine(keras, embedded_a, embedded_b):
    cosine = keras.layers.Dot(axes=-1, normalize=True, name="cosine")([embedded_a, embedded_b])
    return keras.layers.Reshape((1,), name="similarity")(cosine)


def build_id_models(embedding):
    """``(embedding_model, similarity_model)`` taking Keras word ids (vocab index + 2), on
    ``embedding`` (a layer from :func:`_frozen_embedding`)."""
    keras = _keras()
    ids = keras.Input(shape=(None,), dtype="int32", name="word_ids")
    embedding_model = keras.Model(ids, embedding(ids), name="word_embedding_model")
    word_a = keras.Input(shape=(1,), dtype="int32", name="word_a")
    word_b = keras.Input(shape=(1,), dtype="int32", name="word_b")
    similarity_model = keras.Model(
        [word_a, word_b], _cosine(keras, embedding(word_a), embedding(word_b)), name="word_similarity_model"
    )
    return embedding_model, similarity_model


def build_word_models(index_to_word: list[str], embedding):
    """``(embedding_model, similarity_model, lookup)`` taking strings, on ``embedding`` (a layer
    from :func:`_frozen_embedding`); the lookup maps word ``i`` to ``i + 2``."""
    keras = _keras()
    lookup = keras.layers.StringLookup(mask_token="", num_oov_indices=1, name=LOOKUP_LAYER)
    lookup.set_vocabulary(list(index_to_word))  # stored as an asset, not in config.json
    _known_vocabulary(lookup, index_to_word)
    words = keras.Input(shape=(None,), dtype="string", name="words")
    embedding_model = keras.Model(words, embedding(lookup(words)), name="word_embedding_strings_model")
    word_a = keras.Input(shape=(1,), dtype="string", name="word_a")
    word_b = keras.Input(shape=(1,), dtype="string", name="word_b")
    similarity_model = keras.Model(
        [word_a, word_b],
        _cosine(keras, embedding(lookup(word_a)), embedding(lookup(word_b))),
        name="word_similarity_strings_model",
    )
    return embedding_model, similarity_model, lookup


def release_keras_memory() -> None:
    """Drop Keras's global state and collect: call it once the last reference to a large model is
    gone, before the next is loaded, so one copy of the matrix lives in Keras at a time. Inside
    :func:`keras_step` the collection scans only what the step made."""
    _keras().backend.clear_session(free_memory=True)


@contextmanager
def keras_step():
    """Build, save and check models inside this: it imports Keras, and freezes the objects that
    exist by then (Airflow's, TensorFlow's modules, the earlier tasks' in a ``make run`` process)
    out of the garbage collector's reach until it exits, so each :func:`release_keras_memory`
    scans only the step's own objects (in ``make run`` the step's three collections took 1.6 s
    before, at 100k words). On exit the step's objects are collected and the frozen ones handed
    back to the collector."""
    import gc

    _keras()
    gc.freeze()
    try:
        yield
    finally:
        release_keras_memory()
        gc.unfreeze()


def write_keras_models(vectors: np.ndarray, index_to_word: list[str], out_dir: Path) -> dict:
    """Build and save the four models and ``keras_vocab.json`` into ``out_dir``. The four share one
    ``Embedding`` layer, so the matrix is held once in memory (each saved file has its own copy).

    Returns ``{"keras_dir", "files", "rows"}``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    embedding = _frozen_embedding(vectors)
    *word_models, lookup = build_word_models(index_to_word, embedding)
    models = (*build_id_models(embedding), *word_models)
    for name, model in zip(FILES, models):
        model.save(out_dir / name)
    # the lookup holds index_to_word after the mask and the unknown token, so word i is row i + 2
    # (asking it with get_vocabulary() costs seconds at a million words: Keras decodes every string;
    # tests/unit/test_keras_models.py checks this mapping against the saved models' own)
    del embedding, word_models, models, model, lookup
    release_keras_memory()
    keras_vocab = {str(word): index + RESERVED_ROWS for index, word in enumerate(index_to_word)}
    write_json_atomic(out_dir / "keras_vocab.json", keras_vocab, indent=None)
    return {
        "keras_dir": str(out_dir),
        "files": list(FILES) + ["keras_vocab.json"],
        "rows": int(vectors.shape[0] + RESERVED_ROWS),
    }


def load_model(path: Path):
    """Load a saved model with ``safe_mode=True``."""
    return _keras().saving.load_model(path, safe_mode=True)


def load_model_unpacked(path: Path):
    """Load the ``.keras`` archive at ``path`` (``safe_mode=True``) from a copy of its files
    unpacked to a temporary folder, which Keras loads as it loads the archive (``config.json``,
    then the weights): h5py then reads the weights file from disk where, from the archive, Keras
    first holds it in memory; at a million words that is 240-380 MiB less at the load's peak."""
    import tempfile
    import zipfile

    with tempfile.TemporaryDirectory(prefix="w2v-keras-load-") as folder:
        with zipfile.ZipFile(path) as archive:
            archive.extractall(folder)
        return load_model(Path(folder))


def word_similarities(similarity_words_model, pairs: list[tuple[str, str]]) -> np.ndarray:
    """Cosine similarities, shape ``(len(pairs),)``, of word pairs through ``similarity_words.keras``
    (the model is called directly: ``predict`` would first trace a graph, which costs more than
    these few pairs)."""
    import tensorflow as tf

    left = tf.constant([[a] for a, _ in pairs], dtype=tf.string)
    right = tf.constant([[b] for _, b in pairs], dtype=tf.string)
    return np.asarray(similarity_words_model([left, right], training=False)).reshape(-1)


def id_similarities(similarity_model, ids_a: np.ndarray, ids_b: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Cosine similarities, shape ``(n,)``, of Keras id pairs through ``similarity.keras``, called
    directly ``batch_size`` pairs at a time."""
    ids_a = np.asarray(ids_a, dtype=np.int32).reshape(-1, 1)
    ids_b = np.asarray(ids_b, dtype=np.int32).reshape(-1, 1)
    batches = [
        np.asarray(similarity_model([ids_a[start : start + batch_size], ids_b[start : start + batch_size]]))
        for start in range(0, len(ids_a), batch_size)
    ]
    return np.concatenate(batches).reshape(-1) if batches else np.empty(0, dtype=np.float32)


def word_vectors(embedding_words_model, words: list[str]) -> np.ndarray:
    """Vectors, shape ``(len(words), vector_size)``, of words through ``embedding_words.keras``."""
    import tensorflow as tf

    return np.asarray(embedding_words_model(tf.constant([list(words)], dtype=tf.string), training=False))[0]
