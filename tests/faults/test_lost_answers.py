"""A conditional write that won is never reported as lost, and one that lost never overwrites, even
when the answer to the write is lost on the way back (the fault proxy forwards the PUT, then resets
the connection) and the store's retry meets the 412 of its own first attempt."""

import json

import pytest

from include.storage.layout import CLAIM_FILE, MANIFEST_FILE, version_key
from include.storage.publish import write_version_manifest
from include.storage.store import AlreadyExists, PreconditionFailed, checked, open_store
from include.storage.store_interface import FileEntry
from include.storage.sweep import sweep
from include.storage.versions import claim_version
from tests.s3server import bucket_objects


def test_a_create_whose_answer_was_lost_is_reported_won(proxy_for, s3_bucket):
    proxy = proxy_for(conditional_rate=1.0)  # every conditional write lands, its answer is dropped
    store = open_store(f"{s3_bucket}/root")
    store.put_bytes("a.json", b"mine", create_only=True)
    assert proxy.counts["lost_response"] >= 1
    assert store.read_bytes("a.json") == b"mine"
    with pytest.raises(AlreadyExists):  # a second writer with other bytes lost, and changed nothing
        store.put_bytes("a.json", b"other", create_only=True)
    assert store.read_bytes("a.json") == b"mine"


def test_a_swap_whose_answer_was_lost_is_reported_won_and_a_lost_one_never_overwrites(proxy_for, s3_bucket):
    store = open_store(f"{s3_bucket}/root")
    proxy = proxy_for(conditional_rate=1.0)
    store = open_store(f"{s3_bucket}/root")
    store.swap("alias", b"v1\n", None)
    first = store.read_versioned("alias")
    assert first is not None and first.data == b"v1\n"
    store.swap("alias", b"v2\n", first.token)  # lands, answer lost, retry 412, read back: won
    assert store.read_bytes("alias") == b"v2\n"
    with pytest.raises(PreconditionFailed):  # a stale token with other bytes: lost, nothing written
        store.swap("alias", b"v3\n", first.token)
    assert store.read_bytes("alias") == b"v2\n"
    assert proxy.counts["lost_response"] == 2  # v1 and v2 landed unheard; v3 never landed


def test_the_probe_survives_a_lost_answer_and_leaves_nothing(proxy_for, s3_endpoint, s3_bucket):
    proxy_for(conditional_rate=1.0)
    checked(open_store(f"{s3_bucket}/root"))
    assert not [key for key in bucket_objects(s3_endpoint, s3_bucket.removeprefix("s3://")) if ".probe/" in key]


def test_a_manifest_whose_answer_was_lost_publishes_and_drops_the_claim(proxy_for, s3_endpoint, s3_bucket):
    store = open_store(f"{s3_bucket}/root")
    proxy = proxy_for(conditional_rate=1.0)
    store = open_store(f"{s3_bucket}/root")
    assert claim_version(store, "v1", "run-1") is None
    store.put_bytes(f"{version_key('v1')}/embeddings.npy", b"12345")
    files: dict[str, FileEntry] = {"embeddings.npy": {"sha256": "x", "bytes": 5}}
    write_version_manifest(store, "v1", {"version": "v1", "run_id": "run-1"}, files)
    keys = set(bucket_objects(s3_endpoint, s3_bucket.removeprefix("s3://")))
    assert f"root/{version_key('v1')}/{MANIFEST_FILE}" in keys
    assert f"root/{version_key('v1')}/{CLAIM_FILE}" not in keys
    assert proxy.counts["lost_response"] >= 2


def test_a_manifest_already_written_by_the_same_run_drops_its_claim(s3_bucket):
    """An earlier attempt wrote the manifest and died before deleting the claim: the retry raises
    AlreadyExists as before (publish then reports the version), and the claim is gone."""
    store = open_store(f"{s3_bucket}/root")
    claim_version(store, "v1", "run-1")
    store.put_json(f"{version_key('v1')}/{MANIFEST_FILE}", {"version": "v1", "run_id": "run-1", "files": {}})
    with pytest.raises(AlreadyExists):
        write_version_manifest(store, "v1", {"version": "v1", "run_id": "run-1"}, {})
    assert not store.exists(f"{version_key('v1')}/{CLAIM_FILE}")
    claim_version(store, "v2", "run-2")  # another run's manifest: its claim is not ours to drop
    store.put_json(f"{version_key('v2')}/{MANIFEST_FILE}", {"version": "v2", "run_id": "run-x", "files": {}})
    with pytest.raises(AlreadyExists):
        write_version_manifest(store, "v2", {"version": "v2", "run_id": "run-2"}, {})
    assert store.exists(f"{version_key('v2')}/{CLAIM_FILE}")


def test_sweep_removes_an_old_claim_left_inside_a_published_version(s3_bucket):
    from datetime import UTC, datetime, timedelta

    store = open_store(f"{s3_bucket}/root")
    claim_version(store, "v1", "run-1")
    store.put_json(f"{version_key('v1')}/{MANIFEST_FILE}", {"version": "v1", "run_id": "run-1", "files": {}})
    assert sweep(store) == {"versions": [], "staging": [], "uploads": []}, "a young claim may be a live publish's"
    assert sweep(store, now=datetime.now(UTC) + timedelta(days=2))["claims"] == ["v1"]
    assert store.exists(f"{version_key('v1')}/{MANIFEST_FILE}")
    assert not store.exists(f"{version_key('v1')}/{CLAIM_FILE}")
    assert json.loads(store.read_bytes(f"{version_key('v1')}/{MANIFEST_FILE}"))["version"] == "v1"


def test_sweep_removes_an_old_probe_a_killed_check_left(s3_bucket):
    from datetime import UTC, datetime, timedelta

    store = open_store(f"{s3_bucket}/root")
    store.put_bytes(".probe/abc", b"1", create_only=True)  # a check killed between write and delete
    assert sweep(store) == {"versions": [], "staging": [], "uploads": []}, "a young probe may be a live check's"
    assert sweep(store, now=datetime.now(UTC) + timedelta(days=2))["probes"] == ["abc"]
    assert not store.exists(".probe/abc")
