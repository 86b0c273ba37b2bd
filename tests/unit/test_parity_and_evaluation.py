import json

import numpy as np
import pytest

from include.artifacts.embeddings import Embeddings, load_embeddings
from include.artifacts.keras_models import write_keras_models
from include.errors import ParityError
from include.quality.coverage import MIN_QUESTIONS
from include.quality.evaluation import evaluate_keyed_vectors
from include.quality.parity import PARITY_TOLERANCE, check_parity


def test_parity_passes_on_consistent_models(trained_version):
    emb = load_embeddings(trained_version["version_dir"])
    result = check_parity(emb, trained_version["version_dir"] / "keras", pairs=50)
    assert result["pairs"] == 50
    assert 0 <= result["max_abs_diff"] < PARITY_TOLERANCE
    assert 0 <= result["max_abs_diff_words"] < PARITY_TOLERANCE
    assert result["unknown_word_similarity"] == 0.0


def test_parity_fails_when_keras_weights_differ(trained_version, tmp_path):
    emb = load_embeddings(trained_version["version_dir"])
    tampered = emb.vectors.copy()
    tampered[:, 0] += 0.5
    write_keras_models(tampered, emb.index_to_word, tmp_path / "keras")
    with pytest.raises(ParityError, match="differ"):
        check_parity(emb, tmp_path / "keras", pairs=50)


def test_evaluation_scores_are_valid_json_with_fraction_oov(trained_version):
    emb = load_embeddings(trained_version["version_dir"])
    result = evaluate_keyed_vectors(emb.to_keyed_vectors())
    assert set(result) == {"wordsim353", "simlex999", "analogies"}
    for entry in result.values():
        assert 0.0 <= entry["oov_ratio"] <= 1.0
    json.dumps(result, allow_nan=False)


def test_evaluation_on_lee_matches_gensim(tmp_path):
    from gensim.models import Word2Vec
    from gensim.models.word2vec import LineSentence
    from gensim.test.utils import datapath

    model = Word2Vec(
        LineSentence(datapath("lee_background.cor")), vector_size=20, min_count=5, epochs=2, workers=1, seed=1
    )
    result = evaluate_keyed_vectors(model.wv)
    for name, file_name in (("wordsim353", "wordsim353.tsv"), ("simlex999", "simlex999.txt")):
        _, spearman, oov = model.wv.evaluate_word_pairs(datapath(file_name))
        assert result[name]["scored"] >= 30, "enough pairs on Lee to be computable"
        assert result[name]["spearman"] == pytest.approx(spearman[0], abs=1e-6)
        assert result[name]["oov_ratio"] == pytest.approx(oov / 100, abs=1e-6)
    accuracy, sections = model.wv.evaluate_word_analogies(datapath("questions-words.txt"))
    answered = len(sections[-1]["correct"]) + len(sections[-1]["incorrect"])
    assert result["analogies"]["scored"] == answered
    # LineSentence keeps case and punctuation: 98 questions answered here, under MIN_QUESTIONS
    expected = pytest.approx(accuracy, abs=1e-6) if answered >= MIN_QUESTIONS else None
    assert result["analogies"]["accuracy"] == expected
    assert 0.9 < result["analogies"]["oov_ratio"] < 1.0


def test_uncomputable_scores_are_null_not_nan():
    emb = Embeddings(np.eye(2, dtype=np.float32), {"zzqx": 0, "qqzx": 1}, ["zzqx", "qqzx"])
    result = evaluate_keyed_vectors(emb.to_keyed_vectors())
    assert result["wordsim353"] == {"spearman": None, "oov_ratio": 1.0, "scored": 0, "total": 353, "unit": "pairs"}
    assert result["simlex999"]["spearman"] is None
    assert result["analogies"] == {"accuracy": None, "oov_ratio": 1.0, "scored": 0, "total": 19544, "unit": "questions"}
    json.dumps(result, allow_nan=False)
