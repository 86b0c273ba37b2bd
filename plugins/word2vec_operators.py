"""Custom operators of the word2vec_embeddings pipeline: one per step, each a thin shell that reads
its templated arguments, calls ``include/`` and returns paths and small numbers for XCom.

Bad input (:class:`include.errors.PipelineInputError`) and a failed parity check fail the task at
once with :class:`AirflowFailException`; every other error is left to Airflow's retries.
"""

from __future__ import annotations

import errno
import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
from word2vec_links import ModelReportLink

from include.errors import ParityError, PipelineInputError

log = logging.getLogger(__name__)

#: Loggers whose INFO progress lines (files, tokens, epochs, words/s) belong in the task log.
PROGRESS_LOGGERS = ("include", "gensim.models.word2vec")
TRAINING_POOL = "word2vec_training"


def data_interval(context: Any) -> tuple[datetime | None, datetime | None]:
    """The run's data interval in UTC, or ``(None, None)`` for a run without one (a manual
    trigger, ``make run``): those read the corpus as a snapshot."""
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is None or end is None or end <= start:
        return None, None
    return start.astimezone(UTC), end.astimezone(UTC)


def window_end(context: Any) -> date | None:
    """First day after this run's data (exclusive end of the training window); ``None`` = no limit."""
    start, end = data_interval(context)
    if start is None:
        return None
    return max(end.date(), start.date() + timedelta(days=1))


def run_time(context: Any) -> datetime:
    """The moment that names a version (its data time): the data interval's end, else when the run was due."""
    _, end = data_interval(context)
    return (end or context["dag_run"].run_after).astimezone(UTC)


def record_failure(context: Any) -> None:
    """Task failure callback: add the error to the run's record so ``make run`` can print it."""
    from include.storage.run_records import update_run_record

    error = context.get("exception")
    task_id = context["ti"].task_id
    update_run_record(
        context["run_id"],
        outcome="failed",
        failures=[{"task_id": task_id, "error": f"{type(error).__name__}: {error}" if error else "unknown"}],
    )


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
        except OSError as error:
            if error.errno in (errno.ENOSPC, errno.EDQUOT):
                from include.storage.paths import data_root

                # a full disk stays full over a retry delay: fail now, say where, publish nothing.
                # A failed write() names no file (only open() does): then name the folder written to.
                where = f"'{error.filename}'" if error.filename else f"under the data root '{data_root()}'"
                raise AirflowFailException(
                    f"disk full while writing {where} ({error.strerror}); free space under the data root, "
                    "then clear the task to retry"
                ) from error
            raise

    def run(self, context: Any) -> dict:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError


class IngestTextOperator(PipelineStepOperator):
    """Resolve and confine ``corpus_path``, refuse unknown conf keys, choose this run's partitions
    (day folders inside the data interval, or a snapshot), write the ingest manifest and shard plan."""

    template_fields = ("corpus_path", "max_shards")

    def __init__(self, *, corpus_path: str, max_shards: int = 4, **kwargs) -> None:
        kwargs["multiple_outputs"] = False
        super().__init__(**kwargs)
        self.corpus_path = corpus_path
        self.max_shards = max_shards

    def execute(self, context: Any) -> list[dict]:
        """Push the facts as XComs of their own keys; return one ``{"shard": n}`` per shard, the
        list ``tokenize_to_parquet`` is mapped over (Airflow maps only over a return value)."""
        facts = super().execute(context)
        for key, value in facts.items():
            context["ti"].xcom_push(key=key, value=value)
        return [{"shard": number} for number in range(facts["shards"])]

    def run(self, context: Any) -> dict:
        from include.steps.ingest_text import ingest_corpus
        from include.steps.run_conf import check_conf_keys
        from include.storage.partitions import plan_partitions
        from include.storage.paths import corpus_id, resolve_corpus_path, staging_dir, tokens_dir

        check_conf_keys(context["dag_run"].conf or {}, self.dag.params.keys())  # declared, not merged with conf
        corpus = resolve_corpus_path(self.corpus_path)
        plan = plan_partitions(corpus, *data_interval(context))
        log.info(
            "corpus %s: %s partitions %s", corpus, "dated" if plan.dated else "flat", [name for name, _ in plan.sources]
        )
        manifest_path = staging_dir(context["run_id"]) / "ingest_manifest.json"
        totals = ingest_corpus(
            corpus,
            manifest_path,
            plan,
            max_shards=int(self.max_shards),
            committed_tokens=tokens_dir() / corpus_id(corpus),
        )
        return {
            "manifest_path": str(manifest_path),
            "corpus_path": str(corpus),
            "corpus_id": corpus_id(corpus),
            "dated": plan.dated,
            "partitions": [name for name, _ in plan.sources],
            **totals,
        }


class TokenizeToParquetOperator(PipelineStepOperator):
    """Tokenize one shard of the run's files into the run's staging token folder (mapped over shards)."""

    template_fields = ("manifest_path", "shard")

    def __init__(self, *, manifest_path: str, shard: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.manifest_path = manifest_path
        self.shard = shard

    def run(self, context: Any) -> dict:
        from include.steps.ingest_text import read_manifest
        from include.steps.tokenize_to_parquet import tokenize_shard
        from include.storage.paths import staging_dir

        return tokenize_shard(
            read_manifest(Path(self.manifest_path)), int(self.shard), staging_dir(context["run_id"]) / "tokens"
        )


class CommitTokensOperator(PipelineStepOperator):
    """Move every partition of this run into ``tokens/<corpus_id>/`` (one rename each, replacing a
    re-run interval's partition) and prune partitions past ``EMBEDDINGS_TOKEN_RETENTION_DAYS``."""

    template_fields = ("manifest_path", "corpus_id")

    def __init__(self, *, manifest_path: str, corpus_id: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.manifest_path = manifest_path
        self.corpus_id = corpus_id

    def run(self, context: Any) -> dict:
        from include.settings import token_retention_days
        from include.steps.commit_tokens import commit_partitions
        from include.steps.ingest_text import read_manifest
        from include.storage.locks import exclusive_lock
        from include.storage.partitions import prune_partitions
        from include.storage.paths import lock_file, staging_dir, tokens_dir

        corpus_tokens = tokens_dir() / self.corpus_id
        lock = lock_file(f"tokens-{self.corpus_id}")
        committed = commit_partitions(
            read_manifest(Path(self.manifest_path)), staging_dir(context["run_id"]) / "tokens", corpus_tokens, lock
        )
        today = window_end(context) or run_time(context).date()
        with exclusive_lock(lock):  # never while a training run reads the partitions
            pruned = prune_partitions(corpus_tokens, today, token_retention_days())
        if pruned:
            log.info("pruned %d token partitions older than %d days: %s", len(pruned), token_retention_days(), pruned)
        for asset in self.outlets:
            context["outlet_events"][asset].extra = {
                "corpus_tokens": str(corpus_tokens),
                "partitions": sorted(committed["partitions"]),
            }
        return {
            "corpus_tokens": str(corpus_tokens),
            "committed": sorted(committed["partitions"]),
            "reused": sorted(committed["reused"]),
            "tokens": committed["tokens"],
            "rows": committed["rows"],
            "pruned": pruned,
        }


class TrainWord2VecOperator(PipelineStepOperator):
    """Train gensim Word2Vec on the token partitions in the run's window, into its staging version.

    Skips the rest of the run (and says so) when a published version was built from the same
    inputs, params and code.
    """

    operator_extra_links = (ModelReportLink(),)
    template_fields = ("corpus_tokens", "corpus_id", "dated", "history_days", "hyperparameters")

    def __init__(
        self, *, corpus_tokens: str, corpus_id: str, dated: bool, history_days: int, hyperparameters: dict, **kwargs
    ) -> None:
        kwargs.setdefault("pool", TRAINING_POOL)
        super().__init__(**kwargs)
        self.corpus_tokens = corpus_tokens
        self.corpus_id = corpus_id
        self.dated = dated
        self.history_days = history_days
        self.hyperparameters = hyperparameters

    def run(self, context: Any) -> dict:
        import time

        from include.steps.train_word2vec import (
            Word2VecParams,
            line_sentence_path,
            train_word2vec_on_file,
            write_line_sentence_file,
        )
        from include.storage.locks import shared_lock
        from include.storage.partitions import training_partitions
        from include.storage.paths import PROJECT_ROOT, lock_file, models_dir, staging_dir
        from include.storage.publish import code_version, content_hash, version_id
        from include.storage.run_records import update_run_record
        from include.storage.versions import find_by_content_hash
        from include.text.tokens import read_partition_summary

        started = time.perf_counter()
        params = Word2VecParams(**self.hyperparameters)
        model_path = staging_dir(context["run_id"]) / "version" / "word2vec.model"
        # A shared lock on the corpus's tokens: a commit (or prune) of a partition waits until the
        # partitions' checksums and rows are read, so the content hash describes exactly what is trained on.
        with shared_lock(lock_file(f"tokens-{self.corpus_id}")):
            partitions = training_partitions(
                Path(self.corpus_tokens), bool(self.dated), window_end(context), int(self.history_days)
            )
            checksums = [f"{path.name}:{sha}" for path in partitions for sha in read_partition_summary(path)["sources"]]
            digest = content_hash(
                checksums, {**params.as_dict(), "history_days": int(self.history_days)}, code_version(PROJECT_ROOT)
            )
            existing = find_by_content_hash(models_dir(), digest)
            if existing:
                message = (
                    f"nothing new to publish: version {existing['version']} was built from the same inputs, "
                    "params and code"
                )
                update_run_record(context["run_id"], outcome="unchanged", version=existing["version"], reason=message)
                raise AirflowSkipException(message)
            log.info("training on %d partitions: %s", len(partitions), [p.name for p in partitions])
            model_path.parent.mkdir(parents=True, exist_ok=True)
            sentences = write_line_sentence_file(partitions, line_sentence_path(model_path))
        stats = train_word2vec_on_file(line_sentence_path(model_path), sentences, params, model_path, started)
        moment = run_time(context)
        return {
            "version": version_id(moment, digest),
            "content_hash": digest,
            "data_time": moment.isoformat(),
            "version_dir": str(model_path.parent),
            "model_path": str(model_path),
            "partitions": [p.name for p in partitions],
            **stats,
        }


class ExportEmbeddingsOperator(PipelineStepOperator):
    """Write ``embeddings.npy`` and ``vocab.json`` beside the trained model."""

    template_fields = ("model_path", "version_dir")

    def __init__(self, *, model_path: str, version_dir: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.model_path = model_path
        self.version_dir = version_dir

    def run(self, context: Any) -> dict:
        from include.artifacts.embeddings import export_embeddings, load_embeddings
        from include.artifacts.formats import write_projector_files, write_word2vec_formats

        version_dir = Path(self.version_dir)
        exported = export_embeddings(Path(self.model_path), version_dir)
        embeddings = load_embeddings(version_dir)
        formats = {
            **write_word2vec_formats(embeddings, version_dir / "exports"),
            **write_projector_files(embeddings, version_dir / "exports" / "projector"),
        }
        return {**exported, **formats}


class BuildKerasModelOperator(PipelineStepOperator):
    """Build the Keras models on the exported embeddings into ``<version>/keras/``."""

    template_fields = ("version_dir",)

    def __init__(self, *, version_dir: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.version_dir = version_dir

    def run(self, context: Any) -> dict:
        from include.artifacts.embeddings import load_embeddings
        from include.artifacts.keras_models import write_keras_models

        embeddings = load_embeddings(Path(self.version_dir))
        return write_keras_models(embeddings.vectors, embeddings.index_to_word, Path(self.version_dir) / "keras")


class WriteSimilarityReportOperator(PipelineStepOperator):
    """Evaluate (parity, benchmarks), decide (the quality gate against the last promoted version of
    the corpus), and write ``report/report.json`` and ``report/report.html`` stating the decision.
    A parity mismatch fails the run."""

    template_fields = (
        "version_dir",
        "version",
        "corpus_path",
        "corpus_id",
        "corpus_stats",
        "probe_words",
        "top_k",
        "parity_pairs",
        "seed",
        "gate_tolerance",
    )

    def __init__(
        self,
        *,
        version_dir: str,
        version: str,
        corpus_path: str,
        corpus_id: str,
        corpus_stats: dict,
        probe_words: list | None,
        top_k: int,
        gate_tolerance: float,
        parity_pairs: int = 200,
        seed: int = 0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.version_dir = version_dir
        self.version = version
        self.corpus_path = corpus_path
        self.corpus_id = corpus_id
        self.corpus_stats = corpus_stats
        self.probe_words = probe_words
        self.top_k = top_k
        self.parity_pairs = parity_pairs
        self.seed = seed
        self.gate_tolerance = gate_tolerance

    def run(self, context: Any) -> dict:
        from include.artifacts.embeddings import load_embeddings
        from include.quality.gate import decide
        from include.quality.neighbour_table import NEIGHBOURS_FILE, write_neighbour_table
        from include.steps.write_similarity_report import build_report, write_report
        from include.storage.paths import models_dir
        from include.storage.versions import last_promoted, list_versions

        version_dir = Path(self.version_dir)
        embeddings = load_embeddings(version_dir)
        params = {**dict(context["params"]), "corpus_path": self.corpus_path}
        reference = last_promoted(models_dir(), self.corpus_id)
        previous = (load_embeddings(Path(reference["path"]), mmap=True), reference["version"]) if reference else None
        history = sorted(
            (v for v in list_versions(models_dir()) if v.get("corpus_id") == self.corpus_id),
            key=lambda v: (v.get("data_time", ""), v["version"]),
        )
        report = build_report(
            embeddings,
            version_dir / "keras",
            version=self.version,
            params=params,
            corpus=self.corpus_stats,
            probe_words=self.probe_words,
            top_k=int(self.top_k),
            parity_pairs=int(self.parity_pairs),
            seed=int(self.seed),
            previous=previous,
            history=history,
        )
        report["neighbour_table"] = write_neighbour_table(embeddings, int(self.top_k), version_dir / NEIGHBOURS_FILE)
        gate = decide(report["evaluation"], reference, float(self.gate_tolerance))
        report["gate"] = gate
        (log.warning if gate["decision"] != "promoted" else log.info)(
            "quality gate: %s (%s)", gate["decision"], gate["reason"]
        )
        paths = write_report(report, embeddings, version_dir / "report")
        return {
            **paths,
            "decision": gate["decision"],
            "reason": gate["reason"],
            "max_abs_diff": report["parity"]["max_abs_diff"],
        }


class PublishVersionOperator(PipelineStepOperator):
    """Write the version manifest and move the staged version into ``models/`` by one rename
    (rejected versions too, marked so in the manifest)."""

    operator_extra_links = (ModelReportLink(),)
    template_fields = ("version_dir", "version", "manifest_path", "corpus_tokens", "facts")

    def __init__(
        self, *, version_dir: str, version: str, manifest_path: str, corpus_tokens: str, facts: dict, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self.version_dir = version_dir
        self.version = version
        self.manifest_path = manifest_path
        self.corpus_tokens = corpus_tokens
        self.facts = facts

    def run(self, context: Any) -> dict:
        import json

        from include.steps.ingest_text import read_manifest
        from include.storage.paths import models_dir
        from include.storage.publish import library_versions, publish_version, write_version_manifest
        from include.text.tokens import read_partition_summary

        version_dir = Path(self.version_dir)
        report = json.loads((version_dir / "report" / "report.json").read_text(encoding="utf-8"))
        inputs = read_manifest(Path(self.manifest_path))
        partitions = {
            name: read_partition_summary(Path(self.corpus_tokens) / name) for name in self.facts.get("partitions", [])
        }
        write_version_manifest(
            version_dir,
            {
                "version": self.version,
                "run_id": context["run_id"],
                "params": report["params"],
                "inputs": inputs["files"],
                "evaluation": report["evaluation"],
                "parity": report["parity"],
                "gate": report["gate"],
                "libraries": library_versions(),
                **self.facts,
                "partitions": partitions,
            },
        )
        try:
            final = publish_version(version_dir, models_dir(), self.version)
        except FileExistsError as error:
            self.published_meanwhile(context, error)
        log.info(
            "published model version %s (%s); report: %s",
            final,
            report["gate"]["decision"],
            final / "report" / "report.html",
        )
        return {
            "version": self.version,
            "version_path": str(final),
            "decision": report["gate"]["decision"],
            "report_html": str(final / "report" / "report.html"),
        }

    def published_meanwhile(self, context: Any, error: FileExistsError) -> None:
        """Another run of the same inputs, params and code (the same interval run twice at once)
        published this version between this run's ``train_word2vec`` check and now: end the run
        ``unchanged``, as that check would have, and drop the duplicate. A different version of the
        same name is a permanent error: fail without retries."""
        import shutil

        from include.storage.paths import models_dir, staging_dir
        from include.storage.run_records import update_run_record
        from include.storage.versions import list_versions

        existing = next((v for v in list_versions(models_dir()) if v.get("version") == self.version), None)
        if not existing or existing.get("content_hash") != self.facts.get("content_hash"):
            raise AirflowFailException(str(error)) from error
        message = (
            f"nothing new to publish: version {self.version} was published meanwhile by run "
            f"{existing.get('run_id')} from the same inputs, params and code"
        )
        shutil.rmtree(staging_dir(context["run_id"]), ignore_errors=True)
        update_run_record(context["run_id"], outcome="unchanged", version=self.version, reason=message)
        raise AirflowSkipException(message)


class PromoteVersionOperator(PipelineStepOperator):
    """Point ``models/LATEST`` at the published version when the gate promoted it and its data is
    not older than LATEST's; prune old versions. Skipped (so the model Asset is not updated) otherwise."""

    operator_extra_links = (ModelReportLink(),)
    template_fields = ("version", "decision", "reason")

    def __init__(self, *, version: str, decision: str, reason: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.version = version
        self.decision = decision
        self.reason = reason

    def run(self, context: Any) -> dict:
        import shutil

        from include.settings import keep_versions
        from include.storage.locks import exclusive_lock
        from include.storage.paths import lock_file, models_dir, staging_dir
        from include.storage.publish import point_latest
        from include.storage.run_records import update_run_record
        from include.storage.versions import latest_manifest, list_versions, prune_versions

        models = models_dir()
        shutil.rmtree(staging_dir(context["run_id"]), ignore_errors=True)
        report_html = str(models / self.version / "report" / "report.html")
        if self.decision != "promoted":
            update_run_record(
                context["run_id"], outcome="rejected", version=self.version, reason=self.reason, report_html=report_html
            )
            raise AirflowSkipException(f"version {self.version} rejected by the quality gate: {self.reason}")
        mine = next(v for v in list_versions(models) if v.get("version") == self.version)
        with exclusive_lock(lock_file("models-latest")):  # compare and move LATEST as one step
            current = latest_manifest(models)
            if current and current.get("data_time", "") > mine.get("data_time", ""):
                reason = (
                    f"kept LATEST at {current['version']}: its data ({current['data_time']}) is newer than "
                    f"this version's ({mine['data_time']})"
                )
                update_run_record(
                    context["run_id"], outcome="published", version=self.version, reason=reason, report_html=report_html
                )
                raise AirflowSkipException(reason)
            point_latest(models, self.version)
        for asset in self.outlets:
            context["outlet_events"][asset].extra = {
                "version": self.version,
                "path": str(models / self.version),
                "corpus_id": mine.get("corpus_id"),
            }
        pruned = prune_versions(models, keep_versions())
        update_run_record(
            context["run_id"], outcome="promoted", version=self.version, reason=self.reason, report_html=report_html
        )
        log.info("LATEST -> %s; pruned %d old versions", self.version, len(pruned))
        return {"latest": self.version, "pruned": pruned}
