"""Custom operators of the word2vec_embeddings pipeline: one per step, each a thin shell that reads
its templated arguments, calls one function of ``include/`` and returns paths and small numbers.

Bad input (:class:`include.errors.PipelineInputError`) and a failed parity check fail the task at
once with :class:`AirflowFailException`; every other error is left to Airflow's retries.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from include.errors import ParityError, PipelineInputError

log = logging.getLogger(__name__)

#: Loggers whose INFO progress lines (files, tokens, epochs, words/s) belong in the task log.
PROGRESS_LOGGERS = ("include", "gensim.models.word2vec")


def run_partition_date(context: Any) -> str:
    """``YYYY-MM-DD`` (UTC) naming this run's token partition: the data interval's start, else the run time."""
    moment = context.get("data_interval_start") or context["dag_run"].run_after
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d")


def run_time(context: Any) -> datetime:
    """The moment that names a version: the data interval's end, else when the run was due."""
    return context.get("data_interval_end") or context["dag_run"].run_after


def record_failure(context: Any) -> None:
    """Task failure callback: keep the error in the run's staging folder (``failures/<task>.json``)
    so ``make run`` can print it after the run."""
    from include.atomic_io import write_json_atomic
    from include.paths import staging_dir

    error = context.get("exception")
    task_id = context["ti"].task_id
    write_json_atomic(staging_dir(context["run_id"]) / "failures" / f"{task_id}.json",
                      {"task_id": task_id, "error": f"{type(error).__name__}: {error}" if error else "unknown"})


class PipelineStepOperator(BaseOperator):
    """Base of the pipeline's operators: maps non-retryable errors to ``AirflowFailException``."""

    ui_color = "#e8f0fe"

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("multiple_outputs", True)  # each returned key is an XCom of its own
        super().__init__(**kwargs)

    def execute(self, context: Any) -> dict:
        for name in PROGRESS_LOGGERS:
            logging.getLogger(name).setLevel(logging.INFO)
        try:
            return self.run(context)
        except (PipelineInputError, ParityError) as error:
            raise AirflowFailException(str(error)) from error

    def run(self, context: Any) -> dict:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError


class IngestTextOperator(PipelineStepOperator):
    """Resolve and confine ``corpus_path``, refuse unknown conf keys, write the ingest manifest."""

    template_fields = ("corpus_path",)

    def __init__(self, *, corpus_path: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.corpus_path = corpus_path

    def run(self, context: Any) -> dict:
        from include.ingest import ingest_corpus
        from include.paths import corpus_id, resolve_corpus_path, staging_dir
        from include.run_conf import check_conf_keys

        check_conf_keys(context["dag_run"].conf or {}, self.dag.params.keys())  # declared, not merged with conf
        corpus = resolve_corpus_path(self.corpus_path)
        manifest_path = staging_dir(context["run_id"]) / "ingest_manifest.json"
        totals = ingest_corpus(corpus, manifest_path)
        return {"manifest_path": str(manifest_path), "corpus_path": str(corpus), "corpus_id": corpus_id(corpus),
                **totals}


class TokenizeToParquetOperator(PipelineStepOperator):
    """Tokenize the manifest's files into ``tokens/<corpus_id>/dt=<date>/``, replacing that partition."""

    template_fields = ("manifest_path", "corpus_id")

    def __init__(self, *, manifest_path: str, corpus_id: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.manifest_path = manifest_path
        self.corpus_id = corpus_id

    def run(self, context: Any) -> dict:
        from include.ingest import read_manifest
        from include.paths import tokens_dir
        from include.tokens import tokenize_files

        out_dir = tokens_dir() / self.corpus_id / f"dt={run_partition_date(context)}"
        return tokenize_files(read_manifest(Path(self.manifest_path)), out_dir)


class TrainWord2VecOperator(PipelineStepOperator):
    """Train gensim Word2Vec on a token partition into the run's staging version folder."""

    template_fields = ("tokens_dir", "manifest_path", "hyperparameters")

    def __init__(self, *, tokens_dir: str, manifest_path: str, hyperparameters: dict, **kwargs) -> None:
        super().__init__(**kwargs)
        self.tokens_dir = tokens_dir
        self.manifest_path = manifest_path
        self.hyperparameters = hyperparameters

    def run(self, context: Any) -> dict:
        from include.ingest import read_manifest
        from include.paths import PROJECT_ROOT, staging_dir
        from include.publish import code_version, content_hash, version_id
        from include.train import Word2VecParams, train_word2vec

        params = Word2VecParams(**self.hyperparameters)
        manifest = read_manifest(Path(self.manifest_path))
        checksums = [entry["sha256"] for entry in manifest["files"] if "sha256" in entry]
        digest = content_hash(checksums, params.as_dict(), code_version(PROJECT_ROOT))
        version_dir = staging_dir(context["run_id"]) / "version"
        stats = train_word2vec(Path(self.tokens_dir), params, version_dir / "word2vec.model")
        return {"version": version_id(run_time(context), digest), "content_hash": digest,
                "version_dir": str(version_dir), "model_path": str(version_dir / "word2vec.model"), **stats}


class ExportEmbeddingsOperator(PipelineStepOperator):
    """Write ``embeddings.npy`` and ``vocab.json`` beside the trained model."""

    template_fields = ("model_path", "version_dir")

    def __init__(self, *, model_path: str, version_dir: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.model_path = model_path
        self.version_dir = version_dir

    def run(self, context: Any) -> dict:
        from include.export import export_embeddings

        return export_embeddings(Path(self.model_path), Path(self.version_dir))


class BuildKerasModelOperator(PipelineStepOperator):
    """Build the Keras models on the exported embeddings into ``<version>/keras/``."""

    template_fields = ("version_dir",)

    def __init__(self, *, version_dir: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.version_dir = version_dir

    def run(self, context: Any) -> dict:
        from include.export import load_embeddings
        from include.keras_models import write_keras_models

        embeddings = load_embeddings(Path(self.version_dir))
        return write_keras_models(embeddings.vectors, embeddings.index_to_word, Path(self.version_dir) / "keras")


class WriteSimilarityReportOperator(PipelineStepOperator):
    """Write ``report/report.json`` and ``report/report.html``; fail on a Keras/gensim parity mismatch."""

    template_fields = ("version_dir", "version", "corpus_path", "corpus_stats", "probe_words", "top_k",
                       "parity_pairs", "seed")

    def __init__(self, *, version_dir: str, version: str, corpus_path: str, corpus_stats: dict,
                 probe_words: list | None, top_k: int, parity_pairs: int = 200, seed: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.version_dir = version_dir
        self.version = version
        self.corpus_path = corpus_path
        self.corpus_stats = corpus_stats
        self.probe_words = probe_words
        self.top_k = top_k
        self.parity_pairs = parity_pairs
        self.seed = seed

    def run(self, context: Any) -> dict:
        from include.export import load_embeddings
        from include.report import build_report, write_report

        version_dir = Path(self.version_dir)
        embeddings = load_embeddings(version_dir)
        params = {**dict(context["params"]), "corpus_path": self.corpus_path}
        report = build_report(embeddings, version_dir / "keras", version=self.version, params=params,
                              corpus=self.corpus_stats, probe_words=self.probe_words, top_k=int(self.top_k),
                              parity_pairs=int(self.parity_pairs), seed=int(self.seed))
        paths = write_report(report, embeddings, version_dir / "report")
        return {**paths, "max_abs_diff": report["parity"]["max_abs_diff"],
                "oov_probe_words": len(report["oov_probe_words"])}


class PublishVersionOperator(PipelineStepOperator):
    """Write the version manifest, move the staged version into ``models/`` by one rename, move ``LATEST``."""

    template_fields = ("version_dir", "version", "manifest_path", "facts")

    def __init__(self, *, version_dir: str, version: str, manifest_path: str, facts: dict, **kwargs) -> None:
        super().__init__(**kwargs)
        self.version_dir = version_dir
        self.version = version
        self.manifest_path = manifest_path
        self.facts = facts

    def run(self, context: Any) -> dict:
        import json
        import shutil

        from include.ingest import read_manifest
        from include.paths import models_dir, staging_dir
        from include.publish import library_versions, publish_version, write_version_manifest

        version_dir = Path(self.version_dir)
        report = json.loads((version_dir / "report" / "report.json").read_text(encoding="utf-8"))
        inputs = read_manifest(Path(self.manifest_path))
        write_version_manifest(version_dir, {
            "version": self.version,
            "run_id": context["run_id"],
            "params": report["params"],
            "inputs": inputs["files"],
            "evaluation": report["evaluation"],
            "parity": report["parity"],
            "libraries": library_versions(),
            "gate": {"decision": "promoted", "reason": "every successful run is promoted (no quality gate yet)"},
            **self.facts,
        })
        final = publish_version(version_dir, models_dir(), self.version)
        shutil.rmtree(staging_dir(context["run_id"]), ignore_errors=True)
        log.info("published model version %s; report: %s", final, final / "report" / "report.html")
        return {"version": self.version, "version_path": str(final),
                "report_html": str(final / "report" / "report.html")}
