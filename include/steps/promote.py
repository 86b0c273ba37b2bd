"""The ``promote`` step: the model's ``champion`` alias moved to a version the gate promoted, by
compare-and-swap, never backward in data time (:meth:`include.registry.registry.ModelRegistry.move_alias`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TypedDict

from include.quality.gate import GateDecision
from include.registry.names import CHAMPION, DEFAULT_MODEL
from include.registry.registry import AliasKept, ModelRegistry
from include.settings import keep_versions
from include.storage.layout import data_store, staging_key, version_key
from include.storage.run_records import RunOutcome, update_run_record

log = logging.getLogger(__name__)


class Promoted(TypedDict):
    model: str
    champion: str  #: the version ``<model>@champion`` now names
    previous: str | None  #: the version it named before
    path: str  #: its location (a path or URL)
    corpus_id: str | None
    data_root: str  #: the data root's location, for the Asset event
    pruned: list[str]  #: the model's versions deleted as beyond ``EMBEDDINGS_KEEP_VERSIONS``


@dataclass(frozen=True)
class NotPromoted:
    """The champion stays: the gate rejected ``version``, or the champion is a version of newer data."""

    outcome: RunOutcome  #: ``rejected`` or ``published``
    reason: str


def promote(
    version: str, *, decision: GateDecision | str, reason: str, run_id: str, model: str = DEFAULT_MODEL
) -> Promoted | NotPromoted:
    """The whole ``promote`` task for the published ``version`` of ``model`` and its gate
    ``decision``/``reason``.

    Drops the run's staging prefix; with a promoted decision, moves ``<model>@champion`` to
    ``version`` (actor ``gate``, the gate's reason and the run recorded in the model's alias
    history) unless it names a version of newer data. Then prunes the model's old versions (never
    one an alias names). The run's record states the outcome.
    """
    store = data_store()
    registry = ModelRegistry(store)
    store.delete_tree(staging_key(run_id))
    report_html = store.key_url(f"{version_key(version)}/report/report.html")
    if GateDecision(decision) != GateDecision.PROMOTED:
        update_run_record(run_id, outcome=RunOutcome.REJECTED, version=version, reason=reason, report_html=report_html)
        return NotPromoted(
            RunOutcome.REJECTED, f"version {version} of model {model!r} rejected by the quality gate: {reason}"
        )
    moved = registry.move_alias(model, CHAMPION, version, actor="gate", reason=reason, run_id=run_id, forward_only=True)
    if isinstance(moved, AliasKept):
        update_run_record(
            run_id, outcome=RunOutcome.PUBLISHED, version=version, reason=moved.reason, report_html=report_html
        )
        return NotPromoted(RunOutcome.PUBLISHED, moved.reason)
    pruned = registry.prune(model, keep_versions())
    update_run_record(run_id, outcome=RunOutcome.PROMOTED, version=version, reason=reason, report_html=report_html)
    log.info("%s@%s -> %s; pruned %d old versions of the model", model, CHAMPION, version, len(pruned))
    return Promoted(
        model=model,
        champion=version,
        previous=moved["from_version"],
        path=store.key_url(version_key(version)),
        corpus_id=registry.manifest(model, version).get("corpus_id"),
        data_root=store.url,
        pruned=pruned,
    )
