"""Storage options: from ``EMBEDDINGS_STORAGE_OPTIONS`` and from a connection's fields, without Airflow."""

from types import SimpleNamespace

import pytest

from include.storage.options import storage_options, storage_options_from_connection, storage_options_from_env
from include.storage.store import StorageConfigError


def test_a_connection_s_fields_become_s3fs_options():
    extra = {
        "endpoint_url": "http://127.0.0.1:9000",
        "region_name": "eu-west-1",
        "aws_session_token": "session",
        "storage_options": {
            "s3_additional_kwargs": {"ServerSideEncryption": "aws:kms"},
            "client_kwargs": {"verify": False},
        },
    }
    options = storage_options("AKIA", "secret", extra)
    assert options == {
        "key": "AKIA",
        "secret": "secret",
        "token": "session",
        "s3_additional_kwargs": {"ServerSideEncryption": "aws:kms"},
        "client_kwargs": {"verify": False, "endpoint_url": "http://127.0.0.1:9000", "region_name": "eu-west-1"},
    }
    assert extra["storage_options"]["client_kwargs"] == {"verify": False}, "the extra is not changed"


def test_empty_fields_add_nothing():
    assert storage_options() == {}
    assert storage_options(None, "", {"endpoint_url": "", "storage_options": {}}) == {}


def test_any_object_with_login_password_and_extra_dejson_is_a_connection():
    connection = SimpleNamespace(login="AKIA", password=None, extra_dejson={"region_name": "us-east-1"})
    assert storage_options_from_connection(connection) == {"key": "AKIA", "client_kwargs": {"region_name": "us-east-1"}}


def test_options_from_the_environment(monkeypatch):
    monkeypatch.delenv("EMBEDDINGS_STORAGE_OPTIONS", raising=False)
    assert storage_options_from_env() == {}
    monkeypatch.setenv("EMBEDDINGS_STORAGE_OPTIONS", '{"config_kwargs": {"s3": {"addressing_style": "path"}}}')
    assert storage_options_from_env() == {"config_kwargs": {"s3": {"addressing_style": "path"}}}
    monkeypatch.setenv("EMBEDDINGS_STORAGE_OPTIONS", "{not json")
    with pytest.raises(StorageConfigError, match="EMBEDDINGS_STORAGE_OPTIONS is not valid JSON"):
        storage_options_from_env()
    monkeypatch.setenv("EMBEDDINGS_STORAGE_OPTIONS", "[1]")
    with pytest.raises(StorageConfigError, match="EMBEDDINGS_STORAGE_OPTIONS must be a JSON object"):
        storage_options_from_env()
