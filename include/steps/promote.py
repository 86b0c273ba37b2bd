"""The ``promote`` step: ``models/LATEST`` moved to a version the gate promoted, by compare-and-swap,
never backward in data time."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TypedDict

from include.quality.gate import GateDecision
from include.settings import keep_versions
from include.storage.layout import LATEST_KEY, data_store, staging_key, version_key
from include.storage.run_records import RunOutcome, update_run_record
from include.storage.store import PreconditionFailed
from include.storage.versions import prune_versions, read_manifest

log = logging.getLogger(__name__)
SWAP_ATTEMPTS = 50


class Promoted(TypedDict):
    latest: str  #: the version LATEST now names
    path: str  #: its location (a path or URL)
    corpus_id: str | None
    data_root: str  #: the data root's location, for the Asset event
    pruned: list[str]  #: versions deleted as beyond ``EMBEDDINGS_KEEP_VERSIONS``


@dataclass(frozen=True)
class NotPromoted:
    """LATEST stays: the gate rejected ``version``, or LATEST names a version of newer data."""

    outcome: RunOutcome  #: ``rejected`` or ``published``
    reason: str


def promote(version: str, *, decision: GateDecision | str, reason: str, run_id: str) -> Promoted | NotPromoted:
    """The whole ``promote`` task for the published ``version`` and its gate ``decision``/``reason``.

    Drops the run's staging prefix; with a promoted decision, reads LATEST (and its ETag), keeps it
    when it names a version of newer data, else swaps it to ``version`` on that ETag; a lost race
    reads again and decides again. Then prunes old versions. The run's record states the outcome.
    """
    store = data_store()
    store.delete_tree(staging_key(run_id))
    report_html = store.key_url(f"{version_key(version)}/report/report.html")
    if GateDecision(decision) != GateDecision.PROMOTED:
        update_run_record(run_id, outcome=RunOutcome.REJECTED, version=version, reason=reason, report_html=report_html)
        return NotPromoted(RunOutcome.REJECTED, f"version {version} rejected by the quality gate: {reason}")
    mine = read_manifest(store, version)
    if mine is None:
        raise FileNotFoundError(f"cannot promote unpublished version '{store.key_url(version_key(version))}'")
    for attempt in range(SWAP_ATTEMPTS):
        current = store.read_versioned(LATEST_KEY)
        named = current.data.decode("utf-8").strip() if current else ""
        latest = read_manifest(store, named) if named else None
        if latest and latest.get("data_time", "") > mine.get("data_time", ""):
            kept = (
                f"kept LATEST at {latest['version']}: its data ({latest['data_time']}) is newer than "
                f"this version's ({mine['data_time']})"
            )
            update_run_record(
                run_id, outcome=RunOutcome.PUBLISHED, version=version, reason=kept, report_html=report_html
            )
            return NotPromoted(RunOutcome.PUBLISHED, kept)
        try:
            store.swap(LATEST_KEY, f"{version}\n".encode(), current.token if current else None)
            break
        except PreconditionFailed:
            log.info("LATEST moved while promoting %s (attempt %d): reading it again", version, attempt + 1)
            time.sleep(0.05)
    else:
        raise PreconditionFailed(f"gave up moving '{store.key_url(LATEST_KEY)}' after {SWAP_ATTEMPTS} lost races")
    pruned = prune_versions(store, keep_versions())
    update_run_record(run_id, outcome=RunOutcome.PROMOTED, version=version, reason=reason, report_html=report_html)
    log.info("LATEST -> %s; pruned %d old versions", version, len(pruned))
    return Promoted(
        latest=version,
        path=store.key_url(version_key(version)),
        corpus_id=mine.get("corpus_id"),
        data_root=store.url,
        pruned=pruned,
    )
