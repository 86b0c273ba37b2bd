"""The quality gate on real gensim models of the Lee corpus: coverage, paired comparison on common
items, and the checks that need no benchmark (the failures that used to be promoted)."""

import json
import random
import string

import numpy as np
import pytest

from include.artifacts.embeddings import Embeddings
from include.quality.coverage import MIN_PAIRS, format_score
from include.quality.evaluation import ItemScores, compare_on_common_items, evaluate_keyed_vectors, summarise
from include.quality.gate import FAILED, NOT_COMPUTABLE, PASSED, decide
from include.steps.evaluate_embeddings import measure_against_champion


def _train(sentences, *, epochs, min_count):
    from gensim.models import Word2Vec

    model = Word2Vec(sentences, vector_size=100, min_count=min_count, epochs=epochs, workers=1, seed=1)
    embeddings = Embeddings(np.array(model.wv.vectors), dict(model.wv.key_to_index), list(model.wv.index_to_key))
    return embeddings, int(model.corpus_total_words)


@pytest.fixture(scope="module")
def lee_sentences():
    from gensim.test.utils import datapath
    from gensim.utils import simple_preprocess

    with open(datapath("lee_background.cor"), encoding="utf-8") as handle:
        return [simple_preprocess(line) for line in handle]


@pytest.fixture(scope="module")
def models(lee_sentences):
    """Each model trained once (about 2 s in all): Lee at 10 epochs (the champion), at 35 (epochs
    auto), at 1 epoch with min_count 50, and 50 lines of 10 random words."""
    rng = random.Random(0)
    words = ["".join(rng.choice(string.ascii_lowercase) for _ in range(6)) for _ in range(10)]
    return {
        "lee10": _train(lee_sentences, epochs=10, min_count=5),
        "lee35": _train(lee_sentences, epochs=35, min_count=5),
        "lee1_mc50": _train(lee_sentences, epochs=1, min_count=50),
        "ten_words": _train([rng.sample(words, len(words)) for _ in range(50)], epochs=35, min_count=1),
    }


def _champion_manifest(models, name="lee10", version="20260101T000000Z-c0ffee00"):
    embeddings, tokens = models[name]
    return {"version": version, "training": {"vocab_size": len(embeddings), "corpus_words": tokens}}


def _gate(models, candidate, champion="lee10", tolerance=0.05):
    embeddings, tokens = models[candidate]
    if champion is None:
        facts = measure_against_champion(embeddings, None, None, None, 10)
        return decide(facts, None, tolerance, corpus_tokens=tokens), facts
    facts = measure_against_champion(embeddings, models[champion][0], "20260101T000000Z-c0ffee00", None, 10)
    return decide(facts, _champion_manifest(models, champion), tolerance, corpus_tokens=tokens), facts


def _check(gate, name):
    return next(line for line in gate["checks"] if line["name"] == name)


def test_the_lee_champion_at_10_epochs_is_promoted_as_a_first_version(models):
    gate, _ = _gate(models, "lee10", champion=None)
    assert gate["decision"] == "promoted", gate["reason"]
    assert [line["name"] for line in gate["checks"]] == ["degenerate space"]
    assert _check(gate, "degenerate space")["status"] == PASSED


def test_lee_at_35_epochs_is_promoted_against_the_10_epoch_champion(models):
    gate, facts = _gate(models, "lee35")
    assert gate["decision"] == "promoted", gate["reason"]
    assert gate["compared_with"] == "20260101T000000Z-c0ffee00"
    assert {line["status"] for line in gate["checks"]} == {PASSED}, gate["checks"]
    assert set(gate["deltas"]) == {"wordsim353", "simlex999", "analogies"}
    # SimLex is lower on the 96 common pairs, but by less than the paired noise: not a regression
    simlex = _check(gate, "simlex999")
    assert simlex["coverage"] == {
        "scored": facts["paired"]["simlex999"]["coverage"]["scored"],
        "total": 999,
        "unit": "pairs",
    }
    assert gate["deltas"]["simlex999"] < -0.05 and simlex["status"] == PASSED
    assert _check(gate, "vocabulary")["value"] == _check(gate, "vocabulary")["reference"] == 1750
    json.dumps(gate, allow_nan=False)


def test_lee_at_1_epoch_min_count_50_is_rejected_naming_the_failed_checks(models):
    gate, facts = _gate(models, "lee1_mc50")
    assert gate["decision"] == "rejected"
    vocabulary = _check(gate, "vocabulary")
    assert (vocabulary["value"], vocabulary["reference"], vocabulary["status"]) == (133, 1750, FAILED)
    assert "vocabulary failed" in gate["reason"] and "needs >= 0.5 x champion" in gate["reason"]
    # the score that used to promote it ("SimLex-999 = 1.000 on 2 of 999 pairs") is not a number now
    assert facts["evaluation"]["simlex999"]["spearman"] is None
    assert facts["evaluation"]["simlex999"]["scored"] < MIN_PAIRS
    assert _check(gate, "simlex999")["status"] == NOT_COMPUTABLE and "simlex999" not in gate["deltas"]


def test_a_ten_word_corpus_is_rejected_against_the_lee_champion(models):
    gate, _ = _gate(models, "ten_words")
    assert gate["decision"] == "rejected"
    failed = {line["name"] for line in gate["checks"] if line["status"] == FAILED}
    assert failed == {"vocabulary", "corpus tokens"}
    assert "vocabulary failed" in gate["reason"] and "corpus tokens failed" in gate["reason"]
    assert _check(gate, "neighbour overlap@10")["status"] == NOT_COMPUTABLE  # no word in common
    assert gate["deltas"] == {}


def test_a_ten_word_corpus_is_promoted_as_the_first_version_of_its_own_model(models):
    gate, facts = _gate(models, "ten_words", champion=None)
    assert gate["decision"] == "promoted", gate["reason"]
    assert gate["compared_with"] is None
    assert 0 < facts["degenerate"]["value"] < 0.998
    assert all(
        entry["spearman" if "spearman" in entry else "accuracy"] is None for entry in facts["evaluation"].values()
    )


def test_a_degenerate_first_version_is_rejected(models):
    collapsed = Embeddings(
        np.ones((50, 8), dtype=np.float32) + np.random.default_rng(0).normal(0, 1e-4, (50, 8)).astype(np.float32),
        {f"w{i}": i for i in range(50)},
        [f"w{i}" for i in range(50)],
    )
    gate = decide(measure_against_champion(collapsed, None, None, None, 10), None, 0.05)
    assert gate["decision"] == "rejected" and "degenerate space failed" in gate["reason"]


def test_every_evaluation_entry_carries_its_coverage(models):
    embeddings, _ = models["lee35"]
    evaluation = evaluate_keyed_vectors(embeddings.to_keyed_vectors())
    assert evaluation["wordsim353"]["total"] == 353 and evaluation["wordsim353"]["unit"] == "pairs"
    assert evaluation["simlex999"]["total"] == 999
    assert evaluation["analogies"]["total"] == 19544 and evaluation["analogies"]["unit"] == "questions"
    for entry in evaluation.values():
        assert 0 < entry["scored"] <= entry["total"]
        assert entry["oov_ratio"] == pytest.approx(1 - entry["scored"] / entry["total"], abs=1e-6)
    shown = format_score(evaluation["wordsim353"]["spearman"], evaluation["wordsim353"])
    assert shown.endswith(f"({evaluation['wordsim353']['scored']}/353 pairs)")


def _items(pairs: dict[int, tuple[float, float]]) -> ItemScores:
    return ItemScores(pairs={"wordsim353": pairs, "simlex999": {}}, pair_totals={"wordsim353": 353, "simlex999": 999})


def test_a_metric_below_min_pairs_is_not_computable_and_decides_nothing():
    few = _items({i: (float(i), float(i)) for i in range(MIN_PAIRS - 1)})
    assert summarise(few)["wordsim353"]["spearman"] is None
    assert summarise(few)["wordsim353"]["scored"] == MIN_PAIRS - 1
    enough = _items({i: (float(i), float(i)) for i in range(MIN_PAIRS)})
    assert summarise(enough)["wordsim353"]["spearman"] == 1.0
    # the champion agrees perfectly, the new version inversely: on 29 common pairs that decides nothing
    inverse = _items({i: (float(i), -float(i)) for i in range(MIN_PAIRS - 1)})
    paired = compare_on_common_items(inverse, few)
    assert paired["wordsim353"]["delta"] is None and paired["wordsim353"]["coverage"]["scored"] == MIN_PAIRS - 1
    facts = {"vocab_size": 100, "degenerate": {"value": 0.5, "words": 100}, "paired": paired}
    champion = {"version": "v1", "training": {"vocab_size": 100, "corpus_words": 1000}}
    gate = decide(facts, champion, 0.05, corpus_tokens=1000)
    assert gate["decision"] == "promoted" and _check(gate, "wordsim353")["status"] == NOT_COMPUTABLE
    # on 30 common pairs the same inversion is a drop of 2.0: rejected
    paired = compare_on_common_items(_items({i: (float(i), -float(i)) for i in range(MIN_PAIRS)}), enough)
    gate = decide({**facts, "paired": paired}, champion, 0.05, corpus_tokens=1000)
    assert gate["decision"] == "rejected" and gate["deltas"]["wordsim353"] == -2.0
    assert "wordsim353 failed" in gate["reason"]


def test_versions_are_compared_only_on_the_pairs_both_scored():
    rng = np.random.default_rng(0)
    human = rng.uniform(0, 10, 200)
    # the champion knows pairs 0..99, the new version 50..199: 50 in common
    champion = _items({i: (human[i], human[i] + rng.normal(0, 2)) for i in range(100)})
    new = _items({i: (human[i], -human[i] if i >= 100 else human[i] + rng.normal(0, 2)) for i in range(50, 200)})
    from scipy.stats import spearmanr

    common = range(50, 100)
    expected_new = spearmanr([human[i] for i in common], [new.pairs["wordsim353"][i][1] for i in common])[0]
    expected_old = spearmanr([human[i] for i in common], [champion.pairs["wordsim353"][i][1] for i in common])[0]
    paired = compare_on_common_items(new, champion)["wordsim353"]
    assert paired["coverage"] == {"scored": 50, "total": 353, "unit": "pairs"}
    assert paired["value"] == pytest.approx(expected_new, abs=1e-6)
    assert paired["reference"] == pytest.approx(expected_old, abs=1e-6)
    assert paired["delta"] == pytest.approx(expected_new - expected_old, abs=1e-5)
    # the 100 inverted pairs only the new version scored drag its own score down, not the comparison
    assert summarise(new)["wordsim353"]["spearman"] < 0 < paired["value"]


def test_a_contract_change_is_rejected_and_names_the_explicit_promote(models):
    embeddings, tokens = models["lee35"]
    facts = measure_against_champion(embeddings, models["lee10"][0], "20260101T000000Z-c0ffee00", None, 10)
    gate = decide(
        facts,
        _champion_manifest(models),
        0.05,
        corpus_tokens=tokens,
        contract_changes={"vector_size": [100, 300]},
        model="news",
        version="20260102T000000Z-abcdef12",
    )
    assert gate["decision"] == "rejected" and gate["contract_changes"] == {"vector_size": [100, 300]}
    assert "contract changed" in gate["reason"]
    assert "python -m include.cli --model news promote 20260102T000000Z-abcdef12 --alias champion" in gate["reason"]
