"""The files of a version as its tasks write them: each task records what it published (with the
sha256 computed once, while writing), and ``publish`` lists them all in the manifest."""

from __future__ import annotations

from include.storage.layout import files_list_key, staging_key
from include.storage.publish import FileEntry
from include.storage.store import Store


def record_written(store: Store, run_id: str, task_id: str, files: dict[str, FileEntry], under: str = "") -> None:
    """Record ``files`` (relative to ``under`` inside the version folder) as written by ``task_id``."""
    prefix = f"{under.strip('/')}/" if under.strip("/") else ""
    store.put_json(files_list_key(run_id, task_id), {prefix + name: entry for name, entry in files.items()})


def written_files(store: Store, run_id: str) -> dict[str, FileEntry]:
    """Every version file run ``run_id``'s tasks recorded: key inside the version -> {sha256, bytes}."""
    merged: dict[str, FileEntry] = {}
    folder = f"{staging_key(run_id)}/files"
    for name in sorted(store.files(folder)):
        merged.update(store.read_json(f"{folder}/{name}"))
    return merged


def relocated(facts: dict, folder, store: Store, prefix: str) -> dict:
    """``facts`` with every string naming a path inside the local ``folder`` turned into the
    location (path or URL) that path was published at under ``prefix``."""
    from pathlib import Path

    moved = {}
    for key, value in facts.items():
        if isinstance(value, str) and (value == str(folder) or value.startswith(f"{folder}/")):
            relative = Path(value).relative_to(folder).as_posix()
            value = store.key_url(prefix if relative == "." else f"{prefix}/{relative}")
        moved[key] = value
    return moved
