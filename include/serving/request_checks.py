"""What a request to the models browser may hold, and the errors a bad one causes.

Every name, word, number and file path a user sends passes one of the ``validate_*`` functions
first; each returns the cleaned value or raises :class:`InvalidRequestError` with a message saying
what was wrong. :class:`NotFoundError` and :class:`UnknownWordError` are the answers for names
that are well formed but name nothing, :class:`DamagedVersionError` a version whose files do not
match its manifest, :class:`RequestTooLargeError` a request body over :data:`MAX_BODY_BYTES`. Each
error class carries the HTTP status the app answers with (``status``: 422, 404, 503, 413).

Upper bounds of a request: a word :data:`MAX_WORD_CHARS` characters, ``k`` :data:`MAX_K`, a page
:data:`MAX_PER_PAGE` versions, a reason :data:`MAX_REASON_CHARS` characters, a file path
:data:`MAX_FILE_PATH_CHARS` characters, a POST body :data:`MAX_BODY_BYTES` bytes.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath

#: ``YYYYMMDDTHHMMSSZ-<8 hex>``, the names :func:`include.storage.publish.version_id` gives.
VERSION_NAME = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{8}$")
#: The previous routes' name for ``default@champion``.
LATEST_ALIAS = "latest"
MAX_WORD_CHARS = 100
MAX_K = 100
DEFAULT_K = 10
MAX_PER_PAGE = 200
#: Longest reason a person may give for an alias move (characters).
MAX_REASON_CHARS = 500
#: Longest actor name recorded for an alias move (characters).
MAX_ACTOR_CHARS = 200
#: Longest file path inside a version a download may name (characters).
MAX_FILE_PATH_CHARS = 300
#: Largest request body a POST may send (bytes): an alias, a version and a bounded reason; a larger
#: one is refused with HTTP 413 before it is read or parsed.
MAX_BODY_BYTES = 16 * 1024


class CatalogError(Exception):
    """Base of the errors a user's request can cause; the message says what was wrong."""

    status = 400  #: the HTTP status the app answers with


class InvalidRequestError(CatalogError, ValueError):
    """A malformed version name, word, ``k`` or file name (HTTP 422)."""

    status = 422


class NotFoundError(CatalogError, LookupError):
    """No such version, file, or no promoted version yet (HTTP 404)."""

    status = 404


class UnknownWordError(CatalogError, LookupError):
    """A well-formed word the version's vocabulary does not hold (HTTP 404 in the API)."""

    status = 404


class RequestTooLargeError(CatalogError, ValueError):
    """A request body larger than :data:`MAX_BODY_BYTES` (HTTP 413)."""

    status = 413


class DamagedVersionError(CatalogError):
    """A version whose files do not match its manifest (size or sha256): it is not served (HTTP 503).
    ``damaged`` holds one line per damaged file (expected vs actual)."""

    status = 503

    def __init__(self, version: str, damaged: list[str]) -> None:
        self.version = version
        self.damaged = list(damaged)
        super().__init__(
            f"version {version} is damaged: its files do not match its manifest, so it is not served "
            f"({'; '.join(self.damaged)}); 'python -m include.cli [--model NAME] --version {version} verify' lists them"
        )


def validate_version(name: object, allow_latest: bool = True) -> str:
    """``name`` if it is a version name (or ``"latest"`` when allowed); else :class:`InvalidRequestError`.
    The pattern admits no ``/``, ``..`` or NUL, so a valid name is also a safe folder name."""
    if isinstance(name, str) and (VERSION_NAME.fullmatch(name) or (allow_latest and name == LATEST_ALIAS)):
        return name
    shown = repr(name)[:80]
    raise InvalidRequestError(
        f"version {shown} is not a version name: expected YYYYMMDDTHHMMSSZ-<8 hex digits>"
        + (" or 'latest'" if allow_latest else "")
    )


def validate_word(word: object, what: str = "word") -> str:
    """``word`` stripped of surrounding spaces; :class:`InvalidRequestError` when it is empty, longer
    than :data:`MAX_WORD_CHARS` characters, or holds control characters."""
    if not isinstance(word, str) or not word.strip():
        raise InvalidRequestError(f"{what} is missing: give one word, e.g. {what}=king")
    text = word.strip()
    if len(text) > MAX_WORD_CHARS:
        raise InvalidRequestError(f"{what} is {len(text)} characters long; at most {MAX_WORD_CHARS} are allowed")
    if any(unicodedata.category(char).startswith("C") for char in text):
        raise InvalidRequestError(f"{what} {text[:40]!r} contains control characters")
    return text


def validate_k(k: object) -> int:
    """``k`` as an int in ``1..MAX_K``; :class:`InvalidRequestError` otherwise."""
    try:
        value = int(str(k).strip()) if not isinstance(k, int) else k
    except ValueError:
        value = None
    if value is None or isinstance(k, bool) or not 1 <= value <= MAX_K:
        raise InvalidRequestError(f"k={str(k)[:20]!r} must be a whole number from 1 to {MAX_K}")
    return value


def validate_relative_file(name: object) -> str:
    """A relative POSIX path inside a version folder (e.g. ``keras/embedding.keras``); refuses
    absolute paths, ``..``, empty parts, backslashes, ``%`` (an escape another layer might decode
    into ``..``; no published file has one) and control characters."""
    if not isinstance(name, str) or not name or len(name) > MAX_FILE_PATH_CHARS:
        raise InvalidRequestError("file name is missing or too long")
    path = PurePosixPath(name)
    if (
        path.is_absolute()
        or "\\" in name
        or "%" in name
        or any(part in ("", ".", "..") for part in name.split("/"))
        or any(unicodedata.category(char).startswith("C") for char in name)
    ):
        raise InvalidRequestError(f"file name {name[:80]!r} is not a plain relative path inside a version")
    return str(path)


def validate_reason(reason: object) -> str:
    """The reason a person gives for an alias move, stripped: required, at most
    :data:`MAX_REASON_CHARS` characters, no control characters other than a line break."""
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidRequestError("reason is missing: say why the alias moves (it is kept in the model's history)")
    text = reason.strip()
    if len(text) > MAX_REASON_CHARS:
        raise InvalidRequestError(f"reason is {len(text)} characters long; at most {MAX_REASON_CHARS} are allowed")
    if any(unicodedata.category(c).startswith("C") and c not in "\n\r\t" for c in text):
        raise InvalidRequestError("reason contains control characters")
    return text


def validate_actor(actor: object) -> str:
    """The name an alias move is recorded under, stripped; :class:`InvalidRequestError` when it is
    missing or longer than :data:`MAX_ACTOR_CHARS` characters."""
    if not isinstance(actor, str) or not actor.strip() or len(actor) > MAX_ACTOR_CHARS:
        raise InvalidRequestError("the move's actor (the logged-in user's name) is missing or too long")
    return actor.strip()


def bounded_int(value: object, name: str, low: int, high: int) -> int:
    """``value`` (the query parameter ``name``) as an int, at most ``high``;
    :class:`InvalidRequestError` when it is not a whole number or below ``low``."""
    try:
        number = int(str(value).strip())
    except ValueError:
        raise InvalidRequestError(f"{name}={str(value)[:20]!r} must be a whole number") from None
    if number < low:
        raise InvalidRequestError(f"{name}={number} must be at least {low}")
    return min(number, high)
