import pytest

from include.errors import PipelineInputError
from include.settings import keep_versions, token_retention_days
from include.storage.run_records import read_run_record, update_run_record


def test_settings_defaults_and_overrides(monkeypatch):
    monkeypatch.delenv("EMBEDDINGS_KEEP_VERSIONS", raising=False)
    monkeypatch.delenv("EMBEDDINGS_TOKEN_RETENTION_DAYS", raising=False)
    assert (keep_versions(), token_retention_days()) == (20, 90)
    monkeypatch.setenv("EMBEDDINGS_KEEP_VERSIONS", "3")
    assert keep_versions() == 3
    monkeypatch.setenv("EMBEDDINGS_TOKEN_RETENTION_DAYS", "-1")
    with pytest.raises(PipelineInputError, match="EMBEDDINGS_TOKEN_RETENTION_DAYS"):
        token_retention_days()


def test_run_records_merge_and_accumulate_failures(data_root):
    run_id = "manual__2026-11-25T20:30:00+00:00"
    assert read_run_record(run_id) is None
    update_run_record(run_id, outcome="failed", failures=[{"task_id": "a", "error": "x"}])
    update_run_record(run_id, failures=[{"task_id": "b", "error": "y"}])
    record = read_run_record(run_id)
    assert record["outcome"] == "failed" and [f["task_id"] for f in record["failures"]] == ["a", "b"]
    assert next(iter((data_root / "runs").iterdir())).name == "manual__2026-11-25T20_30_00_00_00.json"


def test_a_run_record_that_cannot_be_written_is_kept_for_this_process(data_root, monkeypatch):
    import errno

    from include.storage import run_records
    from include.storage.store import LocalStore

    def full(self, key, payload, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    run_id = "manual__full-disk"
    monkeypatch.setattr(LocalStore, "put_json", full)
    with pytest.raises(OSError, match="No space left"):
        update_run_record(run_id, outcome="failed", failures=[{"task_id": "a", "error": "disk full"}])
    assert read_run_record(run_id)["failures"] == [{"task_id": "a", "error": "disk full"}]
    assert not (data_root / "runs").exists()
    monkeypatch.undo()
    monkeypatch.setenv("EMBEDDINGS_DATA_DIR", str(data_root))
    update_run_record(run_id, failures=[{"task_id": "b", "error": "y"}])  # space again: written, memory dropped
    assert [f["task_id"] for f in read_run_record(run_id)["failures"]] == ["a", "b"]
    assert not run_records._UNWRITTEN


def test_atomic_write_leaves_no_temp_file_when_the_disk_is_full(tmp_path, monkeypatch):
    import errno
    import os

    from include.storage.atomic_io import write_text_atomic

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space left"):
        write_text_atomic(tmp_path / "x.json", "{}")
    assert list(tmp_path.iterdir()) == []


def test_exclusive_lock_makes_the_second_holder_wait(tmp_path):
    import threading
    import time

    from include.storage.locks import exclusive_lock

    lock = tmp_path / "x.lock"
    events = []

    def second():
        with exclusive_lock(lock, timeout=10):
            events.append("second")

    with exclusive_lock(lock):
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.5)
        events.append("first done")
    thread.join(10)
    assert events == ["first done", "second"]
    with exclusive_lock(lock), pytest.raises(TimeoutError, match="x.lock"):
        # flock locks belong to open file descriptions: a second open() in this process contends too
        with exclusive_lock(lock, timeout=0.3):
            pass


def test_shared_lock_admits_readers_together_and_keeps_writers_out(tmp_path):
    """Training reads partitions under a shared lock; a commit or prune needs the exclusive one."""
    from include.storage.locks import exclusive_lock, shared_lock

    lock = tmp_path / "tokens.lock"
    with shared_lock(lock), shared_lock(lock, timeout=0.3):  # two readers at once
        with pytest.raises(TimeoutError, match="tokens.lock"):
            with exclusive_lock(lock, timeout=0.3):
                pass
    with exclusive_lock(lock), pytest.raises(TimeoutError, match="tokens.lock"), shared_lock(lock, timeout=0.3):
        pass
    with exclusive_lock(lock, timeout=0.3):  # released by both kinds
        pass
