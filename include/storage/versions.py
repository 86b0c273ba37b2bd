"""The published model versions: reading their manifests, claiming and deleting one.

A version folder counts as published only once its ``manifest.json`` exists and parses (it is
written last, create-only): readers here never see a half-built or half-deleted version. Reads
only manifests (JSON), never a model.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

from include.storage.layout import CLAIM_FILE, MANIFEST_FILE, MODELS, version_key
from include.storage.store import AlreadyExists, PreconditionFailed, Store

log = logging.getLogger(__name__)


def read_manifest(store: Store, version: str) -> dict | None:
    """The manifest of ``version`` plus ``"path"`` (its location), or ``None`` when unpublished."""
    try:
        manifest = store.read_json(f"{version_key(version)}/{MANIFEST_FILE}")
    except FileNotFoundError:
        return None
    except ValueError as error:
        log.warning("ignoring version %s: unreadable manifest (%s)", version, error)
        return None
    if not isinstance(manifest, dict):
        return None
    return {**manifest, "path": store.key_url(version_key(version))}


def list_versions(store: Store) -> list[dict]:
    """Manifests of the published versions of every model, oldest folder name (= data time) first;
    each dict is the version's ``manifest.json`` plus ``"path"``. Folders without a manifest are
    skipped (:meth:`include.registry.registry.ModelRegistry.manifests` lists one model's)."""
    versions = []
    for name in store.children(MODELS):
        if name == "LATEST" or name.startswith("."):
            continue
        manifest = read_manifest(store, name)
        if manifest is not None:
            versions.append(manifest)
    return versions


def find_by_content_hash(store: Store, content_hash: str) -> dict | None:
    """The published version built from the same inputs, params, model and code, if any (the
    content hash covers the model name, so it finds only a version of the same model)."""
    return next((v for v in list_versions(store) if v.get("content_hash") == content_hash), None)


def delete_version(store: Store, version: str) -> None:
    """Unpublish ``version``: its manifest first (readers stop seeing it at once), then its files."""
    store.delete(f"{version_key(version)}/{MANIFEST_FILE}")
    store.delete_tree(version_key(version))


def version_summary(manifest: dict) -> str:
    """One line for logs: name, data time and gate decision."""
    return json.dumps({k: manifest.get(k) for k in ("version", "data_time")} | {"gate": manifest.get("gate")})


#: A claim older than this whose version has no manifest belongs to a run that died: it may be taken over.
CLAIM_LEASE = timedelta(days=1)


def claim_version(store: Store, version: str, run_id: str) -> str | None:
    """Claim ``version`` for ``run_id`` with a create-only ``models/<version>/.claim``, so two runs
    never write the same version's files. Returns ``None`` when the claim is this run's (new, or
    made by an earlier attempt of the same run), else the run id that holds it. A claim older than
    :data:`CLAIM_LEASE` on a version without a manifest is taken over by compare-and-swap."""
    key = f"{version_key(version)}/{CLAIM_FILE}"
    mine = {"run_id": run_id, "claimed_at": datetime.now(UTC).isoformat()}
    try:
        store.put_json(key, mine, create_only=True)
        return None
    except AlreadyExists:
        pass
    current = store.read_versioned(key)
    if current is None:  # removed meanwhile (a sweep): try once more from scratch
        return claim_version(store, version, run_id)
    holder = json.loads(current.data)
    if holder.get("run_id") == run_id:
        return None
    claimed_at = datetime.fromisoformat(holder.get("claimed_at", "1970-01-01T00:00:00+00:00"))
    if datetime.now(UTC) - claimed_at > CLAIM_LEASE and read_manifest(store, version) is None:
        try:
            store.swap(key, (json.dumps(mine) + "\n").encode(), current.token)
            log.warning("took over the stale claim of %s by run %s", version, holder.get("run_id"))
            return None
        except PreconditionFailed:
            return claim_version(store, version, run_id)
    return holder.get("run_id")
