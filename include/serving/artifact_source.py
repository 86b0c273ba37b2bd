"""Where the catalog's published versions come from: the :class:`ArtifactSource` interface and
:class:`StoreArtifactSource`, a data root read through the same storage layer as the pipeline.

A local root's files are read in place; an object store's are fetched into a bounded local cache
(:class:`include.serving.file_cache.BoundedFileCache`). Manifests come from a
:class:`include.serving.manifest_index.ManifestIndex`: one listing of ``models/`` per call, each
manifest read once.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from include.registry.names import CHAMPION, DEFAULT_MODEL
from include.registry.registry import ModelRegistry
from include.serving.file_cache import BoundedFileCache, serving_cache
from include.serving.manifest_index import MAX_INDEXED_VERSIONS, ManifestIndex
from include.serving.request_checks import NotFoundError, validate_relative_file, validate_version
from include.storage.layout import MANIFEST_FILE, data_store, version_key
from include.storage.store import LocalStore, Store


class ArtifactSource(Protocol):
    """Read access to published versions. ``local_file`` returns a local path to read (the file
    itself for a local data root; a copy in a bounded cache for an object store)."""

    registry: ModelRegistry  #: models, aliases and their history

    def manifests(self) -> list[dict]:
        """Every whole version's manifest (a version is whole when its manifest exists), oldest
        folder name first."""
        ...

    def manifest(self, version: str) -> dict | None:
        """The manifest of the published ``version`` (a valid version name), else ``None``."""
        ...

    def local_file(self, version: str, relative: str) -> Path:
        """A local path holding ``<version>/<relative>``; :class:`NotFoundError` when missing."""
        ...


class StoreArtifactSource:
    """The published versions of a data root's :class:`~include.storage.store.Store`, through the
    same storage layer as the pipeline. A local root's files are read in place; an object store's
    through ``cache`` (a :class:`BoundedFileCache`), so memory-mapping works on local copies.
    ``max_versions``: most manifests held in memory (:class:`ManifestIndex`)."""

    def __init__(
        self, store: Store, cache: BoundedFileCache | None = None, max_versions: int = MAX_INDEXED_VERSIONS
    ) -> None:
        self.store = store
        self.cache = cache
        self.registry = ModelRegistry(store)
        self.index = ManifestIndex(store, max_versions)

    def manifests(self) -> list[dict]:
        """Every published version's manifest, oldest folder name first (see :meth:`ManifestIndex.manifests`)."""
        return self.index.manifests()

    def manifest(self, version: str) -> dict | None:
        return self.index.manifest(validate_version(version, allow_latest=False))

    def latest(self) -> str | None:
        """The version ``default@champion`` names (the previous layout's ``LATEST``), or ``None``
        (read from the alias files alone: no listing of every manifest when there is none)."""
        return self.registry.aliases(DEFAULT_MODEL).get(CHAMPION)

    def local_file(self, version: str, relative: str) -> Path:
        version = validate_version(version, allow_latest=False)
        relative = validate_relative_file(relative)
        prefix = version_key(version)
        if not self.store.exists(f"{prefix}/{MANIFEST_FILE}"):
            raise NotFoundError(f"no published model version {version}")
        if isinstance(self.store, LocalStore):
            folder = self.store.path(prefix)
            # symlinks inside a version could point anywhere: serve only what really lies inside it
            real, root = Path(os.path.realpath(folder / relative)), Path(os.path.realpath(folder))
            if root not in real.parents or not real.is_file():
                raise NotFoundError(f"version {version} has no file {relative}")
            return real
        if not self.store.exists(f"{prefix}/{relative}"):
            raise NotFoundError(f"version {version} has no file {relative}")
        cache = self.cache or serving_cache()
        return cache.fetch(
            f"{version}/{relative}", lambda partial: self.store.download(f"{prefix}/{relative}", partial)
        )

    def discard(self, version: str, relative: str) -> bool:
        """Drop the cached copy of ``<version>/<relative>`` (an object store's; a local data root's
        files are read in place, so there is none): true when there was one."""
        if isinstance(self.store, LocalStore):
            return False
        key = f"{validate_version(version, allow_latest=False)}/{validate_relative_file(relative)}"
        return (self.cache or serving_cache()).discard(key)


def LocalArtifactSource(models: Path) -> StoreArtifactSource:
    """The versions under a local ``models/`` folder: the store of its parent, the data root."""
    return StoreArtifactSource(LocalStore(Path(models).parent))


def data_root_source() -> StoreArtifactSource:
    """The versions of ``EMBEDDINGS_DATA_DIR`` (an object store's through :func:`serving_cache`)."""
    store = data_store()
    return StoreArtifactSource(store, None if isinstance(store, LocalStore) else serving_cache())
