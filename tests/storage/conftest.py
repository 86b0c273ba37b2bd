"""Fixtures of the storage tests: one contract, every backend."""

import pytest

from include.storage.store import open_store


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    """An empty data root's store: a local folder, then a prefix of a fresh bucket on a real S3 server."""
    if request.param == "local":
        return open_store(tmp_path / "root")
    bucket = request.getfixturevalue("s3_bucket")
    return open_store(f"{bucket}/prefix")
