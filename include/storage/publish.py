"""Version ids and content hashes, and the version manifest written last (create-only) to publish."""

from __future__ import annotations

import errno
import hashlib
import json
import platform
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, TypedDict

from include.storage.layout import CLAIM_FILE, MANIFEST_FILE, version_key
from include.storage.store import AlreadyExists, Store, sha256_file
from include.storage.store_interface import FileEntry  # beside Written, which computes it

LIBRARIES = ("apache-airflow", "gensim", "tensorflow", "keras", "numpy", "pyarrow")


class VersionManifest(TypedDict, total=False):
    """``models/<version>/manifest.json``: what a published version is and how it was made.

    ``files`` (every other file of the version with its sha256 and size) is added by
    :func:`write_version_manifest`; the rest comes from the run that built it.
    """

    version: str
    model: str  #: the model the version belongs to (absent in the layout before named models: ``default``)
    contract: dict[str, Any]  #: vector_size, tokenizer, phrases (:class:`include.registry.contract.Contract`)
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
    return sha256_file(path)[0]


def content_hash(input_checksums: list[str], params: dict, code: str) -> str:
    """sha256 hex of the inputs' checksums, the params and the code version
    (:data:`include.versions.CODE_VERSION`)."""
    payload = json.dumps({"inputs": sorted(input_checksums), "params": params, "code": code}, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def version_id(run_time: datetime, digest: str) -> str:
    """``YYYYMMDDTHHMMSSZ-<8 hex>``: the run time in UTC and the content hash; no ``:`` or ``+``."""
    stamp = run_time.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{digest[:8]}"


def library_versions() -> dict[str, str | None]:
    """Installed versions of the libraries a model depends on, and Python's."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def write_version_manifest(store: Store, version: str, facts: VersionManifest, files: dict[str, FileEntry]) -> str:
    """Publish ``version``: write its ``manifest.json`` (``facts`` plus ``files``, every other file of
    the version with its sha256 and size) create-only, last. Returns the manifest's location.

    Checks first that each listed file is in the store with its size, so a manifest never names a
    file that is missing, and removes what is not listed (files of an attempt killed mid-way), so
    the version holds exactly what its manifest lists; the claim goes once the manifest is there.
    Raises :class:`~include.storage.store.AlreadyExists` when the version was
    published meanwhile (by this run's earlier attempt or another run).
    """
    prefix = version_key(version)
    if store.exists(f"{prefix}/{MANIFEST_FILE}"):  # published already: touch nothing else of it
        _drop_own_claim(store, version, facts.get("run_id"))
        where = store.key_url(f"{prefix}/{MANIFEST_FILE}")
        raise AlreadyExists(errno.EEXIST, f"'{where}' exists already", where)
    present = store.files(prefix)
    missing = sorted(name for name, entry in files.items() if present.get(name) != entry["bytes"])
    if missing:
        raise FileNotFoundError(f"version '{store.key_url(prefix)}' lacks files it should hold: {missing}")
    # what an attempt killed mid-way left behind is not part of the version: only listed files stay
    store.discard_unfinished(prefix)
    for name in present:
        if name not in files and name not in (CLAIM_FILE, MANIFEST_FILE):
            store.delete(f"{prefix}/{name}")
    try:
        store.put_json(f"{prefix}/{MANIFEST_FILE}", {**facts, "files": dict(sorted(files.items()))}, create_only=True)
    except AlreadyExists:  # another run's, or this run's whose answer was lost: never leave our claim inside
        _drop_own_claim(store, version, facts.get("run_id"))
        raise
    store.delete(f"{prefix}/{CLAIM_FILE}")  # the manifest guards the version from now on
    return store.key_url(f"{prefix}/{MANIFEST_FILE}")


def _drop_own_claim(store: Store, version: str, run_id: str | None) -> None:
    """``version`` has a manifest: delete its claim when run ``run_id`` wrote that manifest (an
    earlier attempt of this run's publish, or a write whose answer was lost), so the claim never
    stays inside a published version. Another run's manifest and claim are left to that run."""
    prefix = version_key(version)
    try:
        manifest = store.read_json(f"{prefix}/{MANIFEST_FILE}")
    except (FileNotFoundError, ValueError):
        return
    if run_id and isinstance(manifest, dict) and manifest.get("run_id") == run_id:
        store.delete(f"{prefix}/{CLAIM_FILE}")
