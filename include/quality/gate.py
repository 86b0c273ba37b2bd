"""The quality gate: promote a new version only if its evaluation is not clearly worse."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import TypedDict


class GateDecision(StrEnum):
    """What the gate decided for a version (stored as its string value in reports and manifests)."""

    PROMOTED = "promoted"
    REJECTED = "rejected"


PROMOTED, REJECTED = GateDecision.PROMOTED, GateDecision.REJECTED


class GateResult(TypedDict):
    """The gate's verdict, as ``report.json`` and ``manifest.json`` hold it under ``"gate"``."""

    decision: GateDecision
    reason: str
    compared_with: str | None  #: the reference version's name, ``None`` for the first of a corpus
    tolerance: float
    deltas: dict[str, float]  #: metric -> this version's score minus the reference's


#: (report key, score key) of every metric the gate compares; higher is better for each.
GATE_METRICS = (("wordsim353", "spearman"), ("simlex999", "spearman"), ("analogies", "accuracy"))


def reference_version(versions: Iterable[dict], corpus_id: str, exclude: str | None = None) -> dict | None:
    """The gate's reference among published version manifests: the promoted version of
    ``corpus_id`` (other than ``exclude``) with the latest data time, or ``None``."""
    promoted = [
        v
        for v in versions
        if v.get("corpus_id") == corpus_id
        and v.get("gate", {}).get("decision") == PROMOTED
        and v.get("version") != exclude
    ]
    return max(promoted, key=lambda v: (v.get("data_time", ""), v.get("version", "")), default=None)


def decide(evaluation: dict, previous: dict | None, tolerance: float) -> GateResult:
    """Gate decision for a version with ``evaluation`` against the ``previous`` promoted version's manifest.

    A metric computable in both versions that dropped by more than ``tolerance`` (absolute) rejects
    the version; with no previous version, or no metric computable in both, it is promoted.
    Returns ``{"decision", "reason", "compared_with", "tolerance", "deltas"}``.
    """
    if previous is None:
        return {
            "decision": PROMOTED,
            "reason": "first version of this corpus",
            "compared_with": None,
            "tolerance": tolerance,
            "deltas": {},
        }
    before = previous.get("evaluation", {})
    deltas = {}
    for name, score in GATE_METRICS:
        new, old = evaluation.get(name, {}).get(score), before.get(name, {}).get(score)
        if new is not None and old is not None:
            deltas[name] = round(new - old, 6)
    worse = {name: delta for name, delta in deltas.items() if delta < -tolerance}
    base = {"compared_with": previous.get("version"), "tolerance": tolerance, "deltas": deltas}
    if worse:
        listed = ", ".join(f"{name} {delta:+.4f}" for name, delta in worse.items())
        return {
            "decision": REJECTED,
            **base,
            "reason": f"worse than {previous.get('version')} by more than {tolerance}: {listed}",
        }
    if not deltas:
        return {
            "decision": PROMOTED,
            **base,
            "reason": f"no metric computable in both this version and {previous.get('version')}",
        }
    return {
        "decision": PROMOTED,
        **base,
        "reason": f"no metric worse than {previous.get('version')} by more than {tolerance}",
    }
