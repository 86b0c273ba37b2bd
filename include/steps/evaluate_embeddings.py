"""The ``evaluate_embeddings`` step: the version's scores on the standard word-similarity and analogy
sets (with how many items each was computed on), and everything the quality gate compares against
the model's champion: the scores on the items both versions scored, the neighbour overlap, drift,
and the degenerate-space check."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import TypedDict

from include.artifacts.embeddings import Embeddings, fetch_embeddings
from include.quality.drift import compare_versions, mean_top1_cosine, neighbour_overlap
from include.quality.evaluation import compare_on_common_items, score_items, summarise
from include.quality.similarity import choose_probe_words
from include.registry.registry import ModelRegistry
from include.storage.layout import data_store

log = logging.getLogger(__name__)


class EvaluationFacts(TypedDict):
    """What ``evaluate_embeddings`` tells the report and the gate (:func:`include.quality.gate.decide`)."""

    evaluation: dict  #: :func:`include.quality.evaluation.evaluate_keyed_vectors`, with coverage
    drift: dict | None  #: :func:`include.quality.drift.compare_versions`, ``None`` without a champion
    reference: str | None  #: the champion version everything below was measured against
    vocab_size: int
    degenerate: dict  #: :func:`include.quality.drift.mean_top1_cosine` plus the champion's ``reference``
    paired: dict | None  #: :func:`include.quality.evaluation.compare_on_common_items` against the champion
    overlap: dict | None  #: :func:`include.quality.drift.neighbour_overlap` with the champion
    reference_vocab_size: int | None


def evaluate_embeddings(
    version_dir: str, *, model: str, corpus_id: str, probe_words: list | None, top_k: int
) -> EvaluationFacts:
    """The whole ``evaluate_embeddings`` task for the version of ``model`` being built at
    ``version_dir`` (a corpus ``corpus_id``): WordSim-353, SimLex-999 and the Google analogies over
    the most frequent words (so the cost stays bounded), each with its coverage; the mean top-1
    cosine of the most frequent words (degenerate space); and, against ``model``'s champion (when
    it has one): the three benchmarks on the items both versions scored, the neighbour overlap@10
    and the drift of the ``probe_words`` (empty = the most frequent) and of the most frequent
    words' ``top_k`` neighbourhoods."""
    store = data_store()
    prefix = store.key_of(version_dir)
    champion = ModelRegistry(store).champion_manifest(model)
    with tempfile.TemporaryDirectory(prefix="w2v-evaluate-") as scratch:
        embeddings = fetch_embeddings(store, prefix, Path(scratch) / "version")
        before = None
        if champion:
            before = fetch_embeddings(store, store.key_of(champion["path"]), Path(scratch) / "champion")
        facts = measure_against_champion(
            embeddings, before, champion["version"] if champion else None, probe_words, int(top_k)
        )
    log.info("evaluation of a version of %s (corpus %s): %s", model, corpus_id, facts["evaluation"])
    if champion and facts["overlap"] is not None:  # measured whenever there is a champion
        log.info(
            "against champion %s: paired %s, neighbour overlap %s",
            champion["version"],
            facts["paired"],
            facts["overlap"]["value"],
        )
    return facts


def measure_against_champion(
    embeddings: Embeddings,
    champion: Embeddings | None,
    champion_version: str | None,
    probe_words: list | None,
    top_k: int,
) -> EvaluationFacts:
    """:class:`EvaluationFacts` of ``embeddings`` against the ``champion``'s embeddings (named
    ``champion_version``; ``None``: the model has no champion yet), in memory: what
    :func:`evaluate_embeddings` computes once both are fetched."""
    items = score_items(embeddings.to_keyed_vectors())
    facts = EvaluationFacts(
        evaluation=summarise(items),
        drift=None,
        reference=None,
        vocab_size=len(embeddings),
        degenerate={**mean_top1_cosine(embeddings), "reference": None},
        paired=None,
        overlap=None,
        reference_vocab_size=None,
    )
    if champion is not None:
        known, _ = choose_probe_words(embeddings, probe_words)
        facts["reference"] = champion_version
        facts["reference_vocab_size"] = len(champion)
        facts["degenerate"]["reference"] = mean_top1_cosine(champion)["value"]
        facts["paired"] = compare_on_common_items(items, score_items(champion.to_keyed_vectors()))
        facts["overlap"] = neighbour_overlap(embeddings, champion, known)
        facts["drift"] = compare_versions(embeddings, champion, known, top_k, champion_version)
    return facts
