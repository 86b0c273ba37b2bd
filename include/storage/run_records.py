"""One small JSON record per DAG run (``runs/<run_id>.json`` under the data root): how it ended.

Written by the tasks that decide a run's outcome (a failure, an unchanged input, a gate
rejection, a promotion), read by ``make run`` to print the outcome and pick its exit code.
A record that cannot be written (a full disk) is still kept in this process's memory, so
``make run``, which runs the tasks in its own process, can print why the run failed.
"""

from __future__ import annotations

import json
from pathlib import Path

from include.storage.atomic_io import write_json_atomic
from include.storage.paths import data_root, safe_name

#: record path -> the record whose last write failed (read before the file, dropped once a write succeeds)
_UNWRITTEN: dict[Path, dict] = {}


def run_record_path(run_id: str) -> Path:
    return data_root() / "runs" / f"{safe_name(run_id)}.json"


def update_run_record(run_id: str, **facts) -> dict:
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


def read_run_record(run_id: str) -> dict | None:
    path = run_record_path(run_id)
    if path in _UNWRITTEN:
        return _UNWRITTEN[path]
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
