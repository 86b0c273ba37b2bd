"""The data root in an S3-compatible object store: :class:`S3Store`, and the bounded s3fs client
(:func:`s3_filesystem`) it and the corpus readers use.

Create-only is ``PutObject`` with ``If-None-Match: *``, compare-and-swap is ``If-Match`` on the
ETag read; a task downloads what it reads into its own local scratch and uploads what it writes,
so no task relies on another task's local disk.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from include.storage.store_interface import (
    AlreadyExists,
    PreconditionFailed,
    StorageConfigError,
    StorageError,
    Store,
    Versioned,
    Written,
)

#: Bounds on an object store client's own retries, so a dead endpoint fails within seconds.
CONNECT_TIMEOUT_SECONDS = 3
READ_TIMEOUT_SECONDS = 20
CLIENT_ATTEMPTS = 2


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
