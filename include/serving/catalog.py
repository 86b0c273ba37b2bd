"""What the Airflow UI shows of the published models: each model's versions with their aliases,
gate decision and scores (every score with its coverage), the alias history, neighbour and
similarity search at ``model@alias`` or a version, artifact downloads, and the checks on every
name and word a user sends.

Pure library code (no Airflow, no gensim, no TensorFlow): reads ``manifest.json``, ``vocab.json``
and ``embeddings.npy`` (memory-mapped, ``allow_pickle=False``) through an :class:`ArtifactSource`;
an object store's files are fetched into a bounded local cache (:class:`BoundedFileCache`).
Models, aliases and history come from :class:`include.registry.registry.ModelRegistry`; the only
write is :meth:`Catalog.move_alias` (a person's explicit, recorded alias move). Manifests are
immutable, so :class:`StoreArtifactSource` keeps each one a few seconds
(:data:`MANIFEST_TTL_SECONDS`) and lists ``models/`` (one listing) per request instead of reading
every manifest again.

>>> catalog = Catalog(data_root_source())                 # EMBEDDINGS_DATA_DIR, local or s3://
>>> [m["model"] for m in catalog.models()]            # ["default", "news-en"]
>>> [row.version for row in catalog.summaries("default")]   # newest data time first
['20261102T000000Z-1a2b3c4d', '20261101T000000Z-9f8e7d6c']
>>> catalog.neighbours_at("default", "king", k=3, alias="champion")["neighbours"]  # [[word, cosine], ...]
>>> catalog.neighbours("latest", "king", k=3)         # the previous routes: latest = default@champion
>>> catalog.move_alias("default", "champion", "20261101T000000Z-9f8e7d6c", actor="ana", reason="roll back")
"""

from __future__ import annotations

import math
import os
import re
import shutil
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Protocol

import numpy as np

from include.artifacts.embeddings import EMBEDDINGS_FILE, VOCAB_FILE, Embeddings, load_embeddings
from include.errors import NotInRegistryError, PipelineInputError
from include.quality.coverage import format_score
from include.registry.names import CHAMPION, DEFAULT_MODEL, check_alias_name, check_model_name, model_of
from include.registry.registry import AliasMove, ModelRegistry
from include.storage.layout import LATEST_KEY, MANIFEST_FILE, MODELS, REGISTRY, data_store, version_key
from include.storage.run_records import RunRecord
from include.storage.store import LocalStore, Store
from include.storage.versions import read_manifest

#: ``YYYYMMDDTHHMMSSZ-<8 hex>``, the names :func:`include.storage.publish.version_id` gives.
VERSION_NAME = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{8}$")
#: The previous routes' name for ``default@champion``.
LATEST_ALIAS = "latest"
MAX_WORD_CHARS = 100
MAX_K = 100
DEFAULT_K = 10
MAX_PER_PAGE = 200
#: Report files served to a browser (the report folder holds nothing else today).
REPORT_FILES = ("report.html", "report.json")
#: Longest reason a person may give for an alias move (characters).
MAX_REASON_CHARS = 500
#: Longest actor name recorded for an alias move (characters).
MAX_ACTOR_CHARS = 200
#: Seconds a read manifest is reused (manifests are immutable; a deleted version's manifest goes first).
MANIFEST_TTL_SECONDS = 5.0
#: How the page names each evaluation (others are shown by their key).
SCORE_LABELS = {"wordsim353": "WordSim-353", "simlex999": "SimLex-999", "analogies": "Analogies"}


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

    registry: ModelRegistry  #: models, aliases and their history

    def manifests(self) -> list[dict]:
        """Every whole version's manifest (a version is whole when its manifest exists), oldest
        folder name first."""
        ...

    def local_file(self, version: str, relative: str) -> Path:
        """A local path holding ``<version>/<relative>``; :class:`NotFoundError` when missing."""
        ...


class StoreArtifactSource:
    """The published versions of a data root's :class:`~include.storage.store.Store`, through the
    same storage layer as the pipeline. A local root's files are read in place; an object store's
    through ``cache`` (a :class:`BoundedFileCache`), so memory-mapping works on local copies."""

    def __init__(
        self, store: Store, cache: BoundedFileCache | None = None, ttl_seconds: float = MANIFEST_TTL_SECONDS
    ) -> None:
        self.store = store
        self.cache = cache
        self.registry = ModelRegistry(store)
        self.ttl_seconds = ttl_seconds
        self._manifests: dict[str, tuple[float, dict | None]] = {}  # folder -> (monotonic time read, manifest)
        self._lock = threading.Lock()

    def manifests(self) -> list[dict]:
        """Every published version's manifest, oldest folder name first: one listing of ``models/``,
        and a manifest read only when its folder is new or its copy older than ``ttl_seconds``."""
        names = sorted(n for n in self.store.children(MODELS) if n != "LATEST" and not n.startswith("."))
        now = time.monotonic()
        with self._lock:
            cached = dict(self._manifests)
        fresh: dict[str, tuple[float, dict | None]] = {}
        for name in names:
            entry = cached.get(name)
            if entry is None or now - entry[0] >= self.ttl_seconds:
                # None: half published or being deleted, invisible (and asked again after the TTL)
                entry = (now, read_manifest(self.store, name))
            fresh[name] = entry
        with self._lock:
            self._manifests = fresh
        return [manifest for _, manifest in fresh.values() if manifest is not None]

    def latest(self) -> str | None:
        """The version ``default@champion`` names (the previous layout's ``LATEST``), or ``None``
        (read from the alias files alone: no listing of every manifest when there is none)."""
        return self.registry.aliases(DEFAULT_MODEL).get(CHAMPION)

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
class Score:
    """One evaluation of a version: its value and, when recorded, how many items it was computed
    on (``{"scored", "total", "unit"}``; ``None`` for a version of the previous layout)."""

    name: str  #: the evaluation's key in the manifest (``wordsim353``)
    label: str  #: how the page names it (``WordSim-353``)
    metric: str  #: ``spearman`` or ``accuracy``
    value: float | None
    coverage: dict | None

    @property
    def shown(self) -> str:
        """``0.412 (212/353 pairs)``, ``not computable (2/999 pairs)``, ``0.412 (coverage not recorded)``."""
        return format_score(self.value, self.coverage)

    def as_dict(self) -> dict:
        return {**self.__dict__, "shown": self.shown}


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
    is_latest: bool  #: ``default@champion`` names it (the previous layout's ``LATEST``)
    files: tuple[str, ...] = field(default=())
    model: str = DEFAULT_MODEL
    aliases: tuple[str, ...] = field(default=())  #: the aliases of its model that name it, sorted
    scores: tuple[Score, ...] = field(default=())
    checks: tuple[dict, ...] = field(default=())  #: the gate's checks (``{name, kind, value, ...}``), when recorded

    def as_dict(self) -> dict:
        return {
            **self.__dict__,
            "files": list(self.files),
            "aliases": list(self.aliases),
            "scores": [score.as_dict() for score in self.scores],
            "checks": [dict(check) for check in self.checks],
            "gate": {"decision": self.decision, "reason": self.reason, "checks": [dict(c) for c in self.checks]},
        }


def _number(value: object) -> float | None:
    """A finite float, else ``None`` (a missing, non-numeric, NaN or infinite score)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _score(evaluation: dict, name: str, key: str) -> float | None:
    return _number((evaluation.get(name) or {}).get(key))


def scores_of(evaluation: dict) -> tuple[Score, ...]:
    """Every evaluation in a manifest's ``evaluation`` as a :class:`Score`: the named benchmarks
    first (WordSim-353, SimLex-999, analogies), others after by name. The value is the entry's
    ``spearman`` or ``accuracy``; its coverage the entry's ``scored``/``total``/``unit`` when present."""
    names: list[str] = [n for n in SCORE_LABELS if n in evaluation] + sorted(
        n for n in evaluation if n not in SCORE_LABELS
    )
    scores = []
    for name in names:
        entry = evaluation.get(name)
        if not isinstance(entry, dict):
            continue
        if "spearman" in entry or "accuracy" in entry:
            metric = "spearman" if "spearman" in entry else "accuracy"
        else:
            metric = "accuracy" if name == "analogies" else "spearman"
        coverage = None
        if isinstance(entry.get("scored"), int) and isinstance(entry.get("total"), int):
            coverage = {"scored": entry["scored"], "total": entry["total"], "unit": entry.get("unit") or "items"}
        scores.append(Score(name, SCORE_LABELS.get(name, name), metric, _number(entry.get(metric)), coverage))
    return tuple(scores)


def check_shown(check: dict) -> str:
    """A gate check's value with its coverage (``0.412 (212/353 pairs)``), as every score is shown."""
    coverage = check.get("coverage") if isinstance(check.get("coverage"), dict) else None
    return format_score(_number(check.get("value")), coverage)


def summarize(manifest: dict, latest: str | None, aliases: dict[str, str] | None = None) -> VersionSummary:
    """The page row of one version's manifest (missing facts become ``None``). ``latest``: the
    version ``default@champion`` names; ``aliases``: ``alias -> version`` of the version's model."""
    evaluation = manifest.get("evaluation") or {}
    gate = manifest.get("gate") or {}
    training = manifest.get("training") or {}
    vocab_size = training.get("vocab_size")
    checks = tuple(c for c in gate.get("checks") or () if isinstance(c, dict))
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
        is_latest=manifest["version"] == latest and model_of(manifest) == DEFAULT_MODEL,
        files=tuple(sorted(manifest.get("files") or {})),
        model=model_of(manifest),
        aliases=tuple(sorted(a for a, v in (aliases or {}).items() if v == manifest["version"])),
        scores=scores_of(evaluation),
        checks=checks,
    )


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


@contextmanager
def registry_errors():
    """The registry's errors as the catalog's: an unknown model, alias or version (the message lists
    what exists) -> :class:`NotFoundError`; a malformed name -> :class:`InvalidRequestError`."""
    try:
        yield
    except NotInRegistryError as error:
        raise NotFoundError(str(error)) from None
    except PipelineInputError as error:
        raise InvalidRequestError(str(error)) from None


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


class Catalog:
    """Models, versions, aliases and search over an :class:`ArtifactSource`. Loaded versions are
    cached (at most ``max_loaded`` at once, least recently used dropped); the matrix stays
    memory-mapped, only its row lengths (``n_words`` floats) are held in memory."""

    def __init__(self, source: ArtifactSource, max_loaded: int = 2) -> None:
        self.source = source
        self.registry: ModelRegistry = source.registry
        self.max_loaded = max(1, max_loaded)
        self._loaded: OrderedDict[str, LoadedVersion] = OrderedDict()
        self._lock = threading.Lock()

    # ----------------------------------------------------------- models and aliases

    def _published(self) -> list[dict]:
        return [m for m in self.source.manifests() if VERSION_NAME.fullmatch(str(m.get("version", "")))]

    def latest(self) -> str | None:
        """The version ``default@champion`` names (the previous layout's ``LATEST``), or ``None``
        (read from the alias files alone: no listing of every manifest when there is none)."""
        return self.registry.aliases(DEFAULT_MODEL).get(CHAMPION)

    def model_names(self, manifests: list[dict] | None = None) -> list[str]:
        """Every model with a published version or an alias, sorted (of ``manifests``, a listing
        already made, or of a new one)."""
        named = {model_of(m) for m in (self._published() if manifests is None else manifests)}
        named.update(n for n in self.registry.store.children(REGISTRY) if not n.startswith("."))
        if self.registry.store.exists(LATEST_KEY):
            named.add(DEFAULT_MODEL)
        return sorted(named)

    def check_model(self, model: object) -> str:
        """``model`` when it exists; :class:`InvalidRequestError` for a malformed name,
        :class:`NotFoundError` listing the models for an unknown one."""
        with registry_errors():
            check_model_name(model)
        known = self.model_names()
        if model not in known:
            raise NotFoundError(f"no model {model!r}; models: {', '.join(known) or '(none yet)'}")
        return model

    def aliases(self, model: object) -> dict[str, str]:
        """``alias -> version`` of ``model`` (which must exist)."""
        model = self.check_model(model)
        with registry_errors():
            return self.registry.aliases(model)

    def history(self, model: object, alias: str | None = None) -> list[AliasMove]:
        """The alias moves of ``model`` (of ``alias`` only when given), newest first."""
        model = self.check_model(model)
        with registry_errors():
            if alias is not None:
                check_alias_name(alias)
            return list(reversed(self.registry.history(model, alias)))

    def models(self, manifests: list[dict] | None = None) -> list[dict]:
        """``[{"model", "aliases": {alias: version}, "versions": count, "newest": version|None}]``, by name."""
        manifests = self._published() if manifests is None else manifests
        by_model: dict[str, list[dict]] = {}
        for manifest in manifests:
            by_model.setdefault(model_of(manifest), []).append(manifest)
        found = []
        for model in self.model_names(manifests):
            manifests = sorted(by_model.get(model, []), key=lambda m: (m.get("data_time") or "", m["version"]))
            with registry_errors():
                aliases = self.registry.aliases(model)
            found.append(
                {
                    "model": model,
                    "aliases": aliases,
                    "versions": len(manifests),
                    "newest": manifests[-1]["version"] if manifests else None,
                }
            )
        return found

    # ----------------------------------------------------------- listing

    def summaries(self, model: str | None = None, manifests: list[dict] | None = None) -> list[VersionSummary]:
        """The published versions (of ``model`` only when given), newest data time first (ties:
        newest name first), each with the aliases of its model that name it."""
        latest = self.latest()
        manifests = self._published() if manifests is None else manifests
        manifests = [m for m in manifests if model is None or model_of(m) == model]
        aliases: dict[str, dict[str, str]] = {}
        for name in {model_of(m) for m in manifests}:
            with registry_errors():
                aliases[name] = self.registry.aliases(name)
        rows = [summarize(m, latest, aliases.get(model_of(m))) for m in manifests]
        return sorted(rows, key=lambda row: (row.data_time or "", row.version), reverse=True)

    def page(self, page: object = 1, per_page: object = 50, model: str | None = None) -> dict:
        """``{"versions": [...], "page", "per_page", "pages", "total", "latest", "model"}``, pages
        counted from 1; every model's versions, or ``model``'s (which must exist)."""
        per_page = _bounded_int(per_page, "per_page", 1, MAX_PER_PAGE)
        if model is not None:
            model = self.check_model(model)
        rows = self.summaries(model)
        pages = max(1, -(-len(rows) // per_page))
        page = _bounded_int(page, "page", 1, pages)
        start = (page - 1) * per_page
        return {
            "versions": rows[start : start + per_page],
            "page": page,
            "per_page": per_page,
            "pages": pages,
            "total": len(rows),
            "latest": self.latest(),
            "model": model,
        }

    def overview(self, per_model: int = 10, moves: int = 5) -> list[dict]:
        """The versions page: one section per model, ``{"model", "aliases", "versions" (the newest
        ``per_model`` rows), "total", "history" (the newest ``moves`` alias moves)}``."""
        manifests = self._published()
        rows = self.summaries(manifests=manifests)
        sections = []
        for entry in self.models(manifests):
            mine = [row for row in rows if row.model == entry["model"]]
            with registry_errors():
                history = list(reversed(self.registry.history(entry["model"])))[:moves]
            sections.append(
                {
                    "model": entry["model"],
                    "aliases": entry["aliases"],
                    "versions": mine[:per_model],
                    "total": len(mine),
                    "history": history,
                }
            )
        return sections

    def resolve(self, version: object) -> str:
        """A validated, published version name; ``"latest"`` becomes the version ``default@champion`` names."""
        name = validate_version(version)
        if name == LATEST_ALIAS:
            latest = self.latest()
            if not latest:
                raise NotFoundError("no version has been promoted yet, so there is no LATEST (default@champion)")
            return latest
        if not any(m.get("version") == name for m in self._published()):
            raise NotFoundError(f"no published model version {name}")
        return name

    def resolve_at(self, model: object, alias: object = None, version: object = None) -> str:
        """The version ``model@alias`` names, or ``version`` checked to be one of ``model``'s (give
        at most one; ``champion`` when neither). Unknown model, alias or version:
        :class:`NotFoundError` listing what exists; a malformed name: :class:`InvalidRequestError`."""
        model = self.check_model(model)
        if alias and version:
            raise InvalidRequestError("give alias or version, not both")
        if version:
            name = validate_version(version, allow_latest=False)
            if not any(m.get("version") == name and model_of(m) == model for m in self._published()):
                mine = [row.version for row in self.summaries(model)]
                listed = ", ".join(mine[:20]) + (f" (and {len(mine) - 20} older)" if len(mine) > 20 else "")
                raise NotFoundError(f"model {model!r} has no version {name!r}; its versions: {listed or '(none)'}")
            return name
        with registry_errors():
            return self.registry.resolve(model, alias=check_alias_name(alias or CHAMPION))

    def summary(self, version: object) -> VersionSummary:
        """The row of one version (``latest`` allowed)."""
        name = self.resolve(version)
        manifest = next(m for m in self._published() if m.get("version") == name)
        with registry_errors():
            aliases = self.registry.aliases(model_of(manifest))
        return summarize(manifest, self.latest(), aliases)

    def move_alias(self, model: object, alias: object, version: object, *, actor: object, reason: object) -> dict:
        """A person's explicit move of ``model@alias`` to ``version`` (backward in data time too),
        recorded in the model's history with ``actor`` and ``reason``. Returns the history entry."""
        model = self.check_model(model)
        with registry_errors():
            alias = check_alias_name(alias)
        name = self.resolve_at(model, version=version)
        reason = validate_reason(reason)
        if not isinstance(actor, str) or not actor.strip() or len(actor) > MAX_ACTOR_CHARS:
            raise InvalidRequestError("the move's actor (the logged-in user's name) is missing or too long")
        with registry_errors():
            return dict(
                self.registry.move_alias(model, alias, name, actor=actor.strip(), reason=reason, forward_only=False)
            )

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

    def neighbours_at(
        self, model: object, word: object, k: object = DEFAULT_K, *, alias: object = None, version: object = None
    ) -> dict:
        """:meth:`neighbours` of ``model@alias`` (or a version of ``model``), plus ``"model"`` and ``"alias"``."""
        word, k = validate_word(word), validate_k(k)
        name = self.resolve_at(model, alias, version)
        return {"model": model, "alias": None if version else (alias or CHAMPION), **self.neighbours(name, word, k)}

    def similarity_at(
        self, model: object, first: object, second: object, *, alias: object = None, version: object = None
    ) -> dict:
        """:meth:`similarity` at ``model@alias`` (or a version of ``model``), plus ``"model"`` and ``"alias"``."""
        first, second = validate_word(first, "a"), validate_word(second, "b")
        name = self.resolve_at(model, alias, version)
        return {
            "model": model,
            "alias": None if version else (alias or CHAMPION),
            **self.similarity(name, first, second),
        }

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


def run_summary(record: RunRecord | None, catalog: Catalog) -> dict:
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


def linked_version(record: RunRecord | None, own_version: object, catalog: Catalog) -> str | None:
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
