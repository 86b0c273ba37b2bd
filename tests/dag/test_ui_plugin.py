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


def test_model_report_link_follows_the_run_record_and_the_base_url(tmp_path, monkeypatch):
    """What the task runner stores when a task ends: the report of the run's version under
    ``[api] base_url`` (a proxy path included), or an empty link when nothing was published."""
    from types import SimpleNamespace

    from tests.unit.test_catalog import NEW, OLD, make_version

    sys.path.insert(0, str(PLUGINS))
    from word2vec_links import ModelReportLink, app_prefix

    from include.storage.run_records import update_run_record

    monkeypatch.setenv("EMBEDDINGS_DATA_DIR", str(tmp_path))
    make_version(tmp_path / "models", OLD)
    make_version(tmp_path / "models", NEW, decision="rejected")
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://example.org/airflow/")
    link = ModelReportLink()

    def url(run_id: str, version: str | None = None) -> str:
        return link.get_link(SimpleNamespace(version=version), ti_key=SimpleNamespace(run_id=run_id))

    update_run_record("rejected-run", outcome="rejected", version=NEW)
    update_run_record("unchanged-run", outcome="unchanged", version=OLD)
    update_run_record("failed-run", outcome="failed")
    assert url("rejected-run", NEW) == f"https://example.org/airflow/word2vec/versions/{NEW}/report"
    assert url("unchanged-run") == f"https://example.org/airflow/word2vec/versions/{OLD}/report"
    assert url("publishing-run", OLD) == f"https://example.org/airflow/word2vec/versions/{OLD}/report"
    assert url("failed-run") == ""
    assert url("training-run", "20261105T000000Z-eeeeeeee") == ""  # staged, never published
    assert app_prefix() == "/airflow/word2vec"
    monkeypatch.delenv("AIRFLOW__API__BASE_URL")
    assert url("unchanged-run") == f"/word2vec/versions/{OLD}/report"
