import json
from datetime import datetime, timedelta, timezone

import pytest

from include.storage.paths import PROJECT_ROOT
from include.storage.publish import (
    code_version,
    content_hash,
    file_sha256,
    point_latest,
    publish_version,
    read_latest,
    version_id,
    write_version_manifest,
)


def test_version_id_is_utc_time_and_hash_without_colon_or_plus():
    moment = datetime(2026, 11, 25, 21, 30, 0, tzinfo=timezone(timedelta(hours=1)))
    assert version_id(moment, "3f9c2a1bdeadbeef") == "20261125T203000Z-3f9c2a1b"


def test_content_hash_changes_with_inputs_params_and_code():
    base = content_hash(["a", "b"], {"epochs": 5}, "c1")
    assert base == content_hash(["b", "a"], {"epochs": 5}, "c1")
    assert base != content_hash(["a", "c"], {"epochs": 5}, "c1")
    assert base != content_hash(["a", "b"], {"epochs": 6}, "c1")
    assert base != content_hash(["a", "b"], {"epochs": 5}, "c2")


def test_code_version_is_stable():
    assert code_version(PROJECT_ROOT) == code_version(PROJECT_ROOT)
    assert len(code_version(PROJECT_ROOT)) == 16


def test_manifest_lists_every_file_with_its_sha256(tmp_path):
    version = tmp_path / "v"
    (version / "keras").mkdir(parents=True)
    (version / "embeddings.npy").write_bytes(b"x" * 10)
    (version / "keras" / "m.keras").write_bytes(b"y")
    write_version_manifest(version, {"version": "v1"})
    manifest = json.loads((version / "manifest.json").read_text())
    assert manifest["version"] == "v1"
    assert manifest["files"] == {
        "embeddings.npy": {"sha256": file_sha256(version / "embeddings.npy"), "bytes": 10},
        "keras/m.keras": {"sha256": file_sha256(version / "keras" / "m.keras"), "bytes": 1},
    }


def test_publish_renames_then_latest_moves_separately(tmp_path):
    models = tmp_path / "models"
    staged = tmp_path / "staging" / "version"
    staged.mkdir(parents=True)
    (staged / "embeddings.npy").write_bytes(b"1")
    assert read_latest(models) is None
    final = publish_version(staged, models, "20260101T000000Z-aaaaaaaa")
    assert final.is_dir() and not staged.exists()
    assert read_latest(models) is None, "publishing alone never moves LATEST"
    point_latest(models, "20260101T000000Z-aaaaaaaa")
    assert read_latest(models) == "20260101T000000Z-aaaaaaaa"
    with pytest.raises(FileNotFoundError):
        point_latest(models, "20990101T000000Z-missing0")
    assert read_latest(models) == "20260101T000000Z-aaaaaaaa"
    assert (models / "LATEST").read_text() == "20260101T000000Z-aaaaaaaa\n"


def test_publish_never_replaces_an_existing_version(tmp_path):
    models = tmp_path / "models"
    (models / "v1").mkdir(parents=True)
    (models / "v1" / "keep").write_text("old")
    staged = tmp_path / "staged"
    staged.mkdir()
    with pytest.raises(FileExistsError):
        publish_version(staged, models, "v1")
    assert (models / "v1" / "keep").read_text() == "old"
    assert read_latest(models) is None


def test_publish_refuses_a_version_published_between_its_check_and_its_rename(tmp_path, monkeypatch):
    import os

    import include.storage.publish as publish

    models = tmp_path / "models"
    staged = tmp_path / "staged"
    staged.mkdir()
    (staged / "mine").write_text("new")
    real_rename = os.rename

    def another_run_first(source, target):  # the other run's rename lands just before this one's
        (models / "v1").mkdir()
        (models / "v1" / "theirs").write_text("old")
        real_rename(source, target)

    monkeypatch.setattr(publish.os, "rename", another_run_first)
    with pytest.raises(FileExistsError, match="already exists; versions are immutable"):
        publish_version(staged, models, "v1")
    assert [p.name for p in (models / "v1").iterdir()] == ["theirs"] and (staged / "mine").is_file()
