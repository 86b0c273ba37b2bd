"""word2vec_embeddings: text -> tokens (Parquet) -> gensim Word2Vec -> embeddings.npy + vocab.json
-> Keras models -> similarity report -> one immutable, published model version.

Wiring and Params only: each step is an operator from ``plugins/word2vec_operators.py`` calling
``include/``. Nothing heavy is imported here (the dag-processor re-parses this file often).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Asset, AssetAlias, BaseOperator, CronDataIntervalTimetable, Param, conf
from airflow.sdk.definitions.xcom_arg import PlainXComArg

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
# Resolves, at each champion move, to that model's Asset "word2vec_model.<model>" (see
# dags/word2vec_champion_consumer.py for a DAG scheduled on one model's promotions).
CHAMPION_ALIAS = AssetAlias(name="word2vec_champion")
# A model or alias name (include.registry.names.SLUG_PATTERN, repeated here: the DAG file imports
# nothing of the library; a test holds the two equal).
MODEL_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"

PARAMS = {
    "model": Param(
        "default",
        type="string",
        pattern=MODEL_NAME_PATTERN,
        minLength=1,
        maxLength=64,
        title="Model",
        description="The named model this run's version belongs to (lowercase letters, digits, - and _, up to "
        "64). Each model has its own versions, aliases and champion: use another name for an experiment "
        "(another corpus, vector size or phrases) so it never replaces what consumers of 'default' load.",
    ),
    "allow_contract_change": Param(
        False,
        type="boolean",
        title="Allow a contract change",
        description="A model's first version fixes its vector_size, tokenizer and phrases on/off; a run that "
        "differs fails before training. On: the version is trained and published, but only an explicit "
        "promote (python -m include.cli --model NAME promote VERSION --alias champion --reason ...) can make "
        "it the champion.",
    ),
    "corpus_path": Param(
        "bundled:lee",
        type="string",
        minLength=1,
        title="Corpus path",
        description="A text file, or a folder read recursively for .txt/.gz/.bz2 files. Absolute, relative to "
        "the data root, an object-store URL (s3://bucket/prefix), or bundled:lee (gensim's Lee background "
        "corpus). Must lie inside the data root or a root listed in EMBEDDINGS_CORPUS_ROOTS.",
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
        minimum=0,
        maximum=50,
        title="Negative samples",
        description="Noise words drawn per positive example (negative sampling); 0 turns negative sampling off "
        "and needs hs: 1.",
    ),
    "sample": Param(
        0.001,
        type="number",
        minimum=0,
        maximum=0.1,
        title="Down-sampling threshold",
        description="Frequent words above this relative frequency are randomly down-sampled; 0 disables.",
    ),
    # "auto" or a number: a list of types renders as one free-form field in Airflow 3.3's trigger form
    # (30 is read as a number, auto as text); minimum/maximum bind numbers, pattern binds text
    "epochs": Param(
        "auto",
        type=["integer", "string"],
        minimum=1,
        maximum=200,
        pattern="^auto$",
        title="Epochs",
        description="Passes over the corpus: a number from 1 to 200, or auto to fit the corpus size "
        "(about 2 million tokens seen in all, 5 to 50 passes: 35 for the 58k-token Lee corpus, "
        "gensim's 5 from 400k tokens up).",
    ),
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
        description="A version whose WordSim-353, SimLex-999 or analogy score, compared on the items both "
        "scored, is worse than its model's champion's by more than this is published as rejected and the "
        "champion stays.",
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

# The rest of gensim's Word2Vec knobs, at gensim's defaults (today's runs keep their vectors), and
# phrase detection (off by default). Cross-field rules (negative 0 needs hs 1, min_alpha <= alpha,
# the phrase threshold's range per scoring) are checked by the library, naming the Param.
ADVANCED = "Word2Vec: more knobs"
PHRASES = "Phrases (multi-word tokens such as new_york)"
PARAMS |= {
    "alpha": Param(
        0.025,
        type="number",
        minimum=0.000001,
        maximum=1,
        title="Learning rate (alpha)",
        description="Initial learning rate; it falls linearly to min_alpha over training.",
        section=ADVANCED,
    ),
    "min_alpha": Param(
        0.0001,
        type="number",
        minimum=0,
        maximum=1,
        title="Final learning rate (min_alpha)",
        description="The learning rate at the end of training; at most alpha.",
        section=ADVANCED,
    ),
    "hs": Param(
        0,
        type="integer",
        enum=[0, 1],
        title="Hierarchical softmax",
        description="1 trains with hierarchical softmax (alone when negative is 0, else beside negative sampling).",
        section=ADVANCED,
    ),
    "ns_exponent": Param(
        0.75,
        type="number",
        minimum=-1,
        maximum=1,
        title="Negative-sampling exponent",
        description="Shape of the noise distribution: 1 samples by frequency, 0 uniformly, negative values "
        "favour rare words. 0.75 is the word2vec paper's; far from it can help non-language data such as "
        "item sequences (Caselles-Dupré et al., 2018).",
        section=ADVANCED,
    ),
    "cbow_mean": Param(
        1,
        type="integer",
        enum=[0, 1],
        title="CBOW mean",
        description="CBOW only (sg 0): 1 averages the context vectors, 0 sums them.",
        section=ADVANCED,
    ),
    "shrink_windows": Param(
        True,
        type="boolean",
        title="Shrink windows",
        description="Draw each word's context window size from 1..window (weighs near words more); "
        "off = always the full window.",
        section=ADVANCED,
    ),
    "max_final_vocab": Param(
        0,
        type="integer",
        minimum=0,
        maximum=100_000_000,
        title="Vocabulary cap",
        description="Keep at most this many words, raising min_count as needed (caps the model's memory on "
        "corpora with millions of distinct words); 0 = no cap.",
        section=ADVANCED,
    ),
    "phrases": Param(
        0,
        type="integer",
        enum=[0, 1, 2],
        title="Phrases",
        description="Join frequent word pairs into one token before training (new york -> new_york; connector "
        "words such as of/the may sit inside: children_of_israel). 0 = off, 1 = one pass (bigrams), "
        "2 = a second pass for longer phrases.",
        section=PHRASES,
    ),
    "phrases_min_count": Param(
        5,
        type="integer",
        minimum=1,
        maximum=1_000_000,
        title="Phrase minimum count",
        description="Word pairs seen fewer times than this never become a phrase.",
        section=PHRASES,
    ),
    "phrases_threshold": Param(
        10.0,
        type="number",
        minimum=-1,
        maximum=1_000_000,
        title="Phrase threshold",
        description="A pair scoring above this becomes a phrase (higher = fewer phrases). Above 0 for default "
        "scoring; -1..1 for npmi.",
        section=PHRASES,
    ),
    "phrases_scoring": Param(
        "default",
        type="string",
        enum=["default", "npmi"],
        title="Phrase scoring",
        description="default: the word2vec paper's score; npmi: normalized pointwise mutual information "
        "(-1..1), less swayed by frequent words.",
        section=PHRASES,
    ),
    "phrases_max_vocab": Param(
        10_000_000,
        type="integer",
        minimum=10_000,
        maximum=1_000_000_000,
        title="Phrase counting memory cap",
        description="Most distinct words and pairs counted while learning phrases; rarer ones are pruned when "
        "it is reached (about 1 GB of memory per 10 million).",
        section=PHRASES,
    ),
}

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
    commit_tokens >> detect_phrases >> train
    ingest >> tokenize >> commit_tokens >> train >> [export, keras_models, neighbour_table, evaluate] >> report
    report >> publish >> promote
