"""The Word2Vec knobs beyond the first nine, and their promise: defaults keep today's vectors."""

import hashlib
from pathlib import Path

import pytest

from include.artifacts.embeddings import export_embeddings
from include.steps.train_word2vec import Word2VecParams, train_word2vec

#: sha256 of ``embeddings.npy`` trained on ``trained_version``'s corpus (400 synthetic lines) with
#: ``vector_size=16, window=3, min_count=2, epochs=3, workers=1, seed=1``, recorded from the code
#: before the new Params existed (commit 2a96ad9, gensim 4.4.0, numpy 2.4.6, on the x86-64
#: development machines). New Params at their defaults must not change one byte.
GOLDEN_EMBEDDINGS_SHA256 = {
    "cbow": "84f234ce4113ebf468e459bb78992e9fa2f87ba2fddbb26581f8cb7ea4b1c075",
    "skip-gram": "38898f46ab6a6018d9c738c5745cd2701e6eb5a5ccafadf8a1a0d87ecc38203f",
}
GOLDEN_VOCAB_SHA256 = "f0805bcf85404441b5544375ab1b6244bef5e09f280ec008c9a48628761dc328"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("mode, sg", [("cbow", 0), ("skip-gram", 1)])
def test_default_params_reproduce_the_recorded_vectors_byte_for_byte(trained_version, tmp_path, mode, sg):
    params = Word2VecParams(vector_size=16, window=3, min_count=2, epochs=3, workers=1, seed=1, sg=sg)
    train_word2vec(trained_version["tokens_dir"], params, tmp_path / "word2vec.model")
    export_embeddings(tmp_path / "word2vec.model", tmp_path)
    assert _sha256(tmp_path / "vocab.json") == GOLDEN_VOCAB_SHA256
    assert _sha256(tmp_path / "embeddings.npy") == GOLDEN_EMBEDDINGS_SHA256[mode]
