"""The ``promote`` step: ``models/LATEST`` moved to a version the gate promoted, never backward in data time."""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from typing import TypedDict

from include.quality.gate import GateDecision
from include.settings import keep_versions
from include.storage.locks import exclusive_lock
from include.storage.paths import lock_file, models_dir, staging_dir
from include.storage.publish import point_latest
from include.storage.run_records import RunOutcome, update_run_record
from include.storage.versions import latest_manifest, list_versions, prune_versions

log = logging.getLogger(__name__)


class Promoted(TypedDict):
    latest: str  #: the version LATEST now names
    path: str  #: its folder
    corpus_id: str | None
    pruned: list[str]  #: versions deleted as beyond ``EMBEDDINGS_KEEP_VERSIONS``


@dataclass(frozen=True)
class NotPromoted:
    """LATEST stays: the gate rejected ``version``, or LATEST names a version of newer data."""

    outcome: RunOutcome  #: ``rejected`` or ``published``
    reason: str


def promote(version: str, *, decision: GateDecision | str, reason: str, run_id: str) -> Promoted | NotPromoted:
    """The whole ``promote`` task for the published ``version`` and its gate ``decision``/``reason``.

    Drops the run's staging folder; with a promoted decision, moves LATEST to ``version`` unless
    LATEST names a version of newer data (compared and moved under one lock), then prunes old
    versions. The run's record states the outcome either way.
    """
    models = models_dir()
    shutil.rmtree(staging_dir(run_id), ignore_errors=True)
    report_html = str(models / version / "report" / "report.html")
    if GateDecision(decision) != GateDecision.PROMOTED:
        update_run_record(run_id, outcome=RunOutcome.REJECTED, version=version, reason=reason, report_html=report_html)
        return NotPromoted(RunOutcome.REJECTED, f"version {version} rejected by the quality gate: {reason}")
    mine = next(v for v in list_versions(models) if v.get("version") == version)
    with exclusive_lock(lock_file("models-latest")):  # compare and move LATEST as one step
        current = latest_manifest(models)
        if current and current.get("data_time", "") > mine.get("data_time", ""):
            kept = (
                f"kept LATEST at {current['version']}: its data ({current['data_time']}) is newer than "
                f"this version's ({mine['data_time']})"
            )
            update_run_record(
                run_id, outcome=RunOutcome.PUBLISHED, version=version, reason=kept, report_html=report_html
            )
            return NotPromoted(RunOutcome.PUBLISHED, kept)
        point_latest(models, version)
    pruned = prune_versions(models, keep_versions())
    update_run_record(run_id, outcome=RunOutcome.PROMOTED, version=version, reason=reason, report_html=report_html)
    log.info("LATEST -> %s; pruned %d old versions", version, len(pruned))
    return Promoted(latest=version, path=str(models / version), corpus_id=mine.get("corpus_id"), pruned=pruned)
