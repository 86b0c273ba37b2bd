"""Where things live: the data root, the allowed corpus roots, and corpus path confinement.

The data root is ``EMBEDDINGS_DATA_DIR`` (default ``data/`` under the project root, never the
working directory). A ``corpus_path`` must resolve, after symlinks, to the bundled corpus or to a
path inside the data root or a root listed in ``EMBEDDINGS_CORPUS_ROOTS`` (``os.pathsep``-separated).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
from pathlib import Path

from include.errors import PipelineInputError

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


def allowed_roots() -> list[Path]:
    """Real paths a corpus may come from: the data root, each bundled corpus file, ``EMBEDDINGS_CORPUS_ROOTS``."""
    roots = [] if "://" in data_root_location() else [data_root()]
    roots += [bundled_corpus_path(name) for name in sorted(BUNDLED_CORPORA)]
    extra = os.environ.get("EMBEDDINGS_CORPUS_ROOTS", "")
    roots += [PROJECT_ROOT / Path(entry.strip()).expanduser() for entry in extra.split(os.pathsep) if entry.strip()]
    return [Path(os.path.realpath(root)) for root in roots]


def is_within(path: Path, root: Path) -> bool:
    """True when ``path`` is ``root`` or lies under it (both taken as given: resolve them first)."""
    return path == root or root in path.parents


def resolve_corpus_path(corpus_path: object) -> Path:
    """Turn the ``corpus_path`` Param into a real, confined, existing path.

    Accepts ``bundled:<name>``, an absolute path, or a path relative to the data root.
    Raises :class:`PipelineInputError` naming the path (and the allowed roots) when it is empty,
    outside every allowed root after resolving symlinks, or missing.
    """
    if not isinstance(corpus_path, str) or not corpus_path.strip():
        raise PipelineInputError(f"corpus_path must be a non-empty string, got {corpus_path!r}")
    text = corpus_path.strip()
    if text.startswith(BUNDLED_PREFIX):
        candidate = bundled_corpus_path(text[len(BUNDLED_PREFIX) :])
    else:
        candidate = Path(text).expanduser()
        if not candidate.is_absolute():
            candidate = data_root() / candidate
    try:
        real = Path(os.path.realpath(candidate))
    except (ValueError, OSError) as error:  # e.g. an embedded NUL byte
        raise PipelineInputError(f"corpus_path {corpus_path!r} is not a usable path: {error}") from error
    roots = allowed_roots()
    if not any(is_within(real, root) for root in roots):
        shown = ", ".join(str(root) for root in roots)
        raise PipelineInputError(
            f"corpus_path '{corpus_path}' resolves to '{real}', outside the allowed roots ({shown}); "
            "add its folder to EMBEDDINGS_CORPUS_ROOTS to allow it"
        )
    if not real.exists():
        raise PipelineInputError(f"corpus_path '{corpus_path}' does not exist (resolved to '{real}')")
    return real


def corpus_id(resolved_corpus: Path) -> str:
    """Stable, readable id of a resolved corpus path: ``<name>-<8 hex of the path's sha1>``."""
    digest = hashlib.sha1(str(resolved_corpus).encode("utf-8")).hexdigest()[:8]
    return f"{safe_name(resolved_corpus.stem) or 'corpus'}-{digest}"
