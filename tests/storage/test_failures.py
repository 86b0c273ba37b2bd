"""What a task's error means for its run: permanent or worth a retry, and where a full disk is."""

import errno
import tempfile

import pytest

from include.errors import ParityError, PipelineInputError, VersionConflictError
from include.storage.failures import disk_full_message, fail_run, failed_elsewhere, reason_not_to_retry
from include.storage.run_records import read_run_record

FULL = "No space left on device"


@pytest.mark.parametrize("error", [PipelineInputError("bad"), ParityError("bad"), VersionConflictError("bad")])
def test_bad_input_parity_and_conflicts_fail_at_once_with_their_own_message(error, data_root):
    assert reason_not_to_retry(error, "run", "task") == "bad"


def test_other_errors_are_left_to_the_retries(data_root):
    assert reason_not_to_retry(RuntimeError("flaky"), "run", "task") is None
    assert reason_not_to_retry(OSError(errno.EIO, "I/O error"), "run", "task") is None


def test_a_full_disk_fails_at_once_naming_the_file_and_the_data_root(data_root):
    filename = str(data_root / "models" / "v" / ".incoming-x" / "word2vec.txt")
    reason = reason_not_to_retry(OSError(errno.ENOSPC, FULL, filename), "run", "task")
    assert reason == (
        f"disk full while writing '{filename}' ({FULL}); free space in '{data_root}', then clear the task to retry"
    )


def test_a_full_scratch_folder_is_named_not_the_data_root(tmp_path):
    """The steps write in a local scratch folder too (training's corpus file, an object store's
    downloads and uploads): when that is full, the message names it, not the data root."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    filename = str(scratch / "w2v-train-x" / "corpus.txt")
    for root in ("s3://bucket/root", str(tmp_path / "data")):
        message = disk_full_message(OSError(errno.ENOSPC, FULL, filename), root, str(scratch))
        assert message.endswith(f"free space in '{scratch}', then clear the task to retry"), message


def test_a_full_disk_under_an_object_store_root_names_the_local_scratch_folder(monkeypatch):
    """A failed write() names no file. With the data root on S3 every local write is to the scratch
    folder: the message names it (it used to name the local 'data/' folder, which the task never wrote)."""
    monkeypatch.setenv("EMBEDDINGS_DATA_DIR", "s3://bucket/root")
    message = disk_full_message(OSError(errno.ENOSPC, FULL), "s3://bucket/root")
    assert message == (
        f"disk full while writing under '{tempfile.gettempdir()}' ({FULL}); free space there, "
        "then clear the task to retry"
    )
    assert "data" not in message.replace(FULL, "")


def test_a_full_disk_under_a_local_root_names_each_file_system_written_once(tmp_path):
    root, scratch = tmp_path / "data", tmp_path / "scratch"
    root.mkdir()
    scratch.mkdir()
    message = disk_full_message(OSError(errno.EDQUOT, "Disk quota exceeded"), str(root), str(scratch))
    assert message.startswith(f"disk full while writing under '{root}' (Disk quota exceeded)"), message
    missing = tmp_path / "gone"  # cannot be looked at: it may be the full one, so it is named
    message = disk_full_message(OSError(errno.ENOSPC, FULL), str(root), str(missing))
    assert message.startswith(f"disk full while writing under '{root}' or '{missing}' ({FULL})"), message


def test_a_run_failed_for_good_is_recorded_and_its_siblings_fail_at_once(data_root):
    from include.storage.layout import data_store, staging_key

    data_store().put_json(f"{staging_key('run-x')}/files/train_word2vec.json", {})
    assert failed_elsewhere("run-x", "build_neighbour_table") is None
    fail_run("run-x", "build_keras_model", ParityError("cosines differ"))
    assert read_run_record("run-x")["failures"] == [
        {"task_id": "build_keras_model", "error": "ParityError: cosines differ"}
    ]
    assert not data_store().files(staging_key("run-x")), "the run's staging is removed"
    assert failed_elsewhere("run-x", "build_keras_model") is None, "its own failure is not another's"
    assert failed_elsewhere("run-x", "build_neighbour_table") == "build_keras_model"
    reason = reason_not_to_retry(FileNotFoundError("embeddings.npy"), "run-x", "build_neighbour_table")
    assert reason is not None and "had already failed in build_keras_model" in reason
