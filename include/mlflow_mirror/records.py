"""What one version's MLflow run holds, from the version's manifest and report (no MLflow here).

- **params**: the run's resolved Params as the report records them (``epochs`` as trained, beside
  ``epochs_requested``; ``corpus_path`` resolved), each as text (lists and mappings as JSON);
- **metrics**: the vocabulary, tokens, sentences, training seconds and words per second; each
  benchmark's score with its coverage (``evaluation.wordsim353.spearman``,
  ``evaluation.wordsim353.coverage`` = scored / total, ``.scored``, ``.total``); each gate check's
  value, reference and coverage (``gate.<check>``, ``gate.<check>.reference``, ...), ``gate.promoted``
  (1 or 0); the neighbour table's recall; and, for the version of the run that mirrors it, each
  task's seconds (``step_seconds.<task_id>``);
- **tags**: ``version``, ``model``, ``dag_id``, ``airflow_run_id``, ``corpus_id``, ``data_time``,
  ``content_hash``, ``gate_decision``, ``gate_reason``, ``path`` (the version's files in the data root).

A value MLflow cannot hold (``None``, ``NaN``, text where a number goes) is left out, never sent as 0.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, TypedDict

#: MLflow's limits: a param's value, a tag's value (its server refuses longer ones)
MAX_PARAM_CHARS = 6000
MAX_TAG_CHARS = 5000
_KEY_CHARS = re.compile(r"[^A-Za-z0-9_\-. /]")


class RunFacts(TypedDict):
    """The Airflow run that mirrors: its DAG, its run id and each of its tasks' seconds."""

    dag_id: str
    run_id: str
    step_seconds: dict[str, float]


@dataclass(frozen=True)
class VersionRecord:
    """One version as an MLflow run shows it."""

    version: str
    model: str
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


def metric_key(*parts: str) -> str:
    """``evaluation.wordsim353.spearman``: the parts joined by dots, any character MLflow refuses in
    a key replaced by ``_``."""
    return ".".join(_KEY_CHARS.sub("_", str(part)) for part in parts)


def as_param(value: Any) -> str:
    """A param's value as MLflow stores it: text as it is, anything else as JSON, cut to MLflow's limit."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text[:MAX_PARAM_CHARS]


def as_number(value: Any) -> float | None:
    """``value`` as a finite float, or ``None`` (``None``, a bool, text, ``NaN``, infinity)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _put(metrics: dict[str, float], key: str, value: Any) -> None:
    number = as_number(value)
    if number is not None:
        metrics[key] = number


def _coverage(metrics: dict[str, float], prefix: str, scored: Any, total: Any) -> None:
    _put(metrics, f"{prefix}.scored", scored)
    _put(metrics, f"{prefix}.total", total)
    if as_number(scored) is not None and as_number(total):
        metrics[f"{prefix}.coverage"] = float(scored) / float(total)


def version_metrics(manifest: dict, report: dict | None, step_seconds: dict[str, float] | None = None) -> dict:
    """The metrics of one version (see the module's docstring)."""
    metrics: dict[str, float] = {}
    training = manifest.get("training") or {}
    for name in ("vocab_size", "corpus_words", "sentences", "train_seconds"):
        _put(metrics, metric_key("training", name), training.get(name))
    epochs = as_number((manifest.get("params") or {}).get("epochs"))
    words, seconds = as_number(training.get("corpus_words")), as_number(training.get("train_seconds"))
    if words is not None and seconds and epochs:
        metrics["training.words_per_second"] = words * epochs / seconds
    for benchmark, scores in sorted((manifest.get("evaluation") or {}).items()):
        if not isinstance(scores, dict):
            continue
        prefix = metric_key("evaluation", benchmark)
        for name in ("spearman", "accuracy", "oov_ratio"):
            _put(metrics, f"{prefix}.{name}", scores.get(name))
        _coverage(metrics, prefix, scores.get("scored"), scores.get("total"))
    gate = manifest.get("gate") or {}
    if gate.get("decision"):
        metrics["gate.promoted"] = 1.0 if gate["decision"] == "promoted" else 0.0
    for check in gate.get("checks") or []:
        prefix = metric_key("gate", check.get("name", "?"))
        _put(metrics, prefix, check.get("value"))
        _put(metrics, f"{prefix}.reference", check.get("reference"))
        coverage = check.get("coverage") or {}
        _coverage(metrics, prefix, coverage.get("scored"), coverage.get("total"))
    for name, delta in sorted((gate.get("deltas") or {}).items()):
        _put(metrics, metric_key("gate", name, "delta"), delta)
    table = (report or {}).get("neighbour_table") or {}
    _put(metrics, "neighbour_table.recall_at_k", table.get("recall_at_k"))
    _put(metrics, "neighbour_table.seconds", table.get("seconds"))
    for task_id, task_seconds in sorted((step_seconds or {}).items()):
        _put(metrics, metric_key("step_seconds", task_id), task_seconds)
    return metrics


def version_record(manifest: dict, report: dict | None, run: RunFacts | None = None) -> VersionRecord:
    """The run of the version ``manifest`` describes; ``run``: the Airflow run mirroring it, whose
    task seconds are recorded when it is the run that built the version."""
    own_run = run is not None and run["run_id"] == manifest.get("run_id")
    params = {str(name): as_param(value) for name, value in sorted((manifest.get("params") or {}).items())}
    gate = manifest.get("gate") or {}
    tags = {
        "version": manifest["version"],
        "model": manifest.get("model") or "default",
        "airflow_run_id": manifest.get("run_id"),
        "corpus_id": manifest.get("corpus_id"),
        "data_time": manifest.get("data_time"),
        "content_hash": manifest.get("content_hash"),
        "gate_decision": gate.get("decision"),
        "gate_reason": gate.get("reason"),
        "path": manifest.get("path"),
        "dag_id": run["dag_id"] if run is not None else None,
    }
    return VersionRecord(
        version=manifest["version"],
        model=tags["model"],
        params=params,
        metrics=version_metrics(manifest, report, run["step_seconds"] if own_run and run else None),
        tags={name: str(value)[:MAX_TAG_CHARS] for name, value in tags.items() if value not in (None, "")},
    )
