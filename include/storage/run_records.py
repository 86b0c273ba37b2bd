"""One small JSON record per DAG run (``runs/<run_id>.json`` under the data root): how it ended.

Written by the tasks that decide a run's outcome (a failure, an unchanged input, a gate
rejection, a promotion), read by ``make run`` to print the outcome and pick its exit code.
A record that cannot be written (a full disk) is still kept in this process's memory, so
``make run``, which runs the tasks in its own process, can print why the run failed.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TypedDict

from include.storage.atomic_io import write_json_atomic
from include.storage.paths import data_root, safe_name


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


#: record path -> the record whose last write failed (read before the file, dropped once a write succeeds)
_UNWRITTEN: dict[Path, dict] = {}


def run_record_path(run_id: str) -> Path:
    return data_root() / "runs" / f"{safe_name(run_id)}.json"


def update_run_record(run_id: str, **facts) -> RunRecord:
    """Merge ``facts`` into the run's record (``failures`` entries accumulate); return the record.
    Raises the ``OSError`` when the file cannot be written; the record is then kept in memory."""
    record = dict(read_run_record(run_id) or {"run_id": run_id})
    failures = record.get("failures", []) + facts.pop("failures", [])
    record.update(facts)
    if failures:
        record["failures"] = failures
    path = run_record_path(run_id)
    try:
        write_json_atomic(path, record)
    except OSError:
        _UNWRITTEN[path] = record
        raise
    _UNWRITTEN.pop(path, None)
    return record


def read_run_record(run_id: str) -> RunRecord | None:
    path = run_record_path(run_id)
    if path in _UNWRITTEN:
        return _UNWRITTEN[path]
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
