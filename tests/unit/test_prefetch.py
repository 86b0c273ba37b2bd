"""Reading ahead on a background thread (include/text/prefetch.py) must not change what a stream
gives, where its errors surface, or leave a thread reading once the caller has stopped; and the
two steps that use it, tokenizing and writing the LineSentence file, keep their bytes and errors."""

import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from include.errors import PipelineInputError
from include.steps.training.line_sentence import write_line_sentence_file
from include.text.prefetch import prefetched


def _threads_named(name: str) -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == name]


def test_items_come_in_order_and_all_of_them():
    assert list(prefetched(range(1000), depth=3)) == list(range(1000))
    assert list(prefetched([])) == []


def test_the_source_runs_on_another_thread_and_ahead():
    produced: list[int] = []

    def source():
        for number in range(5):
            produced.append(number)
            yield threading.current_thread().name

    stream = prefetched(source(), depth=2, name="test-ahead")
    assert next(stream) == "test-ahead"
    deadline = time.monotonic() + 5
    while len(produced) < 4 and time.monotonic() < deadline:  # 1 handed over, 2 queued, 1 being put
        time.sleep(0.01)
    assert len(produced) >= 3
    assert list(stream) == ["test-ahead"] * 4


def test_an_error_in_the_source_is_raised_at_its_item_with_its_type_and_message():
    def source():
        yield 1
        yield 2
        raise PipelineInputError("part-00003.parquet: not a Parquet file")

    got = []
    with pytest.raises(PipelineInputError, match="part-00003.parquet: not a Parquet file"):
        for item in prefetched(source()):
            got.append(item)
    assert got == [1, 2]
    assert not _threads_named("prefetch")


def test_stopping_early_stops_the_producer_and_closes_the_source():
    closed = threading.Event()
    produced = []

    def source():
        try:
            for number in range(10_000):
                produced.append(number)
                yield number
        finally:
            closed.set()

    stream = prefetched(source(), depth=1, name="test-early")
    for item in stream:
        if item == 3:
            break
    stream.close()
    assert closed.is_set(), "the source was not closed when the caller stopped"
    assert not _threads_named("test-early")
    assert len(produced) <= 3 + 3  # the item handed over, one queued, one being put


def test_an_error_in_the_caller_stops_the_producer():
    def source():
        yield from range(10_000)

    with pytest.raises(RuntimeError, match="caller failed"):
        for item in prefetched(source(), name="test-caller-error"):
            if item == 5:
                raise RuntimeError("caller failed")
    assert not _threads_named("test-caller-error")


def test_depth_below_one_is_refused():
    with pytest.raises(ValueError, match="depth=0"):
        list(prefetched(range(3), depth=0))


def test_line_sentence_writer_reads_ahead_with_the_same_bytes_and_errors(tmp_path: Path):
    folder = tmp_path / "tokens"
    folder.mkdir()
    rows = [[f"w{i % 97}", f"v{i % 13}"] * (1 + i % 5) for i in range(5000)]
    for number in range(3):
        part = pa.table({"tokens": pa.array(rows[number::3], pa.list_(pa.string()))})
        pq.write_table(part, folder / f"part-{number:05d}.parquet", row_group_size=300)
    out = tmp_path / "corpus.txt"
    # a small batch budget: many batches, so reading ahead really happens
    lines = write_line_sentence_file(folder, out, batch_bytes=2048)
    expected = "".join(" ".join(row) + "\n" for number in range(3) for row in rows[number::3])
    assert lines == len(rows)
    assert out.read_text() == expected

    # a file that is not Parquet, met while the batches before it are being written: the error
    # comes from the reading thread, names the file, and no reading thread is left behind
    (folder / "part-00001.parquet").write_bytes(b"PAR1 this is not Parquet")
    with pytest.raises(PipelineInputError, match=r"token file '.*part-00001\.parquet' cannot be read as Parquet"):
        write_line_sentence_file(folder, out, batch_bytes=2048)
    assert not _threads_named("read-tokens")

    # truncated: the footer is gone
    good = (folder / "part-00002.parquet").read_bytes()
    (folder / "part-00001.parquet").write_bytes(good[: len(good) // 2])
    with pytest.raises(PipelineInputError, match=r"part-00001\.parquet' cannot be read as Parquet"):
        write_line_sentence_file(folder, out, batch_bytes=2048)
