"""The ``write_similarity_report`` step: evaluate, decide (the quality gate) and write ``report.json``
for scripts and ``report.html`` for people."""

from __future__ import annotations

import base64
import io
import logging
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

import numpy as np

from include.artifacts.embeddings import Embeddings, fetch_embeddings
from include.artifacts.phrases import PHRASES_FILE, phrase_report
from include.quality.coverage import MIN_PAIRS, MIN_QUESTIONS, format_score
from include.quality.drift import MOVED_CANDIDATES
from include.quality.evaluation import RESTRICT_VOCAB
from include.quality.gate import GateDecision, GateResult, decide
from include.quality.similarity import choose_probe_words, nearest_neighbours, undertraining, unit_rows
from include.registry.registry import ModelRegistry
from include.storage.atomic_io import write_json_atomic, write_text_atomic
from include.storage.layout import data_store
from include.storage.version_files import record_written, relocated
from include.storage.versions import read_manifest

if TYPE_CHECKING:
    from include.steps.build_keras_model import ParityResult
    from include.steps.evaluate_embeddings import EvaluationFacts
    from include.steps.train_word2vec import EpochsChoice

log = logging.getLogger(__name__)
REPORT_SCHEMA_VERSION = 1
TEMPLATE_DIR = Path(__file__).parent / "templates"
MAP_WORDS = 100


def pca_map_png(embeddings: Embeddings, words: int = MAP_WORDS) -> bytes:
    """A PNG scatter plot of the ``words`` most frequent words projected on their first two
    principal components, each point labelled with its word."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    count = min(words, len(embeddings))
    points = unit_rows(np.asarray(embeddings.vectors[:count], dtype=np.float64))
    centred = points - points.mean(axis=0)
    if count >= 2:
        _u, _s, components = np.linalg.svd(centred, full_matrices=False)
        coords = centred @ components[:2].T
        if coords.shape[1] < 2:
            coords = np.hstack([coords, np.zeros((count, 1))])
    else:
        coords = np.zeros((count, 2))
    figure, axes = plt.subplots(figsize=(10, 8), dpi=100)
    axes.scatter(coords[:, 0], coords[:, 1], s=8, color="#1f77b4")
    for (x, y), word in zip(coords, embeddings.index_to_word[:count]):
        axes.annotate(word, (x, y), fontsize=8, xytext=(2, 2), textcoords="offset points")
    axes.set_title(f"The {count} most frequent words, PCA of unit vectors")
    axes.set_xlabel("principal component 1")
    axes.set_ylabel("principal component 2")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


def history_png(history: Sequence[Mapping[str, Any]]) -> bytes | None:
    """A PNG line plot of the evaluation scores across versions (``history``: dicts with
    ``version``, ``data_time`` and ``evaluation``, oldest first), or ``None`` with fewer than 2."""
    if len(history) < 2:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = {
        "WordSim-353 Spearman": ("wordsim353", "spearman"),
        "SimLex-999 Spearman": ("simlex999", "spearman"),
        "Google analogies accuracy": ("analogies", "accuracy"),
    }
    figure, axes = plt.subplots(figsize=(10, 4), dpi=100)
    positions = list(range(len(history)))
    for label, (name, score) in series.items():
        values = [entry.get("evaluation", {}).get(name, {}).get(score) for entry in history]
        axes.plot(positions, [np.nan if v is None else v for v in values], marker="o", label=label)
    axes.set_xticks(positions)
    axes.set_xticklabels([entry["version"] for entry in history], rotation=30, ha="right", fontsize=7)
    axes.set_ylabel("score")
    axes.set_title("Evaluation across versions of this model (last = this version)")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


class HistoryEntry(TypedDict):
    """One version in ``report.json["history"]``."""

    version: str | None  #: ``None`` only for an earlier entry without one
    data_time: str | None
    evaluation: dict[str, Any] | None  #: :func:`include.quality.evaluation.evaluate_keyed_vectors`


class SimilarityReport(TypedDict):
    """``report.json``: :func:`build_report`'s keys, then what :func:`write_similarity_report` adds."""

    schema_version: int  #: :data:`REPORT_SCHEMA_VERSION`
    version: str
    params: dict[str, Any]  #: the run's Params (``epochs`` as trained, ``epochs_requested``, ``corpus_path``)
    corpus: dict[str, Any]  #: ``files``, ``lines``, ``tokens``, ``partitions``, ``train_seconds``, ``data_time``
    vocab_size: int
    vector_size: int
    top_k: int
    probe_words: list[str]  #: those in the vocabulary
    neighbours: dict[str, list[list]]  #: probe word -> ``[word, cosine]`` best first
    oov_probe_words: list  #: probe words not in the vocabulary, as given
    training: TrainingCheck
    parity: ParityResult
    evaluation: dict[str, Any]
    drift: dict[str, Any] | None
    history: list[HistoryEntry]  #: earlier versions of the model, oldest first, then this one
    bounds: ReportBounds
    model: NotRequired[str]
    epochs_choice: NotRequired[dict[str, Any]]  #: ``train_word2vec``'s :class:`EpochsChoice`
    phrases: NotRequired[dict[str, Any] | None]  #: :func:`include.artifacts.phrases.phrase_report`
    neighbour_table: NotRequired[dict[str, Any]]  #: ``build_neighbour_table``'s facts
    #: the version's vector index (:func:`include.quality.vector_index.write_vector_index`'s facts:
    #: kind, ``recall_at_10`` measured on a fixed sample, ``build_seconds``, ...)
    vector_index: NotRequired[dict[str, Any]]
    gate: NotRequired[GateResult]


def build_report(
    embeddings: Embeddings,
    *,
    version: str,
    params: dict,
    corpus: dict,
    probe_words: list | None,
    top_k: int,
    parity: ParityResult,
    evaluation: dict,
    drift: dict | None = None,
    history: list[dict] | None = None,
) -> SimilarityReport:
    """The report as a JSON-ready dict: neighbours of the probe words, statistics, and what the
    steps before measured: ``parity`` (:func:`include.quality.parity.check_parity`, from
    ``build_keras_model``), ``evaluation`` and ``drift`` (``evaluate_embeddings``), and the
    evaluation ``history`` of earlier versions (``[{"version", "data_time", "evaluation"}]``,
    oldest first) with this one appended.

    ``training`` is the undertraining check of the probe words' neighbours with a warning in words
    (:func:`training_warning`; ``params["epochs"]``/``["epochs_requested"]`` and ``corpus["tokens"]``
    name the likely cause).
    ``probe_words`` empty or ``None`` means the 20 most frequent non-stop words. Probe words not in
    the vocabulary (unknown, empty, markup, non-strings) are listed in ``oov_probe_words`` as given.
    """
    known, unknown = choose_probe_words(embeddings, probe_words)
    neighbours = nearest_neighbours(embeddings, known, top_k)
    training = training_warning(undertraining(neighbours), params, corpus)
    if training["warning"]:
        log.warning("%s", training["warning"])
    return SimilarityReport(
        schema_version=REPORT_SCHEMA_VERSION,
        version=version,
        params=params,
        corpus=corpus,
        vocab_size=len(embeddings),
        vector_size=embeddings.vector_size,
        top_k=top_k,
        probe_words=known,
        neighbours=neighbours,
        oov_probe_words=unknown,
        training=training,
        parity=parity,
        evaluation=evaluation,
        drift=drift,
        history=[
            HistoryEntry(
                version=entry.get("version"), data_time=entry.get("data_time"), evaluation=entry.get("evaluation")
            )
            for entry in (history or [])
        ]
        + [HistoryEntry(version=version, data_time=corpus.get("data_time"), evaluation=evaluation)],
        bounds=report_bounds(len(embeddings), parity["pairs"]),
    )


class ReportBounds(TypedDict):
    """``report.json["bounds"]``: what each part of the report covers, in words."""

    neighbours: str
    evaluation: str
    parity: str
    drift: str
    map: str
    neighbour_table: str


def report_bounds(vocab_size: int, parity_pairs: int) -> ReportBounds:
    """What each part of the report covers, so its cost stays linear in the vocabulary: plain
    sentences for ``report.json["bounds"]``."""
    return ReportBounds(
        neighbours="the probe words only (exact search over the whole vocabulary)",
        evaluation=f"the {min(vocab_size, RESTRICT_VOCAB):,} most frequent words (gensim's restrict_vocab)",
        parity=f"{parity_pairs} random word pairs",
        drift=f"the probe words and the {MOVED_CANDIDATES:,} most frequent words both versions share",
        map=f"the {min(vocab_size, MAP_WORDS)} most frequent words",
        neighbour_table="every word up to EMBEDDINGS_EXACT_NEIGHBOURS_MAX words; above it the most frequent "
        "words (others answered through the vector index), or every word by HNSW with its recall checked "
        "on a fixed random sample",
    )


class TrainingCheck(TypedDict):
    """``report.json["training"]``: :func:`include.quality.similarity.undertraining`'s signs and a warning."""

    undertrained: bool
    probe_words: int  #: probe words with a neighbour
    top1_at_or_above: int  #: of them, those whose nearest neighbour is at ``cosine`` or above
    share: float | None  #: ``top1_at_or_above / probe_words``, ``None`` without a probe word
    mean_top1_cosine: float | None
    cosine: float
    share_threshold: float
    warning: str | None  #: the likely cause in a sentence for people, ``None`` when not undertrained


def training_warning(signs: dict, params: dict, corpus: dict) -> TrainingCheck:
    """``report.json``'s ``training``: the undertraining ``signs``
    (:func:`include.quality.similarity.undertraining`) plus ``warning``, a sentence for people with
    the likely cause (too few epochs for the corpus, or too small a corpus), or ``None``."""
    if not signs["undertrained"]:
        return _training_check(signs, None)
    epochs, tokens = params.get("epochs"), corpus.get("tokens")
    seen = f"{epochs} epochs over {tokens:,} tokens" if isinstance(tokens, int) else f"{epochs} epochs"
    if params.get("epochs_requested", epochs) == "auto":
        cause = f"too small a corpus ({seen}, as epochs auto chose): add text, or try more epochs"
    else:
        cause = f"too few epochs for a corpus this small ({seen}): try epochs auto or more epochs, or add text"
    warning = (
        f"Undertrained: {signs['top1_at_or_above']} of {signs['probe_words']} probe words have their nearest "
        f"neighbour at cosine >= {signs['cosine']} (mean top-1 cosine {signs['mean_top1_cosine']:.3f}), so "
        f"neighbours say little. Likely cause: {cause}."
    )
    return _training_check(signs, warning)


def _training_check(signs: dict, warning: str | None) -> TrainingCheck:
    return TrainingCheck(
        undertrained=signs["undertrained"],
        probe_words=signs["probe_words"],
        top1_at_or_above=signs["top1_at_or_above"],
        share=signs["share"],
        mean_top1_cosine=signs["mean_top1_cosine"],
        cosine=signs["cosine"],
        share_threshold=signs["share_threshold"],
        warning=warning,
    )


def render_html(report: SimilarityReport, map_png: bytes, history_plot: bytes | None = None) -> str:
    """``report.html``: one self-contained page (plots are inline PNGs, no network), everything escaped."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    environment = Environment(loader=FileSystemLoader(TEMPLATE_DIR), autoescape=True, undefined=StrictUndefined)
    environment.globals.update(format_score=format_score, min_pairs=MIN_PAIRS, min_questions=MIN_QUESTIONS)
    return environment.get_template("report.html.j2").render(
        report=report,
        map_png_base64=base64.b64encode(map_png).decode("ascii"),
        history_png_base64=base64.b64encode(history_plot).decode("ascii") if history_plot else None,
    )


class ReportPaths(TypedDict):
    """Where :func:`write_report` wrote the report (local paths)."""

    report_json: str
    report_html: str


def write_report(report: SimilarityReport, embeddings: Embeddings, out_dir: Path) -> ReportPaths:
    """Write ``report.json`` and ``report.html`` into ``out_dir``; return their paths."""
    out_dir = Path(out_dir)
    json_path, html_path = out_dir / "report.json", out_dir / "report.html"
    write_json_atomic(json_path, report)
    write_text_atomic(html_path, render_html(report, pca_map_png(embeddings), history_png(report.get("history", []))))
    return ReportPaths(report_json=str(json_path), report_html=str(html_path))


def _whole_number(value) -> int | None:
    """``value`` as an int (XCom may hand a number over as text), ``None`` when it is not one."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class ReportFacts(TypedDict):
    """What ``write_similarity_report`` tells ``publish`` and ``promote``."""

    report_json: str
    report_html: str
    decision: GateDecision
    reason: str
    max_abs_diff: float  #: the parity check's largest |Keras - gensim| cosine difference


def write_similarity_report(
    version_dir: str,
    *,
    model: str,
    version: str,
    run_id: str,
    params: dict,
    corpus_id: str,
    corpus_stats: dict,
    probe_words: list | None,
    top_k: int,
    gate_tolerance: float,
    parity: ParityResult,
    evaluation: EvaluationFacts,
    neighbour_table: dict[str, Any],
    epochs_choice: EpochsChoice | None = None,
    contract_changes: dict[str, list] | None = None,
) -> ReportFacts:
    """The whole ``write_similarity_report`` task for the version of ``model`` being built at
    ``version_dir`` (trained on corpus ``corpus_id``): it joins what the parallel steps measured
    (``parity`` from ``build_keras_model``, ``evaluation`` from ``evaluate_embeddings``: its
    :class:`~include.steps.evaluate_embeddings.EvaluationFacts`, and ``neighbour_table`` from
    ``build_neighbour_table``), decides with the quality gate (:func:`include.quality.gate.decide`,
    ``gate_tolerance``, ``corpus_stats["tokens"]``, ``contract_changes``) against the champion of
    ``model``, and writes ``report/report.json`` and ``report/report.html`` stating the decision with
    every check's value, threshold and coverage, and the evaluation history of the model's versions
    (see :func:`build_report`).
    ``epochs_choice`` (``train_word2vec``'s :class:`~include.steps.train_word2vec.EpochsChoice`)
    replaces ``params["epochs"]`` by the passes trained, adds ``params["epochs_requested"]`` (a
    number or ``"auto"``) and is kept as ``report["epochs_choice"]`` with its reason.
    """
    store = data_store()
    prefix = store.key_of(version_dir)
    registry = ModelRegistry(store)
    champion = registry.champion_manifest(model)
    measured_against = evaluation.get("reference")
    if (champion["version"] if champion else None) != measured_against:
        log.warning(
            "the champion of %s is now %s; evaluate_embeddings measured against %s: the gate uses the latter",
            model,
            champion["version"] if champion else None,
            measured_against,
        )
        if measured_against:
            champion = read_manifest(store, measured_against) or champion
    history = sorted(registry.manifests(model), key=lambda v: (v.get("data_time", ""), v["version"]))
    if epochs_choice:
        params = {**params, "epochs": epochs_choice["epochs"], "epochs_requested": epochs_choice["requested"]}
    with tempfile.TemporaryDirectory(prefix="w2v-report-") as scratch:
        embeddings = fetch_embeddings(store, prefix, Path(scratch))
        report = build_report(
            embeddings,
            version=version,
            params=params,
            corpus=corpus_stats,
            probe_words=probe_words,
            top_k=int(top_k),
            parity=parity,
            evaluation=evaluation["evaluation"],
            drift=evaluation.get("drift"),
            history=history,
        )
        report["model"] = model
        if epochs_choice:
            report["epochs_choice"] = dict(epochs_choice)
        try:
            phrases = store.read_json(f"{prefix}/{PHRASES_FILE}")
        except FileNotFoundError:
            phrases = None
        report["phrases"] = phrase_report(phrases, embeddings.word_to_index)
        table = dict(neighbour_table)
        index = table.pop("vector_index", None)  # build_neighbour_table's index: a section of its own
        report["neighbour_table"] = table
        if index is not None:
            report["vector_index"] = index
        gate = decide(
            evaluation,
            champion,
            float(gate_tolerance),
            corpus_tokens=_whole_number(corpus_stats.get("tokens")),
            contract_changes=contract_changes,
            model=model,
            version=version,
        )
        report["gate"] = gate
        (log.info if gate["decision"] == GateDecision.PROMOTED else log.warning)(
            "quality gate: %s (%s)", gate["decision"], gate["reason"]
        )
        with store.writer(f"{prefix}/report", Path(scratch)) as out:
            paths = write_report(report, embeddings, out.folder)
        record_written(store, run_id, "write_similarity_report", out.files, under="report")
    located = relocated(dict(paths), out.folder, store, f"{prefix}/report")
    return ReportFacts(
        report_json=located["report_json"],
        report_html=located["report_html"],
        decision=gate["decision"],
        reason=gate["reason"],
        max_abs_diff=parity["max_abs_diff"],
    )
