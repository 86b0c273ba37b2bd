"""Leftovers of runs that died: removed once they are old enough that no live run can own them.

A run that is killed (a worker lost, a pod evicted) can leave a version folder without a manifest
(its claim and some files), part files no partition names, its staging prefix, and on S3
multipart uploads never completed. Readers ignore all of these; :func:`sweep` deletes those older
than :data:`LEFTOVER_AGE`, and :func:`abandon_run` deletes a finally failed run's own at once.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

from include.storage.layout import CLAIM_FILE, MANIFEST_FILE, MODELS, STAGING, staging_key, version_key
from include.storage.store import Store
from include.storage.store_interface import PROBE_PREFIX

log = logging.getLogger(__name__)
LEFTOVER_AGE = timedelta(days=1)


def _claimant(store: Store, version: str) -> dict | None:
    found = store.read_versioned(f"{version_key(version)}/{CLAIM_FILE}")
    if found is None:
        return None
    try:
        return json.loads(found.data)
    except ValueError:
        return {}


def abandon_run(store: Store, run_id: str) -> list[str]:
    """Delete what run ``run_id`` left half-built (it failed for good): the versions it claimed that
    have no manifest, and its staging prefix. Returns the versions removed."""
    removed = []
    for name in store.children(MODELS):
        if name == "LATEST" or store.exists(f"{version_key(name)}/{MANIFEST_FILE}"):
            continue
        holder = _claimant(store, name)
        if holder is not None and holder.get("run_id") == run_id:
            store.delete_tree(version_key(name))
            removed.append(name)
    store.delete_tree(staging_key(run_id))
    if removed:
        log.info("removed the half-built versions of failed run %s: %s", run_id, removed)
    return removed


def sweep(store: Store, now: datetime | None = None) -> dict[str, list[str]]:
    """Delete leftovers older than :data:`LEFTOVER_AGE`: version folders without a manifest, the
    claim left inside a published version, staging prefixes, the store check's probe keys, and (S3)
    incomplete multipart uploads. Returns what was removed, by kind (``"claims"`` and ``"probes"``
    only when one was)."""
    now = now or datetime.now(UTC)
    old = now - LEFTOVER_AGE
    removed: dict[str, list[str]] = {"versions": [], "staging": [], "uploads": []}
    for name in store.children(MODELS):
        prefix = version_key(name)
        if name == "LATEST":
            continue
        if store.exists(f"{prefix}/{MANIFEST_FILE}"):
            claim = store.modified(f"{prefix}/{CLAIM_FILE}")  # a publisher died between manifest and claim
            if claim is not None and claim < old:
                store.delete(f"{prefix}/{CLAIM_FILE}")
                removed.setdefault("claims", []).append(name)
            continue
        stamps = [store.modified(f"{prefix}/{key}") for key in store.files(prefix)]
        if all(stamp is not None and stamp < old for stamp in stamps):
            store.delete_tree(prefix)
            removed["versions"].append(name)
    for name in store.children(STAGING):
        stamps = [store.modified(f"{STAGING}/{name}/{key}") for key in store.files(f"{STAGING}/{name}")]
        if all(stamp is not None and stamp < old for stamp in stamps):
            store.delete_tree(f"{STAGING}/{name}")
            removed["staging"].append(name)
    for key in store.files(PROBE_PREFIX):  # a check killed between its probe's write and delete
        stamp = store.modified(f"{PROBE_PREFIX}/{key}")
        if stamp is not None and stamp < old:
            store.delete(f"{PROBE_PREFIX}/{key}")
            removed.setdefault("probes", []).append(key)
    removed["uploads"] = store.abort_uploads(older_than=old)
    if any(removed.values()):
        log.info("swept leftovers of dead runs: %s", removed)
    return removed
