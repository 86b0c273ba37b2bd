"""A small API over published model versions: look up vectors, neighbours and similarities
without knowing the folder layout. Reads ``embeddings.npy``, JSON and Parquet; never unpickles.

>>> store = ModelStore()                      # the data root of EMBEDDINGS_DATA_DIR
>>> model = store.load()                      # the version models/LATEST names
>>> model.similarity("king", "queen")         # cosine, float
>>> model.neighbours("king", k=5)             # [("queen", 0.83), ...]
>>> store.describe_versions()                 # [{"version", "latest", "data_time", "corpus_id", ...}]
>>> model.tokens("New York's mayor")          # ["new_york", "mayor"] with the version's phrases
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

import numpy as np

from include.artifacts.embeddings import EMBEDDINGS_FILE, VOCAB_FILE, Embeddings, load_embeddings
from include.artifacts.phrases import PHRASES_FILE, PhraseApplier, read_phrases
from include.errors import PipelineInputError
from include.quality.neighbour_table import NEIGHBOURS_FILE
from include.quality.similarity import nearest_neighbours, unit_rows
from include.storage.layout import LATEST_KEY, MODELS, data_store, version_key
from include.storage.store import LocalStore, Store
from include.storage.versions import list_versions, read_latest


class UnknownWordError(KeyError):
    """The word is not in the model's vocabulary."""


@dataclass
class PublishedModel:
    """One published version: its name, folder, embeddings and phrases (``None`` when the version
    was trained without them)."""

    version: str
    path: Path
    embeddings: Embeddings
    phrases: PhraseApplier | None = field(default=None, repr=False)

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
        """The ``k`` nearest words by cosine, the word itself excluded; from ``neighbours.parquet``
        when it holds enough neighbours, else computed exactly."""
        self._index(word)
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


class VersionSummary(TypedDict):
    """One published version as ``python -m include.cli versions`` shows it (``None``: not recorded)."""

    version: str
    latest: bool  #: ``models/LATEST`` names it
    data_time: str | None  #: ISO time of the data it describes
    corpus_id: str | None  #: the corpus's token folder name
    corpus_path: str | None  #: the resolved corpus path it was trained on
    vocab_size: int | None
    epochs: int | None  #: passes trained
    epochs_requested: int | str | None  #: the ``epochs`` Param as given (a number or ``"auto"``)
    wordsim353: float | None  #: WordSim-353 Spearman
    simlex999: float | None  #: SimLex-999 Spearman
    analogies: float | None  #: Google analogy accuracy
    gate: str | None  #: the quality gate's decision: ``promoted`` or ``rejected``
    gate_reason: str | None


def summarize_version(name: str, manifest: dict[str, Any] | None, latest: str | None) -> VersionSummary:
    """A :class:`VersionSummary` of version ``name`` from its ``manifest.json`` (``None`` when it
    has none: every field but the name and ``latest`` is then ``None``)."""
    manifest = manifest or {}
    params, evaluation = manifest.get("params") or {}, manifest.get("evaluation") or {}
    gate = manifest.get("gate") or {}
    return VersionSummary(
        version=name,
        latest=name == latest,
        data_time=manifest.get("data_time"),
        corpus_id=manifest.get("corpus_id"),
        corpus_path=params.get("corpus_path"),
        vocab_size=(manifest.get("training") or {}).get("vocab_size"),
        epochs=params.get("epochs"),
        epochs_requested=params.get("epochs_requested", params.get("epochs")),
        wordsim353=(evaluation.get("wordsim353") or {}).get("spearman"),
        simlex999=(evaluation.get("simlex999") or {}).get("spearman"),
        analogies=(evaluation.get("analogies") or {}).get("accuracy"),
        gate=gate.get("decision"),
        gate_reason=gate.get("reason"),
    )


VERSION_COLUMNS = (
    ("", lambda v: "*" if v["latest"] else " "),
    ("version", lambda v: v["version"]),
    ("data time", lambda v: v["data_time"] and v["data_time"][:19]),
    ("corpus", lambda v: v["corpus_id"]),
    ("vocab", lambda v: v["vocab_size"]),
    (
        "epochs",
        lambda v: (
            None if v["epochs"] is None else f"{v['epochs']}{' (auto)' if v['epochs_requested'] == 'auto' else ''}"
        ),
    ),
    ("wordsim353", lambda v: None if v["wordsim353"] is None else f"{v['wordsim353']:.3f}"),
    ("simlex999", lambda v: None if v["simlex999"] is None else f"{v['simlex999']:.3f}"),
    ("analogies", lambda v: None if v["analogies"] is None else f"{v['analogies']:.3f}"),
    ("gate", lambda v: v["gate"]),
)


def versions_table(summaries: list[VersionSummary]) -> str:
    """``summaries`` as an aligned text table, one version per line, ``*`` marking LATEST; a
    missing value shows as ``-``."""
    rows = [[name.upper() for name, _ in VERSION_COLUMNS]]
    rows += [["-" if cell(v) is None else str(cell(v)) for _, cell in VERSION_COLUMNS] for v in summaries]
    widths = [max(len(row[i]) for row in rows) for i in range(len(VERSION_COLUMNS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    if not summaries:
        lines.append("(no published versions)")
    elif any(v["latest"] for v in summaries):
        lines.append("* = LATEST (what ModelStore().load() and the CLI's other commands use)")
    else:
        lines.append("no version is LATEST yet (none was promoted)")
    return "\n".join(lines)


class ModelStore:
    """The published versions of a data root (``EMBEDDINGS_DATA_DIR`` by default: a local folder or
    an object-store URL). A version in an object store is downloaded once into a local cache folder
    (``EMBEDDINGS_CACHE_DIR``, default ``~/.cache/word2vec-embeddings``) and memory-mapped from there."""

    def __init__(self, models: Path | None = None, *, store: Store | None = None, cache: Path | None = None) -> None:
        self.store = store or (LocalStore(Path(models).parent) if models else data_store())
        self.models = self.store.key_url(MODELS)
        default_cache = Path(os.environ.get("EMBEDDINGS_CACHE_DIR", "~/.cache/word2vec-embeddings")).expanduser()
        digest = hashlib.sha1(self.store.url.encode()).hexdigest()[:12]
        self.cache = Path(cache) if cache else default_cache / digest

    def versions(self) -> list[str]:
        """Published version names (those with a manifest), oldest first."""
        return [v["version"] for v in list_versions(self.store)]

    def describe_versions(self) -> list[VersionSummary]:
        """Every published version, oldest first, with what its manifest says (:class:`VersionSummary`)."""
        latest = read_latest(self.store)
        return [summarize_version(m["version"], m, latest) for m in list_versions(self.store)]

    def latest(self) -> str:
        """The version ``LATEST`` names."""
        name = read_latest(self.store)
        if not name:
            raise PipelineInputError(f"no promoted model yet: '{self.store.key_url(LATEST_KEY)}' does not exist")
        return name

    def load(self, version: str = "latest", mmap: bool = True) -> PublishedModel:
        """Load a version (``"latest"`` by default); the matrix is memory-mapped unless ``mmap`` is false."""
        name = self.latest() if version == "latest" else version
        if name not in self.versions():
            raise PipelineInputError(f"no model version '{name}' in '{self.models}'")
        prefix = version_key(name)
        for file in (EMBEDDINGS_FILE, VOCAB_FILE, NEIGHBOURS_FILE, PHRASES_FILE):
            if file in (EMBEDDINGS_FILE, VOCAB_FILE) or self.store.exists(f"{prefix}/{file}"):
                local = self.store.fetch(f"{prefix}/{file}", self.cache)
        path = local.parent
        document = read_phrases(path)
        phrases = PhraseApplier(document) if document else None
        return PublishedModel(name, path, load_embeddings(path, mmap=mmap), phrases)
