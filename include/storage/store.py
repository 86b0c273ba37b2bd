"""One storage interface over the data root: a local folder or an object store, by the same code.

Every step reads and writes the data root through a :class:`Store`. Keys are ``/``-separated
paths under the root (``models/<version>/vocab.json``). This module picks the backend of a root
(:func:`open_store`) or the filesystem that reads a corpus URL (:func:`reading_filesystem`), with
the process's options, and re-exports the interface (:mod:`include.storage.store_interface`) and
both backends, so callers import everything from here. Two backends:

- :class:`LocalStore` (a path, or ``file://``; :mod:`include.storage.local_store`): ``os.link``,
  ``os.replace`` and ``flock``; a task writes straight into the data root and reads files in place;
- :class:`S3Store` (``s3://bucket/prefix``, through s3fs; :mod:`include.storage.s3_store`):
  ``PutObject`` with ``If-None-Match``/``If-Match``; a task downloads what it reads into its own
  local scratch and uploads what it writes, so no task relies on another task's local disk.

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

import json
import threading
from pathlib import Path

from include.storage.local_store import LocalStore
from include.storage.options import storage_options_from_env
from include.storage.s3_store import (
    CLIENT_ATTEMPTS,
    CONNECT_TIMEOUT_SECONDS,
    READ_TIMEOUT_SECONDS,
    S3Store,
    s3_filesystem,
)
from include.storage.store_interface import (
    AlreadyExists,
    PreconditionFailed,
    StorageConfigError,
    StorageError,
    Store,
    Versioned,
    Written,
    sha256_file,
)

__all__ = [
    "CLIENT_ATTEMPTS",
    "CONDITIONAL_PROTOCOLS",
    "CONNECT_TIMEOUT_SECONDS",
    "READ_TIMEOUT_SECONDS",
    "AlreadyExists",
    "LocalStore",
    "PreconditionFailed",
    "S3Store",
    "StorageConfigError",
    "StorageError",
    "Store",
    "Versioned",
    "Written",
    "checked",
    "configure",
    "is_url",
    "open_store",
    "reading_filesystem",
    "s3_filesystem",
    "sha256_file",
    "storage_options_from_env",
]

#: fsspec protocols whose backend offers both create-only writes and compare-and-swap here.
CONDITIONAL_PROTOCOLS = ("s3", "s3a")

_configured_options: dict = {}
_checked: set[str] = set()
_stores: dict[tuple, Store] = {}
_filesystems: dict[tuple, object] = {}
_lock = threading.Lock()


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
