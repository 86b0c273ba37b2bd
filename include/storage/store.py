"""One storage interface over the data root: a local folder or an object store, by the same code.

Every step reads and writes the data root through a :class:`Store`. Keys are ``/``-separated
paths under the root (``models/<version>/vocab.json``). Two backends:

- :class:`LocalStore` (a path, or ``file://``): create-only is a temp file + ``os.link`` (a
  rename would silently replace), overwrite is a temp file + ``os.replace``, compare-and-swap is an
  overwrite under an exclusive ``flock``; a task writes straight into the data root (same file
  system) and reads files in place, never copying them.
- :class:`S3Store` (``s3://bucket/prefix``, through s3fs): create-only is ``PutObject`` with
  ``If-None-Match: *``, compare-and-swap is ``If-Match`` on the ETag read; a task downloads what it
  reads into its own local scratch and uploads what it writes, so no task relies on another
  task's local disk.

Guarantees the pipeline builds on (see :mod:`include.storage.versions` and the steps):

- a file is visible whole or not at all (S3 objects are; locally, temp file + rename/link);
- :meth:`Store.put_bytes` with ``create_only`` and :meth:`Store.swap` are atomic with respect to
  every other writer of the same key, on every backend this module accepts;
- a store that does not offer both is refused at :func:`open_store` time (``gs://`` today:
  gcsfs has create-only writes but no compare-and-swap), never raced silently; and
  :meth:`Store.check` proves it once per process by writing one key create-only twice.

Configuration (environment): ``EMBEDDINGS_DATA_DIR`` (the root), ``EMBEDDINGS_STORAGE_OPTIONS``
(JSON of fsspec options, e.g. ``{"s3_additional_kwargs": {"ServerSideEncryption": "aws:kms",
"SSEKMSKeyId": "…"}, "config_kwargs": {"s3": {"addressing_style": "path"}}}``); credentials and
endpoint come from the library's own chain (``AWS_*`` variables, profiles, instance roles) unless
:func:`configure` was given options (the Airflow operators pass an Airflow connection's).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from include.errors import PipelineInputError

if TYPE_CHECKING:  # publish imports this module
    from include.storage.publish import FileEntry

#: fsspec protocols whose backend offers both create-only writes and compare-and-swap here.
CONDITIONAL_PROTOCOLS = ("s3", "s3a")
#: Bounds on an object store client's own retries, so a dead endpoint fails within seconds.
CONNECT_TIMEOUT_SECONDS = 3
READ_TIMEOUT_SECONDS = 20
CLIENT_ATTEMPTS = 2

_configured_options: dict = {}
_checked: set[str] = set()
_stores: dict[tuple, Store] = {}
_filesystems: dict[tuple, object] = {}
_lock = threading.Lock()


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
        """Checksum every file of :attr:`folder` (once, recorded in :attr:`files`) and hand it to
        ``put(local path, path relative to the folder)``, the backend's way of publishing one file."""
        for path in sorted(p for p in self.folder.rglob("*") if p.is_file()):
            relative = path.relative_to(self.folder).as_posix()
            sha256, size = sha256_file(path)
            self.files[relative] = {"sha256": sha256, "bytes": size}
            put(path, relative)


def configure(options: dict | None) -> None:
    """Extra fsspec options for every object store (the data root's, or a corpus's) opened from now on
    in this process (the Airflow operators pass those of ``EMBEDDINGS_STORAGE_CONN_ID``'s
    connection); ``None`` clears them."""
    global _configured_options
    with _lock:
        _configured_options = dict(options or {})
        _stores.clear()
        _filesystems.clear()


def is_url(text: str) -> bool:
    """True for ``scheme://…`` (two letters or more, so a Windows drive is not a scheme)."""
    scheme, sep, _ = str(text).partition("://")
    return bool(sep) and len(scheme) >= 2 and scheme.replace("+", "").replace("-", "").isalnum()


def sha256_file(path: Path) -> tuple[str, int]:
    """(hex sha256, size in bytes) of a local file, read in 1 MiB blocks."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


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


class S3Store(Store):
    """A data root in an S3-compatible object store (``s3://bucket/prefix``), through s3fs.

    Conditional writes go straight to the client (``PutObject`` with ``IfNoneMatch``/``IfMatch``)
    so a lost race is told apart from any other error. Large files are uploaded by s3fs
    (multipart above its block size); extra put arguments (SSE-KMS) come from the options'
    ``s3_additional_kwargs``.
    """

    def __init__(self, url: str, options: dict) -> None:
        self.url = url.rstrip("/")
        _, _, rest = self.url.partition("://")
        self.bucket, _, self.prefix = rest.partition("/")
        if not self.bucket:
            raise StorageConfigError(f"data root '{url}' names no bucket (expected s3://bucket/prefix)")
        self.put_arguments = dict(options.get("s3_additional_kwargs", {}) or {})
        self.fs = s3_filesystem(options, f"data root '{url}'")

    def _path(self, key: str) -> str:
        return "/".join(part for part in (self.bucket, self.prefix, key.strip("/")) if part)

    def _object_key(self, key: str) -> str:
        return "/".join(part for part in (self.prefix, key.strip("/")) if part)

    def _client_call(self, method: str, **kwargs):
        """Call the S3 client's ``method`` directly; botocore's ``ClientError`` passes through."""
        from fsspec.asyn import sync

        async def call():
            await self.fs.set_session()
            client = await self.fs.get_s3(self.bucket)
            return await getattr(client, method)(**kwargs)

        return sync(self.fs.loop, call)

    def _fail(self, error: Exception, key: str) -> Exception:
        """The error of a failed call on ``key`` as this module's, naming the location."""
        where = self.key_url(key)
        code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
        if code in ("NoSuchBucket",):
            return StorageConfigError(f"data root '{self.url}': bucket '{self.bucket}' does not exist")
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "ExpiredToken", "403"):
            return StorageConfigError(f"data root '{self.url}': credentials refused ({code}) at '{where}'")
        if isinstance(error, FileNotFoundError) or code in ("NoSuchKey", "404"):
            return FileNotFoundError(errno.ENOENT, f"no such object: '{where}'", where)
        return StorageError(errno.EIO, f"object store error at '{where}': {error}", where)

    def read_bytes(self, key: str) -> bytes:
        found = self.read_versioned(key)
        if found is None:
            where = self.key_url(key)
            raise FileNotFoundError(errno.ENOENT, f"no such object: '{where}'", where)
        return found.data

    def read_versioned(self, key: str) -> Versioned | None:
        from botocore.exceptions import BotoCoreError, ClientError
        from fsspec.asyn import sync

        async def get():
            await self.fs.set_session()
            client = await self.fs.get_s3(self.bucket)
            response = await client.get_object(Bucket=self.bucket, Key=self._object_key(key))
            async with response["Body"] as body:
                return await body.read(), response["ETag"]

        try:
            data, etag = sync(self.fs.loop, get)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise self._fail(error, key) from error
        except (BotoCoreError, OSError) as error:
            raise self._fail(error, key) from error
        return Versioned(data, etag)

    def _conditional_put(self, key: str, data: bytes, condition: dict) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client_call(
                "put_object",
                Bucket=self.bucket,
                Key=self._object_key(key),
                Body=data,
                **condition,
                **self.put_arguments,
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            where = self.key_url(key)
            if code in ("PreconditionFailed", "ConditionalRequestConflict") or status in (409, 412):
                if condition.get("IfNoneMatch") == "*":
                    raise AlreadyExists(errno.EEXIST, f"'{where}' exists already", where) from error
                raise PreconditionFailed(errno.EAGAIN, f"'{where}' changed since it was read", where) from error
            if code in ("NoSuchKey", "404") and "IfMatch" in condition:  # If-Match on a missing key
                raise PreconditionFailed(errno.EAGAIN, f"'{where}' was removed since it was read", where) from error
            raise self._fail(error, key) from error
        except (BotoCoreError, OSError) as error:
            raise self._fail(error, key) from error

    def put_bytes(self, key: str, data: bytes, *, create_only: bool = False) -> None:
        self._conditional_put(key, data, {"IfNoneMatch": "*"} if create_only else {})

    def swap(self, key: str, data: bytes, expected: str | None) -> None:
        if expected is None:
            try:
                self._conditional_put(key, data, {"IfNoneMatch": "*"})
            except AlreadyExists as error:
                raise PreconditionFailed(errno.EAGAIN, str(error), error.filename) from error
        else:
            self._conditional_put(key, data, {"IfMatch": expected})

    def _guard(self, key: str, call):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return call()
        except FileNotFoundError:
            raise
        except (ClientError, BotoCoreError, OSError) as error:
            raise self._fail(error, key) from error

    def exists(self, key: str) -> bool:
        return self._guard(key, lambda: self.fs.exists(self._path(key)))

    def children(self, prefix: str) -> list[str]:
        def listing():
            try:
                entries = self.fs.ls(self._path(prefix), detail=False, refresh=True)
            except FileNotFoundError:
                return []
            return sorted(entry.rstrip("/").rsplit("/", 1)[-1] for entry in entries)

        return self._guard(prefix, listing)

    def files(self, prefix: str) -> dict[str, int]:
        base = self._path(prefix)

        def listing():
            try:
                found = self.fs.find(base, detail=True, refresh=True)
            except FileNotFoundError:
                return {}
            return {
                path[len(base) + 1 :]: int(info.get("size", 0))
                for path, info in sorted(found.items())
                if info.get("type") != "directory" and path.startswith(base + "/")
            }

        self.fs.invalidate_cache(base)
        return self._guard(prefix, listing)

    def modified(self, key: str) -> datetime | None:
        def stamp():
            try:
                info = self.fs.info(self._path(key), refresh=True)
            except FileNotFoundError:
                return None
            value = info.get("LastModified")
            return value.astimezone(UTC) if value else None

        return self._guard(key, stamp)

    def delete(self, key: str) -> None:
        self._guard(key, lambda: self._client_call("delete_object", Bucket=self.bucket, Key=self._object_key(key)))

    def delete_tree(self, prefix: str) -> None:
        keys = list(self.files(prefix))
        for key in keys:
            self.delete(f"{prefix}/{key}")

    def download(self, key: str, destination: Path) -> None:
        self._guard(key, lambda: self.fs.get_file(self._path(key), str(destination)))

    def fetch(self, key: str, scratch: Path) -> Path:
        local = Path(scratch) / key
        if local.is_file():
            return local
        local.parent.mkdir(parents=True, exist_ok=True)
        partial = local.with_name(f".{local.name}.part")
        self._guard(key, lambda: self.fs.get_file(self._path(key), str(partial)))
        os.replace(partial, local)
        return local

    @contextlib.contextmanager
    def writer(self, prefix: str, scratch: Path | None = None) -> Iterator[Written]:
        folder = Path(tempfile.mkdtemp(prefix="w2v-upload-", dir=scratch))
        written = Written(folder)
        try:
            yield written

            def upload(path: Path, relative: str) -> None:
                key = f"{prefix}/{relative}"
                self._guard(key, lambda: self.fs.put_file(str(path), self._path(key), **self.put_arguments))

            written.publish(upload)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def abort_uploads(self, older_than: datetime) -> list[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        aborted = []
        try:
            listing = self._client_call("list_multipart_uploads", Bucket=self.bucket, Prefix=self.prefix)
            for upload in listing.get("Uploads", []):
                if upload["Initiated"].astimezone(UTC) < older_than:
                    self._client_call(
                        "abort_multipart_upload", Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                    )
                    aborted.append(upload["Key"])
        except (ClientError, BotoCoreError, OSError) as error:
            raise self._fail(error, "") from error
        return aborted

    def check(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client_call("head_bucket", Bucket=self.bucket)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in ("404", "NoSuchBucket", "NotFound"):
                raise StorageConfigError(f"data root '{self.url}': bucket '{self.bucket}' does not exist") from error
            raise self._fail(error, "") from error
        except (BotoCoreError, OSError) as error:
            raise StorageConfigError(f"data root '{self.url}': the object store cannot be reached ({error})") from error
        probe = f".probe/{uuid.uuid4().hex}"
        self.put_bytes(probe, b"1", create_only=True)
        try:
            self.put_bytes(probe, b"2", create_only=True)
        except AlreadyExists:
            return
        finally:
            self.delete(probe)
        raise StorageConfigError(
            f"data root '{self.url}': the store ignored a create-only write (If-None-Match), so two runs "
            "could overwrite each other's versions and LATEST; use a store with conditional writes"
        )


def s3_filesystem(options: dict, what: str):
    """An s3fs filesystem with ``options`` (fsspec's, e.g. ``client_kwargs``, ``s3_additional_kwargs``),
    its client's timeouts and retries bounded (:data:`CONNECT_TIMEOUT_SECONDS`,
    :data:`READ_TIMEOUT_SECONDS`, :data:`CLIENT_ATTEMPTS`) unless ``config_kwargs`` says otherwise,
    so a dead endpoint fails within seconds. ``what`` names the location in the error raised when
    s3fs is not installed (:class:`StorageConfigError`)."""
    try:
        import s3fs
    except ImportError as error:
        raise StorageConfigError(f"{what} needs the s3fs package (pip install s3fs)") from error
    options = dict(options)
    config = dict(options.pop("config_kwargs", {}) or {})
    config.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
    config.setdefault("read_timeout", READ_TIMEOUT_SECONDS)
    config.setdefault("retries", {"max_attempts": CLIENT_ATTEMPTS, "mode": "standard"})
    fs = s3fs.S3FileSystem(config_kwargs=config, skip_instance_cache=True, **options)
    fs.retries = CLIENT_ATTEMPTS  # s3fs's own retry loop, on top of botocore's
    return fs


def reading_filesystem(url: str):
    """The fsspec filesystem that reads under ``url`` (``s3://…``, or any protocol whose fsspec package
    is installed), with the same options as the data root's store (:func:`storage_options_from_env`,
    or :func:`configure`'s) and, for S3, the same bounded client (:func:`s3_filesystem`). Reading
    needs no conditional writes, so any protocol serves. One instance per protocol and options.
    Raises :class:`StorageConfigError` naming ``url`` when the protocol's package is missing."""
    protocol = url.split("://", 1)[0].lower()
    with _lock:
        options = {**storage_options_from_env(), **_configured_options}
        cache_key = (protocol, json.dumps(options, sort_keys=True, default=str))
        if cache_key in _filesystems:
            return _filesystems[cache_key]
    if protocol in CONDITIONAL_PROTOCOLS:
        fs = s3_filesystem(options, f"'{url}'")
    else:
        import fsspec

        try:
            fs = fsspec.filesystem(protocol, **options)
        except (ImportError, ValueError) as error:
            raise StorageConfigError(
                f"'{url}': no fsspec filesystem for '{protocol}://' is installed ({error})"
            ) from error
    with _lock:
        _filesystems[cache_key] = fs
    return fs


def open_store(location: str | Path) -> Store:
    """The :class:`Store` of a root: a local path (or ``file://`` URL) or an object-store URL.

    Raises :class:`StorageConfigError` naming the URL for a protocol without conditional writes
    (never a silent race) or whose package is missing.
    """
    text = str(location)
    if not is_url(text) or text.startswith("file://"):
        return LocalStore(Path(text.removeprefix("file://")))
    protocol = text.split("://", 1)[0].lower()
    with _lock:
        options = {**storage_options_from_env(), **_configured_options}
        cache_key = (text.rstrip("/"), json.dumps(options, sort_keys=True, default=str))
        if cache_key in _stores:
            return _stores[cache_key]
    if protocol in CONDITIONAL_PROTOCOLS:
        store: Store = S3Store(text, options)
    else:
        import fsspec

        try:
            fsspec.get_filesystem_class(protocol)
            known = True
        except (ImportError, ValueError):
            known = False
        if not known:
            raise StorageConfigError(
                f"data root '{text}': no fsspec filesystem for '{protocol}://' is installed "
                f"(e.g. gcsfs for gs://, s3fs for s3://)"
            )
        raise StorageConfigError(
            f"data root '{text}': '{protocol}://' offers no compare-and-swap here (gcsfs, for one, has "
            "create-only writes but no If-Match), so two runs could race on LATEST and token partitions; "
            "supported object stores: s3:// (AWS S3 and S3-compatible stores with conditional writes)"
        )
    with _lock:
        _stores[cache_key] = store
    return store


def checked(store: Store) -> Store:
    """``store`` after :meth:`Store.check` passed (once per process and root)."""
    if store.url not in _checked:
        store.check()
        _checked.add(store.url)
    return store


def storage_options_from_env() -> dict:
    """``EMBEDDINGS_STORAGE_OPTIONS`` as a dict (JSON object); ``{}`` when unset."""
    raw = os.environ.get("EMBEDDINGS_STORAGE_OPTIONS", "").strip()
    if not raw:
        return {}
    try:
        options = json.loads(raw)
    except ValueError as error:
        raise StorageConfigError(f"EMBEDDINGS_STORAGE_OPTIONS is not valid JSON: {error}") from error
    if not isinstance(options, dict):
        raise StorageConfigError("EMBEDDINGS_STORAGE_OPTIONS must be a JSON object of fsspec options")
    return options
