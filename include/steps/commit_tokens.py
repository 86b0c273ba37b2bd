"""The ``commit_tokens`` step: every staged partition of a run published by one rename each.

Once every shard is tokenized, :func:`commit_partitions` moves each staged partition to
``tokens/<corpus_id>/<partition>/``, replacing the earlier one of the same name.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import date
from pathlib import Path
from typing import TypedDict

from include.errors import PipelineInputError
from include.settings import token_retention_days
from include.storage.atomic_io import replace_dir
from include.storage.locks import exclusive_lock
from include.storage.partitions import prune_partitions
from include.storage.paths import lock_file, staging_dir, tokens_dir
from include.text.tokens import part_file_name, read_partition_summary, write_partition_summary

log = logging.getLogger(__name__)


class CommittedTokens(TypedDict):
    """What ``commit_tokens`` tells the tasks after it."""

    corpus_tokens: str  #: ``tokens/<corpus_id>/`` under the data root
    committed: list[str]  #: partitions written by this run
    reused: list[str]  #: partitions kept as they were (same files, same tokenizer)
    tokens: int  #: over committed and reused partitions
    rows: int
    pruned: list[str]  #: partitions deleted as older than the retention


def commit_tokens(manifest_path: Path, corpus_id: str, run_id: str, today: date) -> CommittedTokens:
    """The whole ``commit_tokens`` task: publish the run's staged partitions of ``corpus_id`` (see
    :func:`commit_partitions`), then prune partitions older than ``EMBEDDINGS_TOKEN_RETENTION_DAYS``
    before ``today`` (under the corpus's exclusive lock, never while a training run reads them)."""
    corpus_tokens = tokens_dir() / corpus_id
    lock = lock_file(f"tokens-{corpus_id}")
    manifest = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
    committed = commit_partitions(manifest, staging_dir(run_id) / "tokens", corpus_tokens, lock)
    with exclusive_lock(lock):
        pruned = prune_partitions(corpus_tokens, today, token_retention_days())
    if pruned:
        log.info("pruned %d token partitions older than %d days: %s", len(pruned), token_retention_days(), pruned)
    return CommittedTokens(
        corpus_tokens=str(corpus_tokens),
        committed=sorted(committed["partitions"]),
        reused=sorted(committed["reused"]),
        tokens=committed["tokens"],
        rows=committed["rows"],
        pruned=pruned,
    )


def commit_partitions(manifest: dict, staging_tokens: Path, corpus_tokens: Path, lock_path: Path | None = None) -> dict:
    """Publish every partition of this run, each by one rename into ``corpus_tokens``.

    Checks that every planned shard wrote its file, writes each partition's ``_SUCCESS.json``
    (rows, tokens, files, the sources' sha256), then replaces ``corpus_tokens/<partition>``.
    Raises :class:`PipelineInputError` (and commits nothing) when no line of the run yields a token.
    ``lock_path`` (default: ``locks/tokens-<corpus folder>.lock`` beside the tokens folder) makes
    concurrent commits to the same corpus take turns.
    Partitions the manifest lists as ``reused`` (already committed from the same files) are left
    as they are. Returns ``{"partitions": {name: {"rows", "tokens", "files"}}, "reused": {same},
    "tokens", "rows"}``, the totals over both.
    """
    started = time.perf_counter()
    planned: dict[str, list[int]] = {}
    for shard in manifest["shards"]:
        planned.setdefault(shard["partition"], []).append(shard["shard"])
    staged: dict[str, list[dict]] = {}
    for partition, numbers in planned.items():
        totals = []
        for number in numbers:
            sidecar = Path(staging_tokens) / partition / part_file_name(number).replace(".parquet", ".json")
            if not sidecar.is_file():
                raise FileNotFoundError(f"shard {number} of partition {partition} has not been tokenized: {sidecar}")
            totals.append(json.loads(sidecar.read_text(encoding="utf-8")))
        staged[partition] = totals
    reused = {name: read_partition_summary(Path(corpus_tokens) / name) for name in manifest.get("reused", [])}
    if sum(t["tokens"] for totals in staged.values() for t in totals) + sum(r["tokens"] for r in reused.values()) == 0:
        raise PipelineInputError(
            f"corpus_path '{manifest['corpus_path']}': no line yields a token (tokens are runs of 2 to 15 letters)"
        )
    committed = {}
    lock_path = lock_path or Path(corpus_tokens).parent.parent / "locks" / f"tokens-{Path(corpus_tokens).name}.lock"
    with exclusive_lock(lock_path):
        for partition, totals in staged.items():
            folder = Path(staging_tokens) / partition
            for sidecar in folder.glob("part-*.json"):
                sidecar.unlink()
            summary = write_partition_summary(folder, totals, time.perf_counter() - started)
            replace_dir(folder, Path(corpus_tokens) / partition)
            committed[partition] = {key: summary[key] for key in ("rows", "tokens", "files")}
    reused = {name: {key: summary[key] for key in ("rows", "tokens", "files")} for name, summary in reused.items()}
    every = [*committed.values(), *reused.values()]
    return {
        "partitions": committed,
        "reused": reused,
        "tokens": sum(p["tokens"] for p in every),
        "rows": sum(p["rows"] for p in every),
    }
