"""The ``commit_tokens`` step: every partition of a run published by one compare-and-swap of its
``_SUCCESS.json``, which names exactly the part files that belong to it.

Part files have names unique to the run that wrote them, so a re-run never overwrites a file a
reader may be reading; readers read only what ``_SUCCESS.json`` names. Part files no summary names
any more are removed once they are older than :data:`LEFTOVER_AGE` (a reader of the old summary
has long finished by then).
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, date, datetime, timedelta
from typing import TypedDict

from include.errors import PipelineInputError
from include.settings import token_retention_days
from include.steps.ingest_text import IngestManifest
from include.steps.tokenize_to_parquet import StagedShardTotals, shard_totals_key
from include.storage.layout import SUCCESS_FILE, data_store, partition_key
from include.storage.partitions import prune_partitions, read_partition_summary
from include.storage.store import PreconditionFailed, Store
from include.text.tokens import PartitionSummary, partition_summary

log = logging.getLogger(__name__)
LEFTOVER_AGE = timedelta(days=1)
SWAP_ATTEMPTS = 20


class PartitionCounts(TypedDict):
    """One partition's totals, from its ``_SUCCESS.json``."""

    rows: int
    tokens: int
    files: int


class CommittedPartitions(TypedDict):
    """What :func:`commit_partitions` published."""

    partitions: dict[str, PartitionCounts]  #: the partitions this run committed
    reused: dict[str, PartitionCounts]  #: the partitions kept as they were
    tokens: int  #: over both
    rows: int


class CommittedTokens(TypedDict):
    """What ``commit_tokens`` tells the tasks after it."""

    corpus_tokens: str  #: ``tokens/<corpus_id>/`` under the data root (a path or URL)
    committed: list[str]  #: partitions written by this run
    reused: list[str]  #: partitions kept as they were (same files, same tokenizer)
    tokens: int  #: over committed and reused partitions
    rows: int
    pruned: list[str]  #: partitions deleted as older than the retention


def commit_tokens(manifest_path: str, corpus_id: str, run_id: str, today: date) -> CommittedTokens:
    """The whole ``commit_tokens`` task: publish the run's partitions of ``corpus_id`` (see
    :func:`commit_partitions`), then prune partitions older than ``EMBEDDINGS_TOKEN_RETENTION_DAYS``
    before ``today``."""
    store = data_store()
    manifest: IngestManifest = store.read_json(store.key_of(manifest_path))
    committed = commit_partitions(store, manifest, run_id)
    pruned = prune_partitions(store, corpus_id, today, token_retention_days())
    if pruned:
        log.info("pruned %d token partitions older than %d days: %s", len(pruned), token_retention_days(), pruned)
    return CommittedTokens(
        corpus_tokens=store.key_url(f"tokens/{corpus_id}"),
        committed=sorted(committed["partitions"]),
        reused=sorted(committed["reused"]),
        tokens=committed["tokens"],
        rows=committed["rows"],
        pruned=pruned,
    )


def commit_partitions(store: Store, manifest: IngestManifest, run_id: str) -> CommittedPartitions:
    """Publish every partition of run ``run_id`` described by its ingest ``manifest``.

    Checks that every planned shard wrote its totals, then swaps each partition's ``_SUCCESS.json``
    (rows, tokens, files, the sources' sha256, ``parts``) in by compare-and-swap: a concurrent
    commit of the same partition (the same interval run twice) makes this one re-read and try again,
    and the last one wins whole. Raises :class:`PipelineInputError` (and commits nothing) when no line
    of the run yields a token. Partitions the manifest lists as ``reused`` are left as they are.
    Returns ``{"partitions": {name: {"rows", "tokens", "files"}}, "reused": {same}, "tokens", "rows"}``.
    """
    started = time.perf_counter()
    corpus_id = manifest["corpus_id"]
    planned: dict[str, list[int]] = {}
    for shard in manifest["shards"]:
        planned.setdefault(shard["partition"], []).append(shard["shard"])
    staged: dict[str, list[StagedShardTotals]] = {}
    for partition, numbers in planned.items():
        totals: list[StagedShardTotals] = []
        for number in numbers:
            key = shard_totals_key(run_id, partition, number)
            try:
                totals.append(store.read_json(key))
            except FileNotFoundError as error:
                raise FileNotFoundError(
                    f"shard {number} of partition {partition} has not been tokenized: {store.key_url(key)}"
                ) from error
        staged[partition] = totals
    summaries = {name: read_partition_summary(store, corpus_id, name) for name in manifest.get("reused", [])}
    if (
        sum(t["tokens"] for totals in staged.values() for t in totals) + sum(r["tokens"] for r in summaries.values())
        == 0
    ):
        for partition, totals in staged.items():  # nothing of a refused run stays behind
            for entry in totals:
                store.delete(f"{partition_key(corpus_id, partition)}/{entry['part']}")
        raise PipelineInputError(
            f"corpus_path '{manifest['corpus_path']}': no line yields a token (tokens are runs of 2 to 15 letters)"
        )
    committed: dict[str, PartitionCounts] = {}
    for partition, totals in staged.items():
        summary = partition_summary(totals, time.perf_counter() - started)
        swap_summary(store, partition_key(corpus_id, partition), summary)
        remove_leftovers(store, partition_key(corpus_id, partition), set(summary["parts"]))
        committed[partition] = PartitionCounts(rows=summary["rows"], tokens=summary["tokens"], files=summary["files"])
    reused = {
        name: PartitionCounts(rows=summary["rows"], tokens=summary["tokens"], files=summary["files"])
        for name, summary in summaries.items()
    }
    every = [*committed.values(), *reused.values()]
    return CommittedPartitions(
        partitions=committed,
        reused=reused,
        tokens=sum(p["tokens"] for p in every),
        rows=sum(p["rows"] for p in every),
    )


def swap_summary(store: Store, partition: str, summary: PartitionSummary) -> None:
    """Replace ``<partition>/_SUCCESS.json`` with ``summary`` by compare-and-swap, retrying on a lost race."""
    key = f"{partition}/{SUCCESS_FILE}"
    data = (json.dumps(summary, indent=1, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
    for _ in range(SWAP_ATTEMPTS):
        current = store.read_versioned(key)
        try:
            store.swap(key, data, current.token if current else None)
            return
        except PreconditionFailed:
            log.info("%s changed while committing: reading it again", store.key_url(key))
            time.sleep(0.05)
    raise PreconditionFailed(f"gave up committing '{store.key_url(key)}' after {SWAP_ATTEMPTS} lost races")


def remove_leftovers(store: Store, partition: str, keep: set[str]) -> list[str]:
    """Delete part files of ``partition`` not in ``keep`` and older than :data:`LEFTOVER_AGE`."""
    removed = []
    now = datetime.now(UTC)
    for name in store.files(partition):
        if name.endswith(".parquet") and "/" not in name and name not in keep:
            written = store.modified(f"{partition}/{name}")
            if written is not None and now - written > LEFTOVER_AGE:
                store.delete(f"{partition}/{name}")
                removed.append(name)
    return removed


__all__ = [
    "CommittedPartitions",
    "CommittedTokens",
    "PartitionCounts",
    "commit_partitions",
    "commit_tokens",
    "remove_leftovers",
    "swap_summary",
]
