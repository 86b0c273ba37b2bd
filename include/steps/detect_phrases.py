"""The ``detect_phrases`` step: learn multi-word phrases (``new_york``) from exactly the token
partitions ``train_word2vec`` reads, into the run's staging prefix; nothing when ``phrases`` is 0.

Example (what the task does, without Airflow)::

    from include.artifacts.phrases import PhraseParams
    from include.steps.detect_phrases import detect_phrases
    facts = detect_phrases(corpus_id="<corpus_id>", dated=False, window_end=None, history_days=0,
                           settings=PhraseParams(phrases=1), run_id="manual_1")
    # {"phrases_path": ".../staging/manual_1/phrases/phrases.json", "phrases": 93, "tokens": 58338, ...}
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TypedDict

from include.artifacts.phrases import (
    PHRASES_FILE,
    PhraseParams,
    distinct_phrases,
    learn_phrases,
    most_frequent_phrases,
    write_phrases,
)
from include.artifacts.word_counts import WordCounts
from include.registry.names import DEFAULT_MODEL
from include.steps.training.params import Word2VecParams
from include.steps.training.plan import fetch_parts, training_plan
from include.storage.layout import data_store, staging_key
from include.storage.store import Store
from include.storage.versions import find_by_content_hash
from include.text.tokens import iter_token_lists

log = logging.getLogger(__name__)


class PhraseFacts(TypedDict):
    """What ``detect_phrases`` tells ``train_word2vec`` (and the task log)."""

    phrases_path: str  #: the staged ``phrases.json`` (a path or URL under the data root)
    phrases: int  #: phrases learned, all passes
    tokens: int  #: tokens read in the last pass
    seconds: float
    partitions: list[str]  #: the token partitions learned from, oldest first


@dataclass(frozen=True)
class NothingToLearn:
    """No phrases to learn: ``phrases`` is 0 (training reads the tokens as they are), or a published
    version already holds what this run would train (training will say which)."""

    reason: str = "phrases is 0 (off): training reads the tokens without phrases"


def staged_phrases_key(run_id: str) -> str:
    """Where ``detect_phrases`` leaves the learned phrases for ``train_word2vec`` (under the data
    root, so a training task on another worker finds them)."""
    return f"{staging_key(run_id)}/phrases/{PHRASES_FILE}"


def learn_from_parts(parts: list[Path], checksums: list[str], partitions: list[str], settings: PhraseParams) -> dict:
    """Learn phrases from the rows of the local Parquet ``parts`` (streamed once per pass; see
    :func:`include.artifacts.phrases.learn_phrases`); the document records the partitions'
    ``checksums`` under ``inputs`` and their names under ``partitions``."""
    document = learn_phrases(lambda: iter_token_lists(parts), settings)
    document["inputs"] = sorted(checksums)
    document["partitions"] = list(partitions)
    return document


def detect_phrases(
    *,
    corpus_id: str,
    dated: bool,
    window_end: date | None,
    history_days: int,
    settings: PhraseParams,
    run_id: str,
    params: Word2VecParams | None = None,
    model: str = DEFAULT_MODEL,
) -> PhraseFacts | NothingToLearn:
    """The whole ``detect_phrases`` task: :class:`NothingToLearn` when ``settings.phrases`` is 0,
    or when a published version has the content hash training would compute (with ``params``, the
    Word2Vec params, and ``model``, the model the version belongs to: a re-run of unchanged inputs
    learns nothing). Otherwise learns the phrases of
    the partitions in the training window (the same plan as training:
    :func:`include.steps.training.plan.training_plan`) in a local scratch folder and writes them
    to :func:`staged_phrases_key`, replacing an earlier attempt's.
    """
    if not settings.enabled:
        return NothingToLearn()
    store = data_store()
    plan = training_plan(
        store,
        corpus_id=corpus_id,
        dated=dated,
        window_end=window_end,
        history_days=int(history_days),
        params=params or Word2VecParams(),
        phrase_settings=settings,
        model=model,
    )
    if params is not None:
        existing = find_by_content_hash(store, plan.content_hash)
        if existing:
            return NothingToLearn(
                f"version {existing['version']} was built from the same inputs, params and code: no phrases to learn"
            )
    log.info("learning phrases (%s) from %d partitions: %s", settings, len(plan.partitions), plan.partitions)
    with tempfile.TemporaryDirectory(prefix="w2v-phrases-") as scratch:
        parts = fetch_parts(store, plan, Path(scratch))
        document = learn_from_parts(parts, plan.checksums, plan.partitions, settings)
    json.dumps(document, allow_nan=False)  # refuse NaN/inf before anything is written
    store.put_json(staged_phrases_key(run_id), document)
    count = len(distinct_phrases(document))
    top = ", ".join(f"{p['phrase']} ({p['count']})" for p in most_frequent_phrases(document, 10))
    log.info("%d phrases in %.2fs; most frequent: %s", count, document["seconds"], top)
    return PhraseFacts(
        phrases_path=store.key_url(staged_phrases_key(run_id)),
        phrases=count,
        tokens=document["tokens"],
        seconds=document["seconds"],
        partitions=document["partitions"],
    )


def write_phrased_training_file(
    store: Store,
    parts: list[Path],
    checksums: list[str],
    settings: PhraseParams,
    run_id: str,
    version_folder: Path,
    out_path: Path,
    counts: WordCounts | None = None,
) -> int:
    """For ``train_word2vec`` with phrases on: put the phrases ``detect_phrases`` staged into
    ``version_folder/phrases.json`` and write the rows of the local ``parts`` with those phrases
    joined as the ``LineSentence`` file ``out_path``, counting their words into ``counts``;
    returns its number of lines.

    The staged phrases are used only when they were learned from exactly the partitions whose
    source ``checksums`` are given, with exactly ``settings``; otherwise (a commit between the two
    tasks, a cleared staging prefix) they are learned again here, so the version's phrases always
    belong to the data its content hash names. Raises :class:`PipelineInputError` naming ``parts``
    when (with ``counts``) a written token is empty or holds whitespace: not the tokenizer's work.
    """
    from include.artifacts.phrases import PhraseApplier, write_phrased_line_sentence_file

    key = staged_phrases_key(run_id)
    try:
        document = store.read_json(key)
    except FileNotFoundError:
        document = None
    if (
        document is None
        or document.get("inputs") != sorted(checksums)
        or document.get("settings") != settings.as_dict()
    ):
        log.warning("staged phrases at %s are missing or were learned from other data: learning them again", key)
        names = sorted({checksum.split(":", 1)[0] for checksum in checksums})
        document = learn_from_parts(parts, checksums, names, settings)
    write_phrases(Path(version_folder) / PHRASES_FILE, document)
    applier = PhraseApplier(document)
    log.info("writing the training rows with %d phrases joined", applier.phrase_count)
    lines = write_phrased_line_sentence_file(iter_token_lists(parts), applier, out_path, counts)
    if counts is not None:
        counts.refuse_malformed_words(f"token rows of {[str(part) for part in parts]}")
    return lines
