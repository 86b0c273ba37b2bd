import numpy as np
import pyarrow.parquet as pq
import pytest
from gensim.models import KeyedVectors

from include.artifacts.embeddings import Embeddings, load_embeddings
from include.artifacts.formats import write_exports
from include.errors import NeighbourRecallError, ParityError
from include.quality.drift import compare_versions, jaccard
from include.quality.neighbour_table import (
    HnswParams,
    exact_search,
    frequent_words,
    neighbour_table,
    write_neighbour_table,
)


@pytest.fixture(scope="module")
def embeddings(trained_version):
    return load_embeddings(trained_version["version_dir"])


def test_word2vec_formats_load_back_in_gensim_exactly(embeddings, tmp_path, monkeypatch):
    import include.artifacts.formats as formats

    monkeypatch.setattr(formats, "BLOCK_ROWS", 7)  # several blocks, the last one short
    paths = write_exports(embeddings, tmp_path)
    for path, binary in ((paths["word2vec_text"], False), (paths["word2vec_binary"], True)):
        loaded = KeyedVectors.load_word2vec_format(path, binary=binary)
        assert loaded.index_to_key == embeddings.index_to_word
        assert np.array_equal(loaded.vectors, embeddings.vectors), "the shortest text that reads back the same float"
    header = open(paths["word2vec_text"], encoding="utf-8").readline().split()
    assert header == [str(len(embeddings)), str(embeddings.vector_size)]
    gensims = tmp_path / "gensim.bin"
    embeddings.to_keyed_vectors().save_word2vec_format(str(gensims), binary=True)
    assert gensims.read_bytes() == open(paths["word2vec_binary"], "rb").read(), "byte for byte gensim's binary"


def test_text_formats_hold_extreme_and_unicode_values_exactly(tmp_path):
    words = ["zéro", "東京", "big", "tiny"]
    vectors = np.array([[0.0, -0.0], [1e-5, -1.2487489e-9], [-1.0717874e06, 3.4e38], [1.4e-45, 1.0]], np.float32)
    emb = Embeddings(vectors, {w: i for i, w in enumerate(words)}, words)
    paths = write_exports(emb, tmp_path)
    loaded = KeyedVectors.load_word2vec_format(paths["word2vec_text"], binary=False)
    assert loaded.index_to_key == words and np.array_equal(loaded.vectors, vectors)
    assert np.array_equal(np.loadtxt(paths["projector_vectors"], delimiter="\t", dtype=np.float32), vectors)


def test_projector_files_have_one_row_per_word(embeddings, tmp_path, monkeypatch):
    import include.artifacts.formats as formats

    monkeypatch.setattr(formats, "BLOCK_ROWS", 7)  # several blocks, the last one short
    paths = write_exports(embeddings, tmp_path)
    vectors = np.loadtxt(paths["projector_vectors"], delimiter="\t", dtype=np.float32)
    assert vectors.shape == embeddings.vectors.shape
    assert np.array_equal(vectors, embeddings.vectors)
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
    indices, cosines, facts = neighbour_table(emb, 2)
    assert (facts["method"], facts["recall_at_k"]) == ("exact", 1.0)
    assert indices.shape == (3, 2)
    assert all(i not in row for i, row in enumerate(indices)), "a tie with an identical vector must not list the word"
    assert indices[0][0] == 1 and cosines[0][0] == pytest.approx(1.0)


@pytest.mark.parametrize("queries", [1, 37, 1500])
def test_exact_search_finds_the_brute_force_neighbours_by_matrix_products_and_restores_faiss(queries, monkeypatch):
    """Any number of query rows (below and above FAISS's own BLAS threshold of 1,280 at 100
    dimensions) is searched with FAISS's BLAS route and gives numpy's brute-force top k; FAISS's
    global threshold is left as it was."""
    import faiss

    thresholds = []
    knn = faiss.knn
    monkeypatch.setattr(
        faiss, "knn", lambda *a, **k: thresholds.append(faiss.cvar.distance_compute_blas_threshold) or knn(*a, **k)
    )

    rng = np.random.default_rng(queries)
    unit = rng.standard_normal((3000, 100)).astype(np.float32)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    rows = np.sort(rng.choice(len(unit), size=queries, replace=False))
    before = faiss.cvar.distance_compute_blas_threshold
    indices, cosines = exact_search(unit, rows, 5, batch_rows=1024)
    assert faiss.cvar.distance_compute_blas_threshold == before
    assert thresholds and set(thresholds) == {0}, "every exact search must take FAISS's matrix-product route"
    scores = unit[rows] @ unit.T
    scores[np.arange(queries), rows] = -np.inf  # the word itself is never listed
    expected = np.argsort(-scores, axis=1, kind="stable")[:, :5]
    np.testing.assert_array_equal(indices, expected)
    np.testing.assert_allclose(cosines, np.take_along_axis(scores, expected, axis=1), atol=1e-5)


def _clustered_embeddings(words: int = 3000, dims: int = 16, seed: int = 0) -> Embeddings:
    """Vectors in tight clusters of 11: each word's 10 nearest neighbours are its cluster (the
    shape of real embeddings, where nearest neighbours stand out; on noise they are ties)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((-(-words // 11), dims))
    vectors = np.repeat(centres, 11, axis=0)[:words] + 0.05 * rng.standard_normal((words, dims))
    names = [f"w{i}" for i in range(words)]
    return Embeddings(vectors.astype(np.float32), {w: i for i, w in enumerate(names)}, names)


def test_above_the_threshold_the_hnsw_table_is_approximate_and_its_recall_measured(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDDINGS_LARGE_VOCAB_NEIGHBOURS", "hnsw")
    emb = _clustered_embeddings()
    result = write_neighbour_table(emb, 10, tmp_path / "neighbours.parquet", exact_max=1000)
    assert result["method"] == "hnsw" and result["recall_sample"] == 1000
    assert 0.95 <= result["recall_at_k"] <= 1.0
    exact_indices, _, exact = neighbour_table(emb, 10, exact_max=len(emb))
    assert exact["method"] == "exact" and exact["recall_at_k"] == 1.0
    table = pq.read_table(result["path"])
    assert table.num_rows == len(emb) * 10 and table.column("neighbour").null_count == 0
    # the table's own agreement with exact search, over every word, is what the sample estimates
    got = np.array([emb.word_to_index[w] for w in table.column("neighbour").to_pylist()]).reshape(len(emb), 10)
    overall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(got, exact_indices)])
    assert abs(overall - result["recall_at_k"]) < 0.02


def test_above_the_threshold_the_frequent_table_holds_the_most_frequent_words_exactly(tmp_path):
    """The default above the threshold: exact neighbours of the exact_max**2 / n most frequent
    words (the cost of a full exact table at the threshold), the rest searched on demand."""
    from include.serving.model_store import PublishedModel

    emb = _clustered_embeddings(words=3000)
    folder = tmp_path / "v"
    folder.mkdir()
    result = write_neighbour_table(emb, 10, folder / "neighbours.parquet", exact_max=2000)
    assert result["method"] == "frequent" and result["recall_at_k"] == 1.0
    assert result["words"] == 2000 * 2000 // 3000 == 1333 and result["vocab_size"] == 3000
    table = pq.read_table(result["path"])
    assert table.num_rows == 1333 * 10
    assert set(table.column("word").to_pylist()) == set(emb.index_to_word[:1333]), "the most frequent words"
    exact_indices, _, _ = neighbour_table(emb, 10, exact_max=len(emb))
    got = np.array([emb.word_to_index[w] for w in table.column("neighbour").to_pylist()]).reshape(1333, 10)
    assert (np.sort(got, axis=1) == np.sort(exact_indices[:1333], axis=1)).all()
    # a word the table does not hold is searched on demand, with the same answer as exact search
    model = PublishedModel("v", folder, emb)
    rare = emb.index_to_word[2999]
    assert [w for w, _ in model.neighbours(rare, 10)] == [emb.index_to_word[i] for i in exact_indices[2999]]
    assert frequent_words(10_000_000, 100_000) == 1000 and frequent_words(500, 100) == 500


def test_the_threshold_is_a_setting(monkeypatch):
    emb = _clustered_embeddings(words=400)
    monkeypatch.setenv("EMBEDDINGS_EXACT_NEIGHBOURS_MAX", "399")
    assert neighbour_table(emb, 5)[2]["method"] == "frequent"
    monkeypatch.setenv("EMBEDDINGS_LARGE_VOCAB_NEIGHBOURS", "hnsw")
    assert neighbour_table(emb, 5)[2]["method"] == "hnsw"
    monkeypatch.setenv("EMBEDDINGS_LARGE_VOCAB_NEIGHBOURS", "annoy")
    with pytest.raises(ValueError, match="EMBEDDINGS_LARGE_VOCAB_NEIGHBOURS='annoy' must be one of frequent, hnsw"):
        neighbour_table(emb, 5)
    monkeypatch.setenv("EMBEDDINGS_LARGE_VOCAB_NEIGHBOURS", "hnsw")
    monkeypatch.setenv("EMBEDDINGS_EXACT_NEIGHBOURS_MAX", "400")
    assert neighbour_table(emb, 5)[2]["method"] == "exact"
    monkeypatch.setenv("EMBEDDINGS_EXACT_NEIGHBOURS_MAX", "0")
    monkeypatch.setenv("EMBEDDINGS_HNSW_M", "2")
    monkeypatch.setenv("EMBEDDINGS_HNSW_EF_CONSTRUCTION", "2")
    assert neighbour_table(emb, 5)[2]["hnsw"] == {"m": 2, "ef_construction": 2, "ef_search": 64}
    monkeypatch.setenv("EMBEDDINGS_HNSW_M", "1")
    with pytest.raises(ValueError, match="EMBEDDINGS_HNSW_.*m=1 must be >= 2"):
        neighbour_table(emb, 5)
    monkeypatch.setenv("EMBEDDINGS_EXACT_NEIGHBOURS_MAX", "many")
    with pytest.raises(ValueError, match="EMBEDDINGS_EXACT_NEIGHBOURS_MAX='many'"):
        neighbour_table(emb, 5)


def test_a_table_below_the_recall_floor_is_refused_and_not_written(tmp_path):
    """An HNSW graph too sparse to find the neighbours (two links per node, candidate lists of two
    when building: the real index, badly tuned) measures its recall below 0.95: nothing is written, and the
    error is a ParityError, which fails the run without retries and publishes nothing."""
    emb = _clustered_embeddings(words=4000, dims=32)
    out = tmp_path / "neighbours.parquet"
    with pytest.raises(NeighbourRecallError, match=r"recall@10 0\.\d+ on 1000 sampled words, below 0.95") as error:
        write_neighbour_table(emb, 10, out, exact_max=0, hnsw=HnswParams(m=2, ef_construction=2, ef_search=1))
    assert isinstance(error.value, ParityError)
    assert not out.exists()


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
