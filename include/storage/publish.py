"""Version ids, the version manifest, one-rename publishing and ``LATEST``."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import platform
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, TypedDict

from include.storage.atomic_io import write_json_atomic, write_text_atomic

LATEST_FILE = "LATEST"
MANIFEST_FILE = "manifest.json"
CODE_DIRS = ("include", "plugins", "dags")
LIBRARIES = ("apache-airflow", "gensim", "tensorflow", "keras", "numpy", "pyarrow")


class FileEntry(TypedDict):
    sha256: str
    bytes: int


class VersionManifest(TypedDict, total=False):
    """``models/<version>/manifest.json``: what a published version is and how it was made.

    ``files`` (every other file of the version with its sha256 and size) is added by
    :func:`write_version_manifest`; the rest comes from the run that built it.
    """

    version: str
    run_id: str
    corpus_id: str
    content_hash: str
    data_time: str
    params: dict[str, Any]  #: the run's Params as the report states them
    inputs: list[dict[str, Any]]  #: the ingest manifest's files (path, partition, size, sha256, ...)
    partitions: dict[str, dict[str, Any]]  #: each trained partition's ``_SUCCESS.json`` summary
    training: dict[str, Any]  #: vocab_size, corpus_words, sentences, train_seconds
    evaluation: dict[str, Any]
    parity: dict[str, Any]
    gate: dict[str, Any]  #: the gate's result (decision, reason, compared_with, tolerance, deltas)
    libraries: dict[str, str | None]
    files: dict[str, FileEntry]


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def code_version(project_root: Path) -> str:
    """sha256 (16 hex) over the project's Python sources and templates: changes when the code does."""
    digest = hashlib.sha256()
    for folder in CODE_DIRS:
        for path in sorted((project_root / folder).rglob("*")):
            if path.is_file() and path.suffix in (".py", ".j2") and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(project_root)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def content_hash(input_checksums: list[str], params: dict, code: str) -> str:
    """sha256 hex of the inputs' checksums, the params and the code version."""
    payload = json.dumps({"inputs": sorted(input_checksums), "params": params, "code": code}, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def version_id(run_time: datetime, digest: str) -> str:
    """``YYYYMMDDTHHMMSSZ-<8 hex>``: the run time in UTC and the content hash; no ``:`` or ``+``."""
    stamp = run_time.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{digest[:8]}"


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries a model depends on, and Python's."""
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def write_version_manifest(version_dir: Path, facts: VersionManifest) -> Path:
    """Write ``manifest.json`` into ``version_dir``: ``facts`` plus the sha256 of every file in it."""
    files = {
        str(path.relative_to(version_dir)): {"sha256": file_sha256(path), "bytes": path.stat().st_size}
        for path in sorted(version_dir.rglob("*"))
        if path.is_file() and path.name != MANIFEST_FILE
    }
    manifest = {**facts, "files": files}
    write_json_atomic(version_dir / MANIFEST_FILE, manifest)
    return version_dir / MANIFEST_FILE


def read_latest(models: Path) -> str | None:
    """Folder name in ``models/LATEST``, or ``None`` before the first promotion."""
    try:
        return (models / LATEST_FILE).read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def publish_version(staged_version: Path, models: Path, version: str) -> Path:
    """Move ``staged_version`` to ``models/<version>`` by one rename.

    ``models`` must be on the same file system as the staging folder (both live under the data
    root). A version folder is immutable: an existing one is never replaced (``FileExistsError``).
    """
    models.mkdir(parents=True, exist_ok=True)
    final = models / version
    message = f"model version '{final}' already exists; versions are immutable"
    if final.exists():
        raise FileExistsError(message)
    try:
        os.rename(staged_version, final)
    except OSError as error:
        if error.errno in (errno.EEXIST, errno.ENOTEMPTY):  # published by another run since the check
            raise FileExistsError(message) from error
        raise
    return final


def point_latest(models: Path, version: str) -> None:
    """Rewrite ``models/LATEST`` to name ``version`` (temp file + rename)."""
    if not (models / version).is_dir():
        raise FileNotFoundError(f"cannot point LATEST at missing version '{models / version}'")
    write_text_atomic(models / LATEST_FILE, version + "\n")
