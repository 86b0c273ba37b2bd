"""Leftovers of dead runs go; nothing whole, nothing young, and nothing of another run is touched."""

from datetime import UTC, datetime, timedelta

import pytest

from include.storage.store import open_store
from include.storage.sweep import abandon_run, sweep


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return open_store(tmp_path / "root")
    return open_store(f"{request.getfixturevalue('s3_bucket')}/root")


def _half_built(store, version, run_id):
    store.put_json(f"models/{version}/.claim", {"run_id": run_id, "claimed_at": "2026-01-01T00:00:00+00:00"})
    store.put_bytes(f"models/{version}/embeddings.npy", b"half")


def test_abandon_run_removes_only_its_own_half_built_versions_and_staging(store):
    _half_built(store, "v-mine", "r1")
    _half_built(store, "v-other", "r2")
    _half_built(store, "v-whole", "r1")
    store.put_json("models/v-whole/manifest.json", {"version": "v-whole"})
    store.put_json("staging/r1/files/x.json", {})
    assert abandon_run(store, "r1") == ["v-mine"]
    assert store.children("models") == ["v-other", "v-whole"] and store.children("staging") == []


def test_sweep_removes_old_leftovers_only(store):
    _half_built(store, "v-dead", "r1")
    store.put_json("models/v-whole/manifest.json", {"version": "v-whole"})
    store.put_json("staging/r1/files/x.json", {})
    assert sweep(store) == {"versions": [], "staging": [], "uploads": []}, "young leftovers may belong to live runs"
    later = datetime.now(UTC) + timedelta(days=2)
    assert sweep(store, now=later) == {"versions": ["v-dead"], "staging": ["r1"], "uploads": []}
    assert store.children("models") == ["v-whole"]


def test_sweep_aborts_old_incomplete_multipart_uploads(s3_bucket, s3_endpoint):
    import boto3

    store = open_store(f"{s3_bucket}/root")
    client = boto3.client(
        "s3", endpoint_url=s3_endpoint, aws_access_key_id="t", aws_secret_access_key="t", region_name="us-east-1"
    )
    bucket = s3_bucket.removeprefix("s3://")
    client.create_multipart_upload(Bucket=bucket, Key="root/models/v/embeddings.npy")
    client.create_multipart_upload(Bucket=bucket, Key="elsewhere/big.bin")  # not under the data root
    # moto reports every upload as begun in 2010, so only the old case can be shown here
    assert sweep(store, now=datetime.now(UTC) + timedelta(days=2))["uploads"] == ["root/models/v/embeddings.npy"]
    assert [u["Key"] for u in client.list_multipart_uploads(Bucket=bucket)["Uploads"]] == ["elsewhere/big.bin"]
