"""The ``publish`` step: the version manifest written last, then the staged version moved into
``models/<version>/`` by one rename (rejected versions too, marked so by their gate result)."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import TypedDict

from include.errors import VersionConflictError
from include.quality.gate import GateDecision
from include.steps.train_word2vec import Unchanged
from include.storage.paths import models_dir, staging_dir
from include.storage.publish import VersionManifest, library_versions, publish_version, write_version_manifest
from include.storage.run_records import RunOutcome, update_run_record
from include.storage.versions import list_versions
from include.text.tokens import read_partition_summary

log = logging.getLogger(__name__)


class PublishedVersion(TypedDict):
    version: str
    version_path: str
    decision: GateDecision
    report_html: str


def publish(
    version_dir: Path, *, version: str, run_id: str, manifest_path: Path, corpus_tokens: Path, facts: dict
) -> PublishedVersion | Unchanged:
    """The whole ``publish`` task for the staged version in ``version_dir``.

    ``facts`` are the training facts the manifest records (``corpus_id``, ``content_hash``,
    ``data_time``, ``partitions``, ``training``); the manifest adds the report's params,
    evaluation, parity and gate result, the ingested files and each partition's summary.
    When another run of the same inputs, params and code (the same interval run twice at once)
    published this version meanwhile, the run ends :class:`Unchanged` and its duplicate is dropped;
    a different version of the same name raises :class:`VersionConflictError`.
    """
    version_dir = Path(version_dir)
    report = json.loads((version_dir / "report" / "report.json").read_text(encoding="utf-8"))
    inputs = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
    partitions = {name: read_partition_summary(Path(corpus_tokens) / name) for name in facts.get("partitions", [])}
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
    write_version_manifest(version_dir, manifest)
    try:
        final = publish_version(version_dir, models_dir(), version)
    except FileExistsError as error:
        return published_meanwhile(version, facts.get("content_hash"), run_id, error)
    decision = GateDecision(report["gate"]["decision"])
    log.info("published model version %s (%s); report: %s", final, decision, final / "report" / "report.html")
    return PublishedVersion(
        version=version,
        version_path=str(final),
        decision=decision,
        report_html=str(final / "report" / "report.html"),
    )


def published_meanwhile(version: str, content_hash: str | None, run_id: str, error: FileExistsError) -> Unchanged:
    """``version`` exists already: :class:`Unchanged` (staging dropped, recorded) when it has the same
    ``content_hash``; otherwise :class:`VersionConflictError`."""
    existing = next((v for v in list_versions(models_dir()) if v.get("version") == version), None)
    if not existing or existing.get("content_hash") != content_hash:
        raise VersionConflictError(str(error)) from error
    reason = (
        f"nothing new to publish: version {version} was published meanwhile by run "
        f"{existing.get('run_id')} from the same inputs, params and code"
    )
    shutil.rmtree(staging_dir(run_id), ignore_errors=True)
    update_run_record(run_id, outcome=RunOutcome.UNCHANGED, version=version, reason=reason)
    return Unchanged(version, reason)
