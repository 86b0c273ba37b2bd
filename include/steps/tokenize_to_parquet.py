"""The ``tokenize_to_parquet`` step: one shard of a run's files tokenized into its staging partition.

Each shard (a group of files of one partition, planned at ingest) is tokenized by its own task
into ``<staging>/<partition>/part-<shard>.parquet`` with a ``.json`` sidecar of its totals;
:mod:`include.steps.commit_tokens` publishes them once every shard is done.
"""

from __future__ import annotations

import json
from pathlib import Path

from include.storage.atomic_io import write_json_atomic
from include.storage.paths import staging_dir
from include.text.tokens import corpus_root, part_file_name, write_token_file


def tokenize_shard(manifest: dict, shard_number: int, staging_tokens: Path) -> dict:
    """Tokenize shard ``shard_number`` (its index in ``manifest["shards"]``) into the staging folder.

    Returns ``{"partition", "shard", "rows", "tokens", "files", "path"}``; rewriting a shard (a retry)
    replaces its file.
    """
    shard = manifest["shards"][shard_number]
    entries = [manifest["files"][index] for index in shard["files"]]
    out_path = Path(staging_tokens) / shard["partition"] / part_file_name(shard["shard"])
    totals = write_token_file(entries, out_path, confine_to=corpus_root(manifest))
    write_json_atomic(out_path.with_suffix(".json"), totals, indent=None)
    return {
        "partition": shard["partition"],
        "shard": shard["shard"],
        "path": str(out_path),
        **{key: totals[key] for key in ("rows", "tokens", "files")},
    }


def tokenize_to_parquet(manifest_path: Path, shard_number: int, run_id: str) -> dict:
    """The whole ``tokenize_to_parquet`` task: shard ``shard_number`` of the manifest at
    ``manifest_path`` into the run's staging tokens. Returns :func:`tokenize_shard`'s totals."""
    manifest = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
    return tokenize_shard(manifest, int(shard_number), staging_dir(run_id) / "tokens")
