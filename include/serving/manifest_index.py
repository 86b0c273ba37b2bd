"""The published versions' manifests of one data root, held in memory so that a request lists
``models/`` once and reads only the manifests it has not seen before.

Sound because a published manifest never changes: :func:`include.storage.publish.write_version_manifest`
writes it create-only and last, and a version is only ever deleted whole (pruning,
:func:`include.storage.versions.delete_version`, removes the manifest first), never rewritten. So:

- a version published since the last request is a new name in the listing: read once, then kept;
- a pruned version is missing from the listing: dropped at once (and a single-version lookup
  checks the manifest still exists before answering from memory);
- a folder without a manifest (a run still training, a dead run's leftovers) is asked again on
  every listing, so a version shows on the first request after its manifest is written.

Memory is bounded twice: at most ``max_versions`` manifests (least recently used dropped first), and
each without the parts that grow with the corpus (:data:`UNSERVED_KEYS`), which nothing served shows.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from include.storage.layout import MANIFEST_FILE, MODELS, version_key
from include.storage.store import Store
from include.storage.versions import read_manifest

#: Most manifests kept in memory (far above what retention keeps published; beyond it, the least
#: recently used are read again when next needed).
MAX_INDEXED_VERSIONS = 4096
#: Manifest keys not kept: one entry per corpus file or partition, shown by no page or API.
UNSERVED_KEYS = ("inputs", "partitions")


class ManifestIndex:
    """Parsed manifests of ``store``'s published versions, by version name (thread-safe)."""

    def __init__(self, store: Store, max_versions: int = MAX_INDEXED_VERSIONS) -> None:
        if max_versions <= 0:
            raise ValueError(f"max_versions must be positive, got {max_versions}")
        self.store = store
        self.max_versions = max_versions
        self._manifests: OrderedDict[str, dict] = OrderedDict()  # least recently used first
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._manifests)

    def folder_names(self) -> list[str]:
        """Every version folder under ``models/`` (published or not), sorted: one listing."""
        return sorted(n for n in self.store.children(MODELS) if n != "LATEST" and not n.startswith("."))

    def manifests(self) -> list[dict]:
        """Every published version's manifest, oldest folder name first: one listing of ``models/``;
        a manifest is read only when its version is not held yet."""
        names = self.folder_names()
        with self._lock:
            for gone in set(self._manifests) - set(names):  # pruned since the last listing
                del self._manifests[gone]
            held = {name: self._manifests[name] for name in names if name in self._manifests}
        found = []
        for name in names:
            manifest = held.get(name)
            if manifest is None:
                manifest = self._read(name)
            else:
                self._touch(name)
            if manifest is not None:
                found.append(manifest)
        return found

    def manifest(self, version: str) -> dict | None:
        """The manifest of one published ``version`` (a valid version name), or ``None`` when it is
        not published (anymore): one existence check when held, else one read."""
        with self._lock:
            held = self._manifests.get(version)
        if held is None:
            return self._read(version)
        if not self.store.exists(f"{version_key(version)}/{MANIFEST_FILE}"):
            self._forget(version)
            return None
        self._touch(version)
        return held

    def _read(self, version: str) -> dict | None:
        manifest = read_manifest(self.store, version)
        if manifest is None:  # not published (yet): asked again next time
            return None
        kept = {key: value for key, value in manifest.items() if key not in UNSERVED_KEYS}
        with self._lock:
            self._manifests[version] = kept
            self._manifests.move_to_end(version)
            while len(self._manifests) > self.max_versions:
                self._manifests.popitem(last=False)
        return kept

    def _touch(self, version: str) -> None:
        with self._lock:
            if version in self._manifests:
                self._manifests.move_to_end(version)

    def _forget(self, version: str) -> None:
        with self._lock:
            self._manifests.pop(version, None)
