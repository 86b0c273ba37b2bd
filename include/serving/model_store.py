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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

import numpy as np

from include.artifacts.embeddings import EMBEDDINGS_FILE, VOCAB_FILE, Embeddings, load_embeddings
from include.artifacts.phrases import PHRASES_FILE, PhraseApplier, read_phrases
from include.errors import PipelineInputError
from include.quality.coverage import format_score
from include.quality.neighbour_table import NEIGHBOURS_FILE
from include.quality.similarity import nearest_neighbours, unit_rows
from include.registry.names import CHAMPION, DEFAULT_MODEL, check_alias_name, check_model_name
from include.registry.registry import AliasMove, ModelRegistry
from include.storage.layout import MODELS, data_store, version_key
from include.storage.store import LocalStore, Store


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
    model: str
    aliases: list[str]  #: the model's aliases that name this version (``champion`` among them)
    data_time: str | None  #: ISO time of the data it describes
    corpus_id: str | None  #: the corpus's token folder name
    corpus_path: str | None  #: the resolved corpus path it was trained on
    vocab_size: int | None
    epochs: int | None  #: passes trained
    epochs_requested: int | str | None  #: the ``epochs`` Param as given (a number or ``"auto"``)
    wordsim353: float | None  #: WordSim-353 Spearman (``None``: not computable, see the coverage)
    simlex999: float | None  #: SimLex-999 Spearman
    analogies: float | None  #: Google analogy accuracy
    coverage: dict[str, dict | None]  #: metric -> ``{"scored", "total", "unit"}`` (``None``: not recorded)
    gate: str | None  #: the quality gate's decision: ``promoted`` or ``rejected``
    gate_reason: str | None
    gate_checks: list[dict]  #: each check: name, value, reference, threshold, coverage, status, detail


METRICS = (("wordsim353", "spearman"), ("simlex999", "spearman"), ("analogies", "accuracy"))


def _coverage(entry: dict) -> dict | None:
    if "scored" not in entry:
        return None
    return {"scored": entry["scored"], "total": entry.get("total"), "unit": entry.get("unit", "items")}


def summarize_version(name: str, manifest: dict[str, Any] | None, aliases: list[str] | None = None) -> VersionSummary:
    """A :class:`VersionSummary` of version ``name`` from its ``manifest.json`` (``None`` when it
    has none: every field but the name and ``aliases`` is then ``None``)."""
    manifest = manifest or {}
    params, evaluation = manifest.get("params") or {}, manifest.get("evaluation") or {}
    gate = manifest.get("gate") or {}
    return VersionSummary(
        version=name,
        model=manifest.get("model") or DEFAULT_MODEL,
        aliases=sorted(aliases or []),
        data_time=manifest.get("data_time"),
        corpus_id=manifest.get("corpus_id"),
        corpus_path=params.get("corpus_path"),
        vocab_size=(manifest.get("training") or {}).get("vocab_size"),
        epochs=params.get("epochs"),
        epochs_requested=params.get("epochs_requested", params.get("epochs")),
        wordsim353=(evaluation.get("wordsim353") or {}).get("spearman"),
        simlex999=(evaluation.get("simlex999") or {}).get("spearman"),
        analogies=(evaluation.get("analogies") or {}).get("accuracy"),
        coverage={metric: _coverage(evaluation.get(metric) or {}) for metric, _ in METRICS},
        gate=gate.get("decision"),
        gate_reason=gate.get("reason"),
        gate_checks=list(gate.get("checks") or []),
    )


def _metric(name: str):
    return lambda v: (
        None if v[name] is None and v["coverage"].get(name) is None else format_score(v[name], v["coverage"].get(name))
    )


def _failed(check: dict) -> str:
    """``vocabulary 133 (>= 0.5 x champion)``: a failed gate check, its value and threshold."""
    value = check.get("value")
    shown = format_score(value, check.get("coverage")) if isinstance(value, float) else f"{value}"
    return f"{check.get('name')} {shown} ({check.get('threshold')})"


VERSION_COLUMNS = (
    ("", lambda v: "*" if CHAMPION in v["aliases"] else " "),
    ("version", lambda v: v["version"]),
    ("aliases", lambda v: ",".join(v["aliases"]) or None),
    ("data time", lambda v: v["data_time"] and v["data_time"][:19]),
    ("corpus", lambda v: v["corpus_id"]),
    ("vocab", lambda v: v["vocab_size"]),
    (
        "epochs",
        lambda v: (
            None if v["epochs"] is None else f"{v['epochs']}{' (auto)' if v['epochs_requested'] == 'auto' else ''}"
        ),
    ),
    ("wordsim353", _metric("wordsim353")),
    ("simlex999", _metric("simlex999")),
    ("analogies", _metric("analogies")),
    ("gate", lambda v: v["gate"]),
    (
        "failed checks",
        lambda v: "; ".join(_failed(check) for check in v["gate_checks"] if check.get("status") == "failed") or None,
    ),
)


def versions_table(summaries: list[VersionSummary], model: str = DEFAULT_MODEL) -> str:
    """``summaries`` (of ``model``) as an aligned text table, one version per line, ``*`` marking the
    champion, each score with its coverage; a missing value shows as ``-``."""
    rows = [[name.upper() for name, _ in VERSION_COLUMNS]]
    rows += [["-" if cell(v) is None else str(cell(v)) for _, cell in VERSION_COLUMNS] for v in summaries]
    widths = [max(len(row[i]) for row in rows) for i in range(len(VERSION_COLUMNS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    if not summaries:
        lines.append(f"(no published versions of model {model!r})")
    elif any(CHAMPION in v["aliases"] for v in summaries):
        lines.append(
            f"* = {model}@{CHAMPION} (what ModelStore(model={model!r}).load() and the CLI's other commands use)"
        )
    else:
        lines.append(f"model {model!r} has no champion yet (no version was promoted)")
    return "\n".join(lines)


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

    def model_names(self) -> list[str]:
        """Every model of the data root."""
        return self.registry.models()

    def versions(self) -> list[str]:
        """The model's published version names (those with a manifest), oldest first."""
        return [m["version"] for m in self.registry.manifests(self.model)]

    def describe_versions(self) -> list[VersionSummary]:
        """Every published version of the model, oldest first, with its aliases and what its
        manifest says (:class:`VersionSummary`)."""
        by_version: dict[str, list[str]] = {}
        for alias, version in self.registry.aliases(self.model).items():
            by_version.setdefault(version, []).append(alias)
        return [
            summarize_version(m["version"], m, by_version.get(m["version"]))
            for m in self.registry.manifests(self.model)
        ]

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

    def load(self, version: str | None = None, mmap: bool = True, *, alias: str | None = None) -> PublishedModel:
        """Load a version of the model (see :meth:`resolve`; ``"latest"`` means the champion); the
        matrix is memory-mapped unless ``mmap`` is false."""
        name = self.resolve(version, alias)
        prefix = version_key(name)
        for file in (EMBEDDINGS_FILE, VOCAB_FILE, NEIGHBOURS_FILE, PHRASES_FILE):
            if file in (EMBEDDINGS_FILE, VOCAB_FILE) or self.store.exists(f"{prefix}/{file}"):
                local = self.store.fetch(f"{prefix}/{file}", self.cache)
        path = local.parent
        document = read_phrases(path)
        phrases = PhraseApplier(document) if document else None
        return PublishedModel(name, path, load_embeddings(path, mmap=mmap), phrases)
