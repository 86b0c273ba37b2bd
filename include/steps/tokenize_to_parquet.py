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

from include.storage.atomic_io import write_json_atomic
from include.storage.layout import corpus_tokens_key, data_store, staging_key
from include.storage.paths import safe_name
from include.text.tokens import part_file_name, write_token_file


def tokenize_shard(manifest: dict, shard_number: int, staging_tokens: Path) -> dict:
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
    return {
        "partition": shard["partition"],
        "shard": shard["shard"],
        "path": str(out_path),
        **{key: totals[key] for key in ("rows", "tokens", "files")},
    }


def run_part_name(run_id: str, shard: int) -> str:
    """The part file a run's shard writes: unique to the run, so two runs never write the same object."""
    return f"part-{safe_name(run_id)}-{shard:05d}.parquet"


def shard_totals_key(run_id: str, partition: str, shard: int) -> str:
    return f"{staging_key(run_id)}/tokens/{partition}/part-{shard:05d}.json"


def tokenize_to_parquet(manifest_path: str, shard_number: int, run_id: str) -> dict:
    """The whole ``tokenize_to_parquet`` task: shard ``shard_number`` of the run's ingest manifest
    (at ``manifest_path``, under the data root) tokenized and uploaded into its partition's folder;
    its totals (with ``part``, the file's name) go to the run's staging prefix.
    Returns :func:`tokenize_shard`'s totals, ``path`` being where the part file now lives."""
    store = data_store()
    manifest = store.read_json(store.key_of(manifest_path))
    shard = manifest["shards"][int(shard_number)]
    part = run_part_name(run_id, shard["shard"])
    with tempfile.TemporaryDirectory(prefix="w2v-tokenize-") as scratch:
        with store.writer(corpus_tokens_key(manifest["corpus_id"]), Path(scratch)) as out:
            result = tokenize_shard(manifest, int(shard_number), out.folder)
            written = Path(result["path"])
            totals = json.loads(written.with_suffix(".json").read_text(encoding="utf-8"))
            written.with_suffix(".json").unlink()
            written.rename(written.with_name(part))
        store.put_json(shard_totals_key(run_id, shard["partition"], shard["shard"]), {**totals, "part": part})
    return {**result, "path": store.key_url(f"{corpus_tokens_key(manifest['corpus_id'])}/{shard['partition']}/{part}")}
