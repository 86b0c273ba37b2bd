import gc
import json
import zipfile
from contextlib import nullcontext

import numpy as np
import pytest
import tensorflow as tf

from include.artifacts.embeddings import load_embeddings
from include.artifacts.keras_models import (
    EMBEDDING_LAYER,
    FILES,
    PAD_INDEX,
    RESERVED_ROWS,
    UNKNOWN_INDEX,
    id_similarities,
    keras_step,
    load_model,
    load_model_unpacked,
    word_similarities,
    word_vectors,
)


@pytest.fixture(scope="module")
def keras_dir(trained_version):
    return trained_version["version_dir"] / "keras"


@pytest.fixture(scope="module")
def embeddings(trained_version):
    return load_embeddings(trained_version["version_dir"])


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("load", [load_model, load_model_unpacked])
def test_every_model_loads_in_safe_mode_with_exact_frozen_weights(
    keras_dir, embeddings, name, load, tmp_path, monkeypatch
):
    """Each archive loads with its exact weights, as it is and unpacked (the parity check's way),
    which leaves nothing behind in the temporary folder."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    model = load(keras_dir / name)
    assert list(tmp_path.iterdir()) == []
    layer = model.get_layer(EMBEDDING_LAYER)
    weights = layer.get_weights()[0]
    assert weights.shape == (len(embeddings) + RESERVED_ROWS, embeddings.vector_size)
    assert np.array_equal(weights[RESERVED_ROWS:], embeddings.vectors), (
        "Keras rows i+2 must equal embeddings.npy rows i"
    )
    assert not weights[PAD_INDEX].any() and not weights[UNKNOWN_INDEX].any()
    assert layer.trainable is False and layer.mask_zero is True
    assert model.trainable_weights == []


@pytest.mark.parametrize("name", FILES)
def test_saved_config_holds_neither_matrix_nor_vocabulary(keras_dir, embeddings, name):
    with zipfile.ZipFile(keras_dir / name) as archive:
        config = archive.read("config.json").decode("utf-8")
    assert "Constant" not in config and "Lambda" not in config
    assert len(config) < 20_000, "the matrix or the vocabulary leaked into config.json"
    leaked = [word for word in ("queen", "garden", "server", "bridge") if f'"{word}"' in config]
    assert leaked == [], f"vocabulary words written into config.json: {leaked}"


def test_strings_vocabulary_is_an_asset(keras_dir, embeddings):
    with zipfile.ZipFile(keras_dir / "similarity_words.keras") as archive:
        assets = [name for name in archive.namelist() if name.startswith("assets/")]
        assert assets, "StringLookup vocabulary must be saved as an asset"
        words = archive.read(assets[0]).decode("utf-8").split("\n")
    assert [w for w in words if w] == ["[UNK]"] + embeddings.index_to_word


@pytest.mark.parametrize("special", [True, False])
def test_the_lookups_known_vocabulary_is_what_keras_decodes_from_its_table(special):
    """Saving reads the lookup's vocabulary from the list it was set from, not by decoding its
    table: both give the same list (unusual words included), with and without the special tokens."""
    from include.artifacts.keras_models import _frozen_embedding, build_word_models

    words = ["the", "Café", "naïve", "[UNK]x", "日本", "a b", "0.5", "-", "zz"]
    _, _, lookup = build_word_models(words, _frozen_embedding(np.ones((len(words), 3), dtype=np.float32)))
    keras_own = type(lookup).get_vocabulary(lookup, include_special_tokens=special)
    assert lookup.get_vocabulary(include_special_tokens=special) == keras_own
    assert keras_own[-len(words) :] == words


def test_keras_vocab_json_is_the_exact_lookup_mapping(keras_dir, embeddings):
    keras_vocab = json.loads((keras_dir / "keras_vocab.json").read_text(encoding="utf-8"))
    assert keras_vocab == {word: index + RESERVED_ROWS for word, index in embeddings.word_to_index.items()}
    model = load_model(keras_dir / "embedding_words.keras")
    lookup = model.get_layer("word_lookup")
    some = embeddings.index_to_word[:5] + ["zzzz-unknown"]
    ids = np.asarray(lookup(tf.constant(some))).tolist()
    assert ids == [keras_vocab[w] for w in some[:5]] + [UNKNOWN_INDEX]


def test_similarity_model_matches_gensim_for_ids_and_strings(keras_dir, embeddings):
    keyed = embeddings.to_keyed_vectors()
    n = len(embeddings)
    first, second = np.arange(n), (np.arange(n) * 7 + 3) % n
    expected = np.array(
        [keyed.similarity(embeddings.index_to_word[a], embeddings.index_to_word[b]) for a, b in zip(first, second)]
    )
    similarity = load_model(keras_dir / "similarity.keras")
    assert similarity.output_shape == (None, 1)
    assert [tuple(i.shape) for i in similarity.inputs] == [(None, 1), (None, 1)]
    assert all(i.dtype == "int32" for i in similarity.inputs)
    by_ids = id_similarities(similarity, first + RESERVED_ROWS, second + RESERVED_ROWS)
    assert np.max(np.abs(by_ids - expected)) < 1e-5
    pairs = [(embeddings.index_to_word[a], embeddings.index_to_word[b]) for a, b in zip(first, second)]
    by_words = word_similarities(load_model(keras_dir / "similarity_words.keras"), pairs)
    assert np.max(np.abs(by_words - expected)) < 1e-5


def test_unknown_words_get_similarity_zero(keras_dir, embeddings):
    model = load_model(keras_dir / "similarity_words.keras")
    known = embeddings.index_to_word[0]
    scores = word_similarities(model, [("never-seen", known), (known, "<b>"), ("", known), (known, known)])
    assert scores[:3].tolist() == [0.0, 0.0, 0.0]
    assert scores[3] == pytest.approx(1.0, abs=1e-5)


def test_embedding_models_return_the_rows(keras_dir, embeddings):
    words = embeddings.index_to_word[:3] + ["never-seen"]
    vectors = word_vectors(load_model(keras_dir / "embedding_words.keras"), words)
    assert np.array_equal(vectors[:3], embeddings.vectors[:3])
    assert not vectors[3].any()
    by_ids = load_model(keras_dir / "embedding.keras").predict(np.array([[2, 3, 0]], dtype=np.int32), verbose=0)[0]
    assert np.array_equal(by_ids[:2], embeddings.vectors[:2]) and not by_ids[2].any()


def test_predict_refuses_numpy_strings_so_callers_use_tensors(keras_dir):
    """Documents the Keras 3.15 behaviour the wrappers exist for: numpy string arrays fail."""
    model = load_model(keras_dir / "similarity_words.keras")
    with pytest.raises(Exception):
        model.predict([np.array([["a"]]), np.array([["b"]])], verbose=0)


@pytest.mark.parametrize("fails", [False, True])
def test_keras_step_freezes_what_exists_and_hands_it_back(fails):
    """Inside the step the collector skips the objects made before it (so its collections are
    cheap); after it, also when the step fails, nothing stays frozen and its own garbage is gone."""
    import weakref

    class Node:
        pass

    gc.unfreeze()
    with pytest.raises(RuntimeError) if fails else nullcontext():
        with keras_step():
            assert gc.get_freeze_count() > 0
            made = Node()
            made.cycle = made  # only the collector frees a cycle
            made_ref = weakref.ref(made)
            del made
            if fails:
                raise RuntimeError("the step failed")
    assert gc.get_freeze_count() == 0
    assert made_ref() is None, "the step's own cyclic garbage is collected on exit"
