"""Names in the registry: models, aliases and versions, and their validation."""

from __future__ import annotations

import re

from include.errors import PipelineInputError

#: The model a version belongs to when none is named (and every version of the previous layout).
DEFAULT_MODEL = "default"
#: The alias consumers load by default; moved by the quality gate or an explicit, recorded promote.
CHAMPION = "champion"

#: A model or alias name: lowercase letters, digits, ``-`` and ``_``, 1 to 64 characters, starting
#: with a letter or digit. Never a version name (those hold upper-case ``T`` and ``Z``).
SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
SLUG = re.compile(SLUG_PATTERN)
#: ``YYYYMMDDTHHMMSSZ-<8 hex>`` (:func:`include.storage.publish.version_id`).
VERSION_NAME = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{8}$")


def _check_slug(value: object, field: str) -> str:
    if not isinstance(value, str) or not SLUG.fullmatch(value):
        raise PipelineInputError(
            f"{field} {value!r} is not a valid name: use 1 to 64 lowercase letters, digits, '-' or '_', "
            "starting with a letter or digit (for example 'default', 'news-en', 'pinned-2026q4')"
        )
    return value


def check_model_name(value: object, field: str = "model") -> str:
    """``value`` when it is a valid model name, else :class:`PipelineInputError` naming ``field``."""
    return _check_slug(value, field)


def check_alias_name(value: object, field: str = "alias") -> str:
    """``value`` when it is a valid alias name, else :class:`PipelineInputError` naming ``field``."""
    return _check_slug(value, field)


def check_version_name(value: object, field: str = "version") -> str:
    """``value`` when it is a well-formed version name, else :class:`PipelineInputError` naming ``field``."""
    if not isinstance(value, str) or not VERSION_NAME.fullmatch(value):
        raise PipelineInputError(
            f"{field} {value!r} is not a version name (YYYYMMDDTHHMMSSZ-<8 hex>, as 'versions' lists them)"
        )
    return value


def model_of(manifest: dict) -> str:
    """The model a version manifest belongs to: its ``"model"``, or ``default`` for a version
    published by the previous layout (which had no model names)."""
    return manifest.get("model") or DEFAULT_MODEL
