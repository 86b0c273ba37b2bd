"""Standard intrinsic evaluations of word vectors, on the data sets shipped in gensim's test data."""

from __future__ import annotations

import logging
import math
from pathlib import Path

log = logging.getLogger(__name__)

WORD_PAIR_SETS = {"wordsim353": "wordsim353.tsv", "simlex999": "simlex999.txt"}
ANALOGY_SET = "questions-words.txt"
#: Only the most frequent words take part (gensim's own default, named here): above this many
#: words the evaluation's cost no longer grows with the vocabulary.
RESTRICT_VOCAB = 300_000


def _finite_or_none(value) -> float | None:
    value = float(value)
    return round(value, 6) if math.isfinite(value) else None


def _count_analogy_questions(path: Path) -> int:
    with open(path, encoding="utf-8") as handle:
        return sum(1 for line in handle if line.strip() and not line.startswith(":"))


def evaluate_keyed_vectors(keyed_vectors) -> dict:
    """WordSim-353 and SimLex-999 Spearman correlations and Google analogy accuracy.

    Each entry holds its score (``null`` when it cannot be computed, never ``NaN``) and
    ``oov_ratio``, the fraction (0..1) of the set's items with a word missing from the vocabulary.
    Only the ``RESTRICT_VOCAB`` most frequent words count as in the vocabulary (gensim's default).
    """
    from gensim.test.utils import datapath

    # gensim logs every skipped out-of-vocabulary line at INFO: thousands of lines on a small corpus
    keyedvectors_log = logging.getLogger("gensim.models.keyedvectors")
    level = keyedvectors_log.level
    keyedvectors_log.setLevel(logging.WARNING)
    try:
        return _evaluate(keyed_vectors, datapath)
    finally:
        keyedvectors_log.setLevel(level)


def _evaluate(keyed_vectors, datapath) -> dict:
    results: dict[str, dict] = {}
    for name, file_name in WORD_PAIR_SETS.items():
        try:
            _pearson, spearman, oov_percent = keyed_vectors.evaluate_word_pairs(
                datapath(file_name), restrict_vocab=RESTRICT_VOCAB
            )
            results[name] = {"spearman": _finite_or_none(spearman[0]), "oov_ratio": round(oov_percent / 100.0, 6)}
        except (ValueError, ZeroDivisionError) as error:  # too few pairs in vocabulary
            log.warning("%s not computable: %s", name, error)
            results[name] = {"spearman": None, "oov_ratio": 1.0}
    questions_path = Path(datapath(ANALOGY_SET))
    total = _count_analogy_questions(questions_path)
    accuracy, sections = keyed_vectors.evaluate_word_analogies(str(questions_path), restrict_vocab=RESTRICT_VOCAB)
    overall = next((section for section in sections if section["section"] == "Total accuracy"), None)
    answered = len(overall["correct"]) + len(overall["incorrect"]) if overall else 0
    results["analogies"] = {
        "accuracy": _finite_or_none(accuracy) if answered else None,
        "oov_ratio": round(1.0 - answered / total, 6) if total else 1.0,
    }
    return results
