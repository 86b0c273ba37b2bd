"""The nearest-neighbour table over unit vectors (FAISS), its cost linear in the vocabulary above
a threshold, its recall measured against brute force on every run.

``neighbours.parquet`` has one row per (word, rank): ``word``, ``rank`` (1 = nearest),
``neighbour``, ``cosine``; the word itself is excluded. Up to ``exact_neighbours_max()`` words
(env ``EMBEDDINGS_EXACT_NEIGHBOURS_MAX``) the table holds every word, from FAISS's exact
inner-product search: the same neighbours as gensim's ``most_similar`` up to ties; its cost grows
with the square of the vocabulary. Above it (env ``EMBEDDINGS_LARGE_VOCAB_NEIGHBOURS``):

- ``frequent`` (default): exact neighbours of the most frequent words only, as many as keep the
  cost that of a full table at the threshold (``exact_max**2 / n`` words, at least
  ``FREQUENT_MIN_WORDS``), so the cost stays flat as the vocabulary grows; the model store and the
  UI answer any word through the version's vector index (:mod:`include.quality.vector_index`; a
  version published before indexes: exact, one word costs ``n * d``). Recall is 1.0 for the
  words the table holds.
- ``hnsw``: every word, from an HNSW graph (``IndexHNSWFlat``, inner product, about ``n log n``);
  its recall@k is measured on a fixed random sample of words against exact search, and below
  ``MIN_RECALL`` the table is refused (:class:`NeighbourRecallError`), so nothing is published.
  Measured at 1M words on 2 cores: building and searching the graph cost about 1.6x the
  training's CPU, and on vectors without neighbour structure its recall was 0.20, which is why it
  is not the default.

Example::

    >>> from include.artifacts.embeddings import load_embeddings
    >>> facts = write_neighbour_table(load_embeddings("models/v1"), 10, "neighbours.parquet")  # doctest: +SKIP
    >>> facts["neighbour_table"]["method"], facts["neighbour_table"]["recall_at_k"]  # doctest: +SKIP
    ('exact', 1.0)
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from include.artifacts.embeddings import Embeddings
from include.errors import NeighbourRecallError
from include.quality.similarity import unit_rows

log = logging.getLogger(__name__)
NEIGHBOURS_FILE = "neighbours.parquet"
#: The table is refused below this recall@k against exact search.
MIN_RECALL = 0.95
#: Words of the fixed random sample whose approximate neighbours are checked against exact search.
RECALL_SAMPLE = 1000
RECALL_SEED = 0
#: The ``frequent`` table holds at least this many words, however large the vocabulary.
FREQUENT_MIN_WORDS = 1000


@dataclass(frozen=True)
class HnswParams:
    """FAISS ``IndexHNSWFlat`` parameters: ``m`` links per node, ``ef_construction`` and
    ``ef_search`` the candidate-list lengths when building and searching (``ef_search`` is raised
    to at least ``top_k + 1``). Larger means better recall, slower and (``m``) more memory:
    about ``n * (4 * d + 8 * m)`` bytes."""

    m: int = 32
    ef_construction: int = 64
    ef_search: int = 64

    def __post_init__(self) -> None:
        for name, least in (("m", 2), ("ef_construction", 1), ("ef_search", 1)):
            if getattr(self, name) < least:  # FAISS crashes on m=1
                raise ValueError(f"HnswParams.{name}={getattr(self, name)} must be >= {least}")


def _drop_self(found_idx: np.ndarray, found_cos: np.ndarray, rows: np.ndarray, k: int):
    """From ``k + 1`` results per row, drop the row's own word (or, when it lost a tie to an
    identical vector or was not found, the last result); returns ``(indices, cosines)`` ``[n, k]``."""
    is_self = found_idx == rows[:, None]
    is_self[~is_self.any(axis=1), -1] = True
    order = np.argsort(is_self, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(found_idx, order, axis=1), np.take_along_axis(found_cos, order, axis=1)


def exact_search(unit: np.ndarray, rows: np.ndarray, k: int, batch_rows: int = 4096):
    """Exact top-``k`` neighbours (inner product over ``unit``, float32 ``[n, d]``) of the words
    at ``rows``, self excluded: ``(indices [len(rows), k] int64, cosines float32)``. Costs
    ``len(rows) * n * d`` multiply-adds, as matrix products whatever the number of rows
    (:func:`faiss_blas_always`); memory is FAISS's blocks, no copy of ``unit``."""
    import faiss

    indices = np.empty((len(rows), k), dtype=np.int64)
    cosines = np.empty((len(rows), k), dtype=np.float32)
    with faiss_blas_always():
        for start in range(0, len(rows), batch_rows):
            block = rows[start : start + batch_rows]
            found_cos, found_idx = faiss.knn(unit[block], unit, k + 1, metric=faiss.METRIC_INNER_PRODUCT)
            indices[start : start + len(block)], cosines[start : start + len(block)] = _drop_self(
                found_idx, found_cos, block, k
            )
    return indices, cosines


_BLAS_LOCK = threading.Lock()


@contextmanager
def faiss_blas_always():
    """Inside this, FAISS's exact searches (``faiss.knn``, ``IndexFlat.search``) of this process use
    matrix products (BLAS) for any number of queries. FAISS 1.15 uses them only from
    ``distance_compute_blas_threshold`` / ``d`` queries (1,280 at 100 dimensions) and below that
    scores one pair at a time: the recall measurement's 1,000 words against 1M took 19.2 s that
    way and 2.3 s by BLAS, with the same neighbours (``docs/performance.md``). The setting is
    FAISS's global: a lock keeps callers from restoring each other's value, and a search in
    another thread meanwhile finds the same neighbours (up to float rounding) by the other route."""
    import faiss

    with _BLAS_LOCK:
        saved = faiss.cvar.distance_compute_blas_threshold
        faiss.cvar.distance_compute_blas_threshold = 0
        try:
            yield
        finally:
            faiss.cvar.distance_compute_blas_threshold = saved


def hnsw_search(unit: np.ndarray, k: int, params: HnswParams, batch_rows: int = 65_536):
    """Approximate top-``k`` neighbours of every row of ``unit`` by an HNSW graph (inner product),
    self excluded: ``(indices [n, k] int64, cosines float32)``; ``-1`` where the search found
    fewer than ``k`` (only with very small ``ef_search``). Logs progress per batch."""
    import faiss

    n, dims = unit.shape
    started = time.perf_counter()
    index = faiss.IndexHNSWFlat(dims, params.m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = params.ef_construction
    index.add(unit)
    log.info("HNSW index of %d words built in %.1fs (m=%d)", n, time.perf_counter() - started, params.m)
    index.hnsw.efSearch = max(params.ef_search, k + 1)
    indices = np.empty((n, k), dtype=np.int64)
    cosines = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, batch_rows):
        stop = min(start + batch_rows, n)
        found_cos, found_idx = index.search(unit[start:stop], k + 1)
        indices[start:stop], cosines[start:stop] = _drop_self(found_idx, found_cos, np.arange(start, stop), k)
        log.info("HNSW search: %d/%d words, %.1fs", stop, n, time.perf_counter() - started)
    return indices, cosines


def _hnsw_from_settings(settings: dict[str, int]) -> HnswParams:
    """:class:`HnswParams` from :func:`include.settings.hnsw_params`; a bad value names its variable."""
    from include.errors import PipelineInputError

    try:
        return HnswParams(**settings)
    except ValueError as error:
        raise PipelineInputError(f"EMBEDDINGS_HNSW_*: {error}") from error


def recall_at_k(approximate: np.ndarray, exact: np.ndarray) -> float:
    """Mean over rows of ``|approximate ∩ exact| / k`` (row-aligned ``[rows, k]`` index arrays;
    ``-1`` in ``approximate`` counts as a miss)."""
    if exact.size == 0:
        return 1.0
    hits = sum(len(np.intersect1d(a[a >= 0], e)) for a, e in zip(approximate, exact))
    return hits / exact.size


def frequent_words(vocab_size: int, exact_max: int) -> int:
    """How many of the most frequent words the ``frequent`` table holds for a vocabulary of
    ``vocab_size`` words: ``exact_max**2 // vocab_size`` (the exact search of a full table at the
    threshold costs as much), at least ``FREQUENT_MIN_WORDS``, at most the vocabulary."""
    return min(vocab_size, max(exact_max * exact_max // max(vocab_size, 1), FREQUENT_MIN_WORDS))


def neighbour_table(
    embeddings: Embeddings,
    top_k: int,
    exact_max: int | None = None,
    hnsw: HnswParams | None = None,
    recall_sample: int = RECALL_SAMPLE,
    method: str | None = None,
    unit: np.ndarray | None = None,
):
    """Top-``top_k`` neighbours, self excluded: ``(indices [rows, k], cosines [rows, k], facts)``,
    row ``i`` for the word of index ``i``. Every word, exact, when the vocabulary has at most
    ``exact_max`` words (default: the setting ``EMBEDDINGS_EXACT_NEIGHBOURS_MAX``); above it
    ``method`` (default: the setting ``EMBEDDINGS_LARGE_VOCAB_NEIGHBOURS``) says how:
    ``"frequent"``, the :func:`frequent_words` most frequent words, exact; ``"hnsw"``, every word
    by HNSW with ``hnsw`` (default: the settings ``EMBEDDINGS_HNSW_*``, see
    :func:`include.settings.hnsw_params`; giving ``hnsw`` chooses this method). ``unit``: the
    embeddings' rows already scaled to unit length (:func:`unit_rows`), when the caller has them.

    ``facts`` is ``{"method": "exact" | "frequent" | "hnsw", "recall_at_k", "recall_sample", "k",
    "words" (rows of the table), "vocab_size", "exact_max", "seconds", ...}``: ``recall_at_k`` is
    1.0 when exact, else measured on a fixed random sample of ``recall_sample`` words (seed
    ``RECALL_SEED``) against exact search.
    """
    from include.settings import exact_neighbours_max, hnsw_params, large_vocab_neighbours

    exact_max = exact_neighbours_max() if exact_max is None else exact_max
    started = time.perf_counter()
    if unit is None:
        unit = unit_rows(np.asarray(embeddings.vectors))
    unit = np.ascontiguousarray(unit)
    n = unit.shape[0]
    k = max(min(top_k, n - 1), 0)
    facts: dict = {"k": k, "words": n, "vocab_size": n, "exact_max": exact_max}
    if k == 0:
        indices, cosines = np.empty((n, 0), dtype=np.int64), np.empty((n, 0), dtype=np.float32)
        return indices, cosines, {**facts, "method": "exact", "recall_at_k": 1.0, "recall_sample": 0, "seconds": 0.0}
    if n > exact_max:
        method = "hnsw" if hnsw is not None else (method or large_vocab_neighbours())
    if n <= exact_max:
        indices, cosines = exact_search(unit, np.arange(n), k)
        facts |= {"method": "exact", "recall_at_k": 1.0, "recall_sample": 0}
    elif method == "frequent":
        rows = frequent_words(n, exact_max)
        log.info("neighbour table of the %d most frequent of %d words (exact; others on demand)", rows, n)
        indices, cosines = exact_search(unit, np.arange(rows), k)
        facts |= {"method": "frequent", "words": rows, "recall_at_k": 1.0, "recall_sample": 0}
    else:
        params = hnsw or _hnsw_from_settings(hnsw_params())
        indices, cosines = hnsw_search(unit, k, params)
        sample = np.sort(np.random.default_rng(RECALL_SEED).choice(n, size=min(recall_sample, n), replace=False))
        checked = time.perf_counter()
        exact_indices, _ = exact_search(unit, sample, k)
        facts |= {
            "method": "hnsw",
            "recall_at_k": round(recall_at_k(indices[sample], exact_indices), 6),
            "recall_sample": len(sample),
            "recall_seconds": round(time.perf_counter() - checked, 3),
            "missing": int((indices < 0).sum()),
            "hnsw": {
                "m": params.m,
                "ef_construction": params.ef_construction,
                "ef_search": max(params.ef_search, k + 1),
            },
        }
        log.info("HNSW recall@%d on %d sampled words: %.4f", k, len(sample), facts["recall_at_k"])
    facts["seconds"] = round(time.perf_counter() - started, 3)
    return indices, cosines, facts


def write_neighbour_table(
    embeddings: Embeddings,
    top_k: int,
    out_path: Path,
    exact_max: int | None = None,
    hnsw: HnswParams | None = None,
    min_recall: float = MIN_RECALL,
    unit: np.ndarray | None = None,
) -> dict:
    """Write ``neighbours.parquet`` for every vocabulary word (see :func:`neighbour_table`).

    ``unit``: the rows at unit length, when the caller has them. Returns ``{"path", "rows",
    "seconds", "method", "recall_at_k", ...}`` (the facts the report
    carries as ``"neighbour_table"``). Raises :class:`NeighbourRecallError`, writing nothing, when
    the measured recall@k is below ``min_recall``.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    started = time.perf_counter()
    indices, cosines, facts = neighbour_table(embeddings, top_k, exact_max=exact_max, hnsw=hnsw, unit=unit)
    if facts["recall_at_k"] < min_recall:
        raise NeighbourRecallError(
            f"neighbour table ({facts['method']}, {facts['words']} words) has recall@{facts['k']} "
            f"{facts['recall_at_k']:.4f} on {facts['recall_sample']} sampled words, below {min_recall}: "
            "raise the HNSW parameters or EMBEDDINGS_EXACT_NEIGHBOURS_MAX"
        )
    n, k = indices.shape  # n: the table's words, the most frequent first
    words = pa.array(embeddings.index_to_word, type=pa.string())
    flat = indices.reshape(-1)
    table = pa.table(
        {
            "word": pa.DictionaryArray.from_arrays(pa.array(np.repeat(np.arange(n), k).astype(np.int32)), words),
            "rank": pa.array(np.tile(np.arange(1, k + 1, dtype=np.int16), n)),
            "neighbour": pa.DictionaryArray.from_arrays(
                pa.array(np.maximum(flat, 0).astype(np.int32), mask=flat < 0), words
            ),
            "cosine": pa.array(cosines.reshape(-1), mask=flat < 0),
        }
    )
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, out_path, compression="zstd")
    seconds = time.perf_counter() - started
    log.info(
        "neighbour table (%s, recall@%d %.4f): %d words x %d neighbours in %.2fs",
        facts["method"],
        k,
        facts["recall_at_k"],
        n,
        k,
        seconds,
    )
    return {**facts, "path": str(out_path), "rows": int(n * k), "seconds": round(seconds, 3)}
