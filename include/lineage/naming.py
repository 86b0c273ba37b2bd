"""Dataset namespaces and names as the OpenLineage naming spec defines them for files and object stores.

- an object in a bucket, ``s3://bucket/key``: namespace ``s3://bucket``, name ``key`` (the same for
  ``gs://``, and any ``scheme://authority/path``: namespace ``scheme://authority``, name ``path``);
- a path on a file system, ``/srv/data/x``: namespace ``file://{host}``, name ``/srv/data/x`` (the
  spec's form for a file system that is not only this process's: the same path on two machines is two
  datasets). The host is :func:`include.settings.lineage_file_host`: this machine's name, or one name
  every worker sharing a mounted data root sets, so that what one worker writes is what another reads.
"""

from __future__ import annotations

import os
from typing import NamedTuple
from urllib.parse import urlsplit


class DatasetName(NamedTuple):
    namespace: str
    name: str


def dataset_name(location: str, host: str) -> DatasetName:
    """The OpenLineage namespace and name of ``location``, a local path or a URL (``s3://bucket/key``,
    ``file:///path``); a trailing ``/`` (a folder, a prefix) is dropped."""
    text = str(location).strip()
    if "://" in text and not text.startswith("file://"):
        parts = urlsplit(text)
        return DatasetName(f"{parts.scheme}://{parts.netloc}", parts.path.strip("/"))
    if text.startswith("file://"):
        parts = urlsplit(text)
        host = parts.netloc or host
        text = parts.path
    path = os.path.normpath(text) if text else "/"
    return DatasetName(f"file://{host}", path)
