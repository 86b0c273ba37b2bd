"""The DAG file: imports cleanly, light at parse time, and its Params build a usable trigger form."""

import copy
import itertools
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT

DAG_FILE = PROJECT_ROOT / "dags" / "word2vec_embeddings.py"
BEFORE = ["ingest_text", "tokenize_to_parquet", "commit_tokens", "train_word2vec"]
#: independent of each other: a real executor runs them side by side
PARALLEL = ["export_embeddings", "build_keras_model", "build_neighbour_table", "evaluate_embeddings"]
AFTER = ["write_similarity_report", "publish", "promote", "mirror_to_mlflow"]


@pytest.fixture(scope="module")
def dag_bag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(PROJECT_ROOT / "dags"))


def test_dag_bag_imports_without_errors(dag_bag):
    assert dag_bag.import_errors == {}
    # the pipeline, and the example DAG scheduled on its champion moves
    assert sorted(dag_bag.dags) == ["word2vec_champion_consumer", "word2vec_embeddings"]


def test_every_dag_has_tags_and_retries(dag_bag):
    for dag in dag_bag.dags.values():
        assert dag.tags
        for task in dag.tasks:
            assert task.retries >= 2, task.task_id


def test_steps_are_chained_in_order_and_fan_out_after_training(dag_bag):
    dag = dag_bag.dags["word2vec_embeddings"]
    assert sorted(dag.task_ids) == sorted([*BEFORE, *PARALLEL, *AFTER, "detect_phrases"])
    for upstream, downstream in [*itertools.pairwise(BEFORE), *itertools.pairwise(AFTER)]:
        assert downstream in dag.get_task(upstream).downstream_task_ids
    for task_id in PARALLEL:
        task = dag.get_task(task_id)
        assert "train_word2vec" in task.upstream_task_ids, task_id
        assert not task.upstream_task_ids & set(PARALLEL), f"{task_id} waits for a step it does not need"
        assert task.downstream_task_ids == {"write_similarity_report"}, task_id
    assert type(dag.get_task("train_word2vec")).__module__ == "word2vec_operators"
    # the MLflow mirror runs after promote whatever the gate decided (promote skips on a rejection)
    assert dag.get_task("mirror_to_mlflow").trigger_rule == "none_failed"
    assert type(dag.get_task("mirror_to_mlflow")).__module__ == "word2vec_mlflow"


def test_tokenize_fans_out_and_training_is_serialized(dag_bag):
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    dag = dag_bag.dags["word2vec_embeddings"]
    assert isinstance(dag.get_task("tokenize_to_parquet"), MappedOperator)
    assert dag.get_task("train_word2vec").pool == "word2vec_training"


def test_schedule_covers_whole_days_without_catchup(dag_bag):
    from airflow.sdk import CronDataIntervalTimetable

    dag = dag_bag.dags["word2vec_embeddings"]
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert dag.catchup is False


def test_tokens_and_promoted_model_are_assets(dag_bag):
    dag = dag_bag.dags["word2vec_embeddings"]
    assert [a.name for a in dag.get_task("commit_tokens").outlets] == ["word2vec_tokens"]
    # promote emits through an alias that resolves at run time to Asset word2vec_model.<model>
    promote_outlets = dag.get_task("promote").outlets
    assert [(type(a).__name__, a.name) for a in promote_outlets] == [("AssetAlias", "word2vec_champion")]


def test_schedule_is_configurable_without_editing_code(tmp_path):
    probe = (
        f"import runpy, json; ns = runpy.run_path({str(DAG_FILE)!r}); t = ns['dag'].timetable; "
        "print(json.dumps([type(t).__name__, getattr(t, 'expression', None)]))"
    )
    for value, expected in (
        ("0 6 * * 1", ["CronDataIntervalTimetable", "0 6 * * 1"]),
        ("none", ["NullTimetable", None]),
    ):
        env = {**os.environ, "AIRFLOW__WORD2VEC__SCHEDULE": value}
        result = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120, check=True
        )
        assert json.loads(result.stdout.strip().splitlines()[-1]) == expected


def test_params_have_titles_descriptions_types_and_bounds(dag_bag):
    params = dag_bag.dags["word2vec_embeddings"].params
    numeric = {
        "vector_size",
        "window",
        "min_count",
        "negative",
        "sample",
        "epochs",
        "workers",
        "seed",
        "top_k",
        "history_days",
        "gate_tolerance",
        "tokenize_shards",
    }
    for name in params:
        param = params.get_param(name)
        schema = param.schema
        assert schema.get("title") and param.description, name
        assert schema.get("type"), name
        if name in numeric:
            assert "minimum" in schema and "maximum" in schema, name
    assert params["corpus_path"] == "bundled:lee"
    assert params.get_param("workers").schema["maximum"] == 32
    assert params.get_param("sg").schema["enum"] == [0, 1]


@pytest.mark.parametrize(
    "conf, name",
    [
        ({"epochs": 0}, "epochs"),
        ({"epochs": "ten"}, "epochs"),
        ({"epochs": "30"}, "epochs"),
        ({"epochs": 201}, "epochs"),
        ({"epochs": 2.5}, "epochs"),
        ({"vector_size": 100000}, "vector_size"),
        ({"sg": 2}, "sg"),
        ({"probe_words": "king"}, "probe_words"),
        ({"sample": -1}, "sample"),
    ],
)
def test_params_refuse_out_of_range_and_wrong_type(dag_bag, conf, name):
    from airflow.sdk.exceptions import ParamValidationError

    merged = copy.deepcopy(dag_bag.dags["word2vec_embeddings"].params)
    with pytest.raises(ParamValidationError, match=name):
        for key, value in conf.items():
            merged[key] = value
        merged.validate()


_IMPORT_PROBE = """
import json, sys, time
import airflow.sdk, airflow.sdk.bases.operator  # what any DAG file pays anyway
start = time.perf_counter()
import runpy
runpy.run_path({path!r})
elapsed = time.perf_counter() - start
print(json.dumps({{"seconds": elapsed, "heavy": sorted(m for m in ("gensim", "tensorflow", "keras", "pyarrow",
      "matplotlib", "scipy", "mlflow") if m in sys.modules)}}))
"""


def test_importing_the_dag_file_is_light():
    """The dag-processor re-parses the file often: no heavy imports, well under a second."""
    probe = _IMPORT_PROBE.format(path=str(DAG_FILE))
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    facts = json.loads(result.stdout.strip().splitlines()[-1])
    assert facts["heavy"] == []
    assert facts["seconds"] < 0.5, facts


def test_epochs_takes_a_number_or_auto_in_one_trigger_form_field(dag_bag):
    params = dag_bag.dags["word2vec_embeddings"].params
    schema = params.get_param("epochs").schema
    assert params["epochs"] == "auto"
    # Airflow 3.3's trigger form renders a type list with more than one non-null type, and no enum or
    # examples, as one free-form field that reads 30 as a number and auto as text
    assert [t for t in schema["type"] if t != "null"] == ["integer", "string"]
    assert "enum" not in schema and "examples" not in schema
    for value in ("auto", 1, 30, 200):
        merged = copy.deepcopy(params)
        merged["epochs"] = value
        assert merged.validate()["epochs"] == value


NEW_WORD2VEC_PARAMS = {
    "alpha": 0.025,
    "min_alpha": 0.0001,
    "hs": 0,
    "ns_exponent": 0.75,
    "cbow_mean": 1,
    "shrink_windows": True,
    "max_final_vocab": 0,
}
PHRASE_PARAMS = {
    "phrases": 0,
    "phrases_min_count": 5,
    "phrases_threshold": 10.0,
    "phrases_scoring": "default",
    "phrases_max_vocab": 10_000_000,
}


def test_new_params_default_to_gensims_values_with_bounds_and_reach_their_tasks(dag_bag):
    dag = dag_bag.dags["word2vec_embeddings"]
    for name, default in {**NEW_WORD2VEC_PARAMS, **PHRASE_PARAMS}.items():
        param = dag.params.get_param(name)
        assert param.value == default, name
        schema = param.schema
        assert schema.get("title") and param.description and schema.get("type") and schema.get("section"), name
        assert "enum" in schema or schema["type"] == "boolean" or ("minimum" in schema and "maximum" in schema), name
    assert dag.params.get_param("negative").schema["minimum"] == 0  # with hs: 1
    train = dag.get_task("train_word2vec")
    assert set(NEW_WORD2VEC_PARAMS) <= set(train.hyperparameters)
    assert set(train.phrase_settings) == set(PHRASE_PARAMS) == set(dag.get_task("detect_phrases").phrase_settings)


def test_detect_phrases_runs_between_commit_and_training_which_runs_when_it_is_skipped(dag_bag):
    dag = dag_bag.dags["word2vec_embeddings"]
    assert "detect_phrases" in dag.get_task("commit_tokens").downstream_task_ids
    assert "train_word2vec" in dag.get_task("detect_phrases").downstream_task_ids
    assert dag.get_task("train_word2vec").trigger_rule == "none_failed"


@pytest.mark.parametrize(
    "conf, name",
    [
        ({"hs": 2}, "hs"),
        ({"negative": -1}, "negative"),
        ({"alpha": 0}, "alpha"),
        ({"ns_exponent": 3}, "ns_exponent"),
        ({"cbow_mean": 2}, "cbow_mean"),
        ({"shrink_windows": "yes"}, "shrink_windows"),
        ({"max_final_vocab": -1}, "max_final_vocab"),
        ({"phrases": 3}, "phrases"),
        ({"phrases_scoring": "pmi"}, "phrases_scoring"),
        ({"phrases_min_count": 0}, "phrases_min_count"),
    ],
)
def test_new_params_refuse_out_of_range_and_wrong_type(dag_bag, conf, name):
    from airflow.sdk.exceptions import ParamValidationError

    merged = copy.deepcopy(dag_bag.dags["word2vec_embeddings"].params)
    with pytest.raises(ParamValidationError, match=name):
        for key, value in conf.items():
            merged[key] = value
        merged.validate()
