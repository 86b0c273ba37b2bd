"""One published version as people and programs see it: :class:`VersionSummary`, built from its
manifest and its model's aliases by :func:`summarize`.

The versions page, the version page, the UI's JSON API (:meth:`VersionSummary.as_dict`), the CLI's
``versions`` table and its ``--json`` (:meth:`VersionSummary.as_cli_dict`, also what
``ModelStore.describe_versions`` returns) all show this one type. A fact the manifest does not
record (a version of the previous layout, a score not computable) is ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from include.quality.coverage import format_score
from include.registry.names import CHAMPION, DEFAULT_MODEL, model_of

#: How the pages name each evaluation (others are shown by their key); also the order they come in.
SCORE_LABELS = {"wordsim353": "WordSim-353", "simlex999": "SimLex-999", "analogies": "Analogies"}
#: The benchmarks every summary names, with the manifest key of their value.
BENCHMARKS = (("wordsim353", "spearman"), ("simlex999", "spearman"), ("analogies", "accuracy"))


def finite_number(value: object) -> float | None:
    """A finite float, else ``None`` (a missing, non-numeric, NaN or infinite score)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


@dataclass(frozen=True)
class Score:
    """One evaluation of a version: its value and, when recorded, how many items it was computed
    on (``{"scored", "total", "unit"}``; ``None`` for a version of the previous layout)."""

    name: str  #: the evaluation's key in the manifest (``wordsim353``)
    label: str  #: how the page names it (``WordSim-353``)
    metric: str  #: ``spearman`` or ``accuracy``
    value: float | None
    coverage: dict | None

    @property
    def shown(self) -> str:
        """``0.412 (212/353 pairs)``, ``not computable (2/999 pairs)``, ``0.412 (coverage not recorded)``."""
        return format_score(self.value, self.coverage)

    def as_dict(self) -> dict:
        return {**self.__dict__, "shown": self.shown}


def scores_of(evaluation: dict) -> tuple[Score, ...]:
    """Every evaluation in a manifest's ``evaluation`` as a :class:`Score`: the named benchmarks
    first (WordSim-353, SimLex-999, analogies), others after by name. The value is the entry's
    ``spearman`` or ``accuracy``; its coverage the entry's ``scored``/``total``/``unit`` when present."""
    names: list[str] = [n for n in SCORE_LABELS if n in evaluation] + sorted(
        n for n in evaluation if n not in SCORE_LABELS
    )
    scores = []
    for name in names:
        entry = evaluation.get(name)
        if not isinstance(entry, dict):
            continue
        if "spearman" in entry or "accuracy" in entry:
            metric = "spearman" if "spearman" in entry else "accuracy"
        else:
            metric = "accuracy" if name == "analogies" else "spearman"
        coverage = None
        if isinstance(entry.get("scored"), int) and isinstance(entry.get("total"), int):
            coverage = {"scored": entry["scored"], "total": entry["total"], "unit": entry.get("unit") or "items"}
        scores.append(Score(name, SCORE_LABELS.get(name, name), metric, finite_number(entry.get(metric)), coverage))
    return tuple(scores)


def check_shown(check: dict) -> str:
    """A gate check's value with its coverage (``0.412 (212/353 pairs)``), as every score is shown."""
    coverage = check.get("coverage") if isinstance(check.get("coverage"), dict) else None
    return format_score(finite_number(check.get("value")), coverage)


@dataclass(frozen=True)
class VersionSummary:
    """One published version: what its manifest says and which aliases of its model name it."""

    version: str
    model: str = DEFAULT_MODEL
    aliases: tuple[str, ...] = ()  #: the aliases of its model that name it, sorted
    data_time: str | None = None  #: ISO time of the data it describes
    corpus_id: str | None = None  #: the corpus's token folder name
    corpus_path: str | None = None  #: the resolved corpus path it was trained on
    run_id: str | None = None  #: the DAG run that made it
    vocab_size: int | None = None
    epochs: int | None = None  #: passes trained
    epochs_requested: int | str | None = None  #: the ``epochs`` Param as given (a number or ``"auto"``)
    wordsim353: float | None = None  #: WordSim-353 Spearman (``None``: not computable, see the coverage)
    simlex999: float | None = None  #: SimLex-999 Spearman
    analogies: float | None = None  #: Google analogy accuracy
    scores: tuple[Score, ...] = ()  #: every evaluation, each with its coverage
    decision: str | None = None  #: the quality gate's decision: ``promoted`` or ``rejected``
    reason: str | None = None  #: the gate's reason
    checks: tuple[dict, ...] = ()  #: the gate's checks (name, value, reference, threshold, coverage, status, ...)
    files: tuple[str, ...] = ()  #: the files its manifest lists, sorted

    @property
    def is_latest(self) -> bool:
        """``default@champion`` names it (the previous layout's ``LATEST``)."""
        return self.model == DEFAULT_MODEL and CHAMPION in self.aliases

    @property
    def coverage(self) -> dict[str, dict | None]:
        """Benchmark -> ``{"scored", "total", "unit"}`` (``None``: not recorded) for the three benchmarks."""
        by_name = {score.name: score.coverage for score in self.scores}
        return {name: by_name.get(name) for name, _ in BENCHMARKS}

    def as_dict(self) -> dict[str, Any]:
        """The UI's JSON API shape (``/word2vec/api/.../versions``)."""
        checks = [dict(check) for check in self.checks]
        return {
            "version": self.version,
            "corpus_id": self.corpus_id,
            "data_time": self.data_time,
            "vocab_size": self.vocab_size,
            "wordsim353": self.wordsim353,
            "simlex999": self.simlex999,
            "analogies": self.analogies,
            "decision": self.decision,
            "reason": self.reason,
            "run_id": self.run_id,
            "is_latest": self.is_latest,
            "files": list(self.files),
            "model": self.model,
            "aliases": list(self.aliases),
            "scores": [score.as_dict() for score in self.scores],
            "checks": checks,
            "gate": {"decision": self.decision, "reason": self.reason, "checks": [dict(c) for c in checks]},
        }

    def as_cli_dict(self) -> dict[str, Any]:
        """The CLI's JSON shape (``python -m include.cli --json versions``, ``ModelStore.describe_versions``)."""
        return {
            "version": self.version,
            "model": self.model,
            "aliases": list(self.aliases),
            "data_time": self.data_time,
            "corpus_id": self.corpus_id,
            "corpus_path": self.corpus_path,
            "vocab_size": self.vocab_size,
            "epochs": self.epochs,
            "epochs_requested": self.epochs_requested,
            "wordsim353": self.wordsim353,
            "simlex999": self.simlex999,
            "analogies": self.analogies,
            "coverage": self.coverage,
            "gate": self.decision,
            "gate_reason": self.reason,
            "gate_checks": [dict(check) for check in self.checks],
        }


def summarize(manifest: dict, aliases: Mapping[str, str] | None = None) -> VersionSummary:
    """The :class:`VersionSummary` of a published version's ``manifest`` (``manifest.json`` as
    read; missing facts become ``None``). ``aliases``: ``alias -> version`` of the version's model
    (those naming this version are kept)."""
    evaluation = manifest.get("evaluation") or {}
    gate = manifest.get("gate") or {}
    params = manifest.get("params") or {}
    vocab_size = (manifest.get("training") or {}).get("vocab_size")
    values = {name: finite_number((evaluation.get(name) or {}).get(key)) for name, key in BENCHMARKS}
    return VersionSummary(
        version=manifest["version"],
        model=model_of(manifest),
        aliases=tuple(sorted(a for a, v in (aliases or {}).items() if v == manifest["version"])),
        data_time=manifest.get("data_time"),
        corpus_id=manifest.get("corpus_id"),
        corpus_path=params.get("corpus_path"),
        run_id=manifest.get("run_id"),
        vocab_size=int(vocab_size) if isinstance(vocab_size, int | float) else None,
        epochs=params.get("epochs"),
        epochs_requested=params.get("epochs_requested", params.get("epochs")),
        wordsim353=values["wordsim353"],
        simlex999=values["simlex999"],
        analogies=values["analogies"],
        scores=scores_of(evaluation),
        decision=gate.get("decision"),
        reason=gate.get("reason"),
        checks=tuple(c for c in gate.get("checks") or () if isinstance(c, dict)),
        files=tuple(sorted(manifest.get("files") or {})),
    )
