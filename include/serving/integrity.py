"""Integrity on read: a version's files checked against its manifest (size, and sha256 where the
manifest records one) before they are served, and by ``python -m include.cli verify``.

:func:`check_files` is the one check both readers go through: :meth:`ModelStore.load
<include.serving.model_store.ModelStore.load>` and :meth:`Catalog.load
<include.serving.catalog.Catalog.load>` call :func:`require_whole` (which raises
:class:`~include.serving.request_checks.DamagedVersionError`, HTTP 503 in the app) when they first
load a version in a process; ``verify`` calls :func:`check_files` for every file of the manifest.
A file's hash is computed once per process for the same file (path, inode, size and modification
time), so a version loaded again after eviction is not hashed again.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from include.serving.request_checks import DamagedVersionError, NotFoundError
from include.storage.store_interface import sha256_file

#: Local files whose sha256 is remembered per process (path, inode, size, mtime -> sha256).
MAX_REMEMBERED_HASHES = 256
_hashes: OrderedDict[tuple[str, int, int, int], str] = OrderedDict()
_hashes_lock = threading.Lock()


@dataclass(frozen=True)
class DamagedFile:
    """One file of a version that does not match its manifest entry (``actual_*`` ``None``: missing)."""

    file: str
    expected_bytes: int | None
    actual_bytes: int | None
    expected_sha256: str | None
    actual_sha256: str | None

    def describe(self) -> str:
        """``embeddings.npy: sha256 expected 1a2b..., actual 3c4d... (size 4128 bytes as expected)``."""
        if self.actual_bytes is None:
            return f"{self.file}: missing (expected {self.expected_bytes} bytes, sha256 {self.expected_sha256 or '-'})"
        parts = []
        if self.expected_bytes is not None and self.expected_bytes != self.actual_bytes:
            parts.append(f"size expected {self.expected_bytes} bytes, actual {self.actual_bytes}")
        if self.actual_sha256 is not None and self.expected_sha256 != self.actual_sha256:
            parts.append(f"sha256 expected {self.expected_sha256}, actual {self.actual_sha256}")
        if self.expected_bytes == self.actual_bytes:
            parts.append(f"size {self.actual_bytes} bytes as expected")
        return f"{self.file}: {'; '.join(parts)}"

    def as_dict(self) -> dict:
        return asdict(self)


def file_sha256(path: Path) -> str:
    """sha256 of a local file, remembered per process while the file stays the same (inode, size, mtime)."""
    real = os.path.realpath(path)
    stat = os.stat(real)
    key = (real, stat.st_ino, stat.st_size, stat.st_mtime_ns)
    with _hashes_lock:
        if key in _hashes:
            _hashes.move_to_end(key)
            return _hashes[key]
    digest, _ = sha256_file(Path(real))
    with _hashes_lock:
        _hashes[key] = digest
        while len(_hashes) > MAX_REMEMBERED_HASHES:
            _hashes.popitem(last=False)
    return digest


def listed_files(manifest: dict) -> dict[str, dict]:
    """The manifest's ``files`` that can be checked (relative path -> ``{"sha256", "bytes"}``, as
    :func:`include.storage.publish.write_version_manifest` records them); ``{}`` when it lists none.
    An entry without a sha256 (not one publish wrote) is not checked."""
    files = manifest.get("files")
    if not isinstance(files, dict):
        return {}
    return {str(k): v for k, v in files.items() if isinstance(v, dict) and isinstance(v.get("sha256"), str)}


def check_files(
    manifest: dict,
    local_file: Callable[[str], Path],
    names: Iterable[str] | None = None,
    discard: Callable[[str], bool] | None = None,
) -> list[DamagedFile]:
    """The files of ``names`` (default: every file the manifest lists) that do not match the manifest:
    missing, another size, or another sha256. A name the manifest does not list (with a sha256) is
    not checked. ``local_file(relative)`` gives a local path to read (it may download);
    ``FileNotFoundError`` or :class:`NotFoundError` from it means missing. ``discard(relative)``
    drops a local copy of an object-store file (true when there was one): a damaged copy is then
    fetched and checked once more, so a bad cached copy is not mistaken for a damaged version."""
    listed = listed_files(manifest)
    wanted = list(listed) if names is None else [n for n in names if n in listed]
    damaged = _damaged(listed, local_file, wanted)
    if damaged and discard is not None:
        again = [d.file for d in damaged if discard(d.file)]
        if again:
            damaged = [d for d in damaged if d.file not in again] + _damaged(listed, local_file, again)
    return damaged


def _damaged(listed: dict[str, dict], local_file: Callable[[str], Path], names: list[str]) -> list[DamagedFile]:
    damaged = []
    for name in names:
        entry = listed[name]
        expected_bytes = entry.get("bytes") if isinstance(entry.get("bytes"), int) else None
        expected_sha = str(entry["sha256"])
        try:
            path = local_file(name)
            size = os.stat(path).st_size
        except (FileNotFoundError, NotFoundError):
            damaged.append(DamagedFile(name, expected_bytes, None, expected_sha, None))
            continue
        if expected_bytes is not None and size != expected_bytes:  # no need to hash: it differs
            damaged.append(DamagedFile(name, expected_bytes, size, expected_sha, None))
            continue
        actual_sha = file_sha256(path)
        if actual_sha != expected_sha:
            damaged.append(DamagedFile(name, expected_bytes, size, expected_sha, actual_sha))
    return damaged


def require_whole(
    version: str,
    manifest: dict,
    local_file: Callable[[str], Path],
    names: Iterable[str],
    discard: Callable[[str], bool] | None = None,
) -> None:
    """:func:`check_files` of ``names``; :class:`DamagedVersionError` naming each damaged file when
    any does not match (the version is not served rather than served with wrong vectors)."""
    damaged = check_files(manifest, local_file, names, discard)
    if damaged:
        raise DamagedVersionError(version, [d.describe() for d in damaged])
