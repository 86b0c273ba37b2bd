"""word2vec_embeddings: text -> tokens (Parquet) -> gensim Word2Vec -> embeddings.npy + vocab.json
-> Keras models -> similarity report -> one immutable, published model version.

Wiring only: each step is an operator from ``plugins/word2vec_operators.py`` calling ``include/``;
the Params are declared in ``include/steps/run_params.py``. Nothing heavy is imported here (the
dag-processor re-parses this file often).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Asset, AssetAlias, BaseOperator, CronDataIntervalTimetable, Param, conf
from airflow.sdk.definitions.xcom_arg import PlainXComArg
from word2vec_mlflow import MirrorToMlflowOperator

from include.steps.run_params import DAG_ID, param_arguments
from word2vec_operators import (
    BuildKerasModelOperator,
    BuildNeighbourTableOperator,
    CommitTokensOperator,
    DetectPhrasesOperator,
    EvaluateEmbeddingsOperator,
    ExportEmbeddingsOperator,
    IngestTextOperator,
    PromoteVersionOperator,
    PublishVersionOperator,
    TokenizeToParquetOperator,
    TrainWord2VecOperator,
    WriteSimilarityReportOperator,
    record_failure,
)

# Retraining schedule: [word2vec] schedule in airflow.cfg or AIRFLOW__WORD2VEC__SCHEDULE, a cron
# expression or preset (default @daily, UTC); "none" turns scheduling off. CronDataIntervalTimetable
# gives each run the interval it covers (a day for @daily), not the zero-length interval of
# Airflow 3's default cron timetable, so a run ingests the day folders of its own day.
SCHEDULE = conf.get("word2vec", "schedule", fallback="@daily").strip()
TIMETABLE = None if SCHEDULE.lower() in ("", "none") else CronDataIntervalTimetable(SCHEDULE, timezone="UTC")

# Named, not addressed by a file URI: the data root differs between deployments (and tests), and
# an asset's identity must not. Each event's extra says where the data is.
TOKENS_ASSET = Asset(name="word2vec_tokens")
# Resolves, at each champion move, to that model's Asset "word2vec_model.<model>" (see
# dags/word2vec_champion_consumer.py for a DAG scheduled on one model's promotions).
CHAMPION_ALIAS = AssetAlias(name="word2vec_champion")

# Each Param's default, bounds, title and description are declared once, in include/steps/run_params.py
# (the library validates a run's values against the same schemas), in the trigger form's order.
PARAMS = {name: Param(default, **schema) for name, (default, schema) in param_arguments().items()}

HYPERPARAMETERS = {
    name: "{{ params." + name + " }}"
    for name in ("vector_size", "window", "min_count", "sg", "negative", "sample", "epochs", "workers", "seed")
    + ("alpha", "min_alpha", "hs", "ns_exponent", "cbow_mean", "shrink_windows", "max_final_vocab")
}
PHRASE_SETTINGS = {
    name: "{{ params." + name + " }}"
    for name in ("phrases", "phrases_min_count", "phrases_threshold", "phrases_scoring", "phrases_max_vocab")
}


def xcom_of(task: BaseOperator) -> PlainXComArg:
    """``task.output``: for a plain (unmapped) operator a :class:`PlainXComArg`, whose ``["key"]``
    names one XCom the task pushed (``BaseOperator.output`` is declared as its base, ``XComArg``)."""
    output = task.output
    assert isinstance(output, PlainXComArg)
    return output


with DAG(
    dag_id=DAG_ID,
    description="Train Word2Vec on a text corpus and publish embeddings, Keras models and a similarity report",
    schedule=TIMETABLE,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    params=PARAMS,
    render_template_as_native_obj=True,
    tags=["embeddings", "word2vec", "keras"],
    default_args={
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
        "on_failure_callback": record_failure,
    },
    doc_md=__doc__,
) as dag:
    ingest = IngestTextOperator(
        task_id="ingest_text", corpus_path="{{ params.corpus_path }}", max_shards="{{ params.tokenize_shards }}"
    )
    tokenize = TokenizeToParquetOperator.partial(
        task_id="tokenize_to_parquet",
        manifest_path=xcom_of(ingest)["manifest_path"],
        corpus_path=xcom_of(ingest)["corpus_path"],  # what lineage reports each shard read
    ).expand_kwargs(ingest.output)
    commit_tokens = CommitTokensOperator(
        task_id="commit_tokens",
        manifest_path=xcom_of(ingest)["manifest_path"],
        corpus_id=xcom_of(ingest)["corpus_id"],
        outlets=[TOKENS_ASSET],
        # when every partition is reused, tokenize_to_parquet maps over no shard and is skipped
        trigger_rule="none_failed",
    )
    detect_phrases = DetectPhrasesOperator(
        task_id="detect_phrases",
        corpus_id=xcom_of(ingest)["corpus_id"],
        dated=xcom_of(ingest)["dated"],
        history_days="{{ params.history_days }}",
        phrase_settings=PHRASE_SETTINGS,
        hyperparameters=HYPERPARAMETERS,
        model="{{ params.model }}",
    )
    train = TrainWord2VecOperator(
        task_id="train_word2vec",
        corpus_id=xcom_of(ingest)["corpus_id"],
        dated=xcom_of(ingest)["dated"],
        history_days="{{ params.history_days }}",
        hyperparameters=HYPERPARAMETERS,
        phrase_settings=PHRASE_SETTINGS,
        model="{{ params.model }}",
        allow_contract_change="{{ params.allow_contract_change }}",
        # detect_phrases is skipped when phrases are off
        trigger_rule="none_failed",
    )
    # After training, four independent steps on the version's embeddings: a real executor runs them
    # side by side; the report joins them.
    version_dir = xcom_of(train)["version_dir"]
    export = ExportEmbeddingsOperator(task_id="export_embeddings", version_dir=version_dir)
    keras_models = BuildKerasModelOperator(
        task_id="build_keras_model", version_dir=version_dir, seed="{{ params.seed }}"
    )
    neighbour_table = BuildNeighbourTableOperator(
        task_id="build_neighbour_table", version_dir=version_dir, top_k="{{ params.top_k }}"
    )
    evaluate = EvaluateEmbeddingsOperator(
        task_id="evaluate_embeddings",
        version_dir=version_dir,
        model=xcom_of(train)["model"],
        corpus_id=xcom_of(ingest)["corpus_id"],
        probe_words="{{ params.probe_words }}",
        top_k="{{ params.top_k }}",
    )
    report = WriteSimilarityReportOperator(
        task_id="write_similarity_report",
        version_dir=version_dir,
        version=xcom_of(train)["version"],
        model=xcom_of(train)["model"],
        contract_changes=xcom_of(train)["contract_changes"],
        corpus_path=xcom_of(ingest)["corpus_path"],
        corpus_id=xcom_of(ingest)["corpus_id"],
        corpus_stats={
            "files": xcom_of(ingest)["files"],
            "lines": xcom_of(ingest)["lines"],
            "tokens": xcom_of(train)["corpus_words"],
            "partitions": xcom_of(train)["partitions"],
            "train_seconds": xcom_of(train)["train_seconds"],
            "data_time": xcom_of(train)["data_time"],
        },
        epochs_choice=xcom_of(train)["epochs_choice"],
        probe_words="{{ params.probe_words }}",
        top_k="{{ params.top_k }}",
        gate_tolerance="{{ params.gate_tolerance }}",
        parity=xcom_of(keras_models)["parity"],
        evaluation=evaluate.output,
        neighbour_table=xcom_of(neighbour_table)["neighbour_table"],
    )
    publish = PublishVersionOperator(
        task_id="publish",
        version=xcom_of(train)["version"],
        manifest_path=xcom_of(ingest)["manifest_path"],
        facts={
            "model": xcom_of(train)["model"],
            "contract": xcom_of(train)["contract"],
            "corpus_id": xcom_of(ingest)["corpus_id"],
            "content_hash": xcom_of(train)["content_hash"],
            "data_time": xcom_of(train)["data_time"],
            "partitions": xcom_of(train)["partitions"],
            "training": {
                "vocab_size": xcom_of(train)["vocab_size"],
                "corpus_words": xcom_of(train)["corpus_words"],
                "sentences": xcom_of(train)["sentences"],
                "train_seconds": xcom_of(train)["train_seconds"],
            },
        },
    )
    promote = PromoteVersionOperator(
        task_id="promote",
        version=xcom_of(publish)["version"],
        decision=xcom_of(report)["decision"],
        reason=xcom_of(report)["reason"],
        model=xcom_of(train)["model"],
        outlets=[CHAMPION_ALIAS],
    )
    # With MLFLOW_TRACKING_URI set: the model's versions, metrics and aliases mirrored to MLflow,
    # whatever the gate decided (skipped at once without it; MLflow down is a warning, never a failure)
    mirror = MirrorToMlflowOperator(task_id="mirror_to_mlflow", model="{{ params.model }}", trigger_rule="none_failed")
    commit_tokens >> detect_phrases >> train
    ingest >> tokenize >> commit_tokens >> train >> [export, keras_models, neighbour_table, evaluate] >> report
    report >> publish >> promote >> mirror
