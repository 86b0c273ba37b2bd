"""Time partitions of a corpus and of its tokens.

A corpus folder may hold one sub-folder per day, named ``YYYY-MM-DD``. A run with a data interval
``[start, end)`` reads the day folders whose day falls inside it, each into its own token
partition ``tokens/<corpus_id>/dt=YYYY-MM-DD/``. A run without a data interval reads the corpus as
a snapshot: a dated folder as all its days (``dt=`` partitions again), a flat folder or a single
file as the one partition ``tokens/<corpus_id>/snapshot/``, replaced by every snapshot run.

Training reads, for a dated corpus, the ``dt=`` partitions in the window ``(end - history_days,
end)`` (all of them before ``end`` when ``history_days`` is 0); for a flat corpus, ``snapshot/``.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from include.errors import PipelineInputError

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


def day_folders(corpus: Path) -> dict[date, Path]:
    """The ``YYYY-MM-DD`` sub-folders of ``corpus`` (empty for a file or a flat folder)."""
    if not corpus.is_dir():
        return {}
    found = {}
    for child in corpus.iterdir():
        if child.is_dir() and DAY_FOLDER.match(child.name):
            try:
                found[date.fromisoformat(child.name)] = child
            except ValueError as error:
                raise PipelineInputError(f"corpus folder '{child}' is named like a day but is not a date") from error
    return dict(sorted(found.items()))


@dataclass(frozen=True)
class PartitionPlan:
    """What one run reads: ``(partition name, source path)`` pairs, and whether the corpus is dated."""

    sources: list[tuple[str, Path]]
    dated: bool


def plan_partitions(corpus: Path, interval_start: datetime | None, interval_end: datetime | None) -> PartitionPlan:
    """Which parts of ``corpus`` this run ingests, each into which partition.

    With an interval (``start < end``, UTC), a dated corpus yields its day folders with
    ``start.date() <= day < end.date()`` (the day itself when the interval is shorter than a day);
    without one, all its days. A flat folder or a file is always the ``snapshot`` partition.
    Raises :class:`PipelineInputError` when a dated corpus has no day folder in the interval.
    """
    days = day_folders(corpus)
    if not days:
        return PartitionPlan([(SNAPSHOT, corpus)], dated=False)
    if interval_start is not None and interval_end is not None and interval_end > interval_start:
        first = interval_start.date()
        last = max(interval_end.date(), first + timedelta(days=1))
        chosen = {day: path for day, path in days.items() if first <= day < last}
        if not chosen:
            raise PipelineInputError(
                f"corpus_path '{corpus}' has no day folder in the data interval {first} .. {last - timedelta(days=1)} "
                f"(it has {min(days)} .. {max(days)})"
            )
        days = chosen
    return PartitionPlan([(partition_name(day), path) for day, path in days.items()], dated=True)


def training_partitions(corpus_tokens: Path, dated: bool, window_end: date | None, history_days: int) -> list[Path]:
    """Token partitions that training reads, oldest first.

    ``dated``: the ``dt=`` partitions with ``window_end - history_days <= day < window_end``
    (every day before ``window_end`` when ``history_days`` is 0; every day when ``window_end`` is
    ``None``). Flat corpus: ``snapshot/``. Raises :class:`PipelineInputError` when there is none.
    """
    if not dated:
        chosen = [corpus_tokens / SNAPSHOT] if (corpus_tokens / SNAPSHOT).is_dir() else []
    else:
        chosen = []
        for path in sorted(corpus_tokens.glob("dt=*")):
            day = partition_day(path.name)
            if day is None or not path.is_dir():
                continue
            if window_end is not None and day >= window_end:
                continue
            if window_end is not None and history_days > 0 and day < window_end - timedelta(days=history_days):
                continue
            chosen.append(path)
    if not chosen:
        raise PipelineInputError(
            f"no token partition of '{corpus_tokens.name}' in the training window "
            f"(ending {window_end}, history_days={history_days})"
        )
    return chosen


def prune_partitions(corpus_tokens: Path, today: date, retention_days: int) -> list[str]:
    """Delete ``dt=`` partitions older than ``retention_days`` before ``today``; return their names.
    ``retention_days`` 0 keeps everything."""
    if retention_days <= 0 or not corpus_tokens.is_dir():
        return []
    removed = []
    for path in sorted(corpus_tokens.glob("dt=*")):
        day = partition_day(path.name)
        if day is not None and day < today - timedelta(days=retention_days):
            shutil.rmtree(path)
            removed.append(path.name)
    return removed
