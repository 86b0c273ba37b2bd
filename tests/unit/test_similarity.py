import numpy as np
import pytest

from include.artifacts.embeddings import Embeddings, load_embeddings
from include.quality.similarity import default_probe_words, nearest_neighbours, split_probe_words, unit_rows


def _embeddings(vectors, words):
    return Embeddings(np.asarray(vectors, dtype=np.float32), {w: i for i, w in enumerate(words)}, list(words))


def test_neighbours_exclude_the_word_and_are_sorted_by_cosine():
    emb = _embeddings([[1, 0], [0.9, 0.1], [0, 1], [-1, 0], [0.5, 0.5]], ["a", "b", "c", "d", "e"])
    result = nearest_neighbours(emb, ["a"], top_k=3)
    assert [w for w, _ in result["a"]] == ["b", "e", "c"]
    cosines = [c for _, c in result["a"]]
    assert cosines == sorted(cosines, reverse=True)
    assert cosines[0] == pytest.approx(0.9 / np.hypot(0.9, 0.1), abs=1e-6)


def test_neighbours_match_gensim_most_similar(trained_version):
    emb = load_embeddings(trained_version["version_dir"])
    keyed = emb.to_keyed_vectors()
    words = emb.index_to_word[:10]
    ours = nearest_neighbours(emb, words, top_k=5)
    for word in words:
        theirs = keyed.most_similar(word, topn=5)
        assert [w for w, _ in ours[word]] == [w for w, _ in theirs]
        assert np.allclose([c for _, c in ours[word]], [c for _, c in theirs], atol=1e-5)


def test_top_k_larger_than_vocabulary_and_single_word_vocabulary():
    emb = _embeddings([[1, 0], [0, 1]], ["a", "b"])
    assert nearest_neighbours(emb, ["a"], top_k=10) == {"a": [["b", 0.0]]}
    single = _embeddings([[1, 0]], ["only"])
    assert nearest_neighbours(single, ["only"], top_k=10) == {"only": []}


def test_zero_rows_do_not_produce_nan():
    assert np.isfinite(unit_rows(np.zeros((2, 3), dtype=np.float32))).all()


def test_default_probe_words_skip_stop_words():
    emb = _embeddings(np.eye(5), ["the", "king", "and", "queen", "of"])
    assert default_probe_words(emb, count=20) == ["king", "queen"]
    assert default_probe_words(emb, count=1) == ["king"]


def test_split_probe_words_keeps_unknown_as_given():
    emb = _embeddings(np.eye(3), ["king", "queen", "crown"])
    known, unknown = split_probe_words(emb, ["queen", "", "<b>king</b>", "queen", "KING", "king"])
    assert known == ["queen", "king"]
    assert unknown == ["", "<b>king</b>", "KING"]
