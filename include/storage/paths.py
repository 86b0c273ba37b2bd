"""Where things live: the data root, the allowed corpus roots, and corpus path confinement.

The data root is ``EMBEDDINGS_DATA_DIR`` (default ``data/`` under the project root, never the
working directory), a local folder or an object-store URL. A ``corpus_path`` must lie inside an
allowed root: the data root, the bundled corpus, or a root listed in ``EMBEDDINGS_CORPUS_ROOTS``
(entries separated by commas or ``os.pathsep``, a ``scheme://`` kept whole: see :func:`split_roots`).

- A local path is confined after resolving every symlink (its real path must lie under a root's).
- A URL (``s3://bucket/prefix``) is confined by key prefix: normalised (:func:`normalise_url`:
  no empty or ``.`` segments, ``..`` refused), it must equal a URL root or continue it after a
  ``/``, so ``s3://corpora/texts2`` is not under ``s3://corpora/texts``. Object stores have no
  links, so the key is all there is to check.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
from pathlib import Path, PurePosixPath

from include.errors import PipelineInputError
from include.storage.store import is_url

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BUNDLED_PREFIX = "bundled:"
#: Corpora shipped inside the gensim package, addressed as ``bundled:<name>``.
BUNDLED_CORPORA = {"lee": "lee_background.cor"}
DEFAULT_CORPUS = "bundled:lee"


def data_root_location() -> str:
    """``$EMBEDDINGS_DATA_DIR`` as an absolute local path or an object-store URL (``s3://bucket/prefix``)."""
    configured = os.environ.get("EMBEDDINGS_DATA_DIR", "").strip()
    if "://" in configured and not configured.startswith("file://"):
        return configured.rstrip("/")
    return str(data_root())


def data_root() -> Path:
    """Absolute local data root: ``$EMBEDDINGS_DATA_DIR`` (relative values are taken from the project
    root). For an object-store data root, the local folder corpora are resolved against instead."""
    configured = os.environ.get("EMBEDDINGS_DATA_DIR", "").strip().removeprefix("file://")
    if "://" in configured:
        configured = ""
    root = Path(configured).expanduser() if configured else Path("data")
    if not root.is_absolute():
        root = PROJECT_ROOT / root
    return Path(os.path.abspath(root))


def safe_name(text: str) -> str:
    """``text`` reduced to ``[A-Za-z0-9._-]`` so it is a portable folder name (no ``:`` or ``+``)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")
    return cleaned or "run"


def bundled_corpus_path(name: str) -> Path:
    """Path of a corpus shipped in gensim's test data, located without importing gensim."""
    if name not in BUNDLED_CORPORA:
        known = ", ".join(BUNDLED_PREFIX + key for key in sorted(BUNDLED_CORPORA))
        raise PipelineInputError(f"corpus_path '{BUNDLED_PREFIX}{name}' is not a bundled corpus; known: {known}")
    spec = importlib.util.find_spec("gensim")
    if spec is None or not spec.submodule_search_locations:
        raise PipelineInputError("corpus_path 'bundled:...' needs the gensim package, which is not installed")
    return Path(spec.submodule_search_locations[0]) / "test" / "test_data" / BUNDLED_CORPORA[name]


#: Separates the entries of ``EMBEDDINGS_CORPUS_ROOTS``: a comma, or ``os.pathsep`` unless it is the
#: colon of a ``scheme://``.
_ROOTS_SEPARATOR = re.compile(rf",|{re.escape(os.pathsep)}(?!//)")


def split_roots(text: str) -> list[str]:
    """The entries of a list of roots, in order, blanks dropped: separated by commas or ``os.pathsep``,
    a ``scheme://`` kept whole. ``split_roots("s3://a/b:/srv/x")`` is ``["s3://a/b", "/srv/x"]``, and
    so is ``split_roots("s3://a/b, /srv/x")``."""
    return [entry.strip() for entry in _ROOTS_SEPARATOR.split(text) if entry.strip()]


def is_remote(location: str) -> bool:
    """True for an object-store URL (``s3://…``, ``gs://…``), false for a local path or ``file://``."""
    return is_url(location) and not location.startswith("file://")


def normalise_url(url: str, what: str = "corpus_path") -> str:
    """``url`` as ``scheme://segment/…``: the scheme lowercased, empty and ``.`` segments and a trailing
    ``/`` dropped, so one key prefix has one spelling. Raises :class:`PipelineInputError` naming ``what``
    and ``url`` for a ``..`` segment (a key prefix cannot be confined past one) or no bucket."""
    scheme, _, rest = url.strip().partition("://")
    segments = [segment for segment in rest.split("/") if segment not in ("", ".")]
    if ".." in segments:
        raise PipelineInputError(
            f"{what} '{url}' has a '..' segment; object-store locations are confined by key prefix, "
            "so '..' is refused: name the location without it"
        )
    if not segments:
        raise PipelineInputError(f"{what} '{url}' names no bucket (expected {scheme}://bucket/prefix)")
    return f"{scheme.lower()}://{'/'.join(segments)}"


def lies_under(location: str, root: str) -> bool:
    """True when ``location`` is ``root`` or continues it after a ``/`` (both normalised: real local
    paths or :func:`normalise_url` URLs), so ``s3://b/texts2`` does not lie under ``s3://b/texts``."""
    return location == root or location.startswith(root.rstrip("/") + "/")


def allowed_roots() -> list[Path]:
    """Real local paths a corpus may come from: the data root (when local), each bundled corpus file,
    the local entries of ``EMBEDDINGS_CORPUS_ROOTS`` (relative ones taken from the project root)."""
    roots = [] if is_remote(data_root_location()) else [data_root()]
    roots += [bundled_corpus_path(name) for name in sorted(BUNDLED_CORPORA)]
    local = [entry.removeprefix("file://") for entry in corpus_root_entries() if not is_remote(entry)]
    roots += [PROJECT_ROOT / Path(entry).expanduser() for entry in local]
    return [Path(os.path.realpath(root)) for root in roots]


def allowed_url_roots() -> list[str]:
    """Normalised URLs a corpus may come from: the data root (when it is a URL) and the URL entries of
    ``EMBEDDINGS_CORPUS_ROOTS``."""
    location = data_root_location()
    roots = [normalise_url(location, "EMBEDDINGS_DATA_DIR")] if is_remote(location) else []
    entries = [entry for entry in corpus_root_entries() if is_remote(entry)]
    return roots + [normalise_url(entry, "EMBEDDINGS_CORPUS_ROOTS entry") for entry in entries]


def corpus_root_entries() -> list[str]:
    """``EMBEDDINGS_CORPUS_ROOTS`` split into its entries (:func:`split_roots`)."""
    return split_roots(os.environ.get("EMBEDDINGS_CORPUS_ROOTS", ""))


def is_within(path: Path, root: Path) -> bool:
    """True when ``path`` is ``root`` or lies under it (both taken as given: resolve them first)."""
    return path == root or root in path.parents


def resolve_corpus_path(corpus_path: object) -> Path | str:
    """Turn the ``corpus_path`` Param into a confined location: a real, existing local path, or a
    normalised URL.

    Accepts ``bundled:<name>``, an absolute path (or ``file://`` URL), an object-store URL
    (``s3://bucket/prefix``), or a path relative to the data root (a URL under it when the data root
    is one). Raises :class:`PipelineInputError` naming the path and the allowed roots when it is
    empty or outside every allowed root (local paths after resolving symlinks, URLs by key prefix,
    ``..`` refused), or naming it when a local path is missing (a URL's existence is checked by
    :func:`include.storage.corpus_location.resolve_corpus`, which reads it).
    """
    if not isinstance(corpus_path, str) or not corpus_path.strip():
        raise PipelineInputError(f"corpus_path must be a non-empty string, got {corpus_path!r}")
    text = corpus_path.strip().removeprefix("file://")
    if is_remote(text):
        return _confined_url(corpus_path, normalise_url(text))
    if text.startswith(BUNDLED_PREFIX):
        candidate = bundled_corpus_path(text[len(BUNDLED_PREFIX) :])
    else:
        candidate = Path(text).expanduser()
        if not candidate.is_absolute():
            if is_remote(data_root_location()):
                return _confined_url(corpus_path, normalise_url(f"{data_root_location()}/{text}"))
            candidate = data_root() / candidate
    try:
        real = Path(os.path.realpath(candidate))
    except (ValueError, OSError) as error:  # e.g. an embedded NUL byte
        raise PipelineInputError(f"corpus_path {corpus_path!r} is not a usable path: {error}") from error
    if not any(is_within(real, root) for root in allowed_roots()):
        raise _outside_the_roots(corpus_path, str(real))
    if not real.exists():
        raise PipelineInputError(f"corpus_path '{corpus_path}' does not exist (resolved to '{real}')")
    return real


def _confined_url(corpus_path: str, url: str) -> str:
    if not any(lies_under(url, root) for root in allowed_url_roots()):
        raise _outside_the_roots(corpus_path, url)
    return url


def _outside_the_roots(corpus_path: str, resolved: str) -> PipelineInputError:
    shown = ", ".join([*(str(root) for root in allowed_roots()), *allowed_url_roots()])
    return PipelineInputError(
        f"corpus_path '{corpus_path}' resolves to '{resolved}', outside the allowed roots ({shown}); "
        "add its folder (or URL prefix) to EMBEDDINGS_CORPUS_ROOTS to allow it"
    )


def corpus_id(resolved_corpus: Path | str) -> str:
    """Stable, readable id of a resolved corpus location (a real path or a normalised URL):
    ``<name>-<8 hex of the location's sha1>``."""
    digest = hashlib.sha1(str(resolved_corpus).encode("utf-8")).hexdigest()[:8]
    return f"{safe_name(PurePosixPath(str(resolved_corpus)).stem) or 'corpus'}-{digest}"
