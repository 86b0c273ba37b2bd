"""A small API over published model versions: look up vectors, neighbours and similarities
without knowing the folder layout. Reads ``embeddings.npy``, JSON and Parquet; never unpickles.

>>> store = ModelStore()                      # model "default" of the data root of EMBEDDINGS_DATA_DIR
>>> model = store.load()                      # the version default@champion names
>>> model.similarity("king", "queen")         # cosine, float
>>> model.neighbours("king", k=5)             # [("queen", 0.83), ...]
>>> store.describe_versions()                 # [{"version", "aliases", "gate", "data_time", ...}]
>>> model.tokens("New York's mayor")          # ["new_york", "mayor"] with the version's phrases
>>> ModelStore(model="news-en", alias="staging").load()     # another model, another alias
>>> ModelStore(model="news-en", version="20261201T000000Z-1a2b3c4d").load()   # one version, pinned
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from include.artifacts.embeddings import EMBEDDINGS_FILE, VOCAB_FILE, Embeddings, load_embeddings
from include.artifacts.phrases import PHRASES_FILE, PhraseApplier, read_phrases
from include.errors import PipelineInputError
from include.quality.neighbour_table import NEIGHBOURS_FILE
from include.quality.similarity import nearest_neighbours, unit_rows
from include.quality.vector_index import INDEX_FILE, VectorIndex, open_vector_index
from include.registry.names import CHAMPION, DEFAULT_MODEL, check_alias_name, check_model_name
from include.registry.registry import AliasMove, ModelRegistry
from include.serving.integrity import DamagedFile, check_files, listed_files, require_whole
from include.serving.request_checks import DamagedVersionError, validate_relative_file
from include.serving.version_summary import VersionSummary, summarize
from include.storage.layout import MODELS, data_store, version_key
from include.storage.store import LocalStore, Store
from include.storage.versions import read_manifest

__all__ = ["DamagedVersionError", "ModelStore", "PublishedModel", "UnknownWordError", "VersionCheck"]


class UnknownWordError(KeyError):
    """The word is not in the model's vocabulary."""


@dataclass(frozen=True)
class VersionCheck:
    """What :meth:`ModelStore.verify` found: the version, how many files (and bytes) its manifest
    lists, and the damaged ones (empty: whole)."""

    version: str
    files: int
    bytes: int
    damaged: list[DamagedFile]

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "files": self.files,
            "bytes": self.bytes,
            "ok": not self.damaged,
            "damaged": [d.as_dict() for d in self.damaged],
        }


@dataclass
class PublishedModel:
    """One published version: its name, folder, embeddings, phrases (``None`` when the version
    was trained without them) and vector index (``None`` for a version published before
    indexes; opened once per process, see :func:`include.quality.vector_index.open_vector_index`)."""

    version: str
    path: Path
    embeddings: Embeddings
    phrases: PhraseApplier | None = field(default=None, repr=False)
    index: VectorIndex | None = field(default=None, repr=False)

    def tokens(self, text: str) -> list[str]:
        """Raw text as this model's tokens: :func:`gensim.utils.simple_preprocess` (what training
        tokenized with), then the version's phrases joined (``"New York"`` -> ``["new_york"]``).
        Tokens may still be unknown to the vocabulary (``in``/``contains`` tells)."""
        from gensim.utils import simple_preprocess

        words = simple_preprocess(text)
        return self.phrases(words) if self.phrases else words

    def __contains__(self, word: str) -> bool:
        return word in self.embeddings.word_to_index

    def _index(self, word: str) -> int:
        try:
            return self.embeddings.word_to_index[word]
        except KeyError:
            raise UnknownWordError(f"{word!r} is not in the vocabulary of {self.version}") from None

    def vector(self, word: str) -> np.ndarray:
        """The word's vector (float32, ``vector_size``)."""
        return np.array(self.embeddings.vectors[self._index(word)])

    def similarity(self, first: str, second: str) -> float:
        """Cosine similarity of two words (as gensim's ``KeyedVectors.similarity``)."""
        a, b = unit_rows(np.asarray(self.embeddings.vectors[[self._index(first), self._index(second)]]))
        return float(a @ b)

    def neighbours(self, word: str, k: int = 10) -> list[tuple[str, float]]:
        """The ``k`` nearest words by cosine (6 decimals), the word itself excluded, nearest first:
        through the version's vector index (any word, about a millisecond; approximate above
        ``EMBEDDINGS_INDEX_EXACT_MAX`` words, its recall@10 in ``report.json["vector_index"]``).
        A version published without an index: from ``neighbours.parquet`` when it holds enough
        neighbours, else computed exactly."""
        row = self._index(word)
        if self.index is not None:
            rows, cosines = self.index.neighbours(row, k)
            words = self.embeddings.index_to_word
            return [(words[i], round(float(c), 6)) for i, c in zip(rows.tolist(), cosines.tolist())]
        table = self.path / NEIGHBOURS_FILE
        if table.is_file():
            import pyarrow.compute as pc
            import pyarrow.parquet as pq

            rows = pq.read_table(table, filters=[("word", "=", word)]).sort_by("rank")
            if rows.num_rows >= k or rows.num_rows == len(self.embeddings) - 1:
                neighbours = rows.column("neighbour").to_pylist()[:k]
                cosines = pc.round(rows.column("cosine"), 6).to_pylist()[:k]
                return list(zip(neighbours, cosines))
        return [tuple(pair) for pair in nearest_neighbours(self.embeddings, [word], k)[word]]


class ModelStore:
    """One model of a data root (``EMBEDDINGS_DATA_DIR`` by default: a local folder or an object-store
    URL), read at an alias (``champion`` by default) or a pinned version. A version in an object
    store is downloaded once into a local cache folder (``EMBEDDINGS_CACHE_DIR``, default
    ``~/.cache/word2vec-embeddings``) and memory-mapped from there.

    Unknown models, aliases and versions raise :class:`include.errors.NotInRegistryError` listing
    what exists."""

    def __init__(
        self,
        models: Path | None = None,
        *,
        store: Store | None = None,
        cache: Path | None = None,
        model: str = DEFAULT_MODEL,
        alias: str | None = None,
        version: str | None = None,
    ) -> None:
        if alias is not None and version is not None:
            raise PipelineInputError("give an alias or a version, not both")
        self.store = store or (LocalStore(Path(models).parent) if models else data_store())
        self.registry = ModelRegistry(self.store)
        self.models = self.store.key_url(MODELS)
        self.model = check_model_name(model)
        self.alias = check_alias_name(alias) if alias is not None else None
        self.version = version
        default_cache = Path(os.environ.get("EMBEDDINGS_CACHE_DIR", "~/.cache/word2vec-embeddings")).expanduser()
        digest = hashlib.sha1(self.store.url.encode()).hexdigest()[:12]
        self.cache = Path(cache) if cache else default_cache / digest
        self._whole: set[str] = set()  # versions whose files matched their manifest

    def model_names(self) -> list[str]:
        """Every model of the data root."""
        return self.registry.models()

    def versions(self) -> list[str]:
        """The model's published version names (those with a manifest), oldest first."""
        return [m["version"] for m in self.registry.manifests(self.model)]

    def version_summaries(self) -> list[VersionSummary]:
        """Every published version of the model, oldest first, with its aliases and what its
        manifest says."""
        aliases = self.registry.aliases(self.model)
        return [summarize(m, aliases) for m in self.registry.manifests(self.model)]

    def describe_versions(self) -> list[dict[str, Any]]:
        """:meth:`version_summaries` as plain dicts (:meth:`VersionSummary.as_cli_dict`: version,
        aliases, gate, data time, scores with coverage, ...), as the CLI's ``--json versions`` prints them."""
        return [summary.as_cli_dict() for summary in self.version_summaries()]

    def aliases(self) -> dict[str, str]:
        """``alias -> version`` of the model."""
        return self.registry.aliases(self.registry.check_model(self.model))

    def history(self) -> list[AliasMove]:
        """Every alias move of the model, oldest first (who, when, from, to, why)."""
        return self.registry.history(self.registry.check_model(self.model))

    def promote(self, version: str, *, alias: str, reason: str, actor: str) -> AliasMove:
        """Point ``alias`` of the model at ``version`` (an explicit, recorded move: it may go backward
        in data time, and may name a version the gate rejected). ``reason`` must say why."""
        if not reason or not reason.strip():
            raise PipelineInputError("--reason is required: say why the alias moves (it goes into the history)")
        return self.registry.move_alias(self.model, alias, version, actor=actor, reason=reason.strip())

    def latest(self) -> str:
        """The version the model's champion alias names (kept for the callers of the previous layout)."""
        return self.resolve(alias=CHAMPION)

    def resolve(self, version: str | None = None, alias: str | None = None) -> str:
        """The version name ``load`` would read: ``version``, else ``alias``, else the store's own
        version or alias, else the champion."""
        if version is None and alias is None:
            version, alias = self.version, self.alias
        if version == "latest":  # the previous layout's name for the champion
            version, alias = None, CHAMPION
        return self.registry.resolve(self.model, alias=alias, version=version)

    def _manifest(self, name: str) -> dict:
        return read_manifest(self.store, name) or {}

    def _local_file(self, name: str) -> Callable[[str], Path]:
        prefix = version_key(name)
        return lambda relative: self.store.fetch(f"{prefix}/{validate_relative_file(relative)}", self.cache)

    def _discard(self, name: str) -> Callable[[str], bool]:
        """Drops the cached copy of a file of an object-store version (a local root has none)."""

        def discard(relative: str) -> bool:
            if isinstance(self.store, LocalStore):
                return False
            path = self.cache / version_key(name) / validate_relative_file(relative)
            present = path.is_file()
            path.unlink(missing_ok=True)
            return present

        return discard

    def verify(self, version: str | None = None, alias: str | None = None) -> VersionCheck:
        """Every file the version's manifest lists checked against it (size and sha256; see
        :meth:`resolve` for which version): what ``python -m include.cli verify`` prints. A version
        in an object store is downloaded into the cache folder to be checked."""
        name = self.resolve(version, alias)
        manifest = self._manifest(name)
        damaged = check_files(manifest, self._local_file(name), discard=self._discard(name))
        listed = listed_files(manifest)
        return VersionCheck(name, len(listed), sum(int(e.get("bytes") or 0) for e in listed.values()), damaged)

    def load(self, version: str | None = None, mmap: bool = True, *, alias: str | None = None) -> PublishedModel:
        """Load a version of the model (see :meth:`resolve`; ``"latest"`` means the champion); the
        matrix is memory-mapped unless ``mmap`` is false. The files read are checked against the
        version's manifest the first time this store loads the version
        (:func:`include.serving.integrity.require_whole`): :class:`DamagedVersionError` names
        each file whose size or sha256 differs, instead of serving wrong vectors."""
        name = self.resolve(version, alias)
        prefix = version_key(name)
        served = [
            file
            for file in (EMBEDDINGS_FILE, VOCAB_FILE, NEIGHBOURS_FILE, PHRASES_FILE, INDEX_FILE)
            if file in (EMBEDDINGS_FILE, VOCAB_FILE) or self.store.exists(f"{prefix}/{file}")
        ]
        for file in served:
            local = self.store.fetch(f"{prefix}/{file}", self.cache)
        path = local.parent
        if name not in self._whole:  # checked once per store and version (file hashes once per process)
            require_whole(name, self._manifest(name), self._local_file(name), served, self._discard(name))
            self._whole.add(name)
        document = read_phrases(path)
        phrases = PhraseApplier(document) if document else None
        index = open_vector_index(path / INDEX_FILE) if INDEX_FILE in served else None
        return PublishedModel(name, path, load_embeddings(path, mmap=mmap), phrases, index)
