"""The ``tokenize_to_parquet`` step: one shard of a run's files tokenized into its token partition.

Each shard (a group of files of one partition, planned at ingest) is tokenized by its own task
into ``tokens/<corpus_id>/<partition>/part-<run>-<shard>.parquet`` (a name no other run writes),
with its totals in ``staging/<run>/tokens/<partition>/part-<shard>.json``. The partition does not
read the new file until :mod:`include.steps.commit_tokens` names it in ``_SUCCESS.json``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TypedDict

from include.steps.ingest_text import CorpusManifest, IngestManifest
from include.storage.atomic_io import write_json_atomic
from include.storage.layout import corpus_tokens_key, data_store, staging_key
from include.storage.paths import safe_name
from include.text.tokens import ShardTotals, part_file_name, write_token_file


class ShardFacts(TypedDict):
    """What one ``tokenize_to_parquet`` task tells the tasks after it (the file's totals)."""

    partition: str
    shard: int  #: numbered within its partition
    path: str  #: the part file (local in :func:`tokenize_shard`, under the data root once uploaded)
    rows: int
    tokens: int
    files: int


class StagedShardTotals(ShardTotals):
    """A shard's totals in the run's staging prefix (:func:`shard_totals_key`), read by ``commit_tokens``."""

    part: str  #: the part file's name in its partition's folder (:func:`run_part_name`)


def tokenize_shard(manifest: CorpusManifest, shard_number: int, staging_tokens: Path) -> ShardFacts:
    """Tokenize shard ``shard_number`` (its index in ``manifest["shards"]``) into a local folder:
    ``<staging_tokens>/<partition>/part-<shard>.parquet`` and a ``.json`` sidecar of its totals.
    The files are read where the manifest's ``corpus_path`` is (a local folder or an object-store
    URL), and each must still be what ingest read (size, ETag, sha256), else
    :class:`~include.storage.corpus_location.CorpusChanged` names it.

    Returns ``{"partition", "shard", "rows", "tokens", "files", "path"}``; rewriting a shard (a retry)
    replaces its file.
    """
    shard = manifest["shards"][shard_number]
    entries = [manifest["files"][index] for index in shard["files"]]
    out_path = Path(staging_tokens) / shard["partition"] / part_file_name(shard["shard"])
    totals = write_token_file(entries, out_path, corpus=manifest["corpus_path"])
    write_json_atomic(out_path.with_suffix(".json"), totals, indent=None)
    return ShardFacts(
        partition=shard["partition"],
        shard=shard["shard"],
        path=str(out_path),
        rows=totals["rows"],
        tokens=totals["tokens"],
        files=totals["files"],
    )


def run_part_name(run_id: str, shard: int) -> str:
    """The part file a run's shard writes: unique to the run, so two runs never write the same object."""
    return f"part-{safe_name(run_id)}-{shard:05d}.parquet"


def shard_totals_key(run_id: str, partition: str, shard: int) -> str:
    return f"{staging_key(run_id)}/tokens/{partition}/part-{shard:05d}.json"


def tokenize_to_parquet(manifest_path: str, shard_number: int, run_id: str) -> ShardFacts:
    """The whole ``tokenize_to_parquet`` task: shard ``shard_number`` of the run's ingest manifest
    (at ``manifest_path``, under the data root) tokenized and uploaded into its partition's folder;
    its totals (with ``part``, the file's name) go to the run's staging prefix.
    Returns :func:`tokenize_shard`'s totals, ``path`` being where the part file now lives."""
    store = data_store()
    manifest: IngestManifest = store.read_json(store.key_of(manifest_path))
    shard = manifest["shards"][int(shard_number)]
    part = run_part_name(run_id, shard["shard"])
    with tempfile.TemporaryDirectory(prefix="w2v-tokenize-") as scratch:
        with store.writer(corpus_tokens_key(manifest["corpus_id"]), Path(scratch)) as out:
            result = tokenize_shard(manifest, int(shard_number), out.folder)
            written = Path(result["path"])
            totals: ShardTotals = json.loads(written.with_suffix(".json").read_text(encoding="utf-8"))
            written.with_suffix(".json").unlink()
            written.rename(written.with_name(part))
        staged: StagedShardTotals = {**totals, "part": part}
        store.put_json(shard_totals_key(run_id, shard["partition"], shard["shard"]), staged)
    return ShardFacts(
        partition=result["partition"],
        shard=result["shard"],
        path=store.key_url(f"{corpus_tokens_key(manifest['corpus_id'])}/{shard['partition']}/{part}"),
        rows=result["rows"],
        tokens=result["tokens"],
        files=result["files"],
    )
