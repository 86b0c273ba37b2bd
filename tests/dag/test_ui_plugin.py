"""The UI plugin as every Airflow process loads it: light to import, found by Airflow's plugin
manager, and its "Model report" link on the tasks that know the version."""

import json
import subprocess
import sys

from tests.conftest import PROJECT_ROOT

PLUGINS = PROJECT_ROOT / "plugins"
HEAVY = ("fastapi", "starlette", "numpy", "jinja2", "gensim", "tensorflow", "keras", "pyarrow", "include.serving")

_PROBE = """
import json, sys, time
sys.path[:0] = [{root!r}, {plugins!r}]
import airflow.plugins_manager, airflow.sdk  # what the loader has imported before any plugin
before = set(sys.modules)
started = time.perf_counter()
import word2vec_links, word2vec_ui, word2vec_ui_app
elapsed = time.perf_counter() - started
loaded = set(sys.modules) - before
print(json.dumps({{"seconds": elapsed, "heavy": sorted(m for m in loaded if m.split(".")[0] in {heavy!r}
      or m.startswith("include.serving"))}}))
"""


def test_plugin_modules_import_nothing_heavy():
    """Scheduler, dag-processor and every worker import plugins/: the FastAPI app, numpy and the
    serving library are imported only when the api-server serves the first request."""
    probe = _PROBE.format(root=str(PROJECT_ROOT), plugins=str(PLUGINS), heavy=HEAVY)
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    facts = json.loads(result.stdout.strip().splitlines()[-1])
    assert facts["heavy"] == []
    assert facts["seconds"] < 0.5, facts


def test_airflow_finds_the_plugin_with_its_app_views_and_link():
    from airflow import plugins_manager

    plugin = next(p for p in plugins_manager.get_plugin_info() if p["name"] == "word2vec_ui")
    assert [app["url_prefix"] for app in plugin["fastapi_apps"]] == ["/word2vec"]
    views = {view["destination"]: view for view in plugin["external_views"]}
    assert views["nav"]["href"] == "word2vec/versions" and views["nav"]["category"] == "browse"
    assert "{" not in views["nav"]["href"]
    assert "{RUN_ID}" in views["dag_run"]["href"]
    assert plugin["operator_extra_links"] == ["<word2vec_links.ModelReportLink object>"]


def test_model_report_link_is_on_the_tasks_that_know_the_version():
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(PROJECT_ROOT / "dags")).dags["word2vec_embeddings"]
    with_link = {
        task.task_id for task in dag.tasks if any(link.name == "Model report" for link in task.operator_extra_links)
    }
    assert with_link == {"train_word2vec", "publish", "promote"}
