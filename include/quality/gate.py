"""The quality gate: may a new version of a model become its ``champion``?

It compares like with like and refuses what a person would call broken:

- **paired metrics**: WordSim-353, SimLex-999 and the Google analogies, each computed for the new
  version AND the champion on the items both scored
  (:func:`include.quality.evaluation.compare_on_common_items`); a metric fails when it dropped by
  more than ``max(tolerance, SE_MULTIPLIER x the paired standard error)``: a drop the benchmark's
  sampling noise explains is not a regression;
- **checks that need no benchmark** (every corpus has them): vocabulary and corpus-token shrink
  against the champion, neighbour overlap@10 with the champion, and a degenerate-space check
  (run even for a model's first version).

A check or metric that is "not computable" (too few items, nothing shared, no figure recorded)
neither passes nor fails anything by itself. Every threshold below was measured on gensim's Lee
corpus (``lee_background.cor``, 58,152 tokens, 1,750 words at min_count 5; vector_size 100,
workers 1, seeds 1-3, ``simple_preprocess`` per line); the figures are in the comments.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, TypedDict

from include.quality.coverage import Coverage


class GateDecision(StrEnum):
    """What the gate decided for a version (stored as its string value in reports and manifests)."""

    PROMOTED = "promoted"
    REJECTED = "rejected"


PROMOTED, REJECTED = GateDecision.PROMOTED, GateDecision.REJECTED
PASSED, FAILED, NOT_COMPUTABLE = "passed", "failed", "not computable"


class GateCheck(TypedDict):
    """One line of the gate's table: a paired metric (``kind`` ``metric``) or a check (``check``)."""

    name: str
    kind: str  #: ``metric`` or ``check``
    value: float | None  #: the new version's figure
    reference: float | None  #: the champion's figure (on the same items, for a metric)
    threshold: str  #: in words, e.g. ``>= 0.5 x champion`` or ``drop <= 0.236``
    coverage: Coverage | None
    status: str  #: ``passed``, ``failed`` or ``not computable``
    detail: str


class GateResult(TypedDict):
    """The gate's verdict, as ``report.json`` and ``manifest.json`` hold it under ``"gate"``."""

    decision: GateDecision
    reason: str
    compared_with: str | None  #: the champion's version, ``None`` for a model's first version
    tolerance: float
    deltas: dict[str, float]  #: paired metric -> new minus champion on the common items
    checks: list[GateCheck]
    contract_changes: dict[str, list]  #: field -> [expected, actual]; non-empty: only a person promotes


#: (report key, score key) of every metric the gate compares; higher is better for each.
GATE_METRICS = (("wordsim353", "spearman"), ("simlex999", "spearman"), ("analogies", "accuracy"))

#: A paired metric fails only when it dropped by more than this many standard errors of the paired
#: delta (and by more than the tolerance). Measured: Lee 35 epochs against Lee 10 epochs on the same
#: 96 SimLex pairs: 0.073 vs 0.142, delta -0.069 with a bootstrap SE of 0.121 (seed 2: -0.059,
#: SE 0.122): noise on 96 pairs, not a regression; two seeds of Lee 10 epochs differ by -0.065 on
#: WordSim's 60 pairs. Lee 5 epochs against Lee 10: SimLex -0.273, SE 0.122 -> fails (0.273 > 0.239).
SE_MULTIPLIER = 1.96

#: New vocabulary / champion's below this fails. Measured: the same corpus and settings retrained
#: give 1.0; Lee at min_count 50 against min_count 5: 133 / 1,750 = 0.076; a 10-word corpus against
#: Lee: 10 / 1,750 = 0.006. Half the words gone is a different model, not a new version of it.
MIN_VOCAB_RATIO = 0.5
#: New corpus tokens / champion's (its manifest's ``training.corpus_words``) below this fails.
#: Measured: Lee retrained 1.0; a 10-word corpus of 50 lines against Lee: 500 / 58,152 = 0.009.
MIN_TOKEN_RATIO = 0.5
#: Mean neighbour overlap@10 with the champion (probe words and the 1,000 most frequent words both
#: know) below this fails: the neighbourhoods share no more than chance (10 / 1,750 = 0.006 on Lee).
#: Measured against a Lee 35-epoch champion: another seed of 35 epochs 0.64-0.65, 15 epochs 0.15,
#: 10 epochs 0.07, 5 epochs 0.007, 1 epoch 0.002, min_count 50 at 1 epoch 0.005. Against a Lee
#: 10-epoch champion (itself nearly collapsed, so every overlap with it is low): 35 epochs
#: 0.068-0.072 (must pass: more epochs is better), other seeds of 10 epochs 0.30-0.32, 1 epoch 0.04.
MIN_NEIGHBOUR_OVERLAP = 0.03
#: Mean top-1 cosine of the 100 most frequent words (neighbours over the whole vocabulary) at or
#: above this: every vector points the same way, the space is degenerate. Measured on Lee: 1 epoch
#: 0.9983, 1 epoch at min_count 50 0.9993, 5 epochs 0.9997 (all rejected), 10 epochs 0.9956-0.9958
#: (passes: the report flags it undertrained, but its neighbours already differ), 15 epochs
#: 0.961-0.964, 35 epochs 0.724-0.727; a 10-word random corpus (50 lines, 35 epochs) 0.92-0.93,
#: so the first version of a scratch model on it is promoted. The margin to 10 epochs is
#: thin (1 - cosine: 0.0042 vs 0.002): a model trained less than Lee at 10 epochs may fall here.
DEGENERATE_TOP1_COSINE = 0.998

PROMOTE_COMMAND = "python -m include.cli --model {model} promote {version} --alias champion --reason ..."


def _ratio_check(name: str, value, reference, minimum: float, unit: str) -> GateCheck:
    threshold = f">= {minimum} x champion"
    if not isinstance(value, int | float) or not isinstance(reference, int | float) or reference <= 0:
        return GateCheck(
            name=name,
            kind="check",
            value=value,
            reference=reference,
            threshold=threshold,
            coverage=None,
            status=NOT_COMPUTABLE,
            detail=f"the champion's {unit} count is not recorded" if value is not None else f"{unit} not recorded",
        )
    ratio = value / reference
    return GateCheck(
        name=name,
        kind="check",
        value=value,
        reference=reference,
        threshold=threshold,
        coverage=None,
        status=PASSED if ratio >= minimum else FAILED,
        detail=f"{value:,} {unit} = {ratio:.3f} x the champion's {reference:,}",
    )


def degenerate_check(degenerate: dict | None) -> GateCheck:
    """The degenerate-space check of :func:`include.quality.drift.mean_top1_cosine`'s figure."""
    degenerate = degenerate or {}
    value, words = degenerate.get("value"), degenerate.get("words", 0)
    threshold = f"< {DEGENERATE_TOP1_COSINE}"
    if value is None:
        status, detail = NOT_COMPUTABLE, "fewer than 2 words"
    elif value >= DEGENERATE_TOP1_COSINE:
        status, detail = FAILED, f"mean top-1 cosine {value:.4f} of the {words} most frequent words: vectors collapsed"
    else:
        status, detail = PASSED, f"mean top-1 cosine {value:.4f} of the {words} most frequent words"
    return GateCheck(
        name="degenerate space",
        kind="check",
        value=value,
        reference=degenerate.get("reference"),
        threshold=threshold,
        coverage={"scored": words, "total": words, "unit": "words"} if words else None,
        status=status,
        detail=detail,
    )


def _overlap_check(overlap: dict | None) -> GateCheck:
    overlap = overlap or {}
    value, words = overlap.get("value"), overlap.get("words", 0)
    top_k = overlap.get("top_k", 10)
    if value is None:
        status, detail = NOT_COMPUTABLE, "no word known to both versions"
    else:
        status = PASSED if value >= MIN_NEIGHBOUR_OVERLAP else FAILED
        detail = f"{value:.3f} of the top-{top_k} neighbours shared, mean over {words} words both know"
    return GateCheck(
        name=f"neighbour overlap@{top_k}",
        kind="check",
        value=value,
        reference=None,
        threshold=f">= {MIN_NEIGHBOUR_OVERLAP}",
        coverage={"scored": words, "total": overlap.get("candidates", words), "unit": "words"} if overlap else None,
        status=status,
        detail=detail,
    )


def _metric_check(name: str, paired: dict | None, tolerance: float) -> GateCheck:
    paired = paired or {}
    value, reference, delta, se = (paired.get(key) for key in ("value", "reference", "delta", "delta_se"))
    coverage = paired.get("coverage")
    allowed = max(tolerance, SE_MULTIPLIER * se) if se is not None else tolerance
    threshold = f"drop <= {allowed:.3f} (max of tolerance {tolerance} and {SE_MULTIPLIER} x SE)"
    if delta is None:
        scored = coverage["scored"] if coverage else 0
        status, detail = NOT_COMPUTABLE, f"{scored} items scored by both versions: too few to compare"
        threshold = f"drop <= max(tolerance {tolerance}, {SE_MULTIPLIER} x SE)"
    else:
        status = FAILED if -delta > allowed else PASSED
        detail = f"{value:.3f} vs the champion's {reference:.3f} on the same items: {delta:+.3f} (SE {se:.3f})"
    return GateCheck(
        name=name,
        kind="metric",
        value=value,
        reference=reference,
        threshold=threshold,
        coverage=coverage,
        status=status,
        detail=detail,
    )


def decide(
    facts: Mapping[str, Any],
    champion: dict | None,
    tolerance: float,
    *,
    corpus_tokens: int | None = None,
    contract_changes: dict | None = None,
    model: str | None = None,
    version: str | None = None,
) -> GateResult:
    """The gate's decision for a new version of a model against its ``champion``'s manifest
    (``None``: the model's first version).

    ``facts`` is what :func:`include.steps.evaluate_embeddings.evaluate_embeddings` measured:
    ``vocab_size``, ``degenerate`` (``{"value", "words"}``) and, against the champion, ``paired``
    (:func:`include.quality.evaluation.compare_on_common_items`), ``overlap``
    (:func:`include.quality.drift.neighbour_overlap`) and ``reference_vocab_size``.
    ``corpus_tokens`` is the new version's tokens per pass (the champion's come from its manifest's
    ``training.corpus_words``). ``contract_changes`` (``{field: [expected, actual]}``, a run that
    allowed the model's contract to change) always rejects: only an explicit promote
    (:data:`PROMOTE_COMMAND`, ``model`` and ``version`` fill it in) makes such a version champion.

    Returns :class:`GateResult`: rejected when any check or paired metric failed; a "not computable"
    line never decides by itself. The first version is promoted unless its space is degenerate.
    """
    contract_changes = dict(contract_changes or {})
    checks: list[GateCheck] = [degenerate_check(facts.get("degenerate"))]
    deltas: dict[str, float] = {}
    if champion is not None:
        training = champion.get("training") or {}
        reference_vocab = facts.get("reference_vocab_size") or training.get("vocab_size")
        checks.append(_ratio_check("vocabulary", facts.get("vocab_size"), reference_vocab, MIN_VOCAB_RATIO, "words"))
        checks.append(
            _ratio_check("corpus tokens", corpus_tokens, training.get("corpus_words"), MIN_TOKEN_RATIO, "tokens")
        )
        checks.append(_overlap_check(facts.get("overlap")))
        paired = facts.get("paired") or {}
        for name, _score in GATE_METRICS:
            line = _metric_check(name, paired.get(name), tolerance)
            checks.append(line)
            if paired.get(name, {}).get("delta") is not None:
                deltas[name] = paired[name]["delta"]
    compared_with = champion.get("version") if champion else None
    failed = [line for line in checks if line["status"] == FAILED]
    unknown = [line["name"] for line in checks if line["status"] == NOT_COMPUTABLE]

    def verdict(decision: GateDecision, reason: str) -> GateResult:
        return {
            "decision": decision,
            "reason": reason,
            "compared_with": compared_with,
            "tolerance": tolerance,
            "deltas": deltas,
            "checks": checks,
            "contract_changes": contract_changes,
        }

    failures = "; ".join(f"{line['name']} failed ({line['detail']}; needs {line['threshold']})" for line in failed)
    if contract_changes:
        changed = ", ".join(f"{field} {pair[0]!r} -> {pair[1]!r}" for field, pair in contract_changes.items())
        command = PROMOTE_COMMAND.format(model=model or "<model>", version=version or "<version>")
        reason = (
            f"the model contract changed ({changed}): the gate never makes such a version champion; "
            f"only an explicit promote can: {command}"
        )
        if failed:
            reason += f". Also: {failures}"
        return verdict(REJECTED, reason)
    if failed:
        against = f"against champion {compared_with}" if compared_with else "as the model's first version"
        return verdict(REJECTED, f"rejected {against}: {failures}")
    not_computed = f"; not computable: {', '.join(unknown)}" if unknown else ""
    if champion is None:
        return verdict(
            PROMOTED, f"first version of this model: no champion to compare with, no check failed{not_computed}"
        )
    passed = sum(line["status"] == PASSED for line in checks)
    return verdict(PROMOTED, f"no check failed against champion {compared_with} ({passed} passed{not_computed})")
