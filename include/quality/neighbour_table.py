"""The all-vocabulary nearest-neighbour table, by exact inner product over unit vectors (FAISS).

``neighbours.parquet`` has one row per (word, rank): ``word``, ``rank`` (1 = nearest),
``neighbour``, ``cosine``; the word itself is excluded. FAISS's flat index is exact: the same
neighbours as gensim's ``most_similar`` up to ties.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from include.artifacts.embeddings import Embeddings
from include.quality.similarity import unit_rows

log = logging.getLogger(__name__)
NEIGHBOURS_FILE = "neighbours.parquet"


def neighbour_table(embeddings: Embeddings, top_k: int, batch_rows: int = 4096):
    """Top-``top_k`` neighbours of every word as ``(indices [n, k], cosines [n, k])``, self excluded."""
    import faiss

    unit = np.ascontiguousarray(unit_rows(np.asarray(embeddings.vectors)))
    n = unit.shape[0]
    k = min(top_k, n - 1)
    index = faiss.IndexFlatIP(unit.shape[1])
    index.add(unit)
    indices = np.empty((n, max(k, 0)), dtype=np.int64)
    cosines = np.empty((n, max(k, 0)), dtype=np.float32)
    if k <= 0:
        return indices, cosines
    for start in range(0, n, batch_rows):
        stop = min(start + batch_rows, n)
        found_cos, found_idx = index.search(unit[start:stop], k + 1)
        for row in range(stop - start):
            keep = found_idx[row] != start + row
            if keep.all():  # the word itself lost a tie to an identical vector: drop the last
                keep[-1] = False
            indices[start + row] = found_idx[row][keep][:k]
            cosines[start + row] = found_cos[row][keep][:k]
    return indices, cosines


def write_neighbour_table(embeddings: Embeddings, top_k: int, out_path: Path) -> dict:
    """Write ``neighbours.parquet`` for every vocabulary word. Returns ``{"path", "rows", "seconds"}``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    started = time.perf_counter()
    indices, cosines = neighbour_table(embeddings, top_k)
    n, k = indices.shape
    words = pa.array(embeddings.index_to_word, type=pa.string())
    table = pa.table(
        {
            "word": pa.DictionaryArray.from_arrays(pa.array(np.repeat(np.arange(n), k).astype(np.int32)), words),
            "rank": pa.array(np.tile(np.arange(1, k + 1, dtype=np.int16), n)),
            "neighbour": pa.DictionaryArray.from_arrays(pa.array(indices.reshape(-1).astype(np.int32)), words),
            "cosine": pa.array(cosines.reshape(-1)),
        }
    )
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, out_path, compression="zstd")
    seconds = time.perf_counter() - started
    log.info("neighbour table: %d words x %d neighbours in %.2fs", n, k, seconds)
    return {"path": str(out_path), "rows": int(n * k), "seconds": round(seconds, 3)}
