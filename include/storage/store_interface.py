"""The interface every backend of the data root implements, and what it raises.

:class:`Store` holds a data root's primitives (read, create-only put, compare-and-swap, list,
fetch, a :meth:`Store.writer` block) and the helpers built on them; :class:`Versioned` is a small
object's bytes with the token a swap must name, :class:`Written` what a writer block published.
The backends are :class:`include.storage.local_store.LocalStore` and
:class:`include.storage.s3_store.S3Store`; :func:`include.storage.store.open_store` picks one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TypedDict

from include.errors import PipelineInputError

#: Where :meth:`Store.check` writes its probe keys (deleted at once; a killed check's by the sweep).
PROBE_PREFIX = ".probe"


class StorageError(OSError):
    """The store could not do what was asked (unreachable, refused, missing key's bucket, …); the
    message names the URL. An ``OSError``, so callers that survive a full disk survive this too."""


class StorageConfigError(PipelineInputError):
    """The data root cannot be used at all (missing package, bucket, credentials, or conditional
    writes): a retry cannot help, so the task fails at once, naming the URL."""


class AlreadyExists(FileExistsError):
    """A create-only write found the key there already."""


class PreconditionFailed(StorageError):
    """A compare-and-swap lost: the key changed since it was read (re-read and decide again)."""


class FileEntry(TypedDict):
    """One published file's checksum and size, as a version's manifest lists it."""

    sha256: str
    bytes: int


@dataclass(frozen=True)
class Versioned:
    """A small object's bytes and the token a compare-and-swap of it must name (an ETag)."""

    data: bytes
    token: str


@dataclass
class Written:
    """What a :meth:`Store.writer` block published: ``files`` maps each key (relative to the
    block's prefix) to ``{"sha256", "bytes"}``, computed once from the local file."""

    folder: Path
    files: dict[str, FileEntry] = field(default_factory=dict)

    def publish(self, put: Callable[[Path, str], None]) -> None:
        """Checksum every file of :attr:`folder` (once, recorded in :attr:`files`; the files side
        by side on :data:`CHECKSUM_THREADS` threads) and hand each, in path order, to
        ``put(local path, path relative to the folder)``, the backend's way of publishing one file."""
        from concurrent.futures import ThreadPoolExecutor

        paths = sorted(p for p in self.folder.rglob("*") if p.is_file())
        with ThreadPoolExecutor(max_workers=CHECKSUM_THREADS, thread_name_prefix="checksum") as pool:
            sums = list(pool.map(sha256_file, paths))
        for path, (sha256, size) in zip(paths, sums):
            relative = path.relative_to(self.folder).as_posix()
            self.files[relative] = {"sha256": sha256, "bytes": size}
            put(path, relative)


#: Files checksummed at once by :meth:`Written.publish` (hashlib lets go of the GIL while it
#: hashes): the four Keras archives of a million-word version (1.6 GB) took 3.9 s one after another.
CHECKSUM_THREADS = 4


def sha256_file(path: Path) -> tuple[str, int]:
    """(hex sha256, size in bytes) of a local file (``hashlib.file_digest``: read into one buffer,
    the hashing outside the GIL)."""
    with open(path, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256")
        return digest.hexdigest(), handle.tell()


class Store:
    """A data root. Subclasses implement the primitives; the helpers below are shared."""

    url: str

    def key_url(self, key: str = "") -> str:
        """The full location of ``key`` (a local path or a URL), for messages and XComs."""
        return self.url.rstrip("/") + ("/" + key.strip("/") if key.strip("/") else "")

    def key_of(self, location: str) -> str:
        """Inverse of :meth:`key_url`: the key of a location under this root (``ValueError`` outside)."""
        root = self.url.rstrip("/")
        text = str(location).rstrip("/")
        if text == root:
            return ""
        if not text.startswith(root + "/"):
            raise ValueError(f"'{location}' is not under the data root '{self.url}'")
        return text[len(root) + 1 :]

    # --- primitives -------------------------------------------------------------------------
    def read_bytes(self, key: str) -> bytes:
        raise NotImplementedError

    def read_versioned(self, key: str) -> Versioned | None:
        """The object's bytes and compare-and-swap token, or ``None`` when absent."""
        raise NotImplementedError

    def put_bytes(self, key: str, data: bytes, *, create_only: bool = False) -> None:
        """Write ``data`` at ``key`` whole; ``create_only`` raises :class:`AlreadyExists` when present."""
        raise NotImplementedError

    def swap(self, key: str, data: bytes, expected: str | None) -> None:
        """Replace ``key`` only if its token is still ``expected`` (``None``: only if absent);
        raises :class:`PreconditionFailed` otherwise."""
        raise NotImplementedError

    def exists(self, key: str) -> bool:
        raise NotImplementedError

    def children(self, prefix: str) -> list[str]:
        """Names directly under ``prefix`` (files and folders), sorted; ``[]`` when there is none."""
        raise NotImplementedError

    def files(self, prefix: str) -> dict[str, int]:
        """Every file under ``prefix``, recursively: key relative to ``prefix`` -> size in bytes."""
        raise NotImplementedError

    def modified(self, key: str) -> datetime | None:
        """When ``key`` was last written (UTC), or ``None`` when absent."""
        raise NotImplementedError

    def delete(self, key: str) -> None:
        """Remove one file; absent is fine."""
        raise NotImplementedError

    def delete_tree(self, prefix: str) -> None:
        """Remove everything under ``prefix``; absent is fine."""
        raise NotImplementedError

    def fetch(self, key: str, scratch: Path) -> Path:
        """A local file holding ``key``'s bytes, to read (never to write): in place for a local
        root, else downloaded under ``scratch``. ``FileNotFoundError`` names the location."""
        raise NotImplementedError

    def download(self, key: str, destination: Path) -> None:
        """Copy ``key``'s bytes to the local file ``destination`` (for a cache that owns its copies)."""
        shutil.copyfile(self.fetch(key, Path(destination).parent), destination)

    @contextlib.contextmanager
    def writer(self, prefix: str, scratch: Path | None = None) -> Iterator[Written]:
        """A local folder to write files into; when the block ends without error, each file is
        published at ``prefix/<its relative path>`` (and dropped with the folder on error)."""
        raise NotImplementedError
        yield  # pragma: no cover

    def check(self) -> None:
        """Prove the root usable and its conditional writes real (once per process and root)."""
        raise NotImplementedError

    def discard_unfinished(self, prefix: str) -> None:
        """Remove what killed writers left under ``prefix`` that :meth:`files` does not list (a local
        root's ``.incoming-*`` folders and temp files; an object store has none: its puts are whole)."""

    def abort_uploads(self, older_than: datetime) -> list[str]:
        """Abort incomplete multipart uploads under the root begun before ``older_than``; return their
        keys. A local root has none."""
        return []

    # --- helpers ----------------------------------------------------------------------------
    def read_json(self, key: str):
        return json.loads(self.read_bytes(key).decode("utf-8"))

    def put_json(self, key: str, payload: object, *, create_only: bool = False, indent: int | None = 1) -> None:
        """Strict JSON (``NaN`` refused) at ``key``, whole."""
        text = json.dumps(payload, indent=indent, ensure_ascii=False, allow_nan=False) + "\n"
        self.put_bytes(key, text.encode("utf-8"), create_only=create_only)

    def fetch_tree(self, prefix: str, scratch: Path) -> Path:
        """A local folder holding every file under ``prefix`` (in place for a local root)."""
        for key in self.files(prefix):
            self.fetch(f"{prefix}/{key}", scratch)
        return self._local_tree(prefix, scratch)

    def _local_tree(self, prefix: str, scratch: Path) -> Path:
        return Path(scratch) / prefix
