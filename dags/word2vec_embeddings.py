"""word2vec_embeddings: text -> tokens (Parquet) -> gensim Word2Vec -> embeddings.npy + vocab.json
-> Keras models -> similarity report -> one immutable, published model version.

Wiring and Params only: each step is an operator from ``plugins/word2vec_operators.py`` calling
``include/``. Nothing heavy is imported here (the dag-processor re-parses this file often).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Asset, CronDataIntervalTimetable, Param, conf

from word2vec_operators import (
    BuildKerasModelOperator,
    CommitTokensOperator,
    ExportEmbeddingsOperator,
    IngestTextOperator,
    PromoteVersionOperator,
    PublishVersionOperator,
    TokenizeToParquetOperator,
    TrainWord2VecOperator,
    WriteSimilarityReportOperator,
    record_failure,
)

DAG_ID = "word2vec_embeddings"
MAX_WORKERS = 32

# Retraining schedule: [word2vec] schedule in airflow.cfg or AIRFLOW__WORD2VEC__SCHEDULE, a cron
# expression or preset (default @daily, UTC); "none" turns scheduling off. CronDataIntervalTimetable
# gives each run the interval it covers (a day for @daily), not the zero-length interval of
# Airflow 3's default cron timetable, so a run ingests the day folders of its own day.
SCHEDULE = conf.get("word2vec", "schedule", fallback="@daily").strip()
TIMETABLE = None if SCHEDULE.lower() in ("", "none") else CronDataIntervalTimetable(SCHEDULE, timezone="UTC")

# Named, not addressed by a file URI: the data root differs between deployments (and tests), and
# an asset's identity must not. Each event's extra says where the data is.
TOKENS_ASSET = Asset(name="word2vec_tokens")
MODEL_ASSET = Asset(name="word2vec_model")

PARAMS = {
    "corpus_path": Param(
        "bundled:lee",
        type="string",
        minLength=1,
        title="Corpus path",
        description="A text file, or a folder read recursively for .txt/.gz/.bz2 files. Absolute, relative to "
        "the data root, or bundled:lee (gensim's Lee background corpus). Must lie inside the data "
        "root or a root listed in EMBEDDINGS_CORPUS_ROOTS.",
    ),
    "vector_size": Param(
        100, type="integer", minimum=2, maximum=1000, title="Vector size", description="Dimensions of each word vector."
    ),
    "window": Param(
        5,
        type="integer",
        minimum=1,
        maximum=50,
        title="Window",
        description="Maximum distance between the current and the predicted word in a sentence.",
    ),
    "min_count": Param(
        5,
        type="integer",
        minimum=1,
        maximum=1_000_000,
        title="Minimum count",
        description="Words occurring fewer times than this are left out of the vocabulary.",
    ),
    "sg": Param(0, type="integer", enum=[0, 1], title="Skip-gram", description="1 trains skip-gram, 0 trains CBOW."),
    "negative": Param(
        5,
        type="integer",
        minimum=1,
        maximum=50,
        title="Negative samples",
        description="Noise words drawn per positive example (negative sampling).",
    ),
    "sample": Param(
        0.001,
        type="number",
        minimum=0,
        maximum=0.1,
        title="Down-sampling threshold",
        description="Frequent words above this relative frequency are randomly down-sampled; 0 disables.",
    ),
    "epochs": Param(5, type="integer", minimum=1, maximum=200, title="Epochs", description="Passes over the corpus."),
    "workers": Param(
        0,
        type="integer",
        minimum=0,
        maximum=MAX_WORKERS,
        title="Worker threads",
        description="Training threads; 0 = one per CPU of the worker. Use 1 with a fixed seed for "
        "byte-identical vectors.",
    ),
    "seed": Param(
        1,
        type="integer",
        minimum=0,
        maximum=2**31 - 1,
        title="Random seed",
        description="Seed of every random draw in training and of the parity sample.",
    ),
    "top_k": Param(
        10,
        type="integer",
        minimum=1,
        maximum=100,
        title="Neighbours per probe word",
        description="How many nearest neighbours the report lists for each probe word.",
    ),
    "history_days": Param(
        0,
        type="integer",
        minimum=0,
        maximum=36500,
        title="History (days)",
        description="Days of token partitions, ending with this run's interval, that training "
        "reads (dated corpora); 0 = all history up to the interval's end.",
    ),
    "gate_tolerance": Param(
        0.05,
        type="number",
        minimum=0,
        maximum=2,
        title="Quality gate tolerance",
        description="A version whose WordSim-353, SimLex-999 or analogy score is worse than the "
        "last promoted version's by more than this is published as rejected and "
        "LATEST stays.",
    ),
    "tokenize_shards": Param(
        4,
        type="integer",
        minimum=1,
        maximum=256,
        title="Tokenize shards",
        description="At most this many parallel tokenize tasks per partition (files are "
        "grouped into shards of similar size).",
    ),
    "probe_words": Param(
        [],
        type="array",
        items={"type": "string"},
        maxItems=200,
        title="Probe words",
        description="Words whose neighbours the report lists; empty means the 20 most frequent "
        "words that are not stop words.",
    ),
}

HYPERPARAMETERS = {
    name: "{{ params." + name + " }}"
    for name in ("vector_size", "window", "min_count", "sg", "negative", "sample", "epochs", "workers", "seed")
}

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
        manifest_path=ingest.output["manifest_path"],
    ).expand_kwargs(ingest.output)
    commit_tokens = CommitTokensOperator(
        task_id="commit_tokens",
        manifest_path=ingest.output["manifest_path"],
        corpus_id=ingest.output["corpus_id"],
        outlets=[TOKENS_ASSET],
        # when every partition is reused, tokenize_to_parquet maps over no shard and is skipped
        trigger_rule="none_failed",
    )
    train = TrainWord2VecOperator(
        task_id="train_word2vec",
        corpus_tokens=commit_tokens.output["corpus_tokens"],
        corpus_id=ingest.output["corpus_id"],
        dated=ingest.output["dated"],
        history_days="{{ params.history_days }}",
        hyperparameters=HYPERPARAMETERS,
    )
    export = ExportEmbeddingsOperator(
        task_id="export_embeddings", model_path=train.output["model_path"], version_dir=train.output["version_dir"]
    )
    keras_models = BuildKerasModelOperator(task_id="build_keras_model", version_dir=train.output["version_dir"])
    report = WriteSimilarityReportOperator(
        task_id="write_similarity_report",
        version_dir=train.output["version_dir"],
        version=train.output["version"],
        corpus_path=ingest.output["corpus_path"],
        corpus_id=ingest.output["corpus_id"],
        corpus_stats={
            "files": ingest.output["files"],
            "lines": ingest.output["lines"],
            "tokens": train.output["corpus_words"],
            "partitions": train.output["partitions"],
            "train_seconds": train.output["train_seconds"],
            "data_time": train.output["data_time"],
        },
        probe_words="{{ params.probe_words }}",
        top_k="{{ params.top_k }}",
        seed="{{ params.seed }}",
        gate_tolerance="{{ params.gate_tolerance }}",
    )
    publish = PublishVersionOperator(
        task_id="publish",
        version_dir=train.output["version_dir"],
        version=train.output["version"],
        manifest_path=ingest.output["manifest_path"],
        corpus_tokens=commit_tokens.output["corpus_tokens"],
        facts={
            "corpus_id": ingest.output["corpus_id"],
            "content_hash": train.output["content_hash"],
            "data_time": train.output["data_time"],
            "partitions": train.output["partitions"],
            "training": {
                "vocab_size": train.output["vocab_size"],
                "corpus_words": train.output["corpus_words"],
                "sentences": train.output["sentences"],
                "train_seconds": train.output["train_seconds"],
            },
        },
    )
    promote = PromoteVersionOperator(
        task_id="promote",
        version=publish.output["version"],
        decision=report.output["decision"],
        reason=report.output["reason"],
        outlets=[MODEL_ASSET],
    )
    ingest >> tokenize >> commit_tokens >> train >> export >> keras_models >> report >> publish >> promote
