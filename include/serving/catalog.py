"""What the Airflow UI shows of the published model versions: the version list, neighbour and
similarity search, artifact downloads, and the checks on every name and word a user sends.

Pure library code (no Airflow, no gensim, no TensorFlow): reads ``manifest.json``, ``vocab.json``
and ``embeddings.npy`` (memory-mapped, ``allow_pickle=False``) through an :class:`ArtifactSource`,
so an object-store backend can later fetch files into a bounded local cache
(:class:`BoundedFileCache`) behind the same interface. Never moves ``LATEST``, never deletes a version.

>>> catalog = Catalog(data_root_source())                 # EMBEDDINGS_DATA_DIR, local or s3://
>>> [row.version for row in catalog.summaries()]      # newest data time first
['20261102T000000Z-1a2b3c4d', '20261101T000000Z-9f8e7d6c']
>>> catalog.neighbours("latest", "king", k=3)["neighbours"]   # [[word, cosine], ...], 6 decimals
>>> catalog.similarity("latest", "king", "queen")["cosine"]   # a float in [-1, 1]
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Protocol

import numpy as np

from include.artifacts.embeddings import EMBEDDINGS_FILE, VOCAB_FILE, Embeddings, load_embeddings
from include.storage.layout import MANIFEST_FILE, data_store, version_key
from include.storage.store import LocalStore, Store
from include.storage.versions import list_versions, read_latest

#: ``YYYYMMDDTHHMMSSZ-<8 hex>``, the names :func:`include.storage.publish.version_id` gives.
VERSION_NAME = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{8}$")
LATEST_ALIAS = "latest"
MAX_WORD_CHARS = 100
MAX_K = 100
DEFAULT_K = 10
MAX_PER_PAGE = 200
#: Report files served to a browser (the report folder holds nothing else today).
REPORT_FILES = ("report.html", "report.json")


class CatalogError(Exception):
    """Base of the errors a user's request can cause; the message says what was wrong."""


class InvalidRequestError(CatalogError, ValueError):
    """A malformed version name, word, ``k`` or file name (HTTP 422)."""


class NotFoundError(CatalogError, LookupError):
    """No such version, file, or no promoted version yet (HTTP 404)."""


class UnknownWordError(CatalogError, LookupError):
    """A well-formed word the version's vocabulary does not hold (HTTP 404 in the API)."""


# --------------------------------------------------------------------------- validation


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
    absolute paths, ``..``, empty parts, backslashes and control characters."""
    if not isinstance(name, str) or not name or len(name) > 300:
        raise InvalidRequestError("file name is missing or too long")
    path = PurePosixPath(name)
    if (
        path.is_absolute()
        or "\\" in name
        or any(part in ("", ".", "..") for part in name.split("/"))
        or any(unicodedata.category(char).startswith("C") for char in name)
    ):
        raise InvalidRequestError(f"file name {name[:80]!r} is not a plain relative path inside a version")
    return str(path)


# --------------------------------------------------------------------------- where files come from


class ArtifactSource(Protocol):
    """Read access to published versions. ``local_file`` returns a local path to read (the file
    itself for a local data root; a copy in a bounded cache for an object store)."""

    def manifests(self) -> list[dict]:
        """Every whole version's manifest (a version is whole when its manifest exists)."""
        ...

    def latest(self) -> str | None:
        """The version ``LATEST`` names, or ``None`` before the first promotion."""
        ...

    def local_file(self, version: str, relative: str) -> Path:
        """A local path holding ``<version>/<relative>``; :class:`NotFoundError` when missing."""
        ...


class StoreArtifactSource:
    """The published versions of a data root's :class:`~include.storage.store.Store`, through the
    same storage layer as the pipeline. A local root's files are read in place; an object store's
    through ``cache`` (a :class:`BoundedFileCache`), so memory-mapping works on local copies."""

    def __init__(self, store: Store, cache: BoundedFileCache | None = None) -> None:
        self.store = store
        self.cache = cache

    def manifests(self) -> list[dict]:
        return list_versions(self.store)

    def latest(self) -> str | None:
        return read_latest(self.store)

    def local_file(self, version: str, relative: str) -> Path:
        version = validate_version(version, allow_latest=False)
        relative = validate_relative_file(relative)
        prefix = version_key(version)
        if not self.store.exists(f"{prefix}/{MANIFEST_FILE}"):
            raise NotFoundError(f"no published model version {version}")
        if isinstance(self.store, LocalStore):
            folder = self.store.path(prefix)
            # symlinks inside a version could point anywhere: serve only what really lies inside it
            real, root = Path(os.path.realpath(folder / relative)), Path(os.path.realpath(folder))
            if root not in real.parents or not real.is_file():
                raise NotFoundError(f"version {version} has no file {relative}")
            return real
        if not self.store.exists(f"{prefix}/{relative}"):
            raise NotFoundError(f"version {version} has no file {relative}")
        cache = self.cache or serving_cache()
        return cache.fetch(
            f"{version}/{relative}", lambda partial: self.store.download(f"{prefix}/{relative}", partial)
        )


def LocalArtifactSource(models: Path) -> StoreArtifactSource:
    """The versions under a local ``models/`` folder: the store of its parent, the data root."""
    return StoreArtifactSource(LocalStore(Path(models).parent))


def data_root_source() -> StoreArtifactSource:
    """The versions of ``EMBEDDINGS_DATA_DIR`` (an object store's through :func:`serving_cache`)."""
    store = data_store()
    return StoreArtifactSource(store, None if isinstance(store, LocalStore) else serving_cache())


class BoundedFileCache:
    """Local copies of remote files in ``folder``, at most ``max_bytes`` in total, least recently
    used evicted first: the piece an object-store :class:`ArtifactSource` reads through.

    ``fetch(key, download)`` returns the cached path of ``key`` (a relative path such as
    ``<version>/embeddings.npy``), calling ``download(destination)`` to fill it on a miss. A file
    larger than ``max_bytes`` is still fetched (and evicted on the next miss). Files of a version
    are immutable, so a cached copy never goes stale.
    """

    def __init__(self, folder: Path, max_bytes: int) -> None:
        if max_bytes <= 0:
            raise ValueError(f"cache size must be positive, got {max_bytes}")
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._used: OrderedDict[str, int] = OrderedDict()  # key -> bytes, least recently used first
        self.folder.mkdir(parents=True, exist_ok=True)
        for path in sorted(self.folder.rglob("*"), key=lambda p: p.stat().st_mtime):
            if path.is_file() and not path.name.endswith(".part"):
                self._used[str(path.relative_to(self.folder))] = path.stat().st_size

    @property
    def used_bytes(self) -> int:
        return sum(self._used.values())

    def fetch(self, key: str, download: Callable[[Path], None]) -> Path:
        key = validate_relative_file(key)
        path = self.folder / key
        with self._lock:
            if key in self._used and path.is_file():
                self._used.move_to_end(key)
                return path
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(path.name + ".part")
            download(partial)
            size = partial.stat().st_size
            while self._used and self.used_bytes + size > self.max_bytes:
                old_key, _ = self._used.popitem(last=False)
                (self.folder / old_key).unlink(missing_ok=True)
            os.replace(partial, path)
            self._used[key] = size
            return path

    def clear(self) -> None:
        with self._lock:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder.mkdir(parents=True, exist_ok=True)
            self._used.clear()


#: Environment variables sizing the local cache an object-store source reads through.
CACHE_DIR_VARIABLE = "EMBEDDINGS_SERVING_CACHE_DIR"
CACHE_MB_VARIABLE = "EMBEDDINGS_SERVING_CACHE_MB"
DEFAULT_CACHE_MB = 2048


def serving_cache() -> BoundedFileCache:
    """The api-server's cache of remote version files: folder ``$EMBEDDINGS_SERVING_CACHE_DIR``
    (default ``<temp dir>/word2vec-serving-cache``), size ``$EMBEDDINGS_SERVING_CACHE_MB``
    megabytes (default 2048). Raises :class:`ValueError` naming the variable for a bad size."""
    import tempfile

    folder = os.environ.get(CACHE_DIR_VARIABLE, "").strip() or str(
        Path(tempfile.gettempdir()) / "word2vec-serving-cache"
    )
    raw = os.environ.get(CACHE_MB_VARIABLE, "").strip() or str(DEFAULT_CACHE_MB)
    try:
        megabytes = int(raw)
    except ValueError:
        megabytes = 0
    if megabytes <= 0:
        raise ValueError(f"{CACHE_MB_VARIABLE}={raw!r} must be a whole number of megabytes > 0")
    return BoundedFileCache(Path(folder).expanduser(), megabytes * 1024 * 1024)


# --------------------------------------------------------------------------- the catalog


@dataclass(frozen=True)
class VersionSummary:
    """One row of the versions page."""

    version: str
    corpus_id: str | None
    data_time: str | None
    vocab_size: int | None
    wordsim353: float | None
    simlex999: float | None
    analogies: float | None
    decision: str | None
    reason: str | None
    run_id: str | None
    is_latest: bool
    files: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict:
        return {**self.__dict__, "files": list(self.files)}


@dataclass(frozen=True)
class LoadedVersion:
    """A version's embeddings (memory-mapped, read through the page cache) and each row's
    length (float32, one per word: the only copy held in memory)."""

    version: str
    embeddings: Embeddings
    norms: np.ndarray

    def cosine(self, i: int, j: int) -> float:
        """Cosine of rows ``i`` and ``j`` (0 when either is a zero row)."""
        vectors = self.embeddings.vectors
        scale = float(self.norms[i]) * float(self.norms[j])
        dot = float(np.dot(np.asarray(vectors[i], dtype=np.float64), np.asarray(vectors[j], dtype=np.float64)))
        return dot / scale if scale > 0 else 0.0

    def cosines(self, index: int) -> np.ndarray:
        """Cosine of row ``index`` with every row (float32; 0 against a zero row)."""
        vectors = self.embeddings.vectors
        dots = np.asarray(vectors @ np.asarray(vectors[index], dtype=np.float32), dtype=np.float32)
        scale = self.norms * self.norms[index]
        return np.divide(dots, scale, out=np.zeros_like(dots), where=scale > 0)


def _score(evaluation: dict, name: str, key: str) -> float | None:
    value = (evaluation.get(name) or {}).get(key)
    return float(value) if isinstance(value, int | float) else None


def summarize(manifest: dict, latest: str | None) -> VersionSummary:
    """The page row of one version's manifest (missing facts become ``None``)."""
    evaluation = manifest.get("evaluation") or {}
    gate = manifest.get("gate") or {}
    training = manifest.get("training") or {}
    vocab_size = training.get("vocab_size")
    return VersionSummary(
        version=manifest["version"],
        corpus_id=manifest.get("corpus_id"),
        data_time=manifest.get("data_time"),
        vocab_size=int(vocab_size) if isinstance(vocab_size, int | float) else None,
        wordsim353=_score(evaluation, "wordsim353", "spearman"),
        simlex999=_score(evaluation, "simlex999", "spearman"),
        analogies=_score(evaluation, "analogies", "accuracy"),
        decision=gate.get("decision"),
        reason=gate.get("reason"),
        run_id=manifest.get("run_id"),
        is_latest=manifest["version"] == latest,
        files=tuple(sorted(manifest.get("files") or {})),
    )


class Catalog:
    """Version listing and search over an :class:`ArtifactSource`. Loaded versions are cached
    (at most ``max_loaded`` at once, least recently used dropped); the matrix stays memory-mapped,
    only its row lengths (``n_words`` floats) are held in memory."""

    def __init__(self, source: ArtifactSource, max_loaded: int = 2) -> None:
        self.source = source
        self.max_loaded = max(1, max_loaded)
        self._loaded: OrderedDict[str, LoadedVersion] = OrderedDict()
        self._lock = threading.Lock()

    # ----------------------------------------------------------- listing

    def summaries(self) -> list[VersionSummary]:
        """Every published version of every corpus, newest data time first (ties: newest name first)."""
        latest = self.source.latest()
        rows = [summarize(m, latest) for m in self.source.manifests() if VERSION_NAME.fullmatch(m.get("version", ""))]
        return sorted(rows, key=lambda row: (row.data_time or "", row.version), reverse=True)

    def page(self, page: object = 1, per_page: object = 50) -> dict:
        """``{"versions": [...], "page", "per_page", "pages", "total", "latest"}``, pages counted from 1."""
        per_page = _bounded_int(per_page, "per_page", 1, MAX_PER_PAGE)
        rows = self.summaries()
        pages = max(1, -(-len(rows) // per_page))
        page = _bounded_int(page, "page", 1, pages)
        start = (page - 1) * per_page
        return {
            "versions": rows[start : start + per_page],
            "page": page,
            "per_page": per_page,
            "pages": pages,
            "total": len(rows),
            "latest": self.source.latest(),
        }

    def resolve(self, version: object) -> str:
        """A validated, published version name; ``"latest"`` becomes the version ``LATEST`` names."""
        name = validate_version(version)
        if name == LATEST_ALIAS:
            latest = self.source.latest()
            if not latest:
                raise NotFoundError("no version has been promoted yet, so there is no LATEST")
            return latest
        if not any(m.get("version") == name for m in self.source.manifests()):
            raise NotFoundError(f"no published model version {name}")
        return name

    def summary(self, version: object) -> VersionSummary:
        """The row of one version (``latest`` allowed)."""
        name = self.resolve(version)
        manifest = next(m for m in self.source.manifests() if m.get("version") == name)
        return summarize(manifest, self.source.latest())

    def file(self, version: object, relative: object) -> Path:
        """Local path of a file the version's manifest lists (an artifact download); the manifest
        itself is allowed too. :class:`NotFoundError` for anything else."""
        name = self.resolve(version)
        relative = validate_relative_file(relative)
        if relative != MANIFEST_FILE and relative not in self.summary(name).files:
            raise NotFoundError(f"version {name} has no file {relative}")
        return self.source.local_file(name, relative)

    def report_file(self, version: object, name: object = "report.html") -> Path:
        """Local path of ``report/<name>`` of a version (``report.html`` or ``report.json``)."""
        if name not in REPORT_FILES:
            raise NotFoundError(f"no report file {str(name)[:40]!r}; there are {', '.join(REPORT_FILES)}")
        return self.source.local_file(self.resolve(version), f"report/{name}")

    # ----------------------------------------------------------- search

    def load(self, version: object) -> LoadedVersion:
        """The version's embeddings and row lengths, from the cache or read now."""
        name = self.resolve(version)
        with self._lock:
            if name in self._loaded:
                self._loaded.move_to_end(name)
                return self._loaded[name]
        folder = self.source.local_file(name, EMBEDDINGS_FILE).parent
        self.source.local_file(name, VOCAB_FILE)  # present too (a cache fetches it next to the matrix)
        embeddings = load_embeddings(folder, mmap=True)
        vectors, step = embeddings.vectors, 65536  # row lengths in slices: no full-size temporary
        norms = np.concatenate(
            [
                np.linalg.norm(np.asarray(vectors[i : i + step], dtype=np.float32), axis=1)
                for i in range(0, len(vectors), step)
            ]
            or [np.zeros(0)]
        ).astype(np.float32)
        loaded = LoadedVersion(name, embeddings, norms)
        with self._lock:
            self._loaded[name] = loaded
            while len(self._loaded) > self.max_loaded:
                self._loaded.popitem(last=False)
        return loaded

    @staticmethod
    def _index(loaded: LoadedVersion, word: str) -> tuple[str, int]:
        vocab = loaded.embeddings.word_to_index
        for candidate in (word, word.lower()):
            if candidate in vocab:
                return candidate, vocab[candidate]
        raise UnknownWordError(f"'{word}' is not in the vocabulary of version {loaded.version}")

    def neighbours(self, version: object, word: object, k: object = DEFAULT_K) -> dict:
        """``{"version", "word", "k", "neighbours": [[word, cosine], ...]}``: the ``k`` words with the
        highest cosine to ``word``, itself excluded, cosines rounded to 6 decimals, ties in
        vocabulary order (as :func:`include.quality.similarity.nearest_neighbours`)."""
        word, k = validate_word(word), validate_k(k)
        loaded = self.load(version)
        word, index = self._index(loaded, word)
        cosines = loaded.cosines(index)
        cosines[index] = -np.inf
        count = min(k, len(loaded.embeddings) - 1)
        if count <= 0:
            return {"version": loaded.version, "word": word, "k": k, "neighbours": []}
        candidates = np.argpartition(-cosines, count - 1)[:count]
        ordered = candidates[np.lexsort((candidates, -cosines[candidates]))]
        words = loaded.embeddings.index_to_word
        return {
            "version": loaded.version,
            "word": word,
            "k": k,
            "neighbours": [[words[i], round(float(cosines[i]), 6)] for i in ordered],
        }

    def similarity(self, version: object, first: object, second: object) -> dict:
        """``{"version", "a", "b", "cosine"}``: the cosine of two words (6 decimals)."""
        first, second = validate_word(first, "a"), validate_word(second, "b")
        loaded = self.load(version)
        first, i = self._index(loaded, first)
        second, j = self._index(loaded, second)
        return {
            "version": loaded.version,
            "a": first,
            "b": second,
            "cosine": round(float(loaded.cosine(i, j)), 6),
        }


def _bounded_int(value: object, name: str, low: int, high: int) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise InvalidRequestError(f"{name}={str(value)[:20]!r} must be a whole number") from None
    if number < low:
        raise InvalidRequestError(f"{name}={number} must be at least {low}")
    return min(number, high)


def run_summary(record: dict | None, catalog: Catalog) -> dict:
    """What a DAG run made, from its run record (``include.storage.run_records``): ``{"outcome",
    "version", "reason", "published"}``; ``published`` says whether the named version can be opened.
    ``None`` record -> outcome ``None`` (the run made no record: another DAG, or still running)."""
    if not record:
        return {"outcome": None, "version": None, "reason": None, "published": False, "failures": []}
    version = record.get("version")
    published = False
    if isinstance(version, str) and VERSION_NAME.fullmatch(version):
        try:
            catalog.resolve(version)
            published = True
        except CatalogError:
            published = False
    return {
        "outcome": record.get("outcome"),
        "version": version,
        "reason": record.get("reason"),
        "published": published,
        "failures": record.get("failures", []),
    }


def linked_version(record: dict | None, own_version: object, catalog: Catalog) -> str | None:
    """The published version a finished task should link to, or ``None`` (then no link).

    ``record`` is the run's record: a run that ended ``unchanged`` names the existing identical
    version, a ``rejected`` or ``promoted`` one its own. Otherwise ``own_version`` (the version
    the task handled, e.g. ``publish``'s) counts once it is published."""
    for candidate in ((record or {}).get("version"), own_version):
        if isinstance(candidate, str) and VERSION_NAME.fullmatch(candidate):
            try:
                return catalog.resolve(candidate)
            except CatalogError:
                continue
    return None


def app_url(base_url: str | None, path: str) -> str:
    """``path`` (starting with ``/``) under the api-server's public address ``[api] base_url``
    (``https://host/airflow`` -> ``https://host/airflow/word2vec/...``); a root-relative path when
    no base URL is configured."""
    base = (base_url or "").strip().rstrip("/")
    return f"{base}{path}"
