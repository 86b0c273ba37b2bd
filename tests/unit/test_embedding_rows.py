"""Rows of a memory-mapped embeddings.npy are read from the file, not faulted in through the map
(include/artifacts/embeddings.py ``read_rows``/``take_rows``): the same rows, without the file's
pages counting in the process's RSS (381 MiB at 1M words, at the Keras step's peak)."""

import numpy as np
import pytest

from include.artifacts import embeddings as embeddings_module
from include.artifacts.embeddings import read_rows, take_rows
from include.errors import PipelineInputError


@pytest.fixture
def mapped(tmp_path):
    matrix = np.random.default_rng(1).standard_normal((2000, 8), dtype=np.float32)
    np.save(tmp_path / "embeddings.npy", matrix)
    return matrix, np.load(tmp_path / "embeddings.npy", mmap_mode="r")


def test_rows_of_a_map_a_slice_of_it_and_an_array_are_the_same(mapped):
    matrix, mapped = mapped
    for source in (mapped, matrix):
        assert np.array_equal(read_rows(source, 100, 300), matrix[100:300])
        assert np.array_equal(read_rows(source, 1990, 5000), matrix[1990:])  # stop past the end
        assert np.array_equal(take_rows(source, np.array([5, 1999, 0, 5])), matrix[[5, 1999, 0, 5]])
    # a slice keeps the map's file and offset: reading it from the file would give other rows
    assert np.array_equal(read_rows(mapped[10:], 0, 5), matrix[10:15])
    assert np.array_equal(take_rows(mapped[::2], np.array([1, 3])), matrix[[2, 6]])
    assert read_rows(mapped, 2000, 2100).shape == (0, 8)
    assert take_rows(mapped, np.array([], dtype=np.int64)).shape == (0, 8)
    assert read_rows(mapped, 0, 4).dtype == np.dtype("<f4") and read_rows(mapped, 0, 4).flags.c_contiguous


def _file_rss_kib() -> int:
    for line in open("/proc/self/status"):
        if line.startswith("RssFile:"):
            return int(line.split()[1])
    raise AssertionError("no RssFile in /proc/self/status")


def test_reading_a_map_leaves_its_pages_out_of_the_process(tmp_path):
    """Every row of a 64 MiB file read through read_rows adds (almost) nothing to the process's
    file-backed RSS; the same rows copied out of the map add the whole file (the control)."""
    rows, dims = 65_536, 256
    np.save(tmp_path / "big.npy", np.ones((rows, dims), dtype=np.float32))
    mapped = np.load(tmp_path / "big.npy", mmap_mode="r")
    before = _file_rss_kib()
    total = sum(float(read_rows(mapped, start, start + 8192).sum()) for start in range(0, rows, 8192))
    read_growth = _file_rss_kib() - before
    copied = float(np.asarray(mapped[:]).sum())
    copy_growth = _file_rss_kib() - before
    assert total == copied == rows * dims
    assert read_growth < 8 * 1024, f"read_rows mapped {read_growth} KiB of the file"
    assert copy_growth > 48 * 1024, f"the control should map the file: {copy_growth} KiB"


def test_a_file_cut_short_while_read_names_it(mapped, monkeypatch):
    _, mapped = mapped
    monkeypatch.setattr(embeddings_module.os, "preadv", lambda *args: 0)
    with pytest.raises(PipelineInputError, match=r"embeddings\.npy' ended before row 300"):
        read_rows(mapped, 100, 300)


def test_take_rows_refuses_rows_outside_the_matrix(mapped):
    matrix, mapped = mapped
    for source in (mapped, matrix):
        with pytest.raises(IndexError, match=r"0\.\.1999, got 5\.\.2000"):
            take_rows(source, np.array([5, 2000]))
        with pytest.raises(IndexError):
            take_rows(source, np.array([-1]))
