"""The ``ingest_text`` step: resolve and confine the corpus, plan its partitions, and describe
every file in a manifest (path, partition, size, sha256, lines, bad bytes) with the shard plan."""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import NotRequired, TypedDict

from include.errors import PipelineInputError
from include.steps.run_conf import check_conf_keys, check_params, check_run_contract
from include.storage.atomic_io import write_json_atomic
from include.storage.corpus_location import CorpusLocation, resolve_corpus
from include.storage.layout import data_store, staging_key
from include.storage.partitions import SNAPSHOT, PartitionPlan, plan_partitions, read_partition_summary
from include.storage.paths import corpus_id
from include.storage.store import checked
from include.storage.sweep import sweep
from include.text.files import TextFileReader
from include.text.tokens import tokenizer_version

log = logging.getLogger(__name__)
MANIFEST_SCHEMA_VERSION = 1


class IngestFacts(TypedDict):
    """What ``ingest_text`` tells the tasks after it (each key an XCom of its own)."""

    manifest_path: str  #: the run's ingest manifest (JSON), read by tokenize, commit and publish
    corpus_path: str  #: the resolved corpus location: a real local path or a normalised URL
    corpus_id: str  #: the folder name of the corpus's tokens (``tokens/<corpus_id>/``)
    dated: bool  #: whether the corpus has ``YYYY-MM-DD/`` day folders
    partitions: list[str]  #: this run's partitions (``dt=YYYY-MM-DD`` or ``snapshot``)
    files: int
    skipped_files: int
    lines: int
    bytes: int
    bad_bytes: int
    shards: int  #: how many ``tokenize_to_parquet`` tasks to map
    reused_partitions: int  #: how many partitions were committed from the same files earlier: not tokenized again


class ManifestFile(TypedDict):
    """One file of the ingest manifest (``files``). A binary file is listed with ``skipped`` and
    its ``path``, ``partition`` and ``size`` only."""

    path: str  #: a local path or a URL
    partition: str
    size: int  #: bytes stored
    sha256: NotRequired[str]  #: of the bytes stored
    etag: NotRequired[str]  #: an object's ETag (not on a local disk)
    lines: NotRequired[int]
    bad_bytes: NotRequired[int]  #: undecodable bytes replaced by U+FFFD
    skipped: NotRequired[str]  #: why the file is not read (``"binary"``)


class ShardPlan(TypedDict):
    """One ``tokenize_to_parquet`` task's files (the ingest manifest's ``shards``)."""

    partition: str
    shard: int  #: numbered within its partition
    files: list[int]  #: indices into the manifest's ``files``


class IngestTotals(TypedDict):
    """What :func:`ingest_corpus` counted (the ingest manifest's ``totals``)."""

    files: int  #: files read
    skipped_files: int  #: binary files not read
    lines: int
    bytes: int
    bad_bytes: int
    shards: int
    reused_partitions: int


class CorpusManifest(TypedDict):
    """The manifest :func:`ingest_corpus` writes (read back by :func:`read_manifest`)."""

    schema_version: int  #: :data:`MANIFEST_SCHEMA_VERSION`
    corpus_path: str
    dated: bool
    partitions: list[str]
    totals: IngestTotals
    files: list[ManifestFile]
    shards: list[ShardPlan]
    reused: list[str]  #: partitions committed from the same files earlier: no shards


class IngestManifest(CorpusManifest):
    """The run's ingest manifest under its staging prefix (:func:`read_ingest_manifest`): read by
    ``tokenize_to_parquet``, ``commit_tokens`` and ``publish``."""

    corpus_id: str
    run_id: str


def ingest_text(
    corpus_path: object,
    *,
    run_id: str,
    conf: dict,
    declared_params: Iterable[str],
    interval_start: datetime | None = None,
    interval_end: datetime | None = None,
    max_shards: int = 4,
    params: Mapping | None = None,
) -> IngestFacts:
    """The whole ``ingest_text`` task: prove the data root usable (its conditional writes too, once
    per process; see :func:`include.storage.store.checked`), refuse ``conf`` keys that are not among
    ``declared_params``, resolve and confine ``corpus_path``, choose this run's partitions (day
    folders inside the data interval, or a snapshot without one), and write the run's manifest and
    shard plan under the run's staging prefix. Raises :class:`PipelineInputError` naming the key,
    path, file or URL at fault.
    ``params`` (the run's resolved Params), when given, are checked against the cross-field rules
    first (:func:`include.steps.run_conf.check_params`), and the run's contract against its model's
    champion (:func:`include.steps.run_conf.check_run_contract`), so a bad combination or another
    model's vector size fails before tokenizing.
    """
    store = checked(data_store())
    sweep(store)
    check_conf_keys(conf, declared_params)
    if params is not None:
        check_params(params)
        check_run_contract(store, params, tokenizer_version())  # a model's contract fails before tokenizing
    corpus = resolve_corpus(corpus_path)
    plan = plan_partitions(corpus, interval_start, interval_end)
    log.info(
        "corpus %s: %s partitions %s", corpus.path, "dated" if plan.dated else "flat", [n for n, _ in plan.sources]
    )
    identity = corpus_id(corpus.path)

    def is_current(partition: str, inputs: dict[str, str]) -> bool:
        try:
            summary = read_partition_summary(store, identity, partition)
        except (OSError, ValueError):
            return False
        return (
            "parts" in summary  # committed by this release's protocol (names the files readers read)
            and summary.get("inputs") == dict(sorted(inputs.items()))
            and summary.get("tokenizer") == tokenizer_version()
        )

    manifest_key = f"{staging_key(run_id)}/ingest_manifest.json"
    with tempfile.TemporaryDirectory(prefix="w2v-ingest-") as scratch:
        local = Path(scratch) / "ingest_manifest.json"
        totals = ingest_corpus(corpus, local, plan, max_shards=int(max_shards), is_current=is_current)
        manifest = json.loads(local.read_text(encoding="utf-8"))
        store.put_json(manifest_key, {**manifest, "corpus_id": identity, "run_id": run_id})
    return IngestFacts(
        manifest_path=store.key_url(manifest_key),
        corpus_path=corpus.path,
        corpus_id=identity,
        dated=plan.dated,
        partitions=[name for name, _ in plan.sources],
        files=totals["files"],
        skipped_files=totals["skipped_files"],
        lines=totals["lines"],
        bytes=totals["bytes"],
        bad_bytes=totals["bad_bytes"],
        shards=totals["shards"],
        reused_partitions=totals["reused_partitions"],
    )


def read_ingest_manifest(location: str) -> IngestManifest:
    """The run's ingest manifest at ``location`` (a path or URL under the data root)."""
    store = data_store()
    return store.read_json(store.key_of(location))


def ingest_corpus(
    corpus: CorpusLocation | Path | str,
    manifest_path: Path,
    plan: PartitionPlan | None = None,
    max_shards: int = 1,
    is_current: Callable[[str, dict[str, str]], bool] | None = None,
) -> IngestTotals:
    """Read every file of ``corpus`` once and write ``manifest_path`` (JSON).

    ``corpus`` is a resolved, confined location, local or an object-store URL (see
    :func:`include.storage.corpus_location.resolve_corpus`); ``plan`` says which of its parts go to
    which token partition (default: all of it, one ``snapshot`` partition). The manifest lists, per
    file: ``path`` (a local path or a URL), ``partition``, ``size`` (bytes stored), ``sha256`` (of the
    bytes stored), ``etag`` (an object's, not on a local disk), ``lines`` and ``bad_bytes``
    (undecodable bytes replaced by U+FFFD); binary files (a NUL byte in the first 8 KiB) are listed with
    ``skipped: "binary"`` and not read further. It also holds ``shards``: the readable files of each
    partition split into at most ``max_shards`` groups of similar size, tokenized in parallel.
    A partition for which ``is_current(partition, {path: sha256})`` says a committed partition was
    made from exactly these files by this tokenizer gets no shards and is listed in ``reused``.
    Returns the totals: ``files``, ``skipped_files``, ``lines``, ``bytes``, ``bad_bytes``, ``shards``,
    ``reused_partitions``.
    Raises :class:`PipelineInputError` naming the corpus when no readable text file is found.
    """
    started = time.perf_counter()
    corpus = CorpusLocation.of(corpus)
    plan = plan or PartitionPlan([(SNAPSHOT, corpus)], dated=False)
    located = [(partition, found) for partition, source in plan.sources for found in source.files()]
    if not located:
        raise PipelineInputError(f"corpus_path '{corpus.path}' holds no .txt, .gz or .bz2 file")
    entries: list[ManifestFile] = []
    for number, (partition, found) in enumerate(located, start=1):
        path = found.path
        reader = TextFileReader(path, corpus=corpus)
        if reader.looks_binary():
            log.warning("skipping binary file %s (NUL bytes in its first 8 KiB)", path)
            entries.append(ManifestFile(path=path, partition=partition, size=found.size, skipped="binary"))
            continue
        for _ in reader.blocks():
            pass
        if reader.bad_bytes:
            log.warning("%s: %d undecodable bytes replaced by U+FFFD", path, reader.bad_bytes)
        entry = ManifestFile(path=path, partition=partition, size=reader.size, sha256=reader.sha256)
        if reader.etag:
            entry["etag"] = reader.etag
        entry["lines"] = reader.lines
        entry["bad_bytes"] = reader.bad_bytes
        entries.append(entry)
        log.info("read file %d/%d: %s (%d lines, %d bytes)", number, len(located), path, reader.lines, reader.size)
    read = [entry for entry in entries if "skipped" not in entry]
    lines = sum(entry["lines"] for entry in read)
    if not read:
        raise PipelineInputError(f"corpus_path '{corpus.path}' holds no readable text file (all {len(entries)} binary)")
    if lines == 0:
        raise PipelineInputError(f"corpus_path '{corpus.path}' holds only empty files")
    reused = current_partitions(entries, is_current) if is_current else []
    if reused:
        log.info("partitions already tokenized from the same files, reused: %s", reused)
    shards = plan_shards(entries, max_shards, skip_partitions=reused)
    totals = IngestTotals(
        files=len(read),
        skipped_files=len(entries) - len(read),
        lines=lines,
        bytes=sum(entry["size"] for entry in read),
        bad_bytes=sum(entry["bad_bytes"] for entry in read),
        shards=len(shards),
        reused_partitions=len(reused),
    )
    manifest = CorpusManifest(
        schema_version=MANIFEST_SCHEMA_VERSION,
        corpus_path=corpus.path,
        dated=plan.dated,
        partitions=[partition for partition, _ in plan.sources],
        totals=totals,
        files=entries,
        shards=shards,
        reused=reused,
    )
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


def current_partitions(entries: list[ManifestFile], is_current: Callable[[str, dict[str, str]], bool]) -> list[str]:
    """Partitions of ``entries`` that ``is_current`` (partition name, ``{path: sha256}`` of its
    readable files) says are committed from exactly these files by this tokenizer."""
    inputs: dict[str, dict[str, str]] = {}
    for entry in entries:
        files = inputs.setdefault(entry["partition"], {})
        if "skipped" not in entry:
            files[entry["path"]] = entry["sha256"]
    return sorted(name for name, files in inputs.items() if files and is_current(name, files))


def plan_shards(entries: list[ManifestFile], max_shards: int, skip_partitions: Collection[str] = ()) -> list[ShardPlan]:
    """Split the readable files of each partition (but ``skip_partitions``) into at most
    ``max_shards`` groups of similar total size (largest file first into the lightest group). Returns
    ``[{"partition": name, "shard": i, "files": [entry index, ...]}, ...]``, ``shard`` numbered
    within its partition."""
    by_partition: dict[str, list[int]] = {}
    for index, entry in enumerate(entries):
        if "skipped" not in entry and entry["partition"] not in skip_partitions:
            by_partition.setdefault(entry["partition"], []).append(index)
    shards: list[ShardPlan] = []
    for partition, indices in by_partition.items():
        count = max(1, min(max_shards, len(indices)))
        groups: list[list[int]] = [[] for _ in range(count)]
        sizes = [0] * count
        for index in sorted(indices, key=lambda i: -entries[i]["size"]):
            lightest = sizes.index(min(sizes))
            groups[lightest].append(index)
            sizes[lightest] += entries[index]["size"]
        shards += [
            ShardPlan(partition=partition, shard=number, files=sorted(group)) for number, group in enumerate(groups)
        ]
    return shards


def read_manifest(manifest_path: Path) -> CorpusManifest:
    """Load a manifest written by :func:`ingest_corpus`."""
    return json.loads(Path(manifest_path).read_text(encoding="utf-8"))
