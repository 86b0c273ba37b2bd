"""The ``detect_phrases`` step: learn multi-word phrases (``new_york``) from exactly the token
partitions ``train_word2vec`` reads, into the run's staging folder; nothing when ``phrases`` is 0.

Example (what the task does, without Airflow)::

    from include.artifacts.phrases import PhraseParams
    from include.steps.detect_phrases import detect_phrases
    facts = detect_phrases(corpus_tokens=Path("data/tokens/<corpus_id>"), corpus_id="<corpus_id>", dated=False,
                           window_end=None, history_days=0, settings=PhraseParams(phrases=1), run_id="manual_1")
    # {"phrases_path": ".../staging/manual_1/phrases/phrases.json", "phrases": 93, "tokens": 58338, ...}
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from include.artifacts.phrases import (
    PHRASES_FILE,
    PhraseParams,
    distinct_phrases,
    learn_phrases,
    most_frequent_phrases,
    write_phrases,
)
from include.storage.locks import shared_lock
from include.storage.partitions import training_partitions
from include.storage.paths import lock_file, models_dir, staging_dir
from include.storage.versions import find_by_content_hash
from include.text.tokens import iter_token_lists, read_partition_summary

if TYPE_CHECKING:
    from include.steps.train_word2vec import Word2VecParams

log = logging.getLogger(__name__)


class PhraseFacts(TypedDict):
    """What ``detect_phrases`` tells ``train_word2vec`` (and the task log)."""

    phrases_path: str  #: the staged ``phrases.json``
    phrases: int  #: phrases learned, all passes
    tokens: int  #: tokens read in the last pass
    seconds: float
    partitions: list[str]  #: the token partitions learned from, oldest first


@dataclass(frozen=True)
class NothingToLearn:
    """No phrases to learn: ``phrases`` is 0 (training reads the tokens as they are), or a published
    version already holds what this run would train (training will say which)."""

    reason: str = "phrases is 0 (off): training reads the tokens without phrases"


def staged_phrases_path(run_id: str) -> Path:
    """Where ``detect_phrases`` leaves the learned phrases for ``train_word2vec`` (under the data
    root, so a training task on another worker finds them)."""
    return staging_dir(run_id) / "phrases" / PHRASES_FILE


def partition_checksums(partitions: list[Path]) -> list[str]:
    """``<partition>:<sha256>`` of every source file of ``partitions`` (what a content hash covers)."""
    return [f"{path.name}:{sha}" for path in partitions for sha in read_partition_summary(path)["sources"]]


def learn_from_partitions(partitions: list[Path], settings: PhraseParams) -> dict:
    """Learn phrases from the rows of ``partitions`` (streamed once per pass; see
    :func:`include.artifacts.phrases.learn_phrases`); the document records the partitions'
    checksums under ``inputs``. Call it under the corpus's shared lock."""
    document = learn_phrases(lambda: iter_token_lists(partitions), settings)
    document["inputs"] = sorted(partition_checksums(partitions))
    document["partitions"] = [path.name for path in partitions]
    return document


def detect_phrases(
    *,
    corpus_tokens: Path,
    corpus_id: str,
    dated: bool,
    window_end: date | None,
    history_days: int,
    settings: PhraseParams,
    run_id: str,
    params: Word2VecParams | None = None,
) -> PhraseFacts | NothingToLearn:
    """The whole ``detect_phrases`` task: :class:`NothingToLearn` when ``settings.phrases`` is 0,
    or when a published version has the content hash training would compute (with ``params``, the
    Word2Vec params: a re-run of unchanged inputs learns nothing). Otherwise learns the phrases of
    the partitions in the training window (the same
    :func:`include.storage.partitions.training_partitions` as training, read under the corpus's
    shared lock) and writes them to :func:`staged_phrases_path`, replacing an earlier attempt's.
    """
    if not settings.enabled:
        return NothingToLearn()
    with shared_lock(lock_file(f"tokens-{corpus_id}")):
        partitions = training_partitions(Path(corpus_tokens), dated, window_end, int(history_days))
        if params is not None:
            from include.steps.train_word2vec import training_content_hash  # imports this module

            existing = find_by_content_hash(
                models_dir(), training_content_hash(partitions, params, int(history_days), settings)
            )
            if existing:
                return NothingToLearn(
                    f"version {existing['version']} was built from the same inputs, params and code: "
                    "no phrases to learn"
                )
        log.info(
            "learning phrases (%s) from %d partitions: %s", settings, len(partitions), [p.name for p in partitions]
        )
        document = learn_from_partitions(partitions, settings)
    path = staged_phrases_path(run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_phrases(path, document)
    count = len(distinct_phrases(document))
    top = ", ".join(f"{p['phrase']} ({p['count']})" for p in most_frequent_phrases(document, 10))
    log.info("%d phrases in %.2fs; most frequent: %s", count, document["seconds"], top)
    return PhraseFacts(
        phrases_path=str(path),
        phrases=count,
        tokens=document["tokens"],
        seconds=document["seconds"],
        partitions=document["partitions"],
    )


def write_phrased_training_file(
    partitions: list[Path], settings: PhraseParams, run_id: str, version_dir: Path, out_path: Path
) -> int:
    """For ``train_word2vec`` with phrases on: copy the phrases ``detect_phrases`` staged into
    ``version_dir/phrases.json`` and write the rows of ``partitions`` with those phrases joined as
    the ``LineSentence`` file ``out_path``; returns its number of lines.

    The staged phrases are used only when they were learned from exactly ``partitions`` (their
    checksums) with exactly ``settings``; otherwise (a commit between the two tasks, a cleared
    staging folder) they are learned again here, so the version's phrases always belong to the
    data its content hash names. Call it under the corpus's shared lock.
    """
    from include.artifacts.phrases import PhraseApplier, read_phrases, write_phrased_line_sentence_file

    staged = staged_phrases_path(run_id)
    document = read_phrases(staged)
    expected = sorted(partition_checksums(partitions))
    if document is None or document.get("inputs") != expected or document.get("settings") != settings.as_dict():
        log.warning("staged phrases at %s are missing or were learned from other data: learning them again", staged)
        document = learn_from_partitions(partitions, settings)
    write_phrases(Path(version_dir) / PHRASES_FILE, document)
    applier = PhraseApplier(document)
    log.info("writing the training rows with %d phrases joined", applier.phrase_count)
    return write_phrased_line_sentence_file(iter_token_lists(partitions), applier, out_path)
