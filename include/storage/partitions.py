"""Time partitions of a corpus and of its tokens.

A corpus folder (or key prefix) may hold one sub-folder per day, named ``YYYY-MM-DD``. A run with a
data interval ``[start, end)`` reads the day folders whose day falls inside it, each into its own
token partition ``tokens/<corpus_id>/dt=YYYY-MM-DD/``. A run without a data interval reads the
corpus as a snapshot: a dated folder as all its days (``dt=`` partitions again), a flat folder or a
single file as the one partition ``tokens/<corpus_id>/snapshot/``, replaced by every snapshot run.

Training reads, for a dated corpus, the ``dt=`` partitions in the window ``(end - history_days,
end)`` (all of them before ``end`` when ``history_days`` is 0); for a flat corpus, ``snapshot/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from include.errors import PipelineInputError
from include.storage.corpus_location import CorpusLocation
from include.storage.layout import SUCCESS_FILE, corpus_tokens_key, partition_key
from include.storage.store import Store

DAY_FOLDER = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SNAPSHOT = "snapshot"


def partition_name(day: date | None) -> str:
    """``dt=YYYY-MM-DD`` for a day, ``snapshot`` for a flat corpus."""
    return f"dt={day.isoformat()}" if day else SNAPSHOT


def partition_day(name: str) -> date | None:
    """The day of a ``dt=YYYY-MM-DD`` partition name, ``None`` for other names."""
    if name.startswith("dt="):
        try:
            return date.fromisoformat(name[3:])
        except ValueError:
            return None
    return None


def day_folders(corpus: CorpusLocation | Path | str) -> dict[date, CorpusLocation]:
    """The ``YYYY-MM-DD`` sub-folders (or key prefixes) of ``corpus`` (empty for a file or a flat folder)."""
    found = {}
    for child in CorpusLocation.of(corpus).folders():
        if DAY_FOLDER.match(child.name):
            try:
                found[date.fromisoformat(child.name)] = child
            except ValueError as error:
                raise PipelineInputError(
                    f"corpus folder '{child.path}' is named like a day but is not a date"
                ) from error
    return dict(sorted(found.items()))


@dataclass(frozen=True)
class PartitionPlan:
    """What one run reads: ``(partition name, source location)`` pairs, and whether the corpus is dated."""

    sources: list[tuple[str, CorpusLocation]]
    dated: bool


def plan_partitions(
    corpus: CorpusLocation | Path | str, interval_start: datetime | None, interval_end: datetime | None
) -> PartitionPlan:
    """Which parts of ``corpus`` (a local folder or file, or a URL) this run ingests, each into which partition.

    With an interval (``start < end``, UTC), a dated corpus yields its day folders with
    ``start.date() <= day < end.date()`` (the day itself when the interval is shorter than a day);
    without one, all its days. A flat folder or a file is always the ``snapshot`` partition.
    Raises :class:`PipelineInputError` when a dated corpus has no day folder in the interval.
    """
    corpus = CorpusLocation.of(corpus)
    days = day_folders(corpus)
    if not days:
        return PartitionPlan([(SNAPSHOT, corpus)], dated=False)
    if interval_start is not None and interval_end is not None and interval_end > interval_start:
        first = interval_start.date()
        last = max(interval_end.date(), first + timedelta(days=1))
        chosen = {day: path for day, path in days.items() if first <= day < last}
        if not chosen:
            raise PipelineInputError(
                f"corpus_path '{corpus.path}' has no day folder in the data interval "
                f"{first} .. {last - timedelta(days=1)} (it has {min(days)} .. {max(days)})"
            )
        days = chosen
    return PartitionPlan([(partition_name(day), path) for day, path in days.items()], dated=True)


def training_partitions(
    store: Store, corpus_id: str, dated: bool, window_end: date | None, history_days: int
) -> list[str]:
    """Names of the committed token partitions of ``corpus_id`` that training reads, oldest first.

    ``dated``: the ``dt=`` partitions with ``window_end - history_days <= day < window_end``
    (every day before ``window_end`` when ``history_days`` is 0; every day when ``window_end`` is
    ``None``). Flat corpus: ``snapshot``. A partition counts once its ``_SUCCESS.json`` exists.
    Raises :class:`PipelineInputError` when there is none.
    """
    names = store.children(corpus_tokens_key(corpus_id))
    if not dated:
        candidates = [SNAPSHOT] if SNAPSHOT in names else []
    else:
        candidates = []
        for name in names:
            day = partition_day(name)
            if day is None:
                continue
            if window_end is not None and day >= window_end:
                continue
            if window_end is not None and history_days > 0 and day < window_end - timedelta(days=history_days):
                continue
            candidates.append(name)
    chosen = [name for name in candidates if store.exists(f"{partition_key(corpus_id, name)}/{SUCCESS_FILE}")]
    if not chosen:
        raise PipelineInputError(
            f"no token partition of '{corpus_id}' in the training window "
            f"(ending {window_end}, history_days={history_days})"
        )
    return chosen


def prune_partitions(store: Store, corpus_id: str, today: date, retention_days: int) -> list[str]:
    """Delete ``dt=`` partitions older than ``retention_days`` before ``today`` (the summary first, so
    a reader never takes a half-deleted partition for a whole one); return their names.
    ``retention_days`` 0 keeps everything."""
    if retention_days <= 0:
        return []
    removed = []
    for name in store.children(corpus_tokens_key(corpus_id)):
        day = partition_day(name)
        if day is not None and day < today - timedelta(days=retention_days):
            store.delete(f"{partition_key(corpus_id, name)}/{SUCCESS_FILE}")
            store.delete_tree(partition_key(corpus_id, name))
            removed.append(name)
    return removed


def read_partition_summary(store: Store, corpus_id: str, partition: str) -> dict:
    """The ``_SUCCESS.json`` of a committed partition: rows, tokens, files, sources, inputs,
    tokenizer, and ``parts`` (the Parquet files that belong to it, in order)."""
    return store.read_json(f"{partition_key(corpus_id, partition)}/{SUCCESS_FILE}")


def partition_parts(store: Store, corpus_id: str, partition: str, summary: dict) -> list[str]:
    """The part files of a committed partition, in order: those its summary names, or, for a
    partition committed by a release before ``parts`` existed (replaced whole by a rename then),
    every Parquet file directly in its folder."""
    if "parts" in summary:
        return list(summary["parts"])
    return sorted(
        name
        for name in store.files(partition_key(corpus_id, partition))
        if name.endswith(".parquet") and "/" not in name
    )
