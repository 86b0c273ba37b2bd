"""The ``ingest_text`` step: resolve and confine the corpus, plan its partitions, and describe
every file in a manifest (path, partition, size, sha256, lines, bad bytes) with the shard plan."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TypedDict

from include.errors import PipelineInputError
from include.steps.run_conf import check_conf_keys
from include.storage.atomic_io import write_json_atomic
from include.storage.partitions import SNAPSHOT, PartitionPlan, plan_partitions
from include.storage.paths import corpus_id, resolve_corpus_path, staging_dir, tokens_dir
from include.text.files import TextFileReader, discover_files

log = logging.getLogger(__name__)
MANIFEST_SCHEMA_VERSION = 1


class IngestFacts(TypedDict):
    """What ``ingest_text`` tells the tasks after it (each key an XCom of its own)."""

    manifest_path: str  #: the run's ingest manifest (JSON), read by tokenize, commit and publish
    corpus_path: str  #: the resolved corpus path
    corpus_id: str  #: the folder name of the corpus's tokens (``tokens/<corpus_id>/``)
    dated: bool  #: whether the corpus has ``YYYY-MM-DD/`` day folders
    partitions: list[str]  #: this run's partitions (``dt=YYYY-MM-DD`` or ``snapshot``)
    files: int
    skipped_files: int
    lines: int
    bytes: int
    bad_bytes: int
    shards: int  #: how many ``tokenize_to_parquet`` tasks to map
    reused_partitions: list[str]  #: partitions committed from the same files earlier: not tokenized again


def ingest_text(
    corpus_path: object,
    *,
    run_id: str,
    conf: dict,
    declared_params: Iterable[str],
    interval_start: datetime | None = None,
    interval_end: datetime | None = None,
    max_shards: int = 4,
) -> IngestFacts:
    """The whole ``ingest_text`` task: refuse ``conf`` keys that are not among ``declared_params``,
    resolve and confine ``corpus_path``, choose this run's partitions (day folders inside the data
    interval, or a snapshot without one), and write the run's manifest and shard plan under the
    run's staging folder. Raises :class:`PipelineInputError` naming the key, path or file at fault.
    """
    check_conf_keys(conf, declared_params)
    corpus = resolve_corpus_path(corpus_path)
    plan = plan_partitions(corpus, interval_start, interval_end)
    log.info("corpus %s: %s partitions %s", corpus, "dated" if plan.dated else "flat", [n for n, _ in plan.sources])
    manifest_path = staging_dir(run_id) / "ingest_manifest.json"
    totals = ingest_corpus(
        corpus, manifest_path, plan, max_shards=int(max_shards), committed_tokens=tokens_dir() / corpus_id(corpus)
    )
    return IngestFacts(
        manifest_path=str(manifest_path),
        corpus_path=str(corpus),
        corpus_id=corpus_id(corpus),
        dated=plan.dated,
        partitions=[name for name, _ in plan.sources],
        **totals,
    )


def ingest_corpus(
    corpus: Path,
    manifest_path: Path,
    plan: PartitionPlan | None = None,
    max_shards: int = 1,
    committed_tokens: Path | None = None,
) -> dict:
    """Read every file of ``corpus`` once and write ``manifest_path`` (JSON).

    ``corpus`` is a resolved, confined path (see :func:`include.storage.paths.resolve_corpus_path`);
    ``plan`` says which of its parts go to which token partition (default: all of it, one
    ``snapshot`` partition). The manifest lists, per file: ``path``, ``partition``, ``size`` (bytes
    on disk), ``sha256`` (of the bytes on disk), ``lines`` and ``bad_bytes`` (undecodable bytes
    replaced by U+FFFD); binary files (a NUL byte in the first 8 KiB) are listed with
    ``skipped: "binary"`` and not read further. It also holds ``shards``: the readable files of each
    partition split into at most ``max_shards`` groups of similar size, tokenized in parallel.
    A partition already committed under ``committed_tokens`` from the same files (paths and sha256)
    by the same tokenizer gets no shards and is listed in ``reused``: it is not tokenized again.
    Returns the totals: ``files``, ``skipped_files``, ``lines``, ``bytes``, ``bad_bytes``, ``shards``,
    ``reused_partitions``.
    Raises :class:`PipelineInputError` when no readable text file is found.
    """
    started = time.perf_counter()
    plan = plan or PartitionPlan([(SNAPSHOT, corpus)], dated=False)
    located = [(partition, path) for partition, source in plan.sources for path in discover_files(source)]
    if not located:
        raise PipelineInputError(f"corpus_path '{corpus}' holds no .txt, .gz or .bz2 file")
    entries = []
    for number, (partition, path) in enumerate(located, start=1):
        reader = TextFileReader(path, confine_to=corpus if corpus.is_dir() else None)
        if reader.looks_binary():
            log.warning("skipping binary file %s (NUL bytes in its first 8 KiB)", path)
            entries.append(
                {"path": str(path), "partition": partition, "size": path.stat().st_size, "skipped": "binary"}
            )
            continue
        for _ in reader.blocks():
            pass
        if reader.bad_bytes:
            log.warning("%s: %d undecodable bytes replaced by U+FFFD", path, reader.bad_bytes)
        entries.append(
            {
                "path": str(path),
                "partition": partition,
                "size": reader.size,
                "sha256": reader.sha256,
                "lines": reader.lines,
                "bad_bytes": reader.bad_bytes,
            }
        )
        log.info("read file %d/%d: %s (%d lines, %d bytes)", number, len(located), path, reader.lines, reader.size)
    read = [entry for entry in entries if "skipped" not in entry]
    totals = {
        "files": len(read),
        "skipped_files": len(entries) - len(read),
        "lines": sum(entry["lines"] for entry in read),
        "bytes": sum(entry["size"] for entry in read),
        "bad_bytes": sum(entry["bad_bytes"] for entry in read),
    }
    if not read:
        raise PipelineInputError(f"corpus_path '{corpus}' holds no readable text file (all {len(entries)} binary)")
    if totals["lines"] == 0:
        raise PipelineInputError(f"corpus_path '{corpus}' holds only empty files")
    reused = current_partitions(entries, committed_tokens) if committed_tokens else []
    if reused:
        log.info("partitions already tokenized from the same files, reused: %s", reused)
    shards = plan_shards(entries, max_shards, skip_partitions=reused)
    totals["shards"] = len(shards)
    totals["reused_partitions"] = len(reused)
    manifest = {
        "schema_version": MANIFEST_SCHEMA_VERSION,
        "corpus_path": str(corpus),
        "dated": plan.dated,
        "partitions": [partition for partition, _ in plan.sources],
        "totals": totals,
        "files": entries,
        "shards": shards,
        "reused": reused,
    }
    write_json_atomic(manifest_path, manifest)
    log.info(
        "ingested %d files (%d skipped), %d lines, %d bytes in %.2fs",
        totals["files"],
        totals["skipped_files"],
        totals["lines"],
        totals["bytes"],
        time.perf_counter() - started,
    )
    return totals


def current_partitions(entries: list[dict], committed_tokens: Path) -> list[str]:
    """Partitions of ``entries`` whose committed token folder under ``committed_tokens`` was made
    from exactly their readable files by this tokenizer (see :func:`include.text.tokens.partition_is_current`)."""
    from include.text.tokens import partition_is_current

    inputs: dict[str, dict[str, str]] = {}
    for entry in entries:
        files = inputs.setdefault(entry["partition"], {})
        if "skipped" not in entry:
            files[entry["path"]] = entry["sha256"]
    return sorted(
        name for name, files in inputs.items() if files and partition_is_current(Path(committed_tokens) / name, files)
    )


def plan_shards(entries: list[dict], max_shards: int, skip_partitions: list[str] = ()) -> list[dict]:
    """Split the readable files of each partition (but ``skip_partitions``) into at most
    ``max_shards`` groups of similar total size (largest file first into the lightest group). Returns
    ``[{"partition": name, "shard": i, "files": [entry index, ...]}, ...]``, ``shard`` numbered
    within its partition."""
    by_partition: dict[str, list[int]] = {}
    for index, entry in enumerate(entries):
        if "skipped" not in entry and entry["partition"] not in skip_partitions:
            by_partition.setdefault(entry["partition"], []).append(index)
    shards = []
    for partition, indices in by_partition.items():
        count = max(1, min(max_shards, len(indices)))
        groups: list[list[int]] = [[] for _ in range(count)]
        sizes = [0] * count
        for index in sorted(indices, key=lambda i: -entries[i]["size"]):
            lightest = sizes.index(min(sizes))
            groups[lightest].append(index)
            sizes[lightest] += entries[index]["size"]
        shards += [
            {"partition": partition, "shard": number, "files": sorted(group)} for number, group in enumerate(groups)
        ]
    return shards


def read_manifest(manifest_path: Path) -> dict:
    """Load a manifest written by :func:`ingest_corpus`."""
    return json.loads(Path(manifest_path).read_text(encoding="utf-8"))
