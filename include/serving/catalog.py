"""What the Airflow UI shows of the published models: each model's versions with their aliases,
gate decision and scores (every score with its coverage), the alias history, neighbour and
similarity search at ``model@alias`` or a version, artifact downloads, and what a DAG run made.

Pure library code (no Airflow, no gensim, no TensorFlow). :class:`Catalog` answers from an
:class:`~include.serving.artifact_source.ArtifactSource` (manifests listed through an in-memory
index, so a request reads only manifests it has not seen) and
:class:`include.registry.registry.ModelRegistry` (models, aliases, history); its only write is
:meth:`Catalog.move_alias` (a person's explicit, recorded alias move). Its pieces live beside it:
``request_checks`` (input checks and errors), ``version_summary`` (one version's row),
``neighbour_search``, ``artifact_source``, ``manifest_index`` and ``file_cache``.

>>> catalog = Catalog(data_root_source())                 # EMBEDDINGS_DATA_DIR, local or s3://
>>> [m["model"] for m in catalog.models()]            # ["default", "news-en"]
>>> [row.version for row in catalog.summaries("default")]   # newest data time first
['20261102T000000Z-1a2b3c4d', '20261101T000000Z-9f8e7d6c']
>>> catalog.neighbours_at("default", "king", k=3, alias="champion")["neighbours"]  # [[word, cosine], ...]
>>> catalog.neighbours("latest", "king", k=3)         # the previous routes: latest = default@champion
>>> catalog.move_alias("default", "champion", "20261101T000000Z-9f8e7d6c", actor="ana", reason="roll back")
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from include.artifacts.embeddings import EMBEDDINGS_FILE, VOCAB_FILE
from include.errors import NotInRegistryError, PipelineInputError
from include.quality.vector_index import INDEX_FILE
from include.registry.names import CHAMPION, DEFAULT_MODEL, check_alias_name, check_model_name, model_of
from include.registry.registry import AliasMove, ModelRegistry
from include.serving.artifact_source import ArtifactSource, data_root_source
from include.serving.integrity import require_whole
from include.serving.neighbour_search import LoadedVersion, load_version, nearest_words, word_similarity
from include.serving.request_checks import (
    DEFAULT_K,
    LATEST_ALIAS,
    MAX_PER_PAGE,
    VERSION_NAME,
    CatalogError,
    InvalidRequestError,
    NotFoundError,
    bounded_int,
    validate_actor,
    validate_k,
    validate_reason,
    validate_relative_file,
    validate_version,
    validate_word,
)
from include.serving.version_summary import VersionSummary, summarize
from include.storage.layout import LATEST_KEY, MANIFEST_FILE, REGISTRY
from include.storage.run_records import RunRecord

# data_root_source is imported from here by plugins/word2vec_links.py (``Catalog(data_root_source())``)
__all__ = ["Catalog", "app_url", "data_root_source", "linked_version", "registry_errors", "run_summary"]

log = logging.getLogger(__name__)

#: MiB an api-server worker holds with the models browser built and searching (Airflow, FastAPI,
#: numpy, FAISS), besides loaded versions: the first term of its documented memory bound
#: (docs/reliability.md). Measured (2026-12-06, 2 uvicorn workers): 240 MiB with the app built and
#: no version read, 276 MiB after serving a 20,000-word version; the rest is room for the allocator.
PROCESS_BASE_MIB = 512

#: The files a search reads, checked against the manifest when a version is loaded.
SERVED_FILES = (EMBEDDINGS_FILE, VOCAB_FILE)
#: Report files served to a browser (the report folder holds nothing else today).
REPORT_FILES = ("report.html", "report.json")


@contextmanager
def registry_errors() -> Iterator[None]:
    """The registry's errors as the catalog's: an unknown model, alias or version (the message lists
    what exists) -> :class:`NotFoundError`; a malformed name -> :class:`InvalidRequestError`."""
    try:
        yield
    except NotInRegistryError as error:
        raise NotFoundError(str(error)) from None
    except PipelineInputError as error:
        raise InvalidRequestError(str(error)) from None


class Catalog:
    """Models, versions, aliases and search over an :class:`ArtifactSource`.

    A version is read once per process and shared by every request (one thread reads it, those
    arriving meanwhile wait for it), then kept in a cache bounded by bytes: each loaded version is
    charged its :func:`~include.serving.neighbour_search.footprint_bytes` (matrix and vector index
    as mapped, row lengths, vocabulary), and once the charges pass ``max_bytes`` (default
    ``EMBEDDINGS_SERVING_MEMORY_MB``, :func:`include.settings.serving_memory_bytes`) the least
    recently used versions are let go (the one just read always stays, alone if it is larger),
    their maps close when the last request using them ends, and the allocator's free memory is
    given back to the system (:func:`give_back_freed_memory`). ``max_loaded``, when given, also caps
    how many are kept. So a process holds at most ``max_bytes`` plus the version it is reading,
    which until it is searched is its vocabulary and row lengths (its maps are not resident yet):
    an api-server worker's RSS stays within :data:`PROCESS_BASE_MIB` + ``EMBEDDINGS_SERVING_MEMORY_MB``
    + that (``tests/benchmarks/test_hostile_load.py`` measures it under load).

    A search at ``model@alias`` resolves the alias once, then answers from that version alone and
    names it (``"version"``): an alias moved meanwhile never mixes two versions in one answer."""

    def __init__(self, source: ArtifactSource, max_loaded: int | None = None, max_bytes: int | None = None) -> None:
        from include.settings import serving_memory_bytes

        self.source = source
        self.registry: ModelRegistry = source.registry
        self.max_loaded = max(1, max_loaded) if max_loaded is not None else None
        self.max_bytes = max(1, max_bytes) if max_bytes is not None else serving_memory_bytes()
        self._loaded: OrderedDict[str, LoadedVersion] = OrderedDict()
        self._loading: dict[str, threading.Lock] = {}  # a lock per version being read
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

    def check_model(self, model: object, manifests: list[dict] | None = None) -> str:
        """``model`` when it exists; :class:`InvalidRequestError` for a malformed name,
        :class:`NotFoundError` listing the models for an unknown one."""
        with registry_errors():
            name = check_model_name(model)
        known = self.model_names(manifests)
        if name not in known:
            raise NotFoundError(f"no model {name!r}; models: {', '.join(known) or '(none yet)'}")
        return name

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
            mine = sorted(by_model.get(model, []), key=lambda m: (m.get("data_time") or "", m["version"]))
            with registry_errors():
                aliases = self.registry.aliases(model)
            found.append(
                {
                    "model": model,
                    "aliases": aliases,
                    "versions": len(mine),
                    "newest": mine[-1]["version"] if mine else None,
                }
            )
        return found

    # ----------------------------------------------------------- listing

    def summaries(self, model: str | None = None, manifests: list[dict] | None = None) -> list[VersionSummary]:
        """The published versions (of ``model`` only when given), newest data time first (ties:
        newest name first), each with the aliases of its model that name it."""
        manifests = self._published() if manifests is None else manifests
        manifests = [m for m in manifests if model is None or model_of(m) == model]
        aliases: dict[str, dict[str, str]] = {}
        for name in {model_of(m) for m in manifests}:
            with registry_errors():
                aliases[name] = self.registry.aliases(name)
        rows = [summarize(m, aliases.get(model_of(m))) for m in manifests]
        return sorted(rows, key=lambda row: (row.data_time or "", row.version), reverse=True)

    def page(self, page: object = 1, per_page: object = 50, model: str | None = None) -> dict:
        """``{"versions": [...], "page", "per_page", "pages", "total", "latest", "model"}``, pages
        counted from 1; every model's versions, or ``model``'s (which must exist)."""
        size = bounded_int(per_page, "per_page", 1, MAX_PER_PAGE)
        if model is not None:
            with registry_errors():  # a malformed name is refused before the data root is read
                check_model_name(model)
        manifests = self._published()
        if model is not None:
            model = self.check_model(model, manifests)
        rows = self.summaries(model, manifests)
        pages = max(1, -(-len(rows) // size))
        number = bounded_int(page, "page", 1, pages)
        start = (number - 1) * size
        return {
            "versions": rows[start : start + size],
            "page": number,
            "per_page": size,
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

    def _promoted_latest(self) -> str:
        """The version ``default@champion`` names; :class:`NotFoundError` before its first promotion."""
        latest = self.latest()
        if not latest:
            raise NotFoundError("no version has been promoted yet, so there is no LATEST (default@champion)")
        return latest

    def _manifest(self, version: object) -> dict:
        """The manifest of a published version (``latest`` allowed); :class:`NotFoundError` when
        there is none, :class:`InvalidRequestError` for a malformed name."""
        name = validate_version(version)
        if name == LATEST_ALIAS:
            name = self._promoted_latest()
        manifest = self.source.manifest(name) if VERSION_NAME.fullmatch(name) else None
        if manifest is None or manifest.get("version") != name:
            raise NotFoundError(f"no published model version {name}")
        return manifest

    def resolve(self, version: object) -> str:
        """A validated, published version name; ``"latest"`` becomes the version ``default@champion`` names."""
        if validate_version(version) == LATEST_ALIAS:
            return self._promoted_latest()
        return self._manifest(version)["version"]

    def resolve_at(self, model: object, alias: object = None, version: object = None) -> str:
        """The version ``model@alias`` names, or ``version`` checked to be one of ``model``'s (give
        at most one; ``champion`` when neither). Unknown model, alias or version:
        :class:`NotFoundError` listing what exists; a malformed name: :class:`InvalidRequestError`."""
        with registry_errors():  # every name checked before the data root is read
            check_model_name(model)
            if alias and not version:
                check_alias_name(alias)
        if alias and version:
            raise InvalidRequestError("give alias or version, not both")
        name = validate_version(version, allow_latest=False) if version else ""
        model = self.check_model(model)
        if version:
            manifest = self.source.manifest(name)
            if manifest is None or manifest.get("version") != name or model_of(manifest) != model:
                mine = [row.version for row in self.summaries(model)]
                listed = ", ".join(mine[:20]) + (f" (and {len(mine) - 20} older)" if len(mine) > 20 else "")
                raise NotFoundError(f"model {model!r} has no version {name!r}; its versions: {listed or '(none)'}")
            return name
        with registry_errors():
            return self.registry.resolve(model, alias=check_alias_name(alias or CHAMPION))

    def summary(self, version: object) -> VersionSummary:
        """The row of one version (``latest`` allowed)."""
        manifest = self._manifest(version)
        with registry_errors():
            aliases = self.registry.aliases(model_of(manifest))
        return summarize(manifest, aliases)

    def move_alias(self, model: object, alias: object, version: object, *, actor: object, reason: object) -> dict:
        """A person's explicit move of ``model@alias`` to ``version`` (backward in data time too),
        recorded in the model's history with ``actor`` and ``reason``. Returns the history entry."""
        model = self.check_model(model)
        with registry_errors():
            alias = check_alias_name(alias)
        name = self.resolve_at(model, version=version)
        reason = validate_reason(reason)
        who = validate_actor(actor)
        with registry_errors():
            return dict(self.registry.move_alias(model, alias, name, actor=who, reason=reason, forward_only=False))

    def file(self, version: object, relative: object) -> Path:
        """Local path of a file the version's manifest lists (an artifact download); the manifest
        itself is allowed too. :class:`NotFoundError` for anything else."""
        relative = validate_relative_file(relative)  # before any read: a hostile path touches nothing
        manifest = self._manifest(version)
        name = manifest["version"]
        if relative != MANIFEST_FILE and relative not in (manifest.get("files") or {}):
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
        """:meth:`neighbours` of ``model@alias`` (or a version of ``model``), plus ``"model"`` and ``"alias"``.
        The alias is read once: the answer comes from the version it named then, which ``"version"`` names."""
        word, k = validate_word(word), validate_k(k)
        name = self.resolve_at(model, alias, version)
        return {"model": model, "alias": None if version else (alias or CHAMPION), **self.neighbours(name, word, k)}

    def similarity_at(
        self, model: object, first: object, second: object, *, alias: object = None, version: object = None
    ) -> dict:
        """:meth:`similarity` at ``model@alias`` (or a version of ``model``), plus ``"model"`` and ``"alias"``;
        the alias is read once, as for :meth:`neighbours_at`."""
        first, second = validate_word(first, "a"), validate_word(second, "b")
        name = self.resolve_at(model, alias, version)
        return {
            "model": model,
            "alias": None if version else (alias or CHAMPION),
            **self.similarity(name, first, second),
        }

    def load(self, version: object) -> LoadedVersion:
        """The version's embeddings, row lengths and vector index, from the cache or read now; a version read now
        is first checked against its manifest (:func:`include.serving.integrity.require_whole`:
        :class:`DamagedVersionError` when a file's size or sha256 differs)."""
        name = self.resolve(version)
        with self._lock:
            if name in self._loaded:
                self._loaded.move_to_end(name)
                return self._loaded[name]
            loading = self._loading.setdefault(name, threading.Lock())
        with loading:  # one thread reads a version; requests arriving meanwhile wait for it
            with self._lock:
                if name in self._loaded:
                    self._loaded.move_to_end(name)
                    return self._loaded[name]
            try:
                loaded = self._read(name)
            finally:
                with self._lock:
                    self._loading.pop(name, None)
            return loaded

    def _read(self, name: str) -> LoadedVersion:
        folder = self.source.local_file(name, EMBEDDINGS_FILE).parent
        self.source.local_file(name, VOCAB_FILE)  # present too (a cache fetches it next to the matrix)
        manifest = self._manifest(name)
        # the vector index when the version has one (versions published before it: exact search)
        indexed = INDEX_FILE in (manifest.get("files") or {})
        index = self.source.local_file(name, INDEX_FILE) if indexed else None
        # checked against the manifest once per load (cached below with the loaded version)
        discard = getattr(self.source, "discard", None)  # drops a cached copy of an object-store file
        require_whole(
            name,
            manifest,
            lambda relative: self.source.local_file(name, relative),
            SERVED_FILES + ((INDEX_FILE,) if indexed else ()),
            (lambda relative: bool(discard(name, relative))) if discard else None,
        )
        loaded = load_version(name, folder, index)
        with self._lock:
            self._loaded[name] = loaded
            evicted = []
            while len(self._loaded) > 1 and (
                self.loaded_bytes > self.max_bytes or (self.max_loaded and len(self._loaded) > self.max_loaded)
            ):
                evicted.append(self._loaded.popitem(last=False)[0])
            held = self.loaded_bytes
        if evicted:
            give_back_freed_memory()  # what an evicted version's vocabulary left in the allocator
        log.info(
            "serving version %s (%.0f MiB charged); evicted %s; %.0f of %.0f MiB held",
            name,
            loaded.footprint / 2**20,
            ", ".join(evicted) or "none",
            held / 2**20,
            self.max_bytes / 2**20,
        )
        if loaded.footprint > self.max_bytes:
            log.warning(
                "version %s alone is charged %.0f MiB, over EMBEDDINGS_SERVING_MEMORY_MB (%.0f MiB): served alone",
                name,
                loaded.footprint / 2**20,
                self.max_bytes / 2**20,
            )
        return loaded

    @property
    def loaded_bytes(self) -> int:
        """The charges of the versions held now (see :meth:`loaded_versions`)."""
        return sum(loaded.footprint for loaded in list(self._loaded.values()))

    def loaded_versions(self) -> dict[str, int]:
        """``version -> bytes charged`` of the versions held now, least recently used first."""
        with self._lock:
            return {name: loaded.footprint for name, loaded in self._loaded.items()}

    def neighbours(self, version: object, word: object, k: object = DEFAULT_K) -> dict:
        """``{"version", "word", "k", "neighbours": [[word, cosine], ...]}`` (see
        :func:`include.serving.neighbour_search.nearest_words`)."""
        word, k = validate_word(word), validate_k(k)
        return nearest_words(self.load(version), word, k)

    def similarity(self, version: object, first: object, second: object) -> dict:
        """``{"version", "a", "b", "cosine"}``: the cosine of two words (6 decimals)."""
        first, second = validate_word(first, "a"), validate_word(second, "b")
        return word_similarity(self.load(version), first, second)


def give_back_freed_memory() -> None:
    """Return the C allocator's free memory to the system (glibc's ``malloc_trim``; elsewhere
    nothing). Freeing a version's vocabulary leaves its pages with the allocator's per-thread
    arenas, and the next version read by another request thread does not reuse them all: with 12
    alias moves in 60 s between two 1M-word versions a worker ended holding 701 MiB of anonymous
    memory for one version (366 MiB with this call on each eviction; its peak RSS 1,411 MiB, 1,223)."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        trim = getattr(libc, "malloc_trim", None)
        if trim is not None:
            trim(0)
    except OSError:  # pragma: no cover - no C library to ask
        pass


# --------------------------------------------------------------------------- DAG runs and links


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
