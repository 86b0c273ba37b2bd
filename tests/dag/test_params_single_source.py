"""The Params have one source, ``include/steps/run_params.py``: the DAG's trigger form and the
library's checks (``include/steps/run_conf.py``) are both built from it, so a bound changed there
changes both."""

import runpy

import pytest

from include.errors import PipelineInputError
from include.steps import run_params
from include.steps.run_conf import check_param_values
from tests.conftest import PROJECT_ROOT

DAG_FILE = PROJECT_ROOT / "dags" / "word2vec_embeddings.py"


def _parse_dag():
    """The pipeline DAG as the dag-processor builds it, from the spec as it is now."""
    return runpy.run_path(str(DAG_FILE))["dag"]


def test_every_dag_param_is_its_spec_entry_in_the_specs_order():
    dag = _parse_dag()
    assert dag.dag_id == run_params.DAG_ID
    assert list(dag.params) == list(run_params.PARAMS)
    assert next(iter(dag.params)) == "model", "the trigger form shows the model first"
    for name, entry in run_params.PARAMS.items():
        param = dag.params.get_param(name)
        schema = {key: value for key, value in entry.items() if key not in ("default", "description")}
        assert param.value == entry["default"], name
        assert param.description == entry["description"], name
        assert param.schema == schema, name


def test_a_bound_changed_in_the_spec_changes_the_dag_and_the_library(monkeypatch):
    from airflow.sdk.exceptions import ParamValidationError

    before = _parse_dag().params.get_param("window")
    before.resolve(8)
    check_param_values({"window": 8})

    monkeypatch.setitem(run_params.PARAMS["window"], "maximum", 7)
    after = _parse_dag().params.get_param("window")
    assert after.schema["maximum"] == 7
    with pytest.raises(ParamValidationError, match="maximum of 7"):
        after.resolve(8)
    with pytest.raises(PipelineInputError, match="Param 'window': 8 is greater than the maximum of 7"):
        check_param_values({"window": 8})


def test_a_new_param_in_the_spec_appears_in_the_form(monkeypatch):
    entry = {"default": 3, "type": "integer", "minimum": 1, "title": "Trial", "description": "A Param for this test."}
    monkeypatch.setitem(run_params.PARAMS, "trial", entry)
    param = _parse_dag().params.get_param("trial")
    assert param.value == 3 and param.description == "A Param for this test."
    assert param.schema == {"type": "integer", "minimum": 1, "title": "Trial"}


def test_the_dag_does_not_share_the_specs_mutable_values():
    dag = _parse_dag()
    dag.params.get_param("probe_words").schema["items"]["type"] = "integer"
    assert run_params.PARAMS["probe_words"]["items"] == {"type": "string"}
