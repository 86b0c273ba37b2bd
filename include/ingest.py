"""Step 1, ``ingest_text``: list the corpus files and describe each one in a manifest."""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from include.atomic_io import write_json_atomic
from include.errors import PipelineInputError
from include.text_files import TextFileReader, discover_files

log = logging.getLogger(__name__)
MANIFEST_SCHEMA_VERSION = 1


def ingest_corpus(corpus: Path, manifest_path: Path) -> dict:
    """Read every file of ``corpus`` once and write ``manifest_path`` (JSON).

    ``corpus`` is a resolved, confined path (see :func:`include.paths.resolve_corpus_path`).
    The manifest lists, per file: ``path``, ``size`` (bytes on disk), ``sha256`` (of the bytes on
    disk), ``lines`` and ``bad_bytes`` (undecodable bytes replaced by U+FFFD); binary files
    (a NUL byte in the first 8 KiB) are listed with ``skipped: "binary"`` and not read further.
    Returns the manifest's totals: ``files``, ``skipped_files``, ``lines``, ``bytes``, ``bad_bytes``.
    Raises :class:`PipelineInputError` when no readable text file is found.
    """
    started = time.perf_counter()
    paths = discover_files(corpus)
    if not paths:
        raise PipelineInputError(f"corpus_path '{corpus}' holds no .txt, .gz or .bz2 file")
    entries = []
    for number, path in enumerate(paths, start=1):
        reader = TextFileReader(path)
        if reader.looks_binary():
            log.warning("skipping binary file %s (NUL bytes in its first 8 KiB)", path)
            entries.append({"path": str(path), "size": path.stat().st_size, "skipped": "binary"})
            continue
        for _ in reader.pieces():
            pass
        if reader.bad_bytes:
            log.warning("%s: %d undecodable bytes replaced by U+FFFD", path, reader.bad_bytes)
        entries.append({"path": str(path), "size": reader.size, "sha256": reader.sha256,
                        "lines": reader.lines, "bad_bytes": reader.bad_bytes})
        log.info("read file %d/%d: %s (%d lines, %d bytes)", number, len(paths), path, reader.lines, reader.size)
    read = [entry for entry in entries if "skipped" not in entry]
    totals = {
        "files": len(read),
        "skipped_files": len(entries) - len(read),
        "lines": sum(entry["lines"] for entry in read),
        "bytes": sum(entry["size"] for entry in read),
        "bad_bytes": sum(entry["bad_bytes"] for entry in read),
    }
    if not read:
        raise PipelineInputError(f"corpus_path '{corpus}' holds no readable text file (all {len(entries)} binary)")
    if totals["lines"] == 0:
        raise PipelineInputError(f"corpus_path '{corpus}' holds only empty files")
    manifest = {"schema_version": MANIFEST_SCHEMA_VERSION, "corpus_path": str(corpus), "totals": totals,
                "files": entries}
    write_json_atomic(manifest_path, manifest)
    log.info("ingested %d files (%d skipped), %d lines, %d bytes in %.2fs", totals["files"],
             totals["skipped_files"], totals["lines"], totals["bytes"], time.perf_counter() - started)
    return totals


def read_manifest(manifest_path: Path) -> dict:
    """Load a manifest written by :func:`ingest_corpus`."""
    return json.loads(Path(manifest_path).read_text(encoding="utf-8"))
