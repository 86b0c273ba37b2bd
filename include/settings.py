"""Deployment settings read from the environment (not per-run Params): retention and pruning."""

from __future__ import annotations

import os

from include.errors import PipelineInputError


def _non_negative_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise PipelineInputError(f"environment variable {name}={raw!r} must be a whole number >= 0")
    return value


def token_retention_days() -> int:
    """``EMBEDDINGS_TOKEN_RETENTION_DAYS`` (default 90): token partitions older than this many
    days before a run's window end are deleted; 0 keeps them all."""
    return _non_negative_int("EMBEDDINGS_TOKEN_RETENTION_DAYS", 90)


def keep_versions() -> int:
    """``EMBEDDINGS_KEEP_VERSIONS`` (default 20): versions kept per model; older ones are deleted,
    never one an alias names; 0 keeps them all."""
    return _non_negative_int("EMBEDDINGS_KEEP_VERSIONS", 20)


def lineage_file_host() -> str:
    """``EMBEDDINGS_LINEAGE_FILE_HOST`` (default: this machine's host name): the host that local
    paths are named under in OpenLineage events (namespace ``file://<host>``). Workers that share a
    mounted data root set one name (the file server's), so that what one writes is what another reads."""
    import socket

    return os.environ.get("EMBEDDINGS_LINEAGE_FILE_HOST", "").strip() or socket.gethostname()


#: Measured on 2 cores (README, Performance): exact search costs about 1.1 ns per pair of words
#: at 100 dimensions, so a full table of 40k words takes 2.2 s, under 6% of training on 10M tokens
#: (38 s); at 50k it took 3.3 s, and at 100k words 28 s beside 68 s of training on a slower machine.
DEFAULT_EXACT_NEIGHBOURS_MAX = 40_000


def exact_neighbours_max() -> int:
    """``EMBEDDINGS_EXACT_NEIGHBOURS_MAX`` (default 40,000): up to this many vocabulary words the
    neighbour table holds every word, exact (cost grows with the square of the vocabulary); above
    it, see :func:`large_vocab_neighbours`. 0 always takes the large-vocabulary path."""
    return _non_negative_int("EMBEDDINGS_EXACT_NEIGHBOURS_MAX", DEFAULT_EXACT_NEIGHBOURS_MAX)


LARGE_VOCAB_METHODS = ("frequent", "hnsw")


def large_vocab_neighbours() -> str:
    """``EMBEDDINGS_LARGE_VOCAB_NEIGHBOURS`` (default ``frequent``): the neighbour table above
    ``EMBEDDINGS_EXACT_NEIGHBOURS_MAX`` words. ``frequent``: exact neighbours of the most frequent
    words only, as many as an exact table of the threshold's size costs (other words are searched
    on demand by the model store and the UI); ``hnsw``: every word, approximate, recall measured."""
    value = os.environ.get("EMBEDDINGS_LARGE_VOCAB_NEIGHBOURS", "frequent").strip().lower() or "frequent"
    if value not in LARGE_VOCAB_METHODS:
        raise PipelineInputError(
            f"EMBEDDINGS_LARGE_VOCAB_NEIGHBOURS={value!r} must be one of {', '.join(LARGE_VOCAB_METHODS)}"
        )
    return value


def hnsw_params() -> dict[str, int]:
    """The HNSW index's parameters for the approximate neighbour table, from
    ``EMBEDDINGS_HNSW_M`` (links per word, default 32), ``EMBEDDINGS_HNSW_EF_CONSTRUCTION``
    (default 64) and ``EMBEDDINGS_HNSW_EF_SEARCH`` (default 64), as ``{"m", "ef_construction",
    "ef_search"}`` (see :class:`include.quality.neighbour_table.HnswParams`). Raise them when a run
    fails on recall."""
    return {
        "m": _non_negative_int("EMBEDDINGS_HNSW_M", 32),
        "ef_construction": _non_negative_int("EMBEDDINGS_HNSW_EF_CONSTRUCTION", 64),
        "ef_search": _non_negative_int("EMBEDDINGS_HNSW_EF_SEARCH", 64),
    }


#: Measured on 2 cores (docs/performance.md, ``benchmarks/neighbour_load.py --kinds flat,ivf``): at
#: 10,000 words x 100 one exact query took as long as one IVF query (p50 0.12 and 0.11 ms), at
#: 20,000 words 2.4x as long (0.24 and 0.10 ms), at 50,000 words 8x.
DEFAULT_INDEX_EXACT_MAX = 10_000


def index_exact_max() -> int:
    """``EMBEDDINGS_INDEX_EXACT_MAX`` (default 10,000): up to this many vocabulary words a
    version's vector index is exact (``IndexFlatIP``); above it IVF, its recall measured."""
    return _non_negative_int("EMBEDDINGS_INDEX_EXACT_MAX", DEFAULT_INDEX_EXACT_MAX)


#: Megabytes of loaded versions one api-server process keeps open (``EMBEDDINGS_SERVING_MEMORY_MB``):
#: a version of 1M words x 100 is charged about 0.9 GiB (its matrix and vector index as mapped,
#: row lengths and vocabulary), so the default holds two, the champion and one more.
DEFAULT_SERVING_MEMORY_MB = 2048


def serving_memory_bytes() -> int:
    """``EMBEDDINGS_SERVING_MEMORY_MB`` (default 2048) in bytes: how much of loaded versions (see
    :func:`include.serving.neighbour_search.footprint_bytes`) the models browser of one api-server
    process keeps; beyond it the least recently used version is let go. Must be at least 1."""
    value = _non_negative_int("EMBEDDINGS_SERVING_MEMORY_MB", DEFAULT_SERVING_MEMORY_MB)
    if value < 1:
        raise PipelineInputError("environment variable EMBEDDINGS_SERVING_MEMORY_MB=0 must be at least 1 (megabytes)")
    return value * 1024 * 1024
