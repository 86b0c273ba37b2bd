import json

import numpy as np
import pytest
from gensim.models import Word2Vec

from include.artifacts.embeddings import load_embeddings
from include.errors import PipelineInputError


def test_rows_of_embeddings_match_vocab_and_gensim(trained_version):
    version_dir = trained_version["version_dir"]
    model = Word2Vec.load(str(version_dir / "word2vec.model"))
    vectors = np.load(version_dir / "embeddings.npy", allow_pickle=False)
    vocab = json.loads((version_dir / "vocab.json").read_text(encoding="utf-8"))
    assert vectors.dtype == np.float32 and vectors.flags.c_contiguous
    assert vectors.shape == (len(model.wv), trained_version["params"].vector_size)
    assert vocab == model.wv.key_to_index
    assert sorted(vocab.values()) == list(range(len(vocab)))
    for word, index in vocab.items():
        assert np.array_equal(vectors[index], model.wv[word])
    counts = [model.wv.get_vecattr(word, "count") for word in model.wv.index_to_key]
    assert counts == sorted(counts, reverse=True), "vocab order must be gensim's: most frequent first"


def test_loader_returns_both_directions(trained_version):
    embeddings = load_embeddings(trained_version["version_dir"])
    assert len(embeddings) == embeddings.vectors.shape[0]
    for index, word in enumerate(embeddings.index_to_word):
        assert embeddings.word_to_index[word] == index
    keyed = embeddings.to_keyed_vectors()
    word = embeddings.index_to_word[3]
    assert np.array_equal(keyed[word], embeddings.vectors[3])


def _write(folder, vectors, vocab):
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "embeddings.npy", vectors)
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")


@pytest.mark.parametrize(
    "vocab, message",
    [
        ({"a": 0, "b": 2}, "index 2"),
        ({"a": 0, "b": 0}, "index 0"),
        ({"a": 0, "b": True}, "True"),
        ({"a": 0}, "has 1 words but"),
    ],
)
def test_loader_refuses_inconsistent_files(tmp_path, vocab, message):
    _write(tmp_path / "v", np.zeros((2, 3), dtype=np.float32), vocab)
    with pytest.raises(PipelineInputError, match=message):
        load_embeddings(tmp_path / "v")


def test_loader_refuses_wrong_dtype_and_missing_files(tmp_path):
    _write(tmp_path / "f64", np.zeros((1, 3), dtype=np.float64), {"a": 0})
    with pytest.raises(PipelineInputError, match="float32"):
        load_embeddings(tmp_path / "f64")
    with pytest.raises(PipelineInputError, match="cannot load embeddings"):
        load_embeddings(tmp_path / "missing")


def test_loader_never_unpickles(tmp_path):
    folder = tmp_path / "pickled"
    folder.mkdir()
    np.save(folder / "embeddings.npy", np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    (folder / "vocab.json").write_text('{"a": 0}', encoding="utf-8")
    with pytest.raises(PipelineInputError):
        load_embeddings(folder)
