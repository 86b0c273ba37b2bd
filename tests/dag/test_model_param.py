"""The ``model`` Param: a slug, refused otherwise by the trigger form's schema and by the library's
own check (what ``make run`` and a REST trigger with a bad conf meet), each naming the field."""

import pytest

from include.errors import PipelineInputError
from include.registry.names import SLUG_PATTERN
from include.steps.run_conf import check_params
from tests.conftest import PROJECT_ROOT


@pytest.fixture(scope="module")
def dag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(PROJECT_ROOT / "dags")).dags["word2vec_embeddings"]


def test_the_dag_param_and_the_library_hold_the_same_pattern(dag):
    assert dag.params.get_param("model").schema["pattern"] == SLUG_PATTERN
    assert next(iter(dag.params)) == "model", "the trigger form shows the model first"
    assert dag.params["model"] == "default" and dag.params["allow_contract_change"] is False


@pytest.mark.parametrize("name", ["default", "news-en", "pinned_2026q4", "a", "x" * 64])
def test_slugs_pass_both(dag, name):
    dag.params.get_param("model").resolve(name)
    check_params({"model": name})


@pytest.mark.parametrize("name", ["", "Default", "news en", "../x", "-x", "x" * 65, "naïve", "a/b"])
def test_anything_else_is_refused_by_both_naming_the_field(dag, name):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError):
        dag.params.get_param("model").resolve(name)
    with pytest.raises(PipelineInputError, match="Param 'model'"):
        check_params({"model": name})
