"""The data root in an S3-compatible object store: :class:`S3Store`, and the bounded s3fs client
(:func:`s3_filesystem`) it and the corpus readers use.

Create-only is ``PutObject`` with ``If-None-Match: *``, compare-and-swap is ``If-Match`` on the
ETag read; a task downloads what it reads into its own local scratch and uploads what it writes,
so no task relies on another task's local disk.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from include.storage.store_interface import (
    PROBE_PREFIX,
    AlreadyExists,
    PreconditionFailed,
    StorageConfigError,
    StorageError,
    Store,
    Versioned,
    Written,
)

log = logging.getLogger(__name__)

#: Bounds on an object store client's own retries, so a dead endpoint fails within seconds.
CONNECT_TIMEOUT_SECONDS = 3
READ_TIMEOUT_SECONDS = 20
CLIENT_ATTEMPTS = 2
#: Calls of one write (each with the client's own retries) before a transient error fails the task,
#: and the wait before the second (doubling after).
WRITE_ATTEMPTS = 4
WRITE_BACKOFF_SECONDS = 0.2
#: User metadata key of a conditional write's random id: after a lost answer and a 412, the object
#: is ours when it carries our id (a write that won is never reported lost; one that lost overwrote
#: nothing).
WRITE_ID = "w2v-write-id"


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
        """The error of a failed call on ``key`` as this module's, naming the location. An error no
        retry can mend (a missing bucket, refused keys, access denied) is a :class:`StorageConfigError`
        naming the URL, the cause and the fix, so the task fails at once."""
        where = self.key_url(key)
        response = getattr(error, "response", {}) or {}
        code = response.get("Error", {}).get("Code", "")
        if code in ("NoSuchBucket",):
            return StorageConfigError(missing_bucket_message(self.url, self.bucket))
        if code in CREDENTIAL_CODES or (isinstance(error, PermissionError) and not code):
            return StorageConfigError(refused_message(self.url, where, code or str(error)))
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
        """``PutObject`` of ``data`` at ``key`` under ``condition`` (``IfNoneMatch``/``IfMatch``, or
        none), retried here on a transient error (up to :data:`WRITE_ATTEMPTS` calls; the client
        retries too, and the HTTP client may resend a PUT whose connection dropped). A write whose
        answer was lost may have landed, and a resend of it then meets a 412: so on a 412 the key's
        metadata is read back (:meth:`_landed`), and a write whose id is there won; it is never
        reported as lost. One whose id is not there lost, and overwrote nothing."""
        from botocore.exceptions import BotoCoreError, ClientError

        where = self.key_url(key)
        arguments = dict(self.put_arguments)
        write_id = uuid.uuid4().hex
        if condition:  # marks this write's object, told apart from any other writer's by its id
            arguments["Metadata"] = {**arguments.get("Metadata", {}), WRITE_ID: write_id}
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                self._client_call(
                    "put_object", Bucket=self.bucket, Key=self._object_key(key), Body=data, **condition, **arguments
                )
                return
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                if code in ("PreconditionFailed", "ConditionalRequestConflict") or status in (409, 412):
                    # the HTTP client may have resent the PUT after a lost answer, unseen by us
                    if condition and self._landed(key, write_id):
                        log.warning("the answer to a conditional write of '%s' was lost; it had landed", where)
                        return
                    if condition.get("IfNoneMatch") == "*":
                        raise AlreadyExists(errno.EEXIST, f"'{where}' exists already", where) from error
                    raise PreconditionFailed(errno.EAGAIN, f"'{where}' changed since it was read", where) from error
                if code in ("NoSuchKey", "404") and "IfMatch" in condition:  # If-Match on a missing key
                    raise PreconditionFailed(errno.EAGAIN, f"'{where}' was removed since it was read", where) from error
                if not _transient(error) or attempt == WRITE_ATTEMPTS:
                    raise self._fail(error, key) from error
            except (BotoCoreError, OSError) as error:
                if attempt == WRITE_ATTEMPTS:
                    raise self._fail(error, key) from error
            log.info("write of '%s' failed (attempt %d of %d): trying again", where, attempt, WRITE_ATTEMPTS)
            time.sleep(WRITE_BACKOFF_SECONDS * 2 ** (attempt - 1))

    def _landed(self, key: str, write_id: str) -> bool:
        """True when ``key`` is the object written with ``write_id`` (its metadata :data:`WRITE_ID`):
        an attempt of this write landed although its answer was lost."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            head = self._client_call("head_object", Bucket=self.bucket, Key=self._object_key(key))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return False
            raise self._fail(error, key) from error
        except (BotoCoreError, OSError) as error:
            raise self._fail(error, key) from error
        return (head.get("Metadata") or {}).get(WRITE_ID) == write_id

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
        except FileNotFoundError as error:
            self._absent(error)
            raise
        except (ClientError, BotoCoreError, OSError) as error:
            raise self._fail(error, key) from error

    def _absent(self, error: FileNotFoundError) -> None:
        """Raise :class:`StorageConfigError` when ``error`` (s3fs's "not found") says the bucket is
        missing, not the key: a deleted bucket never reads as an empty data root."""
        if _bucket_missing(error):
            raise StorageConfigError(missing_bucket_message(self.url, self.bucket)) from error

    def exists(self, key: str) -> bool:
        def found():
            try:
                self.fs.info(self._path(key), refresh=True)
            except FileNotFoundError as error:
                self._absent(error)
                return False
            return True

        return self._guard(key, found)

    def children(self, prefix: str) -> list[str]:
        def listing():
            try:
                entries = self.fs.ls(self._path(prefix), detail=False, refresh=True)
            except FileNotFoundError as error:
                self._absent(error)
                return []
            return sorted(entry.rstrip("/").rsplit("/", 1)[-1] for entry in entries)

        return self._guard(prefix, listing)

    def files(self, prefix: str) -> dict[str, int]:
        base = self._path(prefix)

        def listing():
            try:
                found = self.fs.find(base, detail=True, refresh=True)
            except FileNotFoundError as error:
                self._absent(error)
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
            except FileNotFoundError as error:
                self._absent(error)
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
                raise StorageConfigError(missing_bucket_message(self.url, self.bucket)) from error
            raise self._fail(error, "") from error
        except (BotoCoreError, OSError) as error:
            endpoint = (getattr(self.fs, "client_kwargs", None) or {}).get("endpoint_url")
            endpoint = (
                endpoint or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or "AWS S3"
            )
            raise StorageConfigError(
                f"data root '{self.url}': the object store cannot be reached at {endpoint or 'AWS S3'} ({error}); "
                "check that the endpoint (AWS_ENDPOINT_URL, or the connection's endpoint_url) is right and the "
                "store is up, then clear the task"
            ) from error
        probe = f"{PROBE_PREFIX}/{uuid.uuid4().hex}"
        try:
            self.put_bytes(probe, b"1", create_only=True)  # a lost answer is read back (_conditional_put)
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


#: Error codes of keys the store refuses or a policy that forbids the call: retrying cannot help.
CREDENTIAL_CODES = (
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AccessDenied",
    "ExpiredToken",
    "InvalidToken",
    "AllAccessDisabled",
    "403",
)


def missing_bucket_message(url: str, bucket: str) -> str:
    return (
        f"data root '{url}': bucket '{bucket}' does not exist (NoSuchBucket); create it, or set "
        "EMBEDDINGS_DATA_DIR to an existing bucket, then clear the task"
    )


def refused_message(url: str, where: str, cause: str) -> str:
    return (
        f"data root '{url}': credentials refused or access denied ({cause}) at '{where}'; check the keys "
        "(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, the profile or the Airflow connection) and that their "
        "policy allows s3:GetObject, s3:PutObject, s3:DeleteObject and s3:ListBucket on the bucket, then "
        "clear the task"
    )


def _bucket_missing(error: BaseException) -> bool:
    """True when ``error``, or an error it was raised from, is the store's ``NoSuchBucket``."""
    seen: BaseException | None = error
    for _ in range(5):
        if seen is None:
            return False
        code = (getattr(seen, "response", None) or {}).get("Error", {}).get("Code", "")
        if code == "NoSuchBucket" or "NoSuchBucket" in str(seen) or "specified bucket does not exist" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


TRANSIENT_CODES = ("SlowDown", "InternalError", "RequestTimeout", "ServiceUnavailable", "Throttling")


def _transient(error) -> bool:
    """True for an object store's answer a later call may not repeat (5xx, throttling, timeouts)."""
    response = getattr(error, "response", {}) or {}
    code = response.get("Error", {}).get("Code", "")
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    return int(status) >= 500 or code in (
        "SlowDown",
        "InternalError",
        "RequestTimeout",
        "ServiceUnavailable",
        "Throttling",
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
