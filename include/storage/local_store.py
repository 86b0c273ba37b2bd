"""The data root on a local (or mounted) file system: :class:`LocalStore`.

Create-only is a temp file + ``os.link`` (a rename would silently replace), overwrite is a temp
file + ``os.replace``, compare-and-swap is an overwrite under an exclusive ``flock``; a task writes
straight into the data root (same file system) and reads files in place, never copying them.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from include.storage.store_interface import (
    AlreadyExists,
    PreconditionFailed,
    StorageConfigError,
    Store,
    Versioned,
    Written,
)


class LocalStore(Store):
    """A data root on a local (or mounted) file system. Its primitives are the ones the pipeline
    always used there: ``os.replace``, ``os.link`` and ``flock``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.abspath(root))
        self.url = str(self.root)

    def path(self, key: str) -> Path:
        return self.root / key if key else self.root

    def read_bytes(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def read_versioned(self, key: str) -> Versioned | None:
        try:
            data = self.path(key).read_bytes()
        except FileNotFoundError:
            return None
        return Versioned(data, hashlib.sha256(data).hexdigest())

    def _temp_beside(self, target: Path, data: bytes) -> Path:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex[:12]}")
        try:
            with open(tmp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)  # a full disk leaves no half-written temp file behind
            raise
        return tmp

    def put_bytes(self, key: str, data: bytes, *, create_only: bool = False) -> None:
        target = self.path(key)
        tmp = self._temp_beside(target, data)
        try:
            if create_only:
                try:
                    os.link(tmp, target)  # atomic, and refuses to replace
                except FileExistsError as error:
                    raise AlreadyExists(errno.EEXIST, f"'{target}' exists already", str(target)) from error
            else:
                os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)

    def swap(self, key: str, data: bytes, expected: str | None) -> None:
        from include.storage.locks import exclusive_lock

        target = self.path(key)
        with exclusive_lock(self.root / "locks" / (key.replace("/", "__") + ".lock")):
            current = self.read_versioned(key)
            if (current.token if current else None) != expected:
                raise PreconditionFailed(errno.EAGAIN, f"'{target}' changed since it was read", str(target))
            self.put_bytes(key, data)

    def exists(self, key: str) -> bool:
        return self.path(key).exists()

    def children(self, prefix: str) -> list[str]:
        folder = self.path(prefix)
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))

    def files(self, prefix: str) -> dict[str, int]:
        folder = self.path(prefix)
        if not folder.is_dir():
            return {}
        found = {}
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            in_flight = any(part.startswith(".incoming-") for part in relative.parts)
            scratch = path.name.startswith(".") and (".tmp-" in path.name or path.name.endswith(".lock"))
            if path.is_file() and not in_flight and not scratch:
                found[relative.as_posix()] = path.stat().st_size
        return found

    def modified(self, key: str) -> datetime | None:
        try:
            return datetime.fromtimestamp(self.path(key).stat().st_mtime, UTC)
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def delete_tree(self, prefix: str) -> None:
        folder = self.path(prefix)
        if folder.is_dir():
            # rename first so a reader never sees a half-deleted folder
            doomed = folder.with_name(f".{folder.name}.deleting-{uuid.uuid4().hex[:8]}")
            os.rename(folder, doomed)
            shutil.rmtree(doomed)
        else:
            folder.unlink(missing_ok=True)

    def discard_unfinished(self, prefix: str) -> None:
        folder = self.path(prefix)
        if not folder.is_dir():
            return
        for path in sorted(folder.rglob(".incoming-*"), reverse=True):
            shutil.rmtree(path, ignore_errors=True)
        for path in folder.rglob(".*.tmp-*"):
            path.unlink(missing_ok=True)

    def fetch(self, key: str, scratch: Path) -> Path:
        path = self.path(key)
        if not path.is_file():
            raise FileNotFoundError(errno.ENOENT, f"no such file in the data root: '{path}'", str(path))
        return path

    def _local_tree(self, prefix: str, scratch: Path) -> Path:
        return self.path(prefix)

    @contextlib.contextmanager
    def writer(self, prefix: str, scratch: Path | None = None) -> Iterator[Written]:
        # Write inside the data root (same file system), so publishing a file is one rename.
        target = self.path(prefix)
        incoming = target / f".incoming-{uuid.uuid4().hex[:12]}"
        incoming.mkdir(parents=True)
        written = Written(incoming)
        try:
            yield written

            def rename_into_place(path: Path, relative: str) -> None:
                (target / relative).parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, target / relative)

            written.publish(rename_into_place)
        finally:
            shutil.rmtree(incoming, ignore_errors=True)

    def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StorageConfigError(f"data root '{self.root}' cannot be created: {error.strerror}") from error
