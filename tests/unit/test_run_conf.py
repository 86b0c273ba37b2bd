import json
import re
import subprocess
import sys

import pytest

from include.errors import PipelineInputError
from include.steps.run_conf import check_conf_keys, check_param_values, check_params
from include.steps.run_params import PARAMS


def test_known_keys_pass():
    check_conf_keys({"epochs": 3, "corpus_path": "x"}, ["epochs", "corpus_path", "seed"])


def test_typo_is_refused_with_the_known_keys():
    with pytest.raises(PipelineInputError) as error:
        check_conf_keys({"epoch": 3}, ["epochs", "seed"])
    assert "'epoch'" in str(error.value) and "known keys: epochs, seed" in str(error.value)


# --- each value against its Param's schema (include/steps/run_params.py) --------------------


def test_the_defaults_pass_every_check():
    defaults = {name: entry["default"] for name, entry in PARAMS.items()}
    check_param_values(defaults)
    check_params(defaults)


@pytest.mark.parametrize(
    "conf, says",
    [
        ({"epochs": 0}, "Param 'epochs'"),
        ({"epochs": "ten"}, "Param 'epochs'"),
        ({"epochs": 201}, "Param 'epochs': 201 is greater than the maximum of 200"),
        ({"epochs": 2.5}, "Param 'epochs'"),
        ({"vector_size": 100000}, "Param 'vector_size': 100000 is greater than the maximum of 1000"),
        ({"window": 0}, "Param 'window': 0 is less than the minimum of 1"),
        ({"sg": 2}, "Param 'sg': 2 is not one of"),
        ({"sg": True}, "Param 'sg'"),
        ({"probe_words": "king"}, "Param 'probe_words': 'king' is not of type 'array'"),
        ({"probe_words": ["king", 3]}, "Param 'probe_words'"),
        ({"sample": -1}, "Param 'sample'"),
        ({"corpus_path": ""}, "Param 'corpus_path'"),
        ({"allow_contract_change": "yes"}, "Param 'allow_contract_change'"),
        ({"gate_tolerance": 3}, "Param 'gate_tolerance'"),
    ],
)
def test_a_value_breaking_its_schema_is_refused_naming_the_param(conf, says):
    with pytest.raises(PipelineInputError, match=re.escape(says)):
        check_param_values(conf)
    with pytest.raises(PipelineInputError, match=re.escape(says)):
        check_params(conf)


def test_names_that_are_not_params_are_left_to_check_conf_keys():
    check_param_values({"epoch": "anything"})


def test_the_settings_messages_come_first_where_they_say_more():
    with pytest.raises(PipelineInputError, match="phrases=3 must be 0"):
        check_params({"phrases": 3})


# --- the library's own copies of a few bounds agree with the spec ---------------------------


def test_word2vec_params_bounds_and_defaults_agree_with_the_spec():
    from include.artifacts.phrases import PhraseParams
    from include.steps.train_word2vec import MAX_EPOCHS, WORD2VEC_BOUNDS, Word2VecParams

    for name, (_kind, low, high) in WORD2VEC_BOUNDS.items():
        entry = PARAMS[name]
        if "enum" in entry:
            assert [low, high] == [min(entry["enum"]), max(entry["enum"])], name
        elif entry["type"] != "boolean":
            assert (low, high) == (entry["minimum"], entry["maximum"]), name
        assert getattr(Word2VecParams(), name) == entry["default"], name
    assert PARAMS["epochs"]["maximum"] == MAX_EPOCHS
    for name, value in PhraseParams().as_dict().items():
        assert value == PARAMS[name]["default"], name


def test_the_spec_module_is_light_to_import():
    """The DAG file, the UI plugin and scripts/run_dag.py read it at parse time."""
    probe = (
        "import json, sys; import include.steps.run_params; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('airflow', 'gensim', 'tensorflow', 'keras', 'numpy', 'pandas', 'pyarrow', 'jsonschema'))))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
