"""Custom operators of the word2vec_embeddings pipeline: one per step, each a thin shell.

Each operator's ``run`` reads its (templated) arguments and the run's context, calls the one
function of ``include/steps/<task_id>.py`` that does the step, and translates its result: a
dict becomes XComs (one per key), :class:`include.steps.train_word2vec.Unchanged` and
:class:`include.steps.promote.NotPromoted` become :class:`AirflowSkipException`. Bad input
(:class:`include.errors.PipelineInputError`), a failed parity check and a version conflict fail the
task at once with :class:`AirflowFailException`; every other error is left to Airflow's retries.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar, cast

from airflow.sdk import Asset, AssetAlias, BaseOperator, XComArg
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
from word2vec_lineage import StepLineageMixin
from word2vec_links import ModelReportLink

if TYPE_CHECKING:  # the step modules import gensim, pyarrow...: only their types here
    from include.steps.build_keras_model import KerasModels, ParityResult
    from include.steps.build_neighbour_table import NeighbourTableFacts
    from include.steps.commit_tokens import CommittedTokens
    from include.steps.detect_phrases import PhraseFacts
    from include.steps.evaluate_embeddings import EvaluationFacts
    from include.steps.export_embeddings import ExportedEmbeddings
    from include.steps.ingest_text import IngestFacts
    from include.steps.tokenize_to_parquet import ShardFacts
    from include.steps.train_word2vec import EpochsChoice, TrainedVersion
    from include.steps.write_similarity_report import ReportFacts

log = logging.getLogger(__name__)

#: Loggers whose INFO progress lines (files, tokens, epochs, words/s) belong in the task log.
PROGRESS_LOGGERS = ("include", "gensim.models.word2vec")
TRAINING_POOL = "word2vec_training"

T = TypeVar("T")
#: What a template field is given in the DAG file: its value, a Jinja template rendering to it
#: (``"{{ params.top_k }}"``) or another task's XCom. Airflow renders every template field into its
#: value before ``execute``, so each operator keeps the field under the rendered type
#: (``cast(int, top_k)``): what ``run`` reads.
Templated: TypeAlias = T | str | XComArg


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
    if start is None or end is None:  # both or neither
        return None
    return max(end.date(), start.date() + timedelta(days=1))


def run_time(context: Any) -> datetime:
    """The moment that names a version (its data time): the data interval's end, else when the run was due."""
    _, end = data_interval(context)
    return (end or context["dag_run"].run_after).astimezone(UTC)


def record_failure(context: Any) -> None:
    """Task failure callback (the task failed for good): remove what the run half-built, and add the
    error to the run's record so ``make run`` can print it (:func:`include.storage.failures.fail_run`)."""
    from include.storage.failures import fail_run

    fail_run(context["run_id"], context["ti"].task_id, context.get("exception"))


def configure_storage_from_connection() -> None:
    """When ``EMBEDDINGS_STORAGE_CONN_ID`` names an Airflow connection, the data root's store uses
    its credentials and endpoint (:func:`include.storage.options.storage_options_from_connection`)
    instead of the library's own chain (``AWS_*``, profiles, roles)."""
    import os

    from include.storage.options import storage_options_from_connection
    from include.storage.store import configure

    conn_id = os.environ.get("EMBEDDINGS_STORAGE_CONN_ID", "").strip()
    if not conn_id:
        return
    from airflow.sdk import Connection

    try:
        connection = Connection.get(conn_id)
    except Exception as error:  # the SDK raises its own not-found error type
        message = f"EMBEDDINGS_STORAGE_CONN_ID={conn_id!r}: no such Airflow connection ({error})"
        raise AirflowFailException(message) from error
    configure(storage_options_from_connection(connection))


def release_memory(task_id: str) -> None:
    """Hand what the finished task freed back to the system, and log the process's peak and current
    RSS. A task has a process of its own on a real executor; ``dag.test()`` (``make run``) runs every
    task in one, where glibc would otherwise keep the freed heap of one task under the next. (No
    ``gc.collect()``: a quarter of a second per task once TensorFlow is loaded; the Keras step
    collects its own cycles.)"""
    import ctypes
    import resource

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            current = int(statm.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        current = float("nan")
    log.info("%s: peak RSS of this process %.0f MiB, %.0f MiB now", task_id, peak, current)


class PipelineStepOperator(StepLineageMixin, BaseOperator):
    """Base of the pipeline's operators: maps non-retryable errors to ``AirflowFailException``, and
    reports what its step read and wrote to OpenLineage (:class:`word2vec_lineage.StepLineageMixin`)."""

    ui_color = "#e8f0fe"

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("multiple_outputs", True)  # each returned key is an XCom of its own
        super().__init__(**kwargs)

    def execute(self, context: Any) -> Mapping[str, Any] | list[dict[str, int]]:
        return self._execute_step(context)

    def _execute_step(self, context: Any) -> Mapping[str, Any]:
        for name in PROGRESS_LOGGERS:
            logging.getLogger(name).setLevel(logging.INFO)
        configure_storage_from_connection()
        try:
            self.step_result = self._run_mapping_errors(context)
            return self.step_result
        finally:
            release_memory(self.task_id)

    def _run_mapping_errors(self, context: Any) -> Mapping[str, Any]:
        """``run``, with an error no retry can mend (:func:`include.storage.failures.reason_not_to_retry`:
        bad input, parity, a version conflict, a run already failed elsewhere, a full disk) raised as
        ``AirflowFailException``; any other error is left to Airflow's retries."""
        try:
            return self.run(context)
        except (AirflowSkipException, AirflowFailException):
            raise
        except Exception as error:
            from include.storage.failures import reason_not_to_retry

            reason = reason_not_to_retry(error, context["run_id"], self.task_id)
            if reason is None:
                raise
            raise AirflowFailException(reason) from error

    def run(self, context: Any) -> Mapping[str, Any]:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError


class IngestTextOperator(PipelineStepOperator):
    """Resolve and confine the corpus, refuse unknown conf keys, choose this run's partitions and
    write the ingest manifest and shard plan (:func:`include.steps.ingest_text.ingest_text`).

    :param corpus_path: a file or folder (a local path, relative to the data root, or an object-store
        URL such as ``s3://bucket/texts/``), or ``bundled:<name>`` (templated)
    :param max_shards: at most this many ``tokenize_to_parquet`` tasks per partition (templated)

    Every key of :class:`include.steps.ingest_text.IngestFacts` is pushed as an XCom of its own;
    the return value is the list ``tokenize_to_parquet`` is mapped over.
    """

    step = "ingest_text"
    template_fields: Sequence[str] = ("corpus_path", "max_shards")

    def __init__(self, *, corpus_path: Templated[str], max_shards: Templated[int] = 4, **kwargs) -> None:
        kwargs["multiple_outputs"] = False
        super().__init__(**kwargs)
        self.corpus_path = cast(str, corpus_path)
        self.max_shards = cast(int, max_shards)

    def execute(self, context: Any) -> list[dict[str, int]]:
        """Push the facts as XComs of their own keys; return one ``{"shard": n}`` per shard (Airflow
        maps only over a return value)."""
        facts = self._execute_step(context)
        for key, value in facts.items():
            context["ti"].xcom_push(key=key, value=value)
        return [{"shard": number} for number in range(facts["shards"])]

    def run(self, context: Any) -> IngestFacts:
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
            params=dict(context["params"]),
        )


class TokenizeToParquetOperator(PipelineStepOperator):
    """Tokenize one shard of the run's files into its staging partition (mapped over shards;
    :func:`include.steps.tokenize_to_parquet.tokenize_to_parquet`).

    :param manifest_path: the run's ingest manifest (templated)
    :param shard: the shard's number in the manifest's plan (templated; mapped)
    :param corpus_path: the resolved corpus the manifest lists files of (templated; read only for
        its lineage: what OpenLineage reports the task read)
    """

    step = "tokenize_to_parquet"
    template_fields: Sequence[str] = ("manifest_path", "shard", "corpus_path")

    def __init__(
        self,
        *,
        manifest_path: Templated[str],
        shard: Templated[int],
        corpus_path: Templated[str | None] = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.manifest_path = cast(str, manifest_path)
        self.shard = cast(int, shard)
        self.corpus_path = cast("str | None", corpus_path)

    def run(self, context: Any) -> ShardFacts:
        from include.steps.tokenize_to_parquet import tokenize_to_parquet

        return tokenize_to_parquet(self.manifest_path, int(self.shard), context["run_id"])


class CommitTokensOperator(PipelineStepOperator):
    """Publish every staged partition of the run into ``tokens/<corpus_id>/`` and prune partitions
    past ``EMBEDDINGS_TOKEN_RETENTION_DAYS`` (:func:`include.steps.commit_tokens.commit_tokens`).
    The ``word2vec_tokens`` Asset event says where the tokens are and which partitions changed.

    :param manifest_path: the run's ingest manifest (templated)
    :param corpus_id: the corpus's token folder name (templated)
    """

    step = "commit_tokens"
    template_fields: Sequence[str] = ("manifest_path", "corpus_id")

    def __init__(self, *, manifest_path: Templated[str], corpus_id: Templated[str], **kwargs) -> None:
        super().__init__(**kwargs)
        self.manifest_path = cast(str, manifest_path)
        self.corpus_id = cast(str, corpus_id)

    def run(self, context: Any) -> CommittedTokens:
        from include.steps.commit_tokens import commit_tokens

        today = window_end(context) or run_time(context).date()
        from include.storage.paths import data_root_location

        committed = commit_tokens(self.manifest_path, self.corpus_id, context["run_id"], today)
        for asset in self.outlets:
            context["outlet_events"][asset].extra = {
                "data_root": data_root_location(),
                "corpus_tokens": committed["corpus_tokens"],
                "partitions": committed["committed"],
            }
        return committed


class DetectPhrasesOperator(PipelineStepOperator):
    """Learn multi-word phrases (``new_york``) from the token partitions training will read, into
    the run's staging folder (:func:`include.steps.detect_phrases.detect_phrases`); skipped when
    the ``phrases`` setting is 0 (training then reads the tokens as they are) or when a published
    version already holds what this run would train (training then skips the rest, saying which).

    :param corpus_id: the corpus's token folder name (templated)
    :param dated: whether the corpus has day folders (templated)
    :param history_days: days of partitions up to the interval's end; 0 = all (templated)
    :param phrase_settings: the fields of :class:`include.artifacts.phrases.PhraseParams`
        (templated, each value usually ``{{ params.<name> }}``)
    :param hyperparameters: the fields of :class:`include.steps.train_word2vec.Word2VecParams`, as
        training gets them: when a published version has the content hash training would compute,
        nothing is learned and the task is skipped (templated; ``None`` = always learn)
    :param model: the model the version belongs to (templated; part of the content hash)
    """

    step = "detect_phrases"
    template_fields: Sequence[str] = (
        "corpus_id",
        "dated",
        "history_days",
        "phrase_settings",
        "hyperparameters",
        "model",
    )

    def __init__(
        self,
        *,
        corpus_id: Templated[str],
        dated: Templated[bool],
        history_days: Templated[int],
        phrase_settings: Templated[dict],
        hyperparameters: Templated[dict | None] = None,
        model: Templated[str] = "default",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.corpus_id = cast(str, corpus_id)
        self.dated = cast(bool, dated)
        self.history_days = cast(int, history_days)
        self.phrase_settings = cast(dict, phrase_settings)
        self.hyperparameters = cast("dict | None", hyperparameters)
        self.model = cast(str, model)

    def run(self, context: Any) -> PhraseFacts:
        from include.artifacts.phrases import PhraseParams
        from include.steps.detect_phrases import NothingToLearn, detect_phrases
        from include.steps.train_word2vec import Word2VecParams

        result = detect_phrases(
            corpus_id=self.corpus_id,
            dated=bool(self.dated),
            window_end=window_end(context),
            history_days=int(self.history_days),
            settings=PhraseParams(**self.phrase_settings),
            run_id=context["run_id"],
            params=Word2VecParams(**self.hyperparameters) if self.hyperparameters is not None else None,
            model=self.model,
        )
        if isinstance(result, NothingToLearn):
            raise AirflowSkipException(result.reason)
        return result


class TrainWord2VecOperator(PipelineStepOperator):
    """Train gensim Word2Vec on the token partitions in the run's window, into its staging version
    (:func:`include.steps.train_word2vec.train_version`); skips the rest of the run, saying so, when
    a published version was built from the same inputs, params and code.

    :param corpus_id: the corpus's token folder name (templated)
    :param dated: whether the corpus has day folders (templated)
    :param history_days: days of partitions up to the interval's end; 0 = all (templated)
    :param hyperparameters: the fields of :class:`include.steps.train_word2vec.Word2VecParams`
        (templated, each value usually ``{{ params.<name> }}``)
    :param phrase_settings: the fields of :class:`include.artifacts.phrases.PhraseParams`; with
        ``phrases`` on, training reads the phrases ``detect_phrases`` staged (templated; ``None`` = off)
    :param model: the model the version belongs to; its contract is checked first (templated)
    :param allow_contract_change: let a contract other than the champion's through; the gate then
        holds the version for an explicit promote (templated)
    """

    step = "train_word2vec"
    operator_extra_links = (ModelReportLink(),)
    template_fields: Sequence[str] = (
        "corpus_id",
        "dated",
        "history_days",
        "hyperparameters",
        "phrase_settings",
        "model",
        "allow_contract_change",
    )

    def __init__(
        self,
        *,
        corpus_id: Templated[str],
        dated: Templated[bool],
        history_days: Templated[int],
        hyperparameters: Templated[dict],
        phrase_settings: Templated[dict | None] = None,
        model: Templated[str] = "default",
        allow_contract_change: Templated[bool] = False,
        **kwargs,
    ) -> None:
        kwargs.setdefault("pool", TRAINING_POOL)
        super().__init__(**kwargs)
        self.corpus_id = cast(str, corpus_id)
        self.dated = cast(bool, dated)
        self.history_days = cast(int, history_days)
        self.hyperparameters = cast(dict, hyperparameters)
        self.phrase_settings = cast("dict | None", phrase_settings)
        self.model = cast(str, model)
        self.allow_contract_change = cast(bool, allow_contract_change)

    def run(self, context: Any) -> TrainedVersion:
        from include.artifacts.phrases import PhraseParams
        from include.steps.train_word2vec import Unchanged, Word2VecParams, train_version

        result = train_version(
            corpus_id=self.corpus_id,
            dated=bool(self.dated),
            window_end=window_end(context),
            history_days=int(self.history_days),
            params=Word2VecParams(**self.hyperparameters),
            run_id=context["run_id"],
            data_time=run_time(context),
            phrase_settings=PhraseParams(**(self.phrase_settings or {})),
            model=self.model,
            allow_contract_change=bool(self.allow_contract_change),
        )
        if isinstance(result, Unchanged):
            raise AirflowSkipException(result.reason)
        return result


class ExportEmbeddingsOperator(PipelineStepOperator):
    """Write the version's vectors in the exchange formats under ``exports/`` (word2vec text and
    binary, projector TSVs; :func:`include.steps.export_embeddings.export_embeddings`).

    :param version_dir: the staged version folder (templated)
    """

    step = "export_embeddings"
    template_fields: Sequence[str] = ("version_dir",)

    def __init__(self, *, version_dir: Templated[str], **kwargs) -> None:
        super().__init__(**kwargs)
        self.version_dir = cast(str, version_dir)

    def run(self, context: Any) -> ExportedEmbeddings:
        from include.steps.export_embeddings import export_embeddings

        return export_embeddings(self.version_dir, context["run_id"])


class BuildKerasModelOperator(PipelineStepOperator):
    """Build the Keras models on the version's embeddings into ``<version>/keras/`` and check them
    against gensim (:func:`include.steps.build_keras_model.build_keras_model`). A parity mismatch
    fails the run. The only task that imports TensorFlow.

    :param version_dir: the staged version folder (templated)
    :param parity_pairs: random word pairs the parity check compares (templated)
    :param seed: seed of the parity sample (templated)
    """

    step = "build_keras_model"
    template_fields: Sequence[str] = ("version_dir", "parity_pairs", "seed")

    def __init__(
        self, *, version_dir: Templated[str], parity_pairs: Templated[int] = 200, seed: Templated[int] = 0, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self.version_dir = cast(str, version_dir)
        self.parity_pairs = cast(int, parity_pairs)
        self.seed = cast(int, seed)

    def run(self, context: Any) -> KerasModels:
        from include.steps.build_keras_model import build_keras_model

        return build_keras_model(
            self.version_dir, context["run_id"], parity_pairs=int(self.parity_pairs), seed=int(self.seed)
        )


class BuildNeighbourTableOperator(PipelineStepOperator):
    """Write ``neighbours.parquet``, the nearest neighbours of every word, exact or approximate with
    its recall measured (:func:`include.steps.build_neighbour_table.build_neighbour_table`). A recall
    below the floor fails the run.

    :param version_dir: the staged version folder (templated)
    :param top_k: neighbours per word (templated)
    """

    step = "build_neighbour_table"
    template_fields: Sequence[str] = ("version_dir", "top_k")

    def __init__(self, *, version_dir: Templated[str], top_k: Templated[int], **kwargs) -> None:
        super().__init__(**kwargs)
        self.version_dir = cast(str, version_dir)
        self.top_k = cast(int, top_k)

    def run(self, context: Any) -> NeighbourTableFacts:
        from include.steps.build_neighbour_table import build_neighbour_table

        return build_neighbour_table(self.version_dir, context["run_id"], int(self.top_k))


class EvaluateEmbeddingsOperator(PipelineStepOperator):
    """Score the version on the word-similarity and analogy sets and compare it with its model's
    champion (:func:`include.steps.evaluate_embeddings.evaluate_embeddings`).

    :param version_dir: the staged version folder (templated)
    :param model: the model the version belongs to: its champion is the reference (templated)
    :param corpus_id: the corpus's token folder name (templated)
    :param probe_words: words whose neighbourhoods are compared; empty = the most frequent (templated)
    :param top_k: neighbours per word compared (templated)
    """

    step = "evaluate_embeddings"
    template_fields: Sequence[str] = ("version_dir", "model", "corpus_id", "probe_words", "top_k")

    def __init__(
        self,
        *,
        version_dir: Templated[str],
        corpus_id: Templated[str],
        probe_words: Templated[list[str] | None],
        top_k: Templated[int],
        model: Templated[str] = "default",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.version_dir = cast(str, version_dir)
        self.model = cast(str, model)
        self.corpus_id = cast(str, corpus_id)
        self.probe_words = cast("list[str] | None", probe_words)
        self.top_k = cast(int, top_k)

    def run(self, context: Any) -> Mapping[str, Any]:
        from include.steps.evaluate_embeddings import evaluate_embeddings

        return evaluate_embeddings(
            self.version_dir,
            model=self.model,
            corpus_id=self.corpus_id,
            probe_words=self.probe_words,
            top_k=int(self.top_k),
        )


class WriteSimilarityReportOperator(PipelineStepOperator):
    """Join what the parallel steps measured, decide (the quality gate against the model's
    champion) and write the report stating the decision
    (:func:`include.steps.write_similarity_report.write_similarity_report`).

    :param version_dir: the staged version folder (templated)
    :param version: the version's name (templated)
    :param model: the model the version belongs to: the gate compares with its champion (templated)
    :param corpus_path: the resolved corpus path, recorded in the report's params (templated)
    :param corpus_id: the corpus's token folder name (templated)
    :param corpus_stats: ``files``, ``lines`` (from ingest), ``tokens``, ``partitions``,
        ``train_seconds``, ``data_time`` (from training) for the report (templated)
    :param probe_words: words whose neighbours the report lists; empty = the most frequent (templated)
    :param top_k: neighbours per probe word (templated)
    :param gate_tolerance: how much worse than the reference a score may be (templated)
    :param parity: ``build_keras_model``'s parity check (templated)
    :param evaluation: ``evaluate_embeddings``'s facts: ``evaluation``, ``drift``, ``reference`` (templated)
    :param neighbour_table: ``build_neighbour_table``'s facts (templated)
    :param epochs_choice: the passes trained and why (``train_word2vec``'s ``epochs_choice``); the
        report states them as ``params.epochs`` and ``params.epochs_requested`` (templated)
    :param contract_changes: how the version's contract differs from the champion's (training's
        ``contract_changes``; non-empty only with ``allow_contract_change``): the gate holds it (templated)
    """

    step = "write_similarity_report"
    template_fields: Sequence[str] = (
        "version_dir",
        "version",
        "model",
        "contract_changes",
        "corpus_path",
        "corpus_id",
        "corpus_stats",
        "epochs_choice",
        "probe_words",
        "top_k",
        "gate_tolerance",
        "parity",
        "evaluation",
        "neighbour_table",
    )

    def __init__(
        self,
        *,
        version_dir: Templated[str],
        version: Templated[str],
        corpus_path: Templated[str],
        corpus_id: Templated[str],
        corpus_stats: Templated[dict],
        probe_words: Templated[list[str] | None],
        top_k: Templated[int],
        gate_tolerance: Templated[float],
        parity: Templated[ParityResult],
        evaluation: Templated[EvaluationFacts],
        neighbour_table: Templated[dict[str, Any]],
        epochs_choice: Templated[EpochsChoice | None] = None,
        model: Templated[str] = "default",
        contract_changes: Templated[dict[str, list] | None] = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.version_dir = cast(str, version_dir)
        self.version = cast(str, version)
        self.model = cast(str, model)
        self.contract_changes = cast("dict[str, list] | None", contract_changes)
        self.corpus_path = cast(str, corpus_path)
        self.corpus_id = cast(str, corpus_id)
        self.corpus_stats = cast(dict, corpus_stats)
        self.epochs_choice = cast("EpochsChoice | None", epochs_choice)
        self.probe_words = cast("list[str] | None", probe_words)
        self.top_k = cast(int, top_k)
        self.gate_tolerance = cast(float, gate_tolerance)
        self.parity = cast("ParityResult", parity)
        self.evaluation = cast("EvaluationFacts", evaluation)
        self.neighbour_table = cast("dict[str, Any]", neighbour_table)

    def run(self, context: Any) -> ReportFacts:
        from include.steps.write_similarity_report import write_similarity_report

        return write_similarity_report(
            self.version_dir,
            version=self.version,
            run_id=context["run_id"],
            params={**dict(context["params"]), "corpus_path": self.corpus_path},
            corpus_id=self.corpus_id,
            corpus_stats=self.corpus_stats,
            probe_words=self.probe_words,
            top_k=int(self.top_k),
            gate_tolerance=float(self.gate_tolerance),
            parity=self.parity,
            evaluation=self.evaluation,
            neighbour_table=self.neighbour_table,
            epochs_choice=self.epochs_choice,
            model=self.model,
            contract_changes=self.contract_changes,
        )


class PublishVersionOperator(PipelineStepOperator):
    """Publish the version by writing its manifest last, create-only, rejected versions too
    (:func:`include.steps.publish.publish`). Ends the run ``unchanged``
    (skipped) when another run published the identical version meanwhile.

    :param version: the version's name (templated)
    :param manifest_path: the run's ingest manifest (templated)
    :param facts: ``corpus_id``, ``content_hash``, ``data_time``, ``partitions`` and ``training``
        (vocab_size, corpus_words, sentences, train_seconds) for the manifest (templated)
    """

    step = "publish"
    operator_extra_links = (ModelReportLink(),)
    template_fields: Sequence[str] = ("version", "manifest_path", "facts")

    def __init__(
        self,
        *,
        version: Templated[str],
        manifest_path: Templated[str],
        facts: Templated[dict],
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.version = cast(str, version)
        self.manifest_path = cast(str, manifest_path)
        self.facts = cast(dict, facts)

    def run(self, context: Any) -> Mapping[str, Any]:
        from include.steps.publish import publish
        from include.steps.train_word2vec import Unchanged

        result = publish(self.version, run_id=context["run_id"], manifest_path=self.manifest_path, facts=self.facts)
        if isinstance(result, Unchanged):
            raise AirflowSkipException(result.reason)
        return result


def champion_asset(model: str) -> Asset:
    """The Asset that gets an event each time ``model``'s champion moves (``word2vec_model.<model>``):
    schedule a DAG on it to follow one model's promotions."""
    return Asset(name=f"word2vec_model.{model}")


class PromoteVersionOperator(PipelineStepOperator):
    """Move the model's ``champion`` alias to the published version when the gate promoted it and
    its data is not older than the champion's, and prune the model's old versions
    (:func:`include.steps.promote.promote`); skipped otherwise. Each :class:`AssetAlias` among the
    outlets resolves to the model's Asset (:func:`champion_asset`), so an event is emitted only
    when that model's champion moves.

    :param version: the published version's name (templated)
    :param decision: the gate's decision, ``promoted`` or ``rejected`` (templated)
    :param reason: the gate's reason (templated)
    :param model: the model the version belongs to (templated)
    """

    step = "promote"
    operator_extra_links = (ModelReportLink(),)
    template_fields: Sequence[str] = ("version", "decision", "reason", "model")

    def __init__(
        self,
        *,
        version: Templated[str],
        decision: Templated[str],
        reason: Templated[str],
        model: Templated[str] = "default",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.version = cast(str, version)
        self.decision = cast(str, decision)
        self.reason = cast(str, reason)
        self.model = cast(str, model)

    def run(self, context: Any) -> Mapping[str, Any]:
        from include.steps.promote import NotPromoted, promote

        result = promote(
            self.version, decision=self.decision, reason=self.reason, run_id=context["run_id"], model=self.model
        )
        if isinstance(result, NotPromoted):
            raise AirflowSkipException(result.reason)
        extra = {
            "data_root": result["data_root"],
            "model": result["model"],
            "version": result["champion"],
            "previous": result["previous"],
            "path": result["path"],
            "corpus_id": result["corpus_id"],
        }
        for outlet in self.outlets:
            if isinstance(outlet, AssetAlias):
                context["outlet_events"][outlet].add(champion_asset(result["model"]), extra=extra)
        return {"champion": result["champion"], "model": result["model"], "pruned": result["pruned"]}
