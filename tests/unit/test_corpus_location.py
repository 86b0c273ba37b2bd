"""Unit tests of include/storage/corpus_location.py that need no store: how a location is taken,
and what it says when the store answers with something else than the corpus."""

from __future__ import annotations

import sys

import pytest

from include.errors import PipelineInputError
from include.storage.corpus_location import CorpusLocation, LocalCorpusLocation
from include.storage.store import StorageConfigError, reading_filesystem


class RefusingFilesystem:
    """An fsspec-like filesystem whose every call fails as a store can: not found, or refused."""

    def __init__(self, info_error: Exception, exists_error: Exception | None = None) -> None:
        self.info_error, self.exists_error = info_error, exists_error

    def info(self, path):
        raise self.info_error

    def exists(self, path):
        if self.exists_error:
            raise self.exists_error
        return True


def test_a_location_is_taken_as_given_local_paths_absolute_urls_normalised(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert CorpusLocation.of("texts") == LocalCorpusLocation(str(tmp_path / "texts"))
    assert CorpusLocation.of(f"file://{tmp_path}").path == str(tmp_path)
    assert CorpusLocation.of("s3://corpora//texts/").path == "s3://corpora/texts"
    assert CorpusLocation.of("s3://corpora/texts").name == "texts"


def test_a_single_file_is_its_own_corpus_whatever_its_extension(tmp_path):
    path = tmp_path / "notes.md"
    path.write_bytes(b"one line\n")
    [found] = CorpusLocation.of(path).files()
    assert (found.path, found.size, found.etag) == (str(path), 9, None)
    assert CorpusLocation.of(path).root is None and CorpusLocation.of(path).folders() == []


def test_a_store_that_cannot_say_whether_the_bucket_exists_still_names_the_missing_location():
    location = CorpusLocation("s3://corpora/texts", RefusingFilesystem(FileNotFoundError(), PermissionError("denied")))
    with pytest.raises(
        PipelineInputError, match=r"'s3://x' does not exist \(resolved to 's3://corpora/texts': no object"
    ):
        location.require("s3://x")


def test_a_store_refusing_to_describe_the_location_is_named():
    location = CorpusLocation("s3://corpora/texts", RefusingFilesystem(PermissionError("Access Denied")))
    with pytest.raises(PipelineInputError, match=r"corpus location 's3://corpora/texts' cannot be read: Access Denied"):
        location.files()
    with pytest.raises(PipelineInputError, match=r"corpus_path 'texts' cannot be read .*Access Denied"):
        location.require("texts")


def test_s3_without_s3fs_installed_is_refused_naming_the_url(monkeypatch):
    from include.storage import store

    store.configure(None)
    monkeypatch.setitem(sys.modules, "s3fs", None)  # import s3fs now raises ImportError
    with pytest.raises(StorageConfigError, match=r"'s3://corpora/texts' needs the s3fs package"):
        reading_filesystem("s3://corpora/texts")
