"""Checks the fault tests share: finding a task's process, and a published version being whole."""

from __future__ import annotations

import json
import os
from pathlib import Path

from include.storage.publish import file_sha256


def task_process(ti_id: str) -> int | None:
    """pid of the process running task instance ``ti_id`` (its title is ``airflow worker -- <id>``)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cmdline.strip() == f"airflow worker -- {ti_id}":
            return int(entry)
    return None


def assert_version_whole(version_dir: Path) -> dict:
    """Every file of a published version is in its manifest with a matching sha256, and every file
    the manifest lists is there; returns the manifest."""
    manifest = json.loads((version_dir / "manifest.json").read_text())
    on_disk = {str(p.relative_to(version_dir)) for p in version_dir.rglob("*") if p.is_file()} - {"manifest.json"}
    assert on_disk == set(manifest["files"])
    for name, facts in manifest["files"].items():
        assert file_sha256(version_dir / name) == facts["sha256"], name
    return manifest


def versions_of(data_root: Path, model: str) -> list[str]:
    """The versions of ``model`` in a local data root, oldest first, as the registry lists them
    (:meth:`include.registry.registry.ModelRegistry.manifests`). The registry skips a folder without
    a manifest; here such a folder under ``models/`` (half-written, in a run's story) fails the check."""
    from include.registry.registry import ModelRegistry
    from include.storage.store import open_store

    half_written = [p.name for p in (Path(data_root) / "models").iterdir() if not (p / "manifest.json").is_file()]
    assert not half_written, f"not published versions under models/: {half_written}"
    return [manifest["version"] for manifest in ModelRegistry(open_store(data_root)).manifests(model)]


def run_record(data_root: Path, run_id: str) -> dict:
    """The record that ``run_id`` wrote in a local data root (the pipeline's own
    key, :func:`include.storage.layout.run_record_key`, on that root, not ``EMBEDDINGS_DATA_DIR``)."""
    from include.storage.layout import run_record_key
    from include.storage.store import open_store

    return open_store(data_root).read_json(run_record_key(run_id))


def assert_one_whole_version(data_root: Path, run_id: str, model: str = "default") -> dict:
    """``model`` has exactly one version in ``data_root``, whole (see :func:`assert_version_whole`),
    published by ``run_id`` with the pipeline's main files, and ``<model>@champion`` names it;
    nothing half-written is left under ``models/``; returns its manifest."""
    from tests.conftest import champion

    models = Path(data_root) / "models"
    promoted = champion(data_root, model)
    assert promoted, f"{model}@champion is set"
    assert versions_of(data_root, model) == [promoted], "exactly one version of the model"
    manifest = assert_version_whole(models / promoted)
    assert manifest["run_id"] == run_id
    for required in ("word2vec.model", "embeddings.npy", "vocab.json", "keras/similarity.keras", "report/report.json"):
        assert required in manifest["files"]
    return manifest
