"""The S3 server the tests start: scripts/s3_server.py (moto_server on 127.0.0.1, fake keys)."""

import hashlib
import json

from scripts.s3_server import FAKE_KEYS, create_bucket, free_port, moto_server, s3_env


def s3_client(endpoint: str):
    """A boto3 S3 client of the server at ``endpoint`` (fake keys), for a test to set up and inspect a bucket."""
    import boto3

    return boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="t", aws_secret_access_key="t", region_name="us-east-1"
    )


def bucket_objects(endpoint: str, bucket: str) -> dict[str, bytes]:
    """Every object of ``bucket`` on the server at ``endpoint``: key -> bytes (what a test asserts on)."""
    client = s3_client(endpoint)
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    keys = [entry["Key"] for page in pages for entry in page.get("Contents", [])]
    return {key: client.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}


def assert_one_whole_champion(
    objects: dict[str, bytes], root: str = "embeddings", model: str = "default"
) -> tuple[str, dict]:
    """In a bucket's ``objects`` (key -> bytes) with the data root at ``root``: ``model``'s champion
    version holds every file its manifest lists, with the listed size and sha256, no ``LATEST``
    pointer is left, and no other version folder is beside it (nothing half-built). Returns the
    champion's version and its manifest."""
    champion = objects[f"{root}/registry/{model}/aliases/champion"].decode().strip()
    assert f"{root}/models/LATEST" not in objects
    manifest = json.loads(objects[f"{root}/models/{champion}/manifest.json"])
    for name, entry in manifest["files"].items():
        data = objects[f"{root}/models/{champion}/{name}"]
        assert len(data) == entry["bytes"] and hashlib.sha256(data).hexdigest() == entry["sha256"], name
    depth = root.count("/") + 2  # <root>/models/<version>/<file>
    versions = {
        key.split("/")[depth] for key in objects if key.startswith(f"{root}/models/") and key.count("/") > depth
    }
    assert versions == {champion}, f"one version, and no half-built one beside it: {sorted(versions)}"
    return champion, manifest


def put_objects(endpoint: str, bucket: str, objects: dict[str, bytes]) -> None:
    """Write each ``key -> bytes`` of ``objects`` into ``bucket`` (replacing what is there)."""
    client = s3_client(endpoint)
    for key, data in objects.items():
        client.put_object(Bucket=bucket, Key=key, Body=data)


__all__ = [
    "FAKE_KEYS",
    "bucket_objects",
    "create_bucket",
    "free_port",
    "moto_server",
    "put_objects",
    "s3_client",
    "s3_env",
]
