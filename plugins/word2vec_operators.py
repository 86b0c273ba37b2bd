"""Custom operators of the word2vec_embeddings pipeline: one per step, each a thin shell.

Each operator's ``run`` reads its (templated) arguments and the run's context, calls the one
function of ``include/steps/<task_id>.py`` that does the step, and translates its result: a
dict becomes XComs (one per key), :class:`include.steps.train_word2vec.Unchanged` and
:class:`include.steps.promote.NotPromoted` become :class:`AirflowSkipException`. Bad input
(:class:`include.errors.PipelineInputError`), a failed parity check and a version conflict fail the
task at once with :class:`AirflowFailException`; every other error is left to Airflow's retries.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from include.errors import ParityError, PipelineInputError, VersionConflictError

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
    from include.storage.run_records import RunOutcome, update_run_record

    error = context.get("exception")
    task_id = context["ti"].task_id
    update_run_record(
        context["run_id"],
        outcome=RunOutcome.FAILED,
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
        except (PipelineInputError, ParityError, VersionConflictError) as error:
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
    """Resolve and confine the corpus, refuse unknown conf keys, choose this run's partitions and
    write the ingest manifest and shard plan (:func:`include.steps.ingest_text.ingest_text`).

    :param corpus_path: a file or folder, relative to the data root, or ``bundled:<name>`` (templated)
    :param max_shards: at most this many ``tokenize_to_parquet`` tasks per partition (templated)

    Every key of :class:`include.steps.ingest_text.IngestFacts` is pushed as an XCom of its own;
    the return value is the list ``tokenize_to_parquet`` is mapped over.
    """

    template_fields: Sequence[str] = ("corpus_path", "max_shards")

    def __init__(self, *, corpus_path: str, max_shards: int = 4, **kwargs) -> None:
        kwargs["multiple_outputs"] = False
        super().__init__(**kwargs)
        self.corpus_path = corpus_path
        self.max_shards = max_shards

    def execute(self, context: Any) -> list[dict]:
        """Push the facts as XComs of their own keys; return one ``{"shard": n}`` per shard (Airflow
        maps only over a return value)."""
        facts = super().execute(context)
        for key, value in facts.items():
            context["ti"].xcom_push(key=key, value=value)
        return [{"shard": number} for number in range(facts["shards"])]

    def run(self, context: Any) -> dict:
        from include.steps.ingest_text import ingest_text

        interval_start, interval_end = data_interval(context)
        return ingest_text(
            self.corpus_path,
            run_id=context["run_id"],
            conf=context["dag_run"].conf or {},
            declared_params=self.dag.params.keys(),  # declared, not merged with conf
            max_shards=int(self.max_shards),
            interval_start=interval_start,
            interval_end=interval_end,
        )


class TokenizeToParquetOperator(PipelineStepOperator):
    """Tokenize one shard of the run's files into its staging partition (mapped over shards;
    :func:`include.steps.tokenize_to_parquet.tokenize_to_parquet`).

    :param manifest_path: the run's ingest manifest (templated)
    :param shard: the shard's number in the manifest's plan (templated; mapped)
    """

    template_fields: Sequence[str] = ("manifest_path", "shard")

    def __init__(self, *, manifest_path: str, shard: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.manifest_path = manifest_path
        self.shard = shard

    def run(self, context: Any) -> dict:
        from include.steps.tokenize_to_parquet import tokenize_to_parquet

        return tokenize_to_parquet(Path(self.manifest_path), int(self.shard), context["run_id"])


class CommitTokensOperator(PipelineStepOperator):
    """Publish every staged partition of the run into ``tokens/<corpus_id>/`` and prune partitions
    past ``EMBEDDINGS_TOKEN_RETENTION_DAYS`` (:func:`include.steps.commit_tokens.commit_tokens`).
    The ``word2vec_tokens`` Asset event says where the tokens are and which partitions changed.

    :param manifest_path: the run's ingest manifest (templated)
    :param corpus_id: the corpus's token folder name (templated)
    """

    template_fields: Sequence[str] = ("manifest_path", "corpus_id")

    def __init__(self, *, manifest_path: str, corpus_id: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.manifest_path = manifest_path
        self.corpus_id = corpus_id

    def run(self, context: Any) -> dict:
        from include.steps.commit_tokens import commit_tokens

        today = window_end(context) or run_time(context).date()
        committed = commit_tokens(Path(self.manifest_path), self.corpus_id, context["run_id"], today)
        for asset in self.outlets:
            context["outlet_events"][asset].extra = {
                "corpus_tokens": committed["corpus_tokens"],
                "partitions": committed["committed"],
            }
        return committed


class TrainWord2VecOperator(PipelineStepOperator):
    """Train gensim Word2Vec on the token partitions in the run's window, into its staging version
    (:func:`include.steps.train_word2vec.train_version`); skips the rest of the run, saying so, when
    a published version was built from the same inputs, params and code.

    :param corpus_tokens: ``tokens/<corpus_id>/`` under the data root (templated)
    :param corpus_id: the corpus's token folder name (templated)
    :param dated: whether the corpus has day folders (templated)
    :param history_days: days of partitions up to the interval's end; 0 = all (templated)
    :param hyperparameters: the fields of :class:`include.steps.train_word2vec.Word2VecParams`
        (templated, each value usually ``{{ params.<name> }}``)
    """

    template_fields: Sequence[str] = ("corpus_tokens", "corpus_id", "dated", "history_days", "hyperparameters")

    def __init__(
        self,
        *,
        corpus_tokens: str,
        corpus_id: str,
        dated: bool,
        history_days: int,
        hyperparameters: dict,
        **kwargs,
    ) -> None:
        kwargs.setdefault("pool", TRAINING_POOL)
        super().__init__(**kwargs)
        self.corpus_tokens = corpus_tokens
        self.corpus_id = corpus_id
        self.dated = dated
        self.history_days = history_days
        self.hyperparameters = hyperparameters

    def run(self, context: Any) -> dict:
        from include.steps.train_word2vec import Unchanged, Word2VecParams, train_version

        result = train_version(
            corpus_tokens=Path(self.corpus_tokens),
            corpus_id=self.corpus_id,
            dated=bool(self.dated),
            window_end=window_end(context),
            history_days=int(self.history_days),
            params=Word2VecParams(**self.hyperparameters),
            run_id=context["run_id"],
            data_time=run_time(context),
        )
        if isinstance(result, Unchanged):
            raise AirflowSkipException(result.reason)
        return result


class ExportEmbeddingsOperator(PipelineStepOperator):
    """Write ``embeddings.npy``, ``vocab.json`` and ``exports/`` into the staged version
    (:func:`include.steps.export_embeddings.export_embeddings`).

    :param model_path: the trained gensim model (templated)
    :param version_dir: the staged version folder (templated)
    """

    template_fields: Sequence[str] = ("model_path", "version_dir")

    def __init__(self, *, model_path: str, version_dir: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.model_path = model_path
        self.version_dir = version_dir

    def run(self, context: Any) -> dict:
        from include.steps.export_embeddings import export_embeddings

        return export_embeddings(Path(self.model_path), Path(self.version_dir))


class BuildKerasModelOperator(PipelineStepOperator):
    """Build the Keras models on the exported embeddings into ``<version>/keras/``
    (:func:`include.steps.build_keras_model.build_keras_model`).

    :param version_dir: the staged version folder (templated)
    """

    template_fields: Sequence[str] = ("version_dir",)

    def __init__(self, *, version_dir: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.version_dir = version_dir

    def run(self, context: Any) -> dict:
        from include.steps.build_keras_model import build_keras_model

        return build_keras_model(Path(self.version_dir))


class WriteSimilarityReportOperator(PipelineStepOperator):
    """Evaluate (parity, benchmarks, drift), decide (the quality gate against the last promoted
    version of the corpus) and write the report stating the decision
    (:func:`include.steps.write_similarity_report.write_similarity_report`). A parity mismatch fails the run.

    :param version_dir: the staged version folder (templated)
    :param version: the version's name (templated)
    :param corpus_path: the resolved corpus path, recorded in the report's params (templated)
    :param corpus_id: the corpus's token folder name: the gate compares within it (templated)
    :param corpus_stats: ``files``, ``lines`` (from ingest), ``tokens``, ``partitions``,
        ``train_seconds``, ``data_time`` (from training) for the report (templated)
    :param probe_words: words whose neighbours the report lists; empty = the most frequent (templated)
    :param top_k: neighbours per probe word and in the neighbour table (templated)
    :param gate_tolerance: how much worse than the reference a score may be (templated)
    :param parity_pairs: random word pairs the parity check compares (templated)
    :param seed: seed of the parity sample (templated)
    """

    template_fields: Sequence[str] = (
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
        from include.steps.write_similarity_report import write_similarity_report

        return write_similarity_report(
            Path(self.version_dir),
            version=self.version,
            params={**dict(context["params"]), "corpus_path": self.corpus_path},
            corpus_id=self.corpus_id,
            corpus_stats=self.corpus_stats,
            probe_words=self.probe_words,
            top_k=int(self.top_k),
            gate_tolerance=float(self.gate_tolerance),
            parity_pairs=int(self.parity_pairs),
            seed=int(self.seed),
        )


class PublishVersionOperator(PipelineStepOperator):
    """Write the version manifest and move the staged version into ``models/`` by one rename,
    rejected versions too (:func:`include.steps.publish.publish`). Ends the run ``unchanged``
    (skipped) when another run published the identical version meanwhile.

    :param version_dir: the staged version folder (templated)
    :param version: the version's name (templated)
    :param manifest_path: the run's ingest manifest (templated)
    :param corpus_tokens: ``tokens/<corpus_id>/`` under the data root (templated)
    :param facts: ``corpus_id``, ``content_hash``, ``data_time``, ``partitions`` and ``training``
        (vocab_size, corpus_words, sentences, train_seconds) for the manifest (templated)
    """

    template_fields: Sequence[str] = ("version_dir", "version", "manifest_path", "corpus_tokens", "facts")

    def __init__(
        self,
        *,
        version_dir: str,
        version: str,
        manifest_path: str,
        corpus_tokens: str,
        facts: dict,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.version_dir = version_dir
        self.version = version
        self.manifest_path = manifest_path
        self.corpus_tokens = corpus_tokens
        self.facts = facts

    def run(self, context: Any) -> dict:
        from include.steps.publish import publish
        from include.steps.train_word2vec import Unchanged

        result = publish(
            Path(self.version_dir),
            version=self.version,
            run_id=context["run_id"],
            manifest_path=Path(self.manifest_path),
            corpus_tokens=Path(self.corpus_tokens),
            facts=self.facts,
        )
        if isinstance(result, Unchanged):
            raise AirflowSkipException(result.reason)
        return result


class PromoteVersionOperator(PipelineStepOperator):
    """Point ``models/LATEST`` at the published version when the gate promoted it and its data is
    not older than LATEST's, and prune old versions (:func:`include.steps.promote.promote`);
    skipped otherwise, so the ``word2vec_model`` Asset is updated only when LATEST moves.

    :param version: the published version's name (templated)
    :param decision: the gate's decision, ``promoted`` or ``rejected`` (templated)
    :param reason: the gate's reason (templated)
    """

    template_fields: Sequence[str] = ("version", "decision", "reason")

    def __init__(self, *, version: str, decision: str, reason: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.version = version
        self.decision = decision
        self.reason = reason

    def run(self, context: Any) -> dict:
        from include.steps.promote import NotPromoted, promote

        result = promote(self.version, decision=self.decision, reason=self.reason, run_id=context["run_id"])
        if isinstance(result, NotPromoted):
            raise AirflowSkipException(result.reason)
        for asset in self.outlets:
            context["outlet_events"][asset].extra = {
                "version": result["latest"],
                "path": result["path"],
                "corpus_id": result["corpus_id"],
            }
        return {"latest": result["latest"], "pruned": result["pruned"]}
