"""The published model versions: reading their manifests, finding, gating inputs and pruning.

Reads only ``manifest.json`` files (JSON), never a model.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from include.storage.publish import LATEST_FILE, MANIFEST_FILE, read_latest

log = logging.getLogger(__name__)


def list_versions(models: Path) -> list[dict]:
    """Manifests of the published versions under ``models``, oldest folder name first.

    Each dict is the version's ``manifest.json`` plus ``"path"``. Folders without a readable
    manifest (not published by this pipeline) are skipped.
    """
    versions = []
    if not models.is_dir():
        return versions
    for folder in sorted(models.iterdir()):
        manifest_path = folder / MANIFEST_FILE
        if folder.name.startswith(".") or not manifest_path.is_file():
            continue
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            log.warning("ignoring %s: unreadable manifest (%s)", folder, error)
            continue
        versions.append({**manifest, "path": str(folder)})
    return versions


def find_by_content_hash(models: Path, content_hash: str) -> dict | None:
    """The published version built from the same inputs, params and code, if any."""
    return next((v for v in list_versions(models) if v.get("content_hash") == content_hash), None)


def latest_manifest(models: Path) -> dict | None:
    """Manifest of the version ``LATEST`` names, or ``None``."""
    name = read_latest(models)
    if not name:
        return None
    return next((v for v in list_versions(models) if v.get("version") == name), None)


def prune_versions(models: Path, keep: int) -> list[str]:
    """Delete the oldest versions beyond the newest ``keep`` (by folder name, i.e. data time);
    the one ``LATEST`` names is never deleted. ``keep`` 0 keeps everything. Returns deleted names."""
    if keep <= 0:
        return []
    protected = read_latest(models)
    names = [v["version"] for v in list_versions(models)]
    removed = []
    for name in names[:-keep] if len(names) > keep else []:
        if name == protected:
            continue
        # rename first so a reader never sees a half-deleted version folder
        doomed = models / f".{name}.deleting"
        (models / name).rename(doomed)
        shutil.rmtree(doomed)
        removed.append(name)
    return removed


__all__ = ["LATEST_FILE", "find_by_content_hash", "latest_manifest", "list_versions", "prune_versions"]
