"""Every operator of plugins/word2vec_operators.py reports its lineage to OpenLineage: its ``step``
has a function in include/lineage/steps.py, and the provider's ``OperatorLineage`` comes back from
what the step returned."""

import inspect

from airflow.providers.openlineage.extractors import OperatorLineage
from airflow.sdk import DAG

import word2vec_operators as ops
from include.lineage.steps import STEPS


def _operator_classes():
    return [
        cls
        for _, cls in inspect.getmembers(ops, inspect.isclass)
        if issubclass(cls, ops.PipelineStepOperator) and cls is not ops.PipelineStepOperator
    ]


def test_every_operator_names_a_step_with_lineage_and_every_step_has_an_operator():
    steps = {cls.__name__: cls.step for cls in _operator_classes()}
    assert len(steps) == 12 and set(steps.values()) == set(STEPS), steps
    for cls in _operator_classes():
        assert "get_openlineage_facets_on_complete" in dir(cls), cls


def test_the_operator_answers_from_its_arguments_and_its_result(data_root, monkeypatch):
    monkeypatch.setenv("EMBEDDINGS_LINEAGE_FILE_HOST", "here")
    with DAG("lineage_test", schedule=None):
        operator = ops.ExportEmbeddingsOperator(task_id="export_embeddings", version_dir=f"{data_root}/models/v1")
    failed = operator.get_openlineage_facets_on_failure(None)
    assert isinstance(failed, OperatorLineage)
    assert [(d.namespace, d.name) for d in failed.inputs] == [("file://here", f"{data_root}/models/v1")]
    assert failed.outputs == []
    operator.step_result = {
        "word2vec_text": f"{data_root}/models/v1/exports/vectors.txt",
        "word2vec_binary": f"{data_root}/models/v1/exports/vectors.bin",
        "projector_vectors": f"{data_root}/models/v1/exports/vectors.tsv",
        "projector_metadata": f"{data_root}/models/v1/exports/metadata.tsv",
        "vocab_size": 3,
        "vector_size": 2,
    }
    done = operator.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in done.outputs] == [("file://here", f"{data_root}/models/v1/exports")]


_OFF_PROBE = """
import json, os, sys, time
sys.path[:0] = [{root!r}, {plugins!r}]
import airflow.sdk
before = set(sys.modules)
started = time.perf_counter()
import word2vec_operators
from airflow.providers.openlineage.plugins.openlineage import OpenLineageProviderPlugin
from airflow.listeners.listener import get_listener_manager
elapsed = time.perf_counter() - started
loaded = set(sys.modules) - before
print(json.dumps({{
    "seconds": elapsed,
    "listeners": len(OpenLineageProviderPlugin.listeners),
    "manager_has_listeners": get_listener_manager().has_listeners,
    "heavy": sorted(m for m in loaded if m.startswith(("openlineage", "include.lineage"))),
}}))
"""


def test_installed_but_not_configured_the_provider_listens_to_nothing_and_loads_nothing():
    """Without a transport (the default), the provider registers no listener, so no operator is asked
    for lineage and no event is built; importing the operators and the provider's plugin loads neither
    the OpenLineage client nor include.lineage."""
    import json
    import os
    import subprocess
    import sys

    from tests.conftest import PROJECT_ROOT

    env = {k: v for k, v in os.environ.items() if "OPENLINEAGE" not in k}
    probe = _OFF_PROBE.format(root=str(PROJECT_ROOT), plugins=str(PROJECT_ROOT / "plugins"))
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    assert facts["listeners"] == 0 and not facts["manager_has_listeners"], facts
    assert facts["heavy"] == [], facts
