"""The serving side's index of published manifests (include/serving/manifest_index.py): each
manifest read once, a new version seen on the next listing, a pruned one gone at once, a folder
without a manifest asked again, memory bounded. Reads are counted by wrapping the store's read."""

from __future__ import annotations

import pytest

from include.serving.manifest_index import UNSERVED_KEYS, ManifestIndex
from include.storage.store import LocalStore
from include.storage.versions import delete_version

V1, V2, V3, V4 = (f"2026110{day}T000000Z-{day * 8}" for day in "1234")


def publish(store, version, **extra):
    store.put_json(f"models/{version}/manifest.json", {"version": version, **extra}, create_only=True)


@pytest.fixture
def store(tmp_path):
    store = LocalStore(tmp_path / "root")
    for version in (V1, V2, V3):
        publish(store, version, inputs=[{"path": "a.txt"}] * 3, partitions={"p": {}}, data_time="t")
    return store


@pytest.fixture
def reads(store, monkeypatch) -> list[str]:
    """The version of every manifest read from ``store``, in order."""
    found: list[str] = []
    original = store.read_json

    def counting(key, *args, **kwargs):
        if key.endswith("/manifest.json"):
            found.append(key.split("/")[-2])
        return original(key, *args, **kwargs)

    monkeypatch.setattr(store, "read_json", counting)
    return found


def versions(index: ManifestIndex) -> list[str]:
    return [m["version"] for m in index.manifests()]


def test_each_manifest_is_read_once_and_new_versions_show_on_the_next_listing(store, reads):
    index = ManifestIndex(store)
    assert versions(index) == [V1, V2, V3] and sorted(reads) == [V1, V2, V3]
    reads.clear()
    assert versions(index) == [V1, V2, V3]
    assert reads == [], "the second listing read manifests again"
    publish(store, V4)
    assert versions(index) == [V1, V2, V3, V4] and reads == [V4]


def test_a_pruned_version_disappears_at_once(store, reads):
    index = ManifestIndex(store)
    index.manifests()
    assert index.manifest(V2)["version"] == V2
    delete_version(store, V2)
    assert index.manifest(V2) is None, "a single lookup checks the held manifest still exists"
    assert versions(index) == [V1, V3] and len(index) == 2


def test_a_folder_without_a_manifest_is_asked_again_until_it_has_one(store, reads):
    store.put_json(f"models/{V4}/.claim", {"run_id": "r"})  # a run still training V4
    index = ManifestIndex(store)
    assert versions(index) == [V1, V2, V3]
    reads.clear()
    assert versions(index) == [V1, V2, V3] and reads == [V4]
    publish(store, V4)
    assert versions(index) == [V1, V2, V3, V4]


def test_memory_is_bounded_in_versions_and_in_what_each_keeps(store, reads):
    index = ManifestIndex(store, max_versions=2)
    assert versions(index) == [V1, V2, V3], "every version is listed beyond the bound too"
    assert len(index) == 2
    assert not set(UNSERVED_KEYS) & set(index.manifests()[-1]), "the corpus's file list is not held"
    assert index.manifests()[-1]["data_time"] == "t"
    with pytest.raises(ValueError, match="max_versions"):
        ManifestIndex(store, max_versions=0)
