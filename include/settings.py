"""Deployment settings read from the environment (not per-run Params): retention and pruning."""

from __future__ import annotations

import os

from include.errors import PipelineInputError


def _non_negative_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise PipelineInputError(f"environment variable {name}={raw!r} must be a whole number >= 0")
    return value


def token_retention_days() -> int:
    """``EMBEDDINGS_TOKEN_RETENTION_DAYS`` (default 90): token partitions older than this many
    days before a run's window end are deleted; 0 keeps them all."""
    return _non_negative_int("EMBEDDINGS_TOKEN_RETENTION_DAYS", 90)


def keep_versions() -> int:
    """``EMBEDDINGS_KEEP_VERSIONS`` (default 20): model versions kept; older ones are deleted,
    never the one ``LATEST`` names; 0 keeps them all."""
    return _non_negative_int("EMBEDDINGS_KEEP_VERSIONS", 20)
