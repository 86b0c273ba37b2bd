"""Checks on a DAG run's configuration that JSON-schema Params cannot express."""

from __future__ import annotations

from collections.abc import Iterable

from include.errors import PipelineInputError


def check_conf_keys(conf: dict, known: Iterable[str]) -> None:
    """Refuse conf keys that are not Params (a typo such as ``epoch`` would otherwise be ignored)."""
    known_keys = sorted(known)
    unknown = sorted(key for key in conf if key not in known_keys)
    if unknown:
        raise PipelineInputError(
            f"unknown DAG run conf key(s) {', '.join(map(repr, unknown))}; known keys: {', '.join(known_keys)}"
        )
