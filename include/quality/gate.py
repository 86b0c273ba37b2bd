"""The quality gate: promote a new version only if its evaluation is not clearly worse."""

from __future__ import annotations

from include.storage.versions import PROMOTED, REJECTED

#: (report key, score key) of every metric the gate compares; higher is better for each.
GATE_METRICS = (("wordsim353", "spearman"), ("simlex999", "spearman"), ("analogies", "accuracy"))


def decide(evaluation: dict, previous: dict | None, tolerance: float) -> dict:
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
