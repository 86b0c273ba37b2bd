"""A small API over published model versions: look up vectors, neighbours and similarities
without knowing the folder layout. Reads ``embeddings.npy``, JSON and Parquet; never unpickles.

>>> store = ModelStore()                      # the data root of EMBEDDINGS_DATA_DIR
>>> model = store.load()                      # the version models/LATEST names
>>> model.similarity("king", "queen")         # cosine, float
>>> model.neighbours("king", k=5)             # [("queen", 0.83), ...]
>>> model.tokens("New York's mayor")          # ["new_york", "mayor"] with the version's phrases
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from include.artifacts.embeddings import Embeddings, load_embeddings
from include.artifacts.phrases import PhraseApplier, read_phrases
from include.errors import PipelineInputError
from include.quality.neighbour_table import NEIGHBOURS_FILE
from include.quality.similarity import nearest_neighbours, unit_rows
from include.storage.paths import models_dir
from include.storage.publish import read_latest


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


class ModelStore:
    """The published versions under a data root's ``models/`` folder."""

    def __init__(self, models: Path | None = None) -> None:
        self.models = Path(models) if models else models_dir()

    def versions(self) -> list[str]:
        """Published version names, oldest first."""
        if not self.models.is_dir():
            return []
        return sorted(p.name for p in self.models.iterdir() if p.is_dir() and not p.name.startswith("."))

    def latest(self) -> str:
        """The version ``LATEST`` names."""
        name = read_latest(self.models)
        if not name:
            raise PipelineInputError(f"no promoted model yet: '{self.models / 'LATEST'}' does not exist")
        return name

    def load(self, version: str = "latest", mmap: bool = True) -> PublishedModel:
        """Load a version (``"latest"`` by default); the matrix is memory-mapped unless ``mmap`` is false."""
        name = self.latest() if version == "latest" else version
        if name not in self.versions():
            raise PipelineInputError(f"no model version '{name}' in '{self.models}'")
        path = self.models / name
        document = read_phrases(path)
        phrases = PhraseApplier(document) if document else None
        return PublishedModel(name, path, load_embeddings(path, mmap=mmap), phrases)
