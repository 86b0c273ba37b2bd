"""The vector index of a version (``vector_index.faiss``): any word's nearest neighbours in about
a millisecond, whatever the vocabulary's size; its recall measured against exact search on every
build.

Built by the ``build_neighbour_table`` step over the same unit vectors as the neighbour table, as
a FAISS index with inner product (cosine) as its metric:

- ``flat`` (``IndexFlatIP``): exact, up to ``exact_max`` words (``EMBEDDINGS_INDEX_EXACT_MAX``,
  default 10,000: :data:`include.settings.DEFAULT_INDEX_EXACT_MAX`), below which one exact query costs no more than the
  approximate one (``docs/performance.md`` has the measurement);
- ``ivf`` (``IndexIVFFlat``, ``2 sqrt(n)`` lists from k-means on a sample): above it. How many
  lists a query probes (``nprobe``, stored in the file) is the smallest power of two whose
  recall@10 against exact search, on a fixed random sample of :data:`RECALL_SAMPLE` words (seed
  :data:`RECALL_SEED`), reaches :data:`MIN_RECALL`; probing every list is exact search, so the
  goal is always reached. Measured against HNSW at 1M words: the same query time, a build many
  times cheaper.

Readers open the file once per process (:func:`open_vector_index`: memory-mapped, so processes
share its pages) and ask :meth:`VectorIndex.neighbours` of a word's row; the query vector is the
index's own stored vector, so nothing is normalised per query.

    >>> facts = write_vector_index(unit, Path("v1/vector_index.faiss"))  # doctest: +SKIP
    >>> facts["kind"], facts["recall_at_10"], facts["build_seconds"]  # doctest: +SKIP
    ('ivf', 0.987, 14.2)
    >>> open_vector_index(Path("v1/vector_index.faiss")).neighbours(17, 10)  # doctest: +SKIP
    (array([  3, 912, ...]), array([0.83, 0.81, ...], dtype=float32))
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from include.quality.neighbour_table import exact_search, recall_at_k

log = logging.getLogger(__name__)

INDEX_FILE = "vector_index.faiss"
#: Neighbours per word whose recall is measured (recall@10).
RECALL_K = 10
#: Words of the fixed random sample whose index neighbours are checked against exact search.
RECALL_SAMPLE = 1000
RECALL_SEED = 0
#: ``nprobe`` is raised until the measured recall@10 reaches this.
MIN_RECALL = 0.95
#: k-means of the IVF lists trains on at most this many sampled vectors per list.
TRAIN_ROWS_PER_LIST = 64
KINDS = ("flat", "ivf")


#: IVF lists per ``sqrt(n)``: measured at 200k words (docs/performance.md), 2 probed 32 of 894
#: lists for recall@10 0.958 at p50 0.27 ms, where 1 needed 64 of 447 at 0.95 ms (build 13 s and 5 s).
LISTS_PER_SQRT = 2


def ivf_lists(n: int) -> int:
    """Lists of an IVF index of ``n`` words: ``LISTS_PER_SQRT * sqrt(n)``, at least 1."""
    return max(1, round(LISTS_PER_SQRT * float(np.sqrt(n))))


def choose_kind(n: int, exact_max: int) -> str:
    """``"flat"`` up to ``exact_max`` words, else ``"ivf"``."""
    return "flat" if n <= exact_max else "ivf"


def _build(unit: np.ndarray, kind: str, seed: int):
    import faiss

    n, dims = unit.shape
    if kind == "flat":
        flat = faiss.IndexFlatIP(dims)
        flat.add(unit)
        return flat
    nlist = min(ivf_lists(n), n)
    quantizer = faiss.IndexFlatIP(dims)
    index = faiss.IndexIVFFlat(quantizer, dims, nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = seed
    index.cp.max_points_per_centroid = TRAIN_ROWS_PER_LIST
    train = unit
    if n > nlist * TRAIN_ROWS_PER_LIST:  # a fixed sample: k-means costs rows x lists
        rows = np.sort(np.random.default_rng(seed).choice(n, size=nlist * TRAIN_ROWS_PER_LIST, replace=False))
        train = unit[rows]
    index.train(train)
    index.add(unit)
    index.make_direct_map()  # reconstruct(row): the query vector is read from the index itself
    return index


#: Words searched at once when the recall is measured: fewer than FAISS's
#: ``distance_compute_blas_threshold`` (20), so the coarse quantizer scores every query of a batch
#: with the kernel it uses for a single query, and each query's lists, hence its neighbours, are
#: those a reader's one-word search finds; FAISS spreads a batch's queries over its threads.
RECALL_BATCH = 16


def _search_rows(index, unit: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """The top-``k`` of the words at ``rows``, self excluded (``[len(rows), k]``, ``-1`` where
    fewer were found), found as readers find them (:meth:`VectorIndex.neighbours`): the same
    search of each word's stored vector, :data:`RECALL_BATCH` words at a time, and a word whose
    probed lists hold fewer than ``k`` others searched again alone with more lists, so the recall
    measured is the recall served."""
    searcher = VectorIndex(index, Path())
    count = min(k, searcher.size - 1)
    found = np.full((len(rows), k), -1, dtype=np.int64)
    if count <= 0:
        return found
    for start in range(0, len(rows), RECALL_BATCH):
        block = rows[start : start + RECALL_BATCH]
        queries = np.ascontiguousarray(unit[block])
        cosines, hits = index.search(queries, count + 1)
        for i, row in enumerate(block):
            one = searcher.widened(queries[i : i + 1], count, cosines[i : i + 1], hits[i : i + 1])
            neighbours, _ = nearest_first(one[1][0], one[0][0], int(row), count)
            found[start + i, : len(neighbours)] = neighbours
    return found


def nearest_first(found: np.ndarray, cosines: np.ndarray, row: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """One query's FAISS result (``found`` rows, ``-1`` for none, and their ``cosines``) as its
    ``count`` nearest words other than ``row`` itself: ``(rows, cosines)``, nearest first, ties in
    vocabulary order."""
    keep = (found >= 0) & (found != row)
    cosines, found = cosines[keep], found[keep]
    order = np.lexsort((found, -cosines))[:count]
    return found[order], cosines[order]


def write_vector_index(
    unit: np.ndarray,
    out_path: Path,
    exact_max: int | None = None,
    kind: str | None = None,
    recall_sample: int = RECALL_SAMPLE,
    min_recall: float = MIN_RECALL,
    seed: int = RECALL_SEED,
) -> dict[str, Any]:
    """Build the index of ``unit`` (float32 unit rows ``[n, d]``, row ``i`` the word of index ``i``),
    measure its recall@10 and write it to ``out_path``.

    ``kind`` (default: :func:`choose_kind` with ``exact_max``, default the setting
    ``EMBEDDINGS_INDEX_EXACT_MAX``) is ``"flat"`` or ``"ivf"``. Returns the facts the report
    carries as ``"vector_index"``: ``{"path", "kind", "words", "dims", "bytes", "build_seconds"
    (training and adding), "recall_at_10", "recall_k", "recall_sample", "recall_seed",
    "recall_seconds" (exact search of the sample and, for IVF, choosing ``nprobe``), "seconds",
    "exact_max"}``, and for IVF ``"nlist"``, ``"nprobe"``.
    """
    import faiss

    from include.settings import index_exact_max

    unit = np.ascontiguousarray(unit, dtype=np.float32)
    n, dims = unit.shape
    exact_max = index_exact_max() if exact_max is None else exact_max
    kind = kind or choose_kind(n, exact_max)
    if kind not in KINDS:
        raise ValueError(f"vector index kind {kind!r} must be one of {', '.join(KINDS)}")
    started = time.perf_counter()
    index = _build(unit, kind, seed)
    built = time.perf_counter()
    facts: dict[str, Any] = {"kind": kind, "words": n, "dims": dims, "exact_max": exact_max}
    k = max(min(RECALL_K, n - 1), 0)
    sample = np.sort(np.random.default_rng(seed).choice(n, size=min(recall_sample, n), replace=False))
    recall = 1.0
    if k > 0 and len(sample):
        exact, _ = exact_search(unit, sample, k)
        if kind == "ivf":
            nprobe = 1
            while True:
                index.nprobe = nprobe
                recall = recall_at_k(_search_rows(index, unit, sample, k), exact)
                log.info("vector index: nprobe %d of %d lists, recall@%d %.4f", nprobe, index.nlist, k, recall)
                if recall >= min_recall or nprobe >= index.nlist:
                    break
                nprobe = min(nprobe * 2, index.nlist)
        else:
            recall = recall_at_k(_search_rows(index, unit, sample, k), exact)
    if kind == "ivf":
        facts |= {"nlist": int(index.nlist), "nprobe": int(index.nprobe)}
    measured = time.perf_counter()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    faiss.write_index(index, str(out_path))
    facts |= {
        "path": str(out_path),
        "bytes": out_path.stat().st_size,
        "build_seconds": round(built - started, 3),
        "recall_at_10": round(float(recall), 6),
        "recall_k": k,
        "recall_sample": len(sample),
        "recall_seed": seed,
        "recall_seconds": round(measured - built, 3),
        "seconds": round(time.perf_counter() - started, 3),
    }
    if recall < min_recall:
        log.warning("vector index (%s, %d words): recall@%d %.4f is below %s", kind, n, k, recall, min_recall)
    log.info(
        "vector index %s of %d words: built in %.2fs, recall@%d %.4f on %d sampled words",
        kind,
        n,
        facts["build_seconds"],
        k,
        recall,
        len(sample),
    )
    return facts


class VectorIndex:
    """A version's index opened for search (see :func:`open_vector_index`). Thread-safe: searches
    only read the index."""

    def __init__(self, index, path: Path) -> None:
        self.index = index
        self.path = path
        self.size = int(index.ntotal)

    def neighbours(self, row: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, cosines)`` of the ``k`` nearest words of the word at ``row``, itself excluded,
        nearest first (ties in vocabulary order); fewer when the vocabulary is smaller."""
        count = min(k, self.size - 1)
        if count <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        import faiss

        query = self.index.reconstruct(int(row)).reshape(1, -1)
        # One query, one core: OpenMP's threads for a single query cost more than they save (p50
        # 50 ms where one thread took 5 ms, flat at 200k words on a busy 2-core machine); parallel
        # requests use the other cores. The setting is this thread's alone, and is given back.
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            cosines, found = self.widened(query, count, *self.index.search(query, count + 1))
        finally:
            faiss.omp_set_num_threads(threads)
        return nearest_first(found[0], cosines[0], int(row), count)

    def widened(self, query: np.ndarray, count: int, cosines: np.ndarray, found: np.ndarray) -> tuple:
        """One query's search result (``query`` ``[1, d]``, ``cosines`` and ``found`` ``[1,
        count + 1]``) as it is, or, when the IVF lists probed held fewer than ``count + 1`` words,
        searched again with twice the lists until they do (or every list is probed)."""
        import faiss

        probes = getattr(self.index, "nprobe", 0)
        while (found[0] >= 0).sum() < min(count + 1, self.size) and 0 < probes < self.index.nlist:
            probes = min(probes * 2, self.index.nlist)
            params = faiss.SearchParametersIVF()
            params.nprobe = probes
            cosines, found = self.index.search(query, count + 1, params=params)
        return cosines, found


_OPEN: OrderedDict[tuple, VectorIndex] = OrderedDict()
_OPEN_LOCK = threading.Lock()
#: Indexes held open per process (least recently used closed first).
MAX_OPEN = 4


def _read(path: Path):
    """The index at ``path``, memory-mapped: its pages are the page cache's, shared by every
    process serving the file (``IO_FLAG_MMAP_IFC`` maps a flat index's vectors and an IVF's lists;
    ``IO_FLAG_MMAP`` the lists of an IVF index alone; a kind FAISS can map neither way is read)."""
    import faiss

    for flags in (faiss.IO_FLAG_MMAP_IFC, faiss.IO_FLAG_MMAP):
        try:
            return faiss.read_index(str(path), flags)
        except RuntimeError:
            continue
    return faiss.read_index(str(path))


def read_vector_index(path: Path) -> VectorIndex:
    """The index at ``path``, memory-mapped, held by the caller alone (no process-wide cache): its
    pages are let go when the returned object is. For a reader with a cache of its own, such as
    the api-server's :class:`include.serving.catalog.Catalog`, whose bound must free what it evicts."""
    path = Path(path)
    return VectorIndex(_read(path), path)


def open_vector_index(path: Path) -> VectorIndex:
    """The index at ``path``, read once per process (and file: a new file at the same path is
    read again); at most :data:`MAX_OPEN` are kept open."""
    path = Path(path)
    status = os.stat(path)
    key = (str(path.resolve()), status.st_ino, status.st_size, status.st_mtime_ns)
    with _OPEN_LOCK:
        found = _OPEN.get(key)
        if found is not None:
            _OPEN.move_to_end(key)
            return found
        opened = VectorIndex(_read(path), path)
        _OPEN[key] = opened
        while len(_OPEN) > MAX_OPEN:
            _OPEN.popitem(last=False)
        return opened
