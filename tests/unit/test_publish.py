import json
from datetime import datetime, timedelta, timezone

import pytest

from include.registry.registry import ModelRegistry
from include.storage.publish import content_hash, file_sha256, version_id, write_version_manifest
from include.storage.store import AlreadyExists, open_store
from include.storage.versions import list_versions, read_manifest


def test_version_id_is_utc_time_and_hash_without_colon_or_plus():
    moment = datetime(2026, 11, 25, 21, 30, 0, tzinfo=timezone(timedelta(hours=1)))
    assert version_id(moment, "3f9c2a1bdeadbeef") == "20261125T203000Z-3f9c2a1b"


def test_content_hash_changes_with_inputs_params_and_code():
    base = content_hash(["a", "b"], {"epochs": 5}, "c1")
    assert base == content_hash(["b", "a"], {"epochs": 5}, "c1")
    assert base != content_hash(["a", "c"], {"epochs": 5}, "c1")
    assert base != content_hash(["a", "b"], {"epochs": 6}, "c1")
    assert base != content_hash(["a", "b"], {"epochs": 5}, "c2")


def test_manifest_lists_every_file_with_its_sha256_and_is_written_last(tmp_path):
    store = open_store(tmp_path / "root")
    with store.writer("models/v1") as out:
        (out.folder / "keras").mkdir()
        (out.folder / "embeddings.npy").write_bytes(b"x" * 10)
        (out.folder / "keras" / "m.keras").write_bytes(b"y")
    assert read_manifest(store, "v1") is None, "files alone do not publish a version"
    assert list_versions(store) == []
    write_version_manifest(store, "v1", {"version": "v1"}, out.files)
    manifest = json.loads(store.read_bytes("models/v1/manifest.json"))
    assert manifest["version"] == "v1"
    assert manifest["files"] == {
        "embeddings.npy": {"sha256": file_sha256(tmp_path / "root/models/v1/embeddings.npy"), "bytes": 10},
        "keras/m.keras": {"sha256": file_sha256(tmp_path / "root/models/v1/keras/m.keras"), "bytes": 1},
    }
    assert [v["version"] for v in list_versions(store)] == ["v1"]
    assert ModelRegistry(store).aliases("default") == {}, "publishing alone never moves default@champion"
    assert store.children("registry") == []


def test_a_version_is_published_once(tmp_path):
    store = open_store(tmp_path / "root")
    store.put_bytes("models/v1/a", b"1")
    files = {"a": {"sha256": "0", "bytes": 1}}
    write_version_manifest(store, "v1", {"version": "v1", "run_id": "first"}, files)
    with pytest.raises(AlreadyExists):
        write_version_manifest(store, "v1", {"version": "v1", "run_id": "second"}, files)
    assert read_manifest(store, "v1")["run_id"] == "first"


def test_a_manifest_never_names_a_missing_file(tmp_path):
    store = open_store(tmp_path / "root")
    with pytest.raises(FileNotFoundError, match=r"lacks files it should hold: \['gone.npy'\]"):
        write_version_manifest(store, "v1", {"version": "v1"}, {"gone.npy": {"sha256": "0", "bytes": 3}})
    assert read_manifest(store, "v1") is None


def test_publishing_keeps_exactly_the_listed_files(tmp_path):
    """An attempt killed mid-way left a half-written folder and a stray file: they go, the claim too."""
    store = open_store(tmp_path / "root")
    store.put_json("models/v1/.claim", {"run_id": "r"})
    store.put_bytes("models/v1/embeddings.npy", b"1234")
    store.put_bytes("models/v1/stray.bin", b"from a killed attempt")
    (tmp_path / "root/models/v1/.incoming-dead").mkdir()
    (tmp_path / "root/models/v1/.incoming-dead/word2vec.model").write_bytes(b"half")
    write_version_manifest(store, "v1", {"version": "v1"}, {"embeddings.npy": {"sha256": "0", "bytes": 4}})
    on_disk = sorted(str(p.relative_to(tmp_path / "root/models/v1")) for p in (tmp_path / "root/models/v1").rglob("*"))
    assert on_disk == ["embeddings.npy", "manifest.json"]
