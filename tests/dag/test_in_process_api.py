"""``make run``'s in-process execution API serves the Task SDK's own API version only
(scripts/run_dag.py ``serve_the_task_sdks_api_version_only``): the routes a task calls still answer,
and the app builds two versions' routers (head and the newest), not every version Airflow has."""

import json
import subprocess
import sys

from tests.conftest import PROJECT_ROOT

PROBE = """
import json, time
from scripts.run_dag import serve_the_task_sdks_api_version_only
from airflow.api_fastapi.execution_api import versions
applied = serve_the_task_sdks_api_version_only() if APPLY else False
from airflow.api_fastapi.execution_api.app import InProcessExecutionAPI
from airflow.sdk.api.datamodels._generated import API_VERSION
import httpx
api = InProcessExecutionAPI()
client = httpx.Client(transport=api.transport, base_url="http://in-process.invalid./")
started = time.process_time()
health = client.get("health", headers={"Airflow-API-Version": API_VERSION})
seconds = time.process_time() - started
routes = {route.path for route in api.app.router.routes}
print(json.dumps({"applied": applied, "status": health.status_code, "versions": len(versions.bundle.versions),
                  "previous_compat": any(path.endswith("/{dag_id}/previous") for path in routes),
                  "previous": any(path.endswith("/dag-runs/previous") for path in routes), "cpu": seconds}))
"""


def _probe(apply: bool) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", f"APPLY = {apply}\n{PROBE}"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_in_process_api_serves_the_newest_version_only_and_answers():
    full, newest = _probe(apply=False), _probe(apply=True)
    assert newest["applied"] and newest["status"] == 200 == full["status"]
    assert full["versions"] > 2 and newest["versions"] == 1
    # the route only older clients call is gone with the older versions; its replacement stays
    assert newest["previous"] and not newest["previous_compat"]
    print(f"first request's CPU: every version {full['cpu']:.2f} s, the newest only {newest['cpu']:.2f} s")
    assert newest["cpu"] < full["cpu"]
