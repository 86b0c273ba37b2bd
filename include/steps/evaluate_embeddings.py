"""The ``evaluate_embeddings`` step: the version's scores on the standard word-similarity and analogy
sets, and its drift against the version the quality gate compares it with."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import TypedDict

from include.artifacts.embeddings import fetch_embeddings
from include.quality.drift import compare_versions
from include.quality.evaluation import evaluate_keyed_vectors
from include.quality.gate import reference_version
from include.quality.similarity import choose_probe_words
from include.storage.layout import data_store
from include.storage.versions import list_versions

log = logging.getLogger(__name__)


class EvaluationFacts(TypedDict):
    """What ``evaluate_embeddings`` tells the report."""

    evaluation: dict  #: :func:`include.quality.evaluation.evaluate_keyed_vectors`
    drift: dict | None  #: :func:`include.quality.drift.compare_versions`, ``None`` without a reference
    reference: str | None  #: the version drift was measured against (the gate's reference)


def evaluate_embeddings(version_dir: str, *, corpus_id: str, probe_words: list | None, top_k: int) -> EvaluationFacts:
    """The whole ``evaluate_embeddings`` task for the version being built at ``version_dir``:
    WordSim-353, SimLex-999 and the Google analogies (over the most frequent words, so the cost
    stays bounded), and drift of the ``probe_words`` (empty = the most frequent) and of the most
    frequent words' ``top_k`` neighbourhoods against the last promoted version of ``corpus_id``."""
    store = data_store()
    prefix = store.key_of(version_dir)
    published = [v for v in list_versions(store) if v.get("corpus_id") == corpus_id]
    reference = reference_version(published, corpus_id)
    with tempfile.TemporaryDirectory(prefix="w2v-evaluate-") as scratch:
        embeddings = fetch_embeddings(store, prefix, Path(scratch) / "version")
        evaluation = evaluate_keyed_vectors(embeddings.to_keyed_vectors())
        log.info("evaluation: %s", evaluation)
        drift = None
        if reference:
            before = fetch_embeddings(store, store.key_of(reference["path"]), Path(scratch) / "previous")
            known, _ = choose_probe_words(embeddings, probe_words)
            drift = compare_versions(embeddings, before, known, int(top_k), reference["version"])
            log.info("drift against %s: mean Jaccard %s", reference["version"], drift["mean_jaccard"])
    return EvaluationFacts(evaluation=evaluation, drift=drift, reference=reference["version"] if reference else None)
