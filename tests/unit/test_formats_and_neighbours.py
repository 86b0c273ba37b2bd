import numpy as np
import pyarrow.parquet as pq
import pytest
from gensim.models import KeyedVectors

from include.artifacts.embeddings import Embeddings, load_embeddings
from include.artifacts.formats import write_projector_files, write_word2vec_formats
from include.quality.drift import compare_versions, jaccard
from include.quality.neighbour_table import neighbour_table, write_neighbour_table


@pytest.fixture(scope="module")
def embeddings(trained_version):
    return load_embeddings(trained_version["version_dir"])


def test_word2vec_formats_load_back_in_gensim(embeddings, tmp_path):
    paths = write_word2vec_formats(embeddings, tmp_path)
    for path, binary in ((paths["word2vec_text"], False), (paths["word2vec_binary"], True)):
        loaded = KeyedVectors.load_word2vec_format(path, binary=binary)
        assert loaded.index_to_key == embeddings.index_to_word
        assert np.allclose(loaded.vectors, embeddings.vectors, atol=1e-6 if not binary else 0)
    header = open(paths["word2vec_text"], encoding="utf-8").readline().split()
    assert header == [str(len(embeddings)), str(embeddings.vector_size)]


def test_projector_files_have_one_row_per_word(embeddings, tmp_path):
    paths = write_projector_files(embeddings, tmp_path)
    vectors = np.loadtxt(paths["projector_vectors"], delimiter="\t", dtype=np.float32)
    assert vectors.shape == embeddings.vectors.shape
    assert np.allclose(vectors, embeddings.vectors, rtol=1e-5, atol=1e-6)
    words = open(paths["projector_metadata"], encoding="utf-8").read().split("\n")
    assert words[:-1] == embeddings.index_to_word and words[-1] == ""


def test_neighbour_table_matches_most_similar(embeddings, tmp_path):
    keyed = embeddings.to_keyed_vectors()
    result = write_neighbour_table(embeddings, 5, tmp_path / "neighbours.parquet")
    table = pq.read_table(result["path"]).to_pandas()
    assert result["rows"] == len(table) == len(embeddings) * 5
    assert list(table.columns) == ["word", "rank", "neighbour", "cosine"]
    for word in embeddings.index_to_word:
        rows = table[table["word"] == word].sort_values("rank")
        expected = keyed.most_similar(word, topn=5)
        assert list(rows["rank"]) == [1, 2, 3, 4, 5]
        assert np.allclose(rows["cosine"], [c for _, c in expected], atol=1e-5)
        # same neighbours up to ties within 1e-6
        for (got, cos), (want, want_cos) in zip(zip(rows["neighbour"], rows["cosine"]), expected):
            assert got == want or abs(cos - want_cos) < 1e-6
        assert word not in set(rows["neighbour"])


def test_identical_vectors_never_list_the_word_itself():
    emb = Embeddings(np.array([[1, 0], [1, 0], [0, 1]], dtype=np.float32), {"a": 0, "b": 1, "c": 2}, ["a", "b", "c"])
    indices, cosines = neighbour_table(emb, 2)
    assert indices.shape == (3, 2)
    assert all(i not in row for i, row in enumerate(indices)), "a tie with an identical vector must not list the word"
    assert indices[0][0] == 1 and cosines[0][0] == pytest.approx(1.0)


def test_drift_between_versions():
    words = ["king", "queen", "crown", "river", "boat", "water"]
    before = Embeddings(
        np.array([[1, 0, 0], [0.9, 0.1, 0], [0.8, 0.2, 0], [0, 1, 0], [0, 0.9, 0.1], [0, 0.8, 0.2]], dtype=np.float32),
        {w: i for i, w in enumerate(words)},
        words,
    )
    now_words = ["king", "queen", "river", "boat", "water", "ship"]
    now = Embeddings(
        np.array([[1, 0, 0], [0, 1, 0], [0, 0.9, 0.1], [0.9, 0.1, 0], [0, 0.8, 0.2], [0.5, 0.5, 0]], dtype=np.float32),
        {w: i for i, w in enumerate(now_words)},
        now_words,
    )
    drift = compare_versions(now, before, ["king", "queen", "crown"], 1, "v1")
    assert drift["previous_version"] == "v1"
    assert drift["probe_jaccard"] == {"king": 0.0, "queen": 0.0}  # crown was dropped
    assert drift["vocab_added"] == {"count": 1, "examples": ["ship"]}
    assert drift["vocab_dropped"] == {"count": 1, "examples": ["crown"]}
    assert drift["moved_most"][0]["jaccard"] == 0.0
    assert jaccard({"a"}, {"a"}) == 1.0 and jaccard(set(), set()) is None
