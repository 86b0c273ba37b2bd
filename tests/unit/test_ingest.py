"""Unit tests of include/steps/ingest_text.py: the ingest manifest of a corpus."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import json
import logging
from pathlib import Path

import pytest

from include.errors import PipelineInputError
from include.steps.ingest_text import MANIFEST_SCHEMA_VERSION, ingest_corpus, read_manifest


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def manifest_path(data_root) -> Path:
    return data_root / "staging" / "run-1" / "manifest.json"


def test_small_corpus_manifest_describes_every_text_file(small_corpus, manifest_path):
    totals = ingest_corpus(small_corpus, manifest_path)
    manifest = read_manifest(manifest_path)

    expected_files = [
        small_corpus / "a.txt",
        small_corpus / "b.TXT",
        small_corpus / "more" / "c.txt.gz",
        small_corpus / "more" / "d.bz2",
    ]
    assert [entry["path"] for entry in manifest["files"]] == [str(path) for path in expected_files]
    assert manifest["schema_version"] == MANIFEST_SCHEMA_VERSION
    assert manifest["corpus_path"] == str(small_corpus)

    expected_lines = {"a.txt": 120, "b.TXT": 120, "c.txt.gz": 80, "d.bz2": 80}
    for entry, path in zip(manifest["files"], expected_files):
        assert "skipped" not in entry
        assert entry["size"] == path.stat().st_size  # bytes on disk, compressed for .gz/.bz2
        assert entry["sha256"] == sha256_of(path)
        assert entry["lines"] == expected_lines[path.name]
        assert entry["bad_bytes"] == 0

    assert (
        totals
        == manifest["totals"]
        == {
            "files": 4,
            "skipped_files": 0,
            "lines": 400,
            "bytes": sum(path.stat().st_size for path in expected_files),
            "bad_bytes": 0,
            "shards": 1,
            "reused_partitions": 0,
        }
    )
    assert manifest["partitions"] == ["snapshot"] and manifest["dated"] is False
    assert all(entry["partition"] == "snapshot" for entry in manifest["files"])
    shown = json.dumps(manifest)
    assert ".hidden.txt" not in shown and "notes.md" not in shown


def test_single_file_corpus_of_any_extension(data_root, manifest_path):
    path = data_root / "notes.md"
    path.write_text("one line\ntwo lines\n", encoding="utf-8")
    totals = ingest_corpus(path, manifest_path)
    assert totals["files"] == 1 and totals["lines"] == 2
    assert read_manifest(manifest_path)["files"][0]["path"] == str(path)


def test_binary_file_among_text_files_is_skipped_with_a_warning(data_root, manifest_path, caplog):
    corpus = data_root / "mixed"
    corpus.mkdir()
    (corpus / "a.txt").write_text("words and more words\n", encoding="utf-8")
    blob = corpus / "b.txt"
    blob.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    packed = corpus / "c.gz"
    packed.write_bytes(gzip.compress(b"\x00\x01binary inside gzip"))
    with caplog.at_level(logging.WARNING, logger="include.steps.ingest_text"):
        totals = ingest_corpus(corpus, manifest_path)
    entries = {Path(entry["path"]).name: entry for entry in read_manifest(manifest_path)["files"]}
    assert entries["b.txt"] == {
        "path": str(blob),
        "partition": "snapshot",
        "size": blob.stat().st_size,
        "skipped": "binary",
    }
    assert entries["c.gz"]["skipped"] == "binary"
    assert "skipped" not in entries["a.txt"] and entries["a.txt"]["lines"] == 1
    assert totals["files"] == 1 and totals["skipped_files"] == 2
    assert totals["bytes"] == (corpus / "a.txt").stat().st_size  # skipped files are not counted
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert any(str(blob) in message and "binary" in message for message in warnings)
    assert any(str(packed) in message for message in warnings)


def test_invalid_utf8_is_counted_per_file(data_root, manifest_path, caplog):
    corpus = data_root / "latin1"
    corpus.mkdir()
    (corpus / "bad.txt").write_bytes(b"ab\xff\xfecd\ncaf\xe9\n")  # 3 undecodable bytes
    (corpus / "good.txt").write_text("café\n", encoding="utf-8")
    (corpus / "packed.bz2").write_bytes(bz2.compress(b"\x80x\n"))
    with caplog.at_level(logging.WARNING, logger="include.steps.ingest_text"):
        totals = ingest_corpus(corpus, manifest_path)
    bad_bytes = {Path(entry["path"]).name: entry["bad_bytes"] for entry in read_manifest(manifest_path)["files"]}
    assert bad_bytes == {"bad.txt": 3, "good.txt": 0, "packed.bz2": 1}
    assert totals["bad_bytes"] == 4
    assert any(
        str(corpus / "bad.txt") in record.getMessage() for record in caplog.records if record.levelno == logging.WARNING
    )
    assert not any(
        str(corpus / "good.txt") in record.getMessage()
        for record in caplog.records
        if record.levelno == logging.WARNING
    )


@pytest.mark.parametrize("contents", [{}, {"notes.md": "x\n", ".hidden.txt": "x\n", "data.csv": "a,b\n"}])
def test_folder_without_text_files_is_refused_naming_it(data_root, manifest_path, contents):
    corpus = data_root / "empty"
    corpus.mkdir()
    for name, text in contents.items():
        (corpus / name).write_text(text, encoding="utf-8")
    with pytest.raises(PipelineInputError) as caught:
        ingest_corpus(corpus, manifest_path)
    assert str(corpus) in str(caught.value)
    assert not manifest_path.exists()


def test_only_empty_files_are_refused(data_root, manifest_path):
    corpus = data_root / "blank"
    corpus.mkdir()
    (corpus / "a.txt").write_bytes(b"")
    (corpus / "b.gz").write_bytes(gzip.compress(b""))
    with pytest.raises(PipelineInputError, match="only empty files") as caught:
        ingest_corpus(corpus, manifest_path)
    assert str(corpus) in str(caught.value)
    assert not manifest_path.exists()


def test_only_binary_files_are_refused(data_root, manifest_path):
    corpus = data_root / "binaries"
    corpus.mkdir()
    (corpus / "a.txt").write_bytes(b"\x00" * 100)
    (corpus / "b.txt").write_bytes(b"MZ\x90\x00\x03\x00")
    with pytest.raises(PipelineInputError, match="binary") as caught:
        ingest_corpus(corpus, manifest_path)
    assert str(corpus) in str(caught.value)
    assert not manifest_path.exists()


def test_corrupt_compressed_file_is_refused_naming_it(data_root, manifest_path):
    corpus = data_root / "broken"
    corpus.mkdir()
    (corpus / "a.txt").write_text("fine words\n", encoding="utf-8")
    truncated = corpus / "b.gz"
    truncated.write_bytes(gzip.compress(b"hello world\n" * 2000)[:-40])
    with pytest.raises(PipelineInputError) as caught:
        ingest_corpus(corpus, manifest_path)
    assert str(truncated) in str(caught.value)


def test_manifest_is_written_atomically_as_valid_json(small_corpus, manifest_path):
    manifest_path.parent.mkdir(parents=True)
    manifest_path.write_text('{"half": "a manifest from an earlier run', encoding="utf-8")
    ingest_corpus(small_corpus, manifest_path)
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))  # valid JSON, old text gone
    assert manifest["totals"]["files"] == 4
    assert "half" not in manifest
    assert [path.name for path in manifest_path.parent.iterdir()] == ["manifest.json"]  # no temp file left


def test_manifest_keeps_non_ascii_paths(data_root, manifest_path):
    corpus = data_root / "ünïcödé"
    corpus.mkdir()
    (corpus / "naïve 文本.txt").write_text("words here\n", encoding="utf-8")
    ingest_corpus(corpus, manifest_path)
    manifest = read_manifest(manifest_path)
    assert Path(manifest["files"][0]["path"]) == corpus / "naïve 文本.txt"
    assert Path(manifest["files"][0]["path"]).exists()
