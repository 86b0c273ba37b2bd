"""One small JSON record per DAG run (``runs/<run_id>.json`` under the data root): how it ended.

Written by the tasks that decide a run's outcome (a failure, an unchanged input, a gate
rejection, a promotion), read by ``make run`` to print the outcome and pick its exit code.
A record that cannot be written (a full disk) is still kept in this process's memory, so
``make run``, which runs the tasks in its own process, can print why the run failed.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypedDict, Unpack

from include.errors import PipelineInputError
from include.storage.layout import data_store, run_record_key


class RunOutcome(StrEnum):
    """How a run ended, as its record says (``make run`` picks its exit code from it)."""

    FAILED = "failed"  #: a task failed
    UNCHANGED = "unchanged"  #: an identical version (same inputs, params, code) already exists
    REJECTED = "rejected"  #: published, but the quality gate kept LATEST where it was
    PUBLISHED = "published"  #: published and promoted by the gate, but LATEST holds newer data
    PROMOTED = "promoted"  #: published and LATEST moved to it


class TaskFailure(TypedDict):
    task_id: str
    error: str


class RunRecord(TypedDict, total=False):
    """``runs/<run_id>.json``: ``run_id`` always; the rest as the run's tasks learn it."""

    run_id: str
    outcome: RunOutcome
    version: str  #: the version this run published, or the identical one it found
    reason: str
    report_html: str
    failures: list[TaskFailure]


#: run id -> the record whose last write failed (read before the store, dropped once a write succeeds)
_UNWRITTEN: dict[str, RunRecord] = {}


def run_record_path(run_id: str) -> str:
    """Where the run's record lives (a local path or a URL)."""
    return data_store().key_url(run_record_key(run_id))


def update_run_record(run_id: str, /, **facts: Unpack[RunRecord]) -> RunRecord:
    """Merge ``facts`` into the run's record (``failures`` entries accumulate); return the record.
    Raises the ``OSError`` when the file cannot be written; the record is then kept in memory."""
    try:
        record = (read_run_record(run_id) or RunRecord(run_id=run_id)).copy()
    except (OSError, PipelineInputError):  # the store cannot be read either: start from what is known
        record = RunRecord(run_id=run_id)
    failures = record.get("failures", []) + facts.pop("failures", [])
    record.update(facts)
    if failures:
        record["failures"] = failures
    try:
        data_store().put_json(run_record_key(run_id), record)
    except (OSError, PipelineInputError):  # a full disk, an unusable store: make run can still say why
        _UNWRITTEN[run_id] = record
        raise
    _UNWRITTEN.pop(run_id, None)
    return record


def read_run_record(run_id: str) -> RunRecord | None:
    if run_id in _UNWRITTEN:
        return _UNWRITTEN[run_id]
    try:
        return data_store().read_json(run_record_key(run_id))
    except FileNotFoundError:
        return None
