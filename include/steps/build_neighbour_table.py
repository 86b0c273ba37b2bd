"""The ``build_neighbour_table`` step: ``neighbours.parquet``, the nearest neighbours of every word
of the version (exact, or approximate with its recall measured; see
:mod:`include.quality.neighbour_table`), and ``vector_index.faiss``, the index that answers any
word's neighbours when the version is served (see :mod:`include.quality.vector_index`)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, TypedDict

import numpy as np

from include.artifacts.embeddings import fetch_embeddings
from include.quality.neighbour_table import NEIGHBOURS_FILE, write_neighbour_table
from include.quality.similarity import unit_rows
from include.quality.vector_index import INDEX_FILE, write_vector_index
from include.storage.layout import data_store
from include.storage.version_files import record_written, relocated


class NeighbourTableFacts(TypedDict):
    """What ``build_neighbour_table`` tells the tasks after it."""

    path: str  #: ``neighbours.parquet`` under the data root (a path or URL)
    #: :func:`include.quality.neighbour_table.write_neighbour_table`'s facts (method, ``recall_at_k``,
    #: seconds, ...; an HNSW table's add its parameters), ``path`` relocated, and ``"vector_index"``:
    #: :func:`include.quality.vector_index.write_vector_index`'s facts (kind, ``recall_at_10``,
    #: ``build_seconds``, ...), its ``path`` relocated too: the report carries them
    neighbour_table: dict[str, Any]


def build_neighbour_table(version_dir: str, run_id: str, top_k: int) -> NeighbourTableFacts:
    """The whole ``build_neighbour_table`` task: the ``top_k`` neighbours of every word of the
    version at ``version_dir`` (under the data root) written to its ``neighbours.parquet``, and
    its vector index to ``vector_index.faiss`` (both from the same unit vectors).

    Returns ``{"path", "neighbour_table"}``: the table's location and its facts (method,
    ``recall_at_k``, seconds, ..., and the index's under ``"vector_index"``), which the report
    carries. Raises
    :class:`include.errors.NeighbourRecallError`, writing nothing, when an approximate table's
    measured recall is too low.
    """
    store = data_store()
    prefix = store.key_of(version_dir)
    with tempfile.TemporaryDirectory(prefix="w2v-neighbours-") as scratch:
        embeddings = fetch_embeddings(store, prefix, Path(scratch))
        unit = np.ascontiguousarray(unit_rows(np.asarray(embeddings.vectors)))
        with store.writer(prefix, Path(scratch)) as out:
            facts = write_neighbour_table(embeddings, int(top_k), out.folder / NEIGHBOURS_FILE, unit=unit)
            index = write_vector_index(unit, out.folder / INDEX_FILE)
            del unit
        record_written(store, run_id, "build_neighbour_table", out.files)
    located = relocated(facts, out.folder, store, prefix)
    located["vector_index"] = relocated(index, out.folder, store, prefix)
    return NeighbourTableFacts(path=located["path"], neighbour_table=located)
