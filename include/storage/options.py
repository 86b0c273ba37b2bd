"""The fsspec/s3fs options an object store is opened with, from the environment or a connection's fields.

:func:`storage_options_from_env` reads ``EMBEDDINGS_STORAGE_OPTIONS``; :func:`storage_options`
turns a connection's login, password and extra (e.g. an Airflow connection such as ``aws_default``)
into options, and :func:`storage_options_from_connection` does so for any object that has them.
Nothing here knows Airflow: the operators fetch the connection and pass it in.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any, Protocol

from include.storage.store_interface import StorageConfigError


class ConnectionFields(Protocol):
    """What :func:`storage_options_from_connection` reads of a connection (Airflow's has these)."""

    @property
    def login(self) -> str | None: ...

    @property
    def password(self) -> str | None: ...

    @property
    def extra_dejson(self) -> dict: ...


def storage_options_from_env() -> dict:
    """``EMBEDDINGS_STORAGE_OPTIONS`` as a dict (JSON object); ``{}`` when unset."""
    raw = os.environ.get("EMBEDDINGS_STORAGE_OPTIONS", "").strip()
    if not raw:
        return {}
    try:
        options = json.loads(raw)
    except ValueError as error:
        raise StorageConfigError(f"EMBEDDINGS_STORAGE_OPTIONS is not valid JSON: {error}") from error
    if not isinstance(options, dict):
        raise StorageConfigError("EMBEDDINGS_STORAGE_OPTIONS must be a JSON object of fsspec options")
    return options


def storage_options(
    login: str | None = None, password: str | None = None, extra: Mapping[str, Any] | None = None
) -> dict:
    """fsspec/s3fs options from a connection's fields: ``login`` and ``password`` as the access key
    and secret, the ``extra``'s ``endpoint_url``, ``region_name`` (both into ``client_kwargs``) and
    ``aws_session_token``, and any ``storage_options`` in the ``extra`` passed on as they are (e.g.
    ``s3_additional_kwargs`` for SSE-KMS, ``config_kwargs`` for path-style addressing). Empty
    fields add nothing; the result is a new dict (``extra`` is not changed)."""
    extra = extra or {}
    options: dict = dict(extra.get("storage_options", {}))
    if login:
        options["key"] = login
    if password:
        options["secret"] = password
    if extra.get("aws_session_token"):
        options["token"] = extra["aws_session_token"]
    client = dict(options.get("client_kwargs", {}))
    for name in ("endpoint_url", "region_name"):
        if extra.get(name):
            client[name] = extra[name]
    if client:
        options["client_kwargs"] = client
    return options


def storage_options_from_connection(connection: ConnectionFields) -> dict:
    """:func:`storage_options` of a connection's ``login``, ``password`` and ``extra_dejson``."""
    return storage_options(connection.login, connection.password, connection.extra_dejson)
