"""What a training of a corpus would read and be (:class:`TrainingPlan`): the committed token
partitions in its window, their summaries, the params with ``epochs`` resolved, and the content
hash that names the version. ``detect_phrases`` plans exactly as ``train_word2vec`` does, so both
read the same partitions and agree on the hash."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from include.artifacts.phrases import PhraseParams
from include.registry.names import DEFAULT_MODEL
from include.steps.training.epochs import EpochsChoice, resolve_epochs
from include.steps.training.params import Word2VecParams
from include.storage.layout import partition_key
from include.storage.partitions import partition_parts, read_partition_summary, training_partitions
from include.storage.publish import content_hash
from include.storage.store import Store
from include.versions import CODE_VERSION


@dataclass(frozen=True)
class TrainingPlan:
    """A planned training of ``corpus_id`` (see :func:`training_plan`)."""

    corpus_id: str
    partitions: list[str]  #: the committed token partitions read, oldest first
    summaries: dict[str, dict]  #: partition name -> its ``_SUCCESS.json``, in training order
    params: Word2VecParams  #: the params asked for, with ``epochs`` resolved to a number
    epochs_choice: EpochsChoice  #: the passes, as requested and as resolved, and why
    phrase_settings: PhraseParams
    content_hash: str  #: sha256 of the inputs' checksums, the params, the model and the code

    @property
    def checksums(self) -> list[str]:
        """``<partition>:<sha256>`` of every source file read (see :func:`partition_checksums`)."""
        return partition_checksums(self.summaries)


def partition_checksums(summaries: dict[str, dict]) -> list[str]:
    """``<partition>:<sha256>`` of every source file of the partitions (what a content hash covers),
    from their ``_SUCCESS.json`` summaries (partition name -> summary, in training order)."""
    return [f"{name}:{sha}" for name, summary in summaries.items() for sha in summary["sources"]]


def training_plan(
    store: Store,
    *,
    corpus_id: str,
    dated: bool,
    window_end: date | None,
    history_days: int,
    params: Word2VecParams,
    phrase_settings: PhraseParams,
    model: str = DEFAULT_MODEL,
) -> TrainingPlan:
    """Plan a training of ``corpus_id`` in ``store``: the committed partitions in the window
    (:func:`include.storage.partitions.training_partitions`), their summaries, ``params.epochs``
    resolved from their token counts (:func:`include.steps.training.epochs.resolve_epochs`), and
    the content hash. The hash covers the partitions' source checksums, the params (resolved
    epochs, ``history_days``, the phrase settings), the model name (left out for ``default``, so
    its hashes match the layout before named models) and the code.
    Raises :class:`~include.errors.PipelineInputError` when no partition is in the window or
    ``epochs`` is not a valid value."""
    partitions = training_partitions(store, corpus_id, dated, window_end, int(history_days))
    summaries = {name: read_partition_summary(store, corpus_id, name) for name in partitions}
    epochs_choice = resolve_epochs(params.epochs, sum(int(s.get("tokens", 0)) for s in summaries.values()))
    params = replace(params, epochs=epochs_choice["epochs"])
    digest = content_hash(
        partition_checksums(summaries),
        {**params.as_dict(), "history_days": int(history_days), **phrase_settings.hashed()}
        | ({} if model == DEFAULT_MODEL else {"model": model}),
        CODE_VERSION,
    )
    return TrainingPlan(
        corpus_id=corpus_id,
        partitions=partitions,
        summaries=summaries,
        params=params,
        epochs_choice=epochs_choice,
        phrase_settings=phrase_settings,
        content_hash=digest,
    )


def fetch_parts(store: Store, plan: TrainingPlan, scratch: Path) -> list[Path]:
    """Local copies in ``scratch`` of exactly the part files each planned partition's summary
    names, in training order."""
    return [
        store.fetch(f"{partition_key(plan.corpus_id, name)}/{part}", scratch)
        for name, summary in plan.summaries.items()
        for part in partition_parts(store, plan.corpus_id, name, summary)
    ]
