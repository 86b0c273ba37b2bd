"""Standard intrinsic evaluations of word vectors, on the data sets shipped in gensim's test data,
with the number of items each score was computed on, and the paired comparison of two versions on
the items both scored.

A score over too few items is noise: below :data:`~include.quality.coverage.MIN_PAIRS` scored pairs
(or :data:`~include.quality.coverage.MIN_QUESTIONS` answered analogy questions) it is ``None``,
"not computable", never a number.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from include.quality.coverage import MIN_PAIRS, MIN_QUESTIONS

log = logging.getLogger(__name__)

WORD_PAIR_SETS = {"wordsim353": "wordsim353.tsv", "simlex999": "simlex999.txt"}
ANALOGY_SET = "questions-words.txt"
#: Only the most frequent words take part (gensim's own default, named here): above this many
#: words the evaluation's cost no longer grows with the vocabulary.
RESTRICT_VOCAB = 300_000
#: Resamples of the common pairs for the standard error of a paired Spearman delta (fixed seed, so
#: the same two versions always get the same figure). 1,000 resamples of 999 pairs take ~0.1 s.
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0


def _finite_or_none(value) -> float | None:
    value = float(value)
    return round(value, 6) if math.isfinite(value) else None


@dataclass
class ItemScores:
    """What one version scored item by item, so two versions can be compared on common items.

    ``pairs[name]`` maps a pair's line number in the benchmark to ``(human score, model cosine)``
    (pairs with both words among the ``RESTRICT_VOCAB`` most frequent, as gensim counts them);
    ``pair_totals[name]`` is the benchmark's number of pairs. ``answered`` and ``correct`` are the
    analogy questions (upper-cased ``(a, b, c, expected)``, as gensim lists them) answered and
    answered right; ``questions`` is the benchmark's number of questions.
    """

    pairs: dict[str, dict[int, tuple[float, float]]] = field(default_factory=dict)
    pair_totals: dict[str, int] = field(default_factory=dict)
    answered: set = field(default_factory=set)
    correct: set = field(default_factory=set)
    questions: int = 0


def read_word_pairs(path: Path) -> dict[int, tuple[str, str, float]]:
    """``{line number: (WORD1, WORD2, human score)}`` of a gensim word-pair file (tab separated,
    ``#`` comments), words upper-cased as gensim's case-insensitive evaluation reads them."""
    pairs = {}
    with open(path, encoding="utf-8") as handle:
        for line_no, line in enumerate(handle):
            if not line or line.startswith("#"):
                continue
            try:
                first, second, human = (part.upper() for part in line.split("\t"))
                pairs[line_no] = (first, second, float(human))
            except ValueError:
                continue
    return pairs


def _count_analogy_questions(path: Path) -> int:
    with open(path, encoding="utf-8") as handle:
        return sum(1 for line in handle if line.strip() and not line.startswith(":"))


def _spearman(human: list[float], model: list[float]) -> float | None:
    from scipy.stats import spearmanr

    if len(human) < 2:
        return None
    return _finite_or_none(spearmanr(human, model)[0])


def score_items(keyed_vectors) -> ItemScores:
    """Every benchmark item ``keyed_vectors`` can score (see :class:`ItemScores`): the cosine of
    each word pair with both words among the ``RESTRICT_VOCAB`` most frequent (gensim's
    case-insensitive lookup: the more frequent spelling wins), and gensim's own
    ``evaluate_word_analogies`` for the analogy questions answered and answered right."""
    from gensim.test.utils import datapath

    # gensim logs every skipped out-of-vocabulary line at INFO: thousands of lines on a small corpus
    keyedvectors_log = logging.getLogger("gensim.models.keyedvectors")
    level = keyedvectors_log.level
    keyedvectors_log.setLevel(logging.WARNING)
    try:
        items = ItemScores()
        ranked = list(enumerate(keyed_vectors.index_to_key[:RESTRICT_VOCAB]))
        known = {word.upper(): index for index, word in reversed(ranked)}  # the most frequent spelling wins
        vectors = np.asarray(keyed_vectors.vectors)
        norms = np.linalg.norm(vectors, axis=1)
        for name, file_name in WORD_PAIR_SETS.items():
            pairs = read_word_pairs(Path(datapath(file_name)))
            items.pair_totals[name] = len(pairs)
            scored = {}
            for line_no, (first, second, human) in pairs.items():
                if first in known and second in known:
                    i, j = known[first], known[second]
                    denominator = float(norms[i] * norms[j])
                    cosine = float(vectors[i] @ vectors[j]) / denominator if denominator else 0.0
                    scored[line_no] = (human, cosine)
            items.pairs[name] = scored
        questions_path = Path(datapath(ANALOGY_SET))
        items.questions = _count_analogy_questions(questions_path)
        _accuracy, sections = keyed_vectors.evaluate_word_analogies(str(questions_path), restrict_vocab=RESTRICT_VOCAB)
        overall = next((section for section in sections if section["section"] == "Total accuracy"), None)
        if overall:
            items.correct = {tuple(q) for q in overall["correct"]}
            items.answered = items.correct | {tuple(q) for q in overall["incorrect"]}
        return items
    finally:
        keyedvectors_log.setLevel(level)


def summarise(items: ItemScores) -> dict:
    """The per-benchmark scores of :class:`ItemScores`, as ``report.json["evaluation"]`` holds them:
    ``{"wordsim353": {"spearman", "oov_ratio", "scored", "total", "unit": "pairs"}, "simlex999": ...,
    "analogies": {"accuracy", "oov_ratio", "scored", "total", "unit": "questions"}}``. A score over
    fewer than ``MIN_PAIRS`` pairs or ``MIN_QUESTIONS`` questions is ``None``."""
    results: dict[str, dict] = {}
    for name, scored in items.pairs.items():
        total = items.pair_totals[name]
        values = list(scored.values())
        spearman = (
            _spearman([human for human, _ in values], [cosine for _, cosine in values])
            if len(values) >= MIN_PAIRS
            else None
        )
        results[name] = {
            "spearman": spearman,
            "oov_ratio": round(1.0 - len(values) / total, 6) if total else 1.0,
            "scored": len(values),
            "total": total,
            "unit": "pairs",
        }
    answered = len(items.answered)
    results["analogies"] = {
        "accuracy": round(len(items.correct) / answered, 6) if answered >= MIN_QUESTIONS else None,
        "oov_ratio": round(1.0 - answered / items.questions, 6) if items.questions else 1.0,
        "scored": answered,
        "total": items.questions,
        "unit": "questions",
    }
    return results


def evaluate_keyed_vectors(keyed_vectors) -> dict:
    """WordSim-353 and SimLex-999 Spearman correlations and Google analogy accuracy, with coverage.

    Each entry holds its score (``spearman`` or ``accuracy``; ``None`` when not computable: fewer
    than ``MIN_PAIRS`` pairs scored or ``MIN_QUESTIONS`` questions answered, never ``NaN``),
    ``oov_ratio`` (the fraction, 0..1, of the set's items with a word missing from the vocabulary),
    ``scored`` (items scored), ``total`` (items in the set) and ``unit`` (``pairs`` or
    ``questions``). Only the ``RESTRICT_VOCAB`` most frequent words count as in the vocabulary
    (gensim's default).

    >>> evaluate_keyed_vectors(model.wv)["wordsim353"]   # Lee corpus, 35 epochs, min_count 5
    {'spearman': 0.112047, 'oov_ratio': 0.830028, 'scored': 60, 'total': 353, 'unit': 'pairs'}
    """
    return summarise(score_items(keyed_vectors))


def _paired_spearman(first: list[tuple[float, float]], second: list[tuple[float, float]]) -> tuple:
    """``(spearman of first, spearman of second, bootstrap standard error of their difference)``
    on the same pairs (same order)."""
    from scipy.stats import rankdata

    human = np.array([h for h, _ in first])
    new, old = np.array([c for _, c in first]), np.array([c for _, c in second])
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    samples = rng.integers(0, len(human), size=(BOOTSTRAP_RESAMPLES, len(human)))

    def row_spearman(values: np.ndarray) -> np.ndarray:
        ranks_h, ranks_v = rankdata(human[samples], axis=1), rankdata(values[samples], axis=1)
        ranks_h -= ranks_h.mean(axis=1, keepdims=True)
        ranks_v -= ranks_v.mean(axis=1, keepdims=True)
        denominator = np.sqrt((ranks_h**2).sum(axis=1) * (ranks_v**2).sum(axis=1))
        with np.errstate(invalid="ignore", divide="ignore"):
            return (ranks_h * ranks_v).sum(axis=1) / denominator

    deltas = row_spearman(new) - row_spearman(old)
    deltas = deltas[np.isfinite(deltas)]
    se = float(np.std(deltas, ddof=1)) if len(deltas) > 1 else None
    return (
        _spearman(human.tolist(), new.tolist()),
        _spearman(human.tolist(), old.tolist()),
        None if se is None else round(se, 6),
    )


def compare_on_common_items(new: ItemScores, reference: ItemScores) -> dict:
    """Each benchmark scored for two versions on the items BOTH scored (a version is never credited
    or blamed for words the other does not know).

    Returns ``{metric: {"value", "reference", "delta", "delta_se", "coverage"}}`` for
    ``wordsim353``, ``simlex999`` (Spearman of each version on the common pairs) and ``analogies``
    (accuracy of each on the common questions): ``delta`` = value - reference, ``delta_se`` its
    standard error (a paired bootstrap of the common pairs; for analogies the standard error of
    the mean per-question difference), ``coverage`` ``{"scored": common items, "total", "unit"}``.
    With fewer than ``MIN_PAIRS`` common pairs (``MIN_QUESTIONS`` questions) the numbers are ``None``.
    """
    compared: dict[str, dict] = {}
    for name, scored in new.pairs.items():
        before = reference.pairs.get(name, {})
        common = sorted(scored.keys() & before.keys())
        entry: dict[str, float | None] = {"value": None, "reference": None, "delta": None, "delta_se": None}
        if len(common) >= MIN_PAIRS:
            value, old, se = _paired_spearman([scored[i] for i in common], [before[i] for i in common])
            entry = {
                "value": value,
                "reference": old,
                "delta": None if value is None or old is None else round(value - old, 6),
                "delta_se": se,
            }
        compared[name] = {**entry, "coverage": {"scored": len(common), "total": new.pair_totals[name], "unit": "pairs"}}
    common_questions = new.answered & reference.answered
    entry = {"value": None, "reference": None, "delta": None, "delta_se": None}
    if len(common_questions) >= MIN_QUESTIONS:
        ordered = sorted(common_questions)
        now = np.array([q in new.correct for q in ordered], dtype=np.float64)
        then = np.array([q in reference.correct for q in ordered], dtype=np.float64)
        differences = now - then
        entry = {
            "value": round(float(now.mean()), 6),
            "reference": round(float(then.mean()), 6),
            "delta": round(float(differences.mean()), 6),
            "delta_se": round(float(differences.std(ddof=1) / math.sqrt(len(ordered))), 6),
        }
    compared["analogies"] = {
        **entry,
        "coverage": {"scored": len(common_questions), "total": new.questions, "unit": "questions"},
    }
    return compared
