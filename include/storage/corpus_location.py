"""Where a corpus lives: one file or a folder of text files, on the local disk or in an object store
(``s3://bucket/prefix``), listed and opened through one fsspec filesystem.

A :class:`CorpusLocation` is what the steps hold instead of a path. The same code lists and opens
both kinds; the local one differs only in what a path really is (links resolved) and in checking
the file actually opened, since only a local file system has links::

    corpus = resolve_corpus("s3://corpora/texts/news")     # confined and checked to exist
    for found in corpus.files():                           # CorpusFile(path, size, etag), sorted
        with corpus.open(found.path) as opened:            # a binary file, read in bounded blocks
            head = opened.file.read(8192)

- **Listing** (:meth:`CorpusLocation.files`): a file is itself, whatever its extension; a folder
  (a key prefix) is read recursively for ``.txt``, ``.gz`` and ``.bz2`` files (extension case
  ignored, hidden files and folders skipped), sorted by path. Locally, links are followed only
  while they stay inside the corpus (a link out of it is refused, naming it), and every real
  folder and file is visited once, so link loops end and linked duplicates are read once.
- **Reading** (:meth:`CorpusLocation.open`): streamed, never downloaded whole: an object is read
  in blocks of :data:`READ_BLOCK_BYTES` through fsspec's read-ahead cache, pinned to the ETag seen
  when it was opened (s3fs sends ``If-Match``), so memory stays bounded and an object replaced
  mid-read fails instead of mixing two versions. A local file is checked once opened (through
  ``/proc/self/fd``), so a file swapped for a link between the scan and the read is refused.
- **Change detection**: given the facts ingest recorded (size, ETag), :meth:`CorpusLocation.open`
  refuses a file that no longer matches them with :class:`CorpusChanged`, before reading it.

Object stores are opened with the data root's options and bounded client
(:func:`include.storage.store.reading_filesystem`): ``EMBEDDINGS_STORAGE_OPTIONS``, the Airflow
connection named by ``EMBEDDINGS_STORAGE_CONN_ID``, or boto's own chain (``AWS_*``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from include.errors import PipelineInputError
from include.storage.paths import is_remote, lies_under, normalise_url, resolve_corpus_path
from include.storage.store import reading_filesystem

TEXT_SUFFIXES = (".txt", ".gz", ".bz2")
#: Bytes an object-store read fetches at a time (fsspec's read-ahead block): the memory one open
#: corpus object holds, whatever its size.
READ_BLOCK_BYTES = 8 << 20


@dataclass(frozen=True)
class CorpusFile:
    """One file of a corpus as listed: its location (a local path or a URL), its size in bytes, and
    its ETag (object stores; ``None`` on a local disk)."""

    path: str
    size: int
    etag: str | None = None


@dataclass
class OpenedFile:
    """A corpus file opened for binary reading (close it, or use it in a ``with`` block), with the
    size and ETag of the version being read."""

    file: BinaryIO
    size: int
    etag: str | None

    def __enter__(self) -> OpenedFile:
        return self

    def __exit__(self, *exc_info) -> None:
        self.file.close()


class CorpusChanged(PipelineInputError):
    """A corpus file is not the one ingest read: its ETag, size or sha256 differs from the manifest's."""

    def __init__(self, path: str, fact: str, then: object, now: object) -> None:
        super().__init__(
            f"corpus file '{path}' changed between ingest and tokenize ({fact} {then} at ingest, {now} now)"
        )


class CorpusReplacedWhileRead(CorpusChanged):
    """An object was replaced or deleted while it was being read: the store refused a later ranged
    read pinned to the ETag the read began with."""

    def __init__(self, path: str, etag: str | None) -> None:
        PipelineInputError.__init__(
            self,
            f"corpus file '{path}' changed between ingest and tokenize: replaced or deleted while it "
            f"was being read (ETag {etag} when the read began); run again to read the new version",
        )


def replaced_while_read(error: BaseException) -> bool:
    """Whether ``error``, raised by a read of a file that was opened, says that the file changed
    since: the store refused a ranged read pinned to an ETag that no longer exists (s3fs's
    ``FileExpired``), or the object is gone (a local file stays readable once open)."""
    if isinstance(error, FileNotFoundError):
        return True
    try:
        from s3fs.utils import FileExpired
    except ImportError:  # no s3fs, no such refusal
        return False
    return isinstance(error, FileExpired)


class CorpusLocation:
    """A corpus (a file, or a folder read recursively) at ``path``: a local path or a normalised URL.

    ``root`` is what every file read through it must lie under: the corpus folder it was taken from
    (a day folder keeps its corpus's), ``None`` for a single-file corpus. Build one with
    :func:`resolve_corpus` (confined to the allowed roots) or :meth:`of` (taken as given).
    """

    def __init__(self, path: str, fs: Any, root: str | None = None) -> None:
        self.path = path
        self.fs = fs
        self._root = root
        self._root_known = root is not None

    @staticmethod
    def of(location: CorpusLocation | Path | str) -> CorpusLocation:
        """The corpus at ``location`` as given, not confined (a resolved ``corpus_path``, or one an
        ingest manifest recorded): a :class:`CorpusLocation` is returned as is, a URL normalised,
        a local path (or ``file://`` URL) made absolute."""
        if isinstance(location, CorpusLocation):
            return location
        text = str(location)
        if is_remote(text):
            url = normalise_url(text)
            return CorpusLocation(url, reading_filesystem(url))
        return LocalCorpusLocation(os.path.abspath(text.removeprefix("file://")))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CorpusLocation) and (type(self), self.path) == (type(other), other.path)

    def __hash__(self) -> int:
        return hash(self.path)

    @property
    def name(self) -> str:
        """The last segment of the location (a file or folder name)."""
        return PurePosixPath(self.path).name

    @property
    def root(self) -> str | None:
        """The folder every file read through this location must lie under (``None``: a single file)."""
        if not self._root_known:
            self._root = self.real(self.path) if self.is_folder() else None
            self._root_known = True
        return self._root

    # --- what differs between a local disk and an object store ------------------------------
    def _fs_path(self, location: str) -> str:
        """The filesystem's own path of a location (a URL without its ``scheme://``)."""
        return location.split("://", 1)[1]

    def _location(self, fs_path: str) -> str:
        return f"{self.path.split('://', 1)[0]}://{fs_path.rstrip('/')}"

    def real(self, location: str) -> str:
        """What ``location`` really is: an object store has no links, so the location itself."""
        return location

    def _opened(self, file: Any, location: str) -> tuple[str, int, str | None]:
        """(real location, size, ETag) of the version ``file`` reads: the details fsspec read on
        opening it, whose ETag the following ranged reads are pinned to."""
        details = getattr(file, "details", None) or self.fs.info(self._fs_path(location))
        return location, int(details.get("size") or 0), _etag(details)

    # --- the same code for both --------------------------------------------------------------
    def is_folder(self) -> bool:
        """True when the location is a folder (a key prefix), false for a file or nothing."""
        return self._info(self.path).get("type") == "directory"

    def at(self, location: str) -> CorpusLocation:
        """The location ``location`` inside this corpus, confined to the same root."""
        return type(self)(location, self.fs, self.root)

    def require(self, corpus_path: object) -> CorpusLocation:
        """This location, after checking that something is there. Raises :class:`PipelineInputError`
        naming ``corpus_path`` and the location (and its bucket, when that is what is missing), or
        the error the store gave (refused credentials, an unreachable endpoint)."""
        try:
            self.fs.info(self._fs_path(self.path))
        except FileNotFoundError as error:
            bucket = self._fs_path(self.path).split("/", 1)[0]
            missing = f"its bucket '{bucket}' does not exist" if not self._exists(bucket) else "no object or key prefix"
            raise PipelineInputError(
                f"corpus_path '{corpus_path}' does not exist (resolved to '{self.path}': {missing})"
            ) from error
        except Exception as error:  # the store's own errors: credentials, endpoint, permissions
            raise PipelineInputError(
                f"corpus_path '{corpus_path}' cannot be read (resolved to '{self.path}'): {error}"
            ) from error
        return self

    def _exists(self, fs_path: str) -> bool:
        try:
            return bool(self.fs.exists(fs_path))
        except Exception:  # cannot tell: say what is known (the location is missing)
            return True

    def _info(self, location: str) -> dict:
        try:
            return self.fs.info(self._fs_path(location))
        except FileNotFoundError:
            return {}
        except Exception as error:
            raise PipelineInputError(f"corpus location '{location}' cannot be read: {error}") from error

    def _entries(self, folder: str) -> list[tuple[str, str, dict]]:
        """(location, "directory" or "file", details) of what ``folder`` holds, sorted by name, hidden
        names left out; a link is taken as what it leads to (a dangling one as a file)."""
        try:
            listed = self.fs.ls(self._fs_path(folder), detail=True, refresh=True)
        except OSError as error:
            reason = error.strerror or str(error)
            raise PipelineInputError(f"corpus folder '{folder}' cannot be read: {reason}") from error
        entries = []
        for details in listed:
            location = self._location(details["name"])
            name = PurePosixPath(location).name
            if name.startswith(".") or location.rstrip("/") == folder.rstrip("/"):
                continue
            kind = details.get("type")
            if details.get("islink"):
                try:
                    details = self.fs.info(self._fs_path(location))
                    kind = details.get("type")
                except FileNotFoundError:
                    kind = "file"  # dangling: listed, and reading it fails naming it
            entries.append((location, "directory" if kind == "directory" else "file", details))
        return sorted(entries, key=lambda entry: PurePosixPath(entry[0]).name)

    def _confined(self, location: str) -> str:
        real = self.real(location)
        root = self.root
        if root is not None and not lies_under(real, root):
            raise PipelineInputError(
                f"corpus file '{location}' is a link to '{real}', outside the corpus folder '{root}'"
            )
        return real

    def folders(self) -> list[CorpusLocation]:
        """The folders directly inside this one (hidden ones left out), by name; ``[]`` for a file."""
        if not self.is_folder():
            return []
        return [self.at(location) for location, kind, _ in self._entries(self.path) if kind == "directory"]

    def files(self) -> list[CorpusFile]:
        """The corpus's files, sorted by path (see the module's docstring for which, and links).

        Raises :class:`PipelineInputError` naming the location when nothing is there, naming a
        folder that cannot be listed, or naming a link that leads out of the corpus.
        """
        details = self._info(self.path)
        if not details:
            raise PipelineInputError(f"corpus_path '{self.path}' is neither a file nor a folder")
        if details.get("type") != "directory":
            return [CorpusFile(self.path, int(details.get("size") or 0), _etag(details))]
        found: list[CorpusFile] = []
        seen_folders, seen_files = {self.real(self.path)}, set()
        pending = [self.path]
        while pending:  # depth first, each folder's sub-folders claimed before any is entered (os.walk's order)
            folder = pending.pop()
            entries = self._entries(folder)
            kept = []
            for location, kind, _ in entries:
                if kind == "directory":
                    real = self._confined(location)
                    if real not in seen_folders:
                        seen_folders.add(real)
                        kept.append(location)
            for location, kind, details in entries:
                if kind == "file" and location.lower().endswith(TEXT_SUFFIXES):
                    real = self._confined(location)
                    if real not in seen_files:  # a link to a file already in the corpus is not read twice
                        seen_files.add(real)
                        found.append(CorpusFile(location, int(details.get("size") or 0), _etag(details)))
            pending += reversed(kept)
        return sorted(found, key=lambda file: file.path.split("/"))

    def open(self, location: str, expected: Mapping | None = None) -> OpenedFile:
        """Open the corpus file at ``location`` for binary reading, checking that what was opened
        lies inside the corpus (:class:`PipelineInputError` naming it otherwise).

        ``expected``: the facts ingest recorded of the file (its manifest entry: ``size``, and
        ``etag`` for an object); a file that no longer has them raises :class:`CorpusChanged`.
        The store's errors (a missing file, refused access) pass through as ``OSError``.
        """
        fs_path = self._fs_path(location)
        self.fs.invalidate_cache(fs_path)  # what the object is now, not what a listing saw
        file = self.fs.open(fs_path, "rb", block_size=READ_BLOCK_BYTES)
        try:
            real, size, etag = self._opened(file, location)
            root = self.root
            if root is not None and not lies_under(real, root):
                raise PipelineInputError(
                    f"corpus file '{location}' now leads to '{real}', outside '{root}'; refusing to read it"
                )
            if expected is not None:
                if expected.get("etag") and etag and etag != expected["etag"]:
                    raise CorpusChanged(location, "ETag", expected["etag"], etag)
                if "size" in expected and size != expected["size"]:
                    raise CorpusChanged(location, "size", expected["size"], size)
        except BaseException:
            file.close()
            raise
        return OpenedFile(file, size, etag)


class LocalCorpusLocation(CorpusLocation):
    """A corpus on the local (or a mounted) disk, through fsspec's local filesystem. Its paths are
    plain absolute paths; what a path really is depends on its links."""

    def __init__(self, path: str, fs: Any = None, root: str | None = None) -> None:
        from fsspec.implementations.local import LocalFileSystem

        super().__init__(path, fs or LocalFileSystem(), root)

    def _fs_path(self, location: str) -> str:
        return location

    def _location(self, fs_path: str) -> str:
        return fs_path

    def real(self, location: str) -> str:
        """The path with every link resolved."""
        return os.path.realpath(location)

    def _opened(self, file: Any, location: str) -> tuple[str, int, str | None]:
        """The real path of the file actually opened (``/proc/self/fd``, so a link swapped in after
        the scan is seen) and its size; no ETag."""
        try:
            real = os.readlink(f"/proc/self/fd/{file.fileno()}")
        except OSError:  # no /proc (not Linux): check the path as it resolves now
            real = os.path.realpath(location)
        return real, os.fstat(file.fileno()).st_size, None


def resolve_corpus(corpus_path: object) -> CorpusLocation:
    """The ``corpus_path`` Param as a confined, existing :class:`CorpusLocation`: ``bundled:<name>``,
    a local path (absolute, or relative to the data root), or a URL (``s3://bucket/prefix``).
    Confinement is :func:`include.storage.paths.resolve_corpus_path`'s; a URL is then checked to
    exist. Raises :class:`PipelineInputError` naming ``corpus_path`` (and the allowed roots, when
    it lies outside them)."""
    return CorpusLocation.of(resolve_corpus_path(corpus_path)).require(corpus_path)


def _etag(details: Mapping) -> str | None:
    """The ETag in an fsspec listing or info entry (S3's ``ETag``; gcsfs's ``etag``), if any."""
    return details.get("ETag") or details.get("etag") or None
