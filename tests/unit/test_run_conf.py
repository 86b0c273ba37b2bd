import pytest

from include.errors import PipelineInputError
from include.steps.run_conf import check_conf_keys


def test_known_keys_pass():
    check_conf_keys({"epochs": 3, "corpus_path": "x"}, ["epochs", "corpus_path", "seed"])


def test_typo_is_refused_with_the_known_keys():
    with pytest.raises(PipelineInputError) as error:
        check_conf_keys({"epoch": 3}, ["epochs", "seed"])
    assert "'epoch'" in str(error.value) and "known keys: epochs, seed" in str(error.value)
