"""The ``publish`` step: the version's ``manifest.json``, written last and create-only, makes the
version whole (rejected versions too, marked so by their gate result). Until it exists, readers
ignore the version folder."""

from __future__ import annotations

import logging
from typing import TypedDict

from include.errors import VersionConflictError
from include.quality.gate import GateDecision
from include.steps.train_word2vec import Unchanged
from include.storage.layout import data_store, staging_key, version_key
from include.storage.partitions import read_partition_summary
from include.storage.publish import VersionManifest, library_versions, write_version_manifest
from include.storage.run_records import RunOutcome, update_run_record
from include.storage.store import AlreadyExists
from include.storage.version_files import written_files
from include.storage.versions import read_manifest

log = logging.getLogger(__name__)


class PublishedVersion(TypedDict):
    version: str
    version_path: str  #: the version's location (a path or URL)
    decision: GateDecision
    report_html: str


def publish(version: str, *, run_id: str, manifest_path: str, facts: dict) -> PublishedVersion | Unchanged:
    """The whole ``publish`` task for ``version``, built by run ``run_id``.

    ``facts`` are the training facts the manifest records (``corpus_id``, ``content_hash``,
    ``data_time``, ``partitions``, ``training``); the manifest adds the report's params,
    evaluation, parity and gate result, the ingested files, each partition's summary, and every
    file the run's tasks wrote with its sha256 and size. When the manifest exists already (another
    run of the same inputs, params and code published it meanwhile), the run ends :class:`Unchanged`;
    when this run's earlier attempt wrote it, the result is the same as that attempt's (see
    :func:`published_meanwhile`); a different version of the same name raises :class:`VersionConflictError`.
    """
    store = data_store()
    prefix = version_key(version)
    report = store.read_json(f"{prefix}/report/report.json")
    inputs = store.read_json(store.key_of(manifest_path))
    partitions = {name: read_partition_summary(store, facts["corpus_id"], name) for name in facts.get("partitions", [])}
    manifest: VersionManifest = {
        "version": version,
        "run_id": run_id,
        "params": report["params"],
        "inputs": inputs["files"],
        "evaluation": report["evaluation"],
        "parity": report["parity"],
        "gate": report["gate"],
        "libraries": library_versions(),
        **facts,
        "partitions": partitions,
    }
    try:
        write_version_manifest(store, version, manifest, written_files(store, run_id))
    except AlreadyExists as error:
        return published_meanwhile(version, facts.get("content_hash"), run_id, error)
    decision = GateDecision(report["gate"]["decision"])
    report_html = store.key_url(f"{prefix}/report/report.html")
    log.info("published model version %s (%s); report: %s", store.key_url(prefix), decision, report_html)
    return PublishedVersion(
        version=version, version_path=store.key_url(prefix), decision=decision, report_html=report_html
    )


def published_meanwhile(
    version: str, content_hash: str | None, run_id: str, error: FileExistsError
) -> PublishedVersion | Unchanged:
    """``version`` has a manifest already. When run ``run_id`` wrote it (an earlier attempt of this
    task, whose worker died after the manifest and before the task's success was recorded): the
    :class:`PublishedVersion` again, touching nothing, so the run goes on to ``promote``. When
    another run wrote it with the same ``content_hash`` (another run of the same inputs):
    :class:`Unchanged` (the run's scratch dropped, recorded). Otherwise :class:`VersionConflictError`."""
    store = data_store()
    existing = read_manifest(store, version)
    if not existing or existing.get("content_hash") != content_hash:
        raise VersionConflictError(f"model version '{store.key_url(version_key(version))}' exists: {error}") from error
    if existing.get("run_id") == run_id:
        log.info("version %s was published by an earlier attempt of this run: promoting it goes on", version)
        prefix = version_key(version)
        return PublishedVersion(
            version=version,
            version_path=store.key_url(prefix),
            decision=GateDecision(existing["gate"]["decision"]),
            report_html=store.key_url(f"{prefix}/report/report.html"),
        )
    reason = (
        f"nothing new to publish: version {version} was published meanwhile by run "
        f"{existing.get('run_id')} from the same inputs, params and code"
    )
    store.delete_tree(staging_key(run_id))
    update_run_record(run_id, outcome=RunOutcome.UNCHANGED, version=version, reason=reason)
    return Unchanged(version, reason)
