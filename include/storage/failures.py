"""What a task's error means for its run: whether a retry can help, and what failing for good cleans up.

The operators (``plugins/word2vec_operators.py``) only translate: :func:`reason_not_to_retry` says
why an error should fail the task at once (or ``None``: leave it to the retries), and
:func:`fail_run` is what a task that failed for good does to its run. Nothing here knows Airflow.
"""

from __future__ import annotations

import errno
import logging
import os
import tempfile

from include.errors import ParityError, PipelineInputError, VersionConflictError
from include.storage.layout import data_store, staging_key
from include.storage.paths import data_root_location
from include.storage.run_records import RunOutcome, read_run_record, update_run_record
from include.storage.store import is_url
from include.storage.sweep import abandon_run

log = logging.getLogger(__name__)

#: Errors no retry can mend: bad input, a failed parity check, another version of the same name.
PERMANENT_ERRORS: tuple[type[Exception], ...] = (PipelineInputError, ParityError, VersionConflictError)
#: ``errno`` values of a full disk (or quota): it stays full over a retry delay.
DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


def is_disk_full(error: BaseException) -> bool:
    """True for an ``OSError`` saying the disk (or the user's quota) is full."""
    return isinstance(error, OSError) and error.errno in DISK_FULL_ERRNOS


def reason_not_to_retry(error: Exception, run_id: str, task_id: str) -> str | None:
    """Why task ``task_id`` of run ``run_id`` should fail at once on ``error`` (the message to fail
    with), or ``None`` when a retry may help. At once: a :data:`PERMANENT_ERRORS` error (its own
    message); any error once another task of the run failed for good and removed what the run had
    built (:func:`failed_elsewhere`); a full disk (:func:`disk_full_message`)."""
    if isinstance(error, PERMANENT_ERRORS):
        return str(error)
    failed = failed_elsewhere(run_id, task_id)
    if failed:  # the run's half-built version is gone: retrying waits for nothing
        return (
            f"{type(error).__name__}: {error} (run {run_id} had already failed in {failed}, which "
            "removed what the run had built: clear the run from train_word2vec to build it again)"
        )
    if isinstance(error, OSError) and is_disk_full(error):
        return disk_full_message(error, data_root_location())
    return None


def disk_full_message(error: OSError, data_root: str, scratch: str | None = None) -> str:
    """The message of a task that ran out of space: the file it was writing (``error.filename``)
    and the local folder to free space in. ``data_root`` is the data root's location (a local path
    or an object-store URL), ``scratch`` the local temp folder the steps write in
    (``tempfile.gettempdir()`` when ``None``). A failed ``write()`` names no file (only ``open()``
    does): then the message names every local folder the task writes in, one per file system (the
    data root, when it is local, and the scratch folder)."""
    scratch = os.path.abspath(scratch or tempfile.gettempdir())
    local_root = None if is_url(data_root) and not data_root.startswith("file://") else data_root
    local_root = os.path.abspath(local_root.removeprefix("file://")) if local_root else None
    if error.filename:
        filename = os.path.abspath(os.fsdecode(error.filename))
        folder = next(
            (root for root in (local_root, scratch) if root and _lies_under(filename, root)),
            os.path.dirname(filename),
        )
        return (
            f"disk full while writing '{error.filename}' ({error.strerror}); free space in '{folder}', "
            "then clear the task to retry"
        )
    folders = _one_per_file_system([root for root in (local_root, scratch) if root])
    where = " or ".join(f"'{folder}'" for folder in folders)
    return f"disk full while writing under {where} ({error.strerror}); free space there, then clear the task to retry"


def _lies_under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _one_per_file_system(folders: list[str]) -> list[str]:
    """``folders`` without those on the file system of an earlier one (a folder that cannot be
    looked at is kept: it may be the full one)."""
    kept, devices = [], set()
    for folder in folders:
        try:
            device = os.stat(folder).st_dev
        except OSError:
            kept.append(folder)
            continue
        if device not in devices:
            devices.add(device)
            kept.append(folder)
    return kept


def failed_elsewhere(run_id: str, task_id: str) -> str | None:
    """When another task of run ``run_id`` failed for good and :func:`fail_run` removed what the
    run had built (its record says so, and the run's staging prefix is gone), those tasks, as
    ``"task_a, task_b"``; else ``None`` (also when the store cannot tell: the task's own error
    then decides). A run cleared and started again writes its staging anew, so it retries as usual."""
    try:
        record = read_run_record(run_id) or {}
        if record.get("outcome") != RunOutcome.FAILED:
            return None
        others = [f["task_id"] for f in record.get("failures", []) if f.get("task_id") != task_id]
        if not others or data_store().files(staging_key(run_id)):
            return None
    except Exception:  # a hint only: the task's own error is what counts
        return None
    return ", ".join(dict.fromkeys(others))


def fail_run(run_id: str, task_id: str, error: BaseException | None) -> None:
    """Task ``task_id`` failed for good with ``error``: remove what run ``run_id`` half-built (which
    frees a full disk too; a failure to do so is logged, not raised) and add the error to the run's
    record so ``make run`` can print it."""
    try:
        abandon_run(data_store(), run_id)
    except Exception as cleanup_error:
        log.warning("could not remove what run %s half-built: %s", run_id, cleanup_error)
    update_run_record(
        run_id,
        outcome=RunOutcome.FAILED,
        failures=[{"task_id": task_id, "error": f"{type(error).__name__}: {error}" if error else "unknown"}],
    )
