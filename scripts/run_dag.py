"""Run the word2vec_embeddings DAG once, end to end, in this process (what ``make run`` and
``scripts/run`` do; ``scripts/run`` passes its exit code on, make turns every failure into 2).

Usage: run_dag.py [--conf JSON]. Prints the outcome, the model version and its report. Exit codes:
0 promoted (or nothing new: an identical version exists), 1 failed (each failed task's error is
printed), 2 conf not valid JSON or breaking a Param's schema, 3 published but rejected by the
quality gate (the model's champion unchanged). Needs AIRFLOW_HOME set up (``airflow db migrate``) and the project
root on PYTHONPATH, as the Makefile does.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXIT_FAILED, EXIT_BAD_CONF, EXIT_REJECTED = 1, 2, 3


class BadConf(ValueError):
    """CONF is not a JSON object (exit code 2)."""


def parse_conf(text: str) -> dict:
    """The run conf from ``text`` (a JSON object; empty = ``{}``). Raises :class:`BadConf` saying why not."""
    try:
        conf = json.loads(text or "{}")
    except json.JSONDecodeError as error:
        raise BadConf(f"CONF is not valid JSON ({error}): {text!r}") from error
    if not isinstance(conf, dict):
        raise BadConf(f"CONF must be a JSON object such as '{{\"epochs\": 10}}', got {text!r}")
    return conf


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conf", default="{}", help="DAG run configuration as a JSON object")
    args = parser.parse_args(argv)
    try:
        conf = parse_conf(args.conf)
    except BadConf as error:
        print(error, file=sys.stderr)
        return EXIT_BAD_CONF

    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk.exceptions import ParamValidationError
    from airflow.utils.state import DagRunState

    from include.steps.run_params import DAG_ID
    from include.storage.layout import data_store, version_key
    from include.storage.run_records import read_run_record

    serve_the_task_sdks_api_version_only()
    project_root = Path(__file__).resolve().parent.parent
    bag = DagBag(dag_folder=str(project_root / "dags"))
    if bag.import_errors or DAG_ID not in bag.dags:
        print(f"cannot load DAG {DAG_ID}: {bag.import_errors}", file=sys.stderr)
        return EXIT_FAILED
    try:
        # no logical date: like a UI trigger, the run reads the corpus as a snapshot
        dag_run = bag.dags[DAG_ID].test(run_conf=conf, logical_date=None)
    except ParamValidationError as error:
        print(f"\nInvalid DAG run conf: {error}", file=sys.stderr)
        return EXIT_BAD_CONF
    finally:
        stop_listeners()

    try:
        record = read_run_record(dag_run.run_id) or {}
    except OSError as error:  # the data root is unreachable and nothing was recorded in this process
        record = {"failures": [{"task_id": "?", "error": str(error)}]}
    outcome = record.get("outcome")
    if dag_run.state != DagRunState.SUCCESS or outcome in (None, "failed"):
        print(f"\nRun {dag_run.run_id} ended {dag_run.state}.", file=sys.stderr)
        for failure in record.get("failures", []) or [{"task_id": "?", "error": "see the log above"}]:
            print(f"FAILED {failure['task_id']}: {failure['error']}", file=sys.stderr)
        return EXIT_FAILED
    version_dir = data_store().key_url(version_key(record["version"]))
    model = dag_run.conf.get("model", "default") if dag_run.conf else "default"
    print(f"\nRun {dag_run.run_id} succeeded: {outcome}.")
    print(f"Model:         {model}" + (f" (champion: {record['version']})" if outcome == "promoted" else ""))
    print(f"Model version: {version_dir}")
    print(f"Report:        {version_dir}/report/report.html")
    if record.get("reason"):
        print(f"Reason:        {record['reason']}")
    if outcome == "rejected":
        print(
            f"The quality gate rejected this version; {model}@champion is unchanged (exit {EXIT_REJECTED}). "
            f"To make it the champion anyway: python -m include.cli --model {model} promote {record['version']} "
            "--alias champion --reason '...'",
            file=sys.stderr,
        )
        return EXIT_REJECTED
    return 0


def serve_the_task_sdks_api_version_only() -> bool:
    """Let ``dag.test()``'s in-process execution API serve only the newest API version, the one its
    single client speaks (the Task SDK of this same install). Its Cadwyn app otherwise builds the
    routes and schemas of every version Airflow's execution API supports (ten in 3.3) on its first
    request: about 3.5 s of CPU in every ``make run`` (measured with py-spy), before the first task
    does any work. A real api-server, whose workers may be older, is not touched. Routes that exist
    only in older versions are dropped with them; the newest version has none of them either.
    Returns whether it applied: where Airflow's layout is not the one this was written for, nothing
    is changed."""
    try:
        from airflow.api_fastapi.execution_api import routes, versions
        from airflow.sdk.api.datamodels._generated import API_VERSION
        from cadwyn import HeadVersion, Version, VersionBundle
        from cadwyn.route_generation import _DELETED_ROUTE_TAG
    except ImportError:
        return False
    bundle, router = getattr(versions, "bundle", None), getattr(routes, "execution_api_router", None)
    if not (isinstance(bundle, VersionBundle) and bundle.versions and bundle.versions[0].value == API_VERSION):
        return False
    if router is None or not isinstance(getattr(router, "routes", None), list):
        return False
    router.routes[:] = [route for route in router.routes if _DELETED_ROUTE_TAG not in getattr(route, "tags", ())]
    versions.bundle = VersionBundle(HeadVersion(), Version(API_VERSION))
    return True


class MakeRun:
    """The component that stops, for Airflow's listeners: this process, once its run is over."""


def stop_listeners() -> None:
    """Tell Airflow's listeners that this process stops, as a scheduler or a task runner does when it
    ends (``before_stopping``). The OpenLineage provider sends a DAG run's events from a process pool
    of its own and shuts it down in that hook; ``dag.test()`` sends the run's success after its last
    task's hook, so the pool's idle worker was left waiting for work and Python's exit joined it:
    ``make run`` never exited. Stopping lets the pool send what it holds (within the provider's 30 s)
    and end. Without a listener (no OpenLineage transport configured), this does nothing."""
    from airflow.listeners.listener import get_listener_manager

    try:
        get_listener_manager().hook.before_stopping(component=MakeRun())
    except Exception as error:  # a listener's failure must not change the run's outcome
        print(f"a listener failed to stop: {error}", file=sys.stderr)


def exit_now(code: int) -> None:
    """Leave with ``code`` once the exit handlers have run and the output is flushed, skipping the
    interpreter's teardown: after a run it frees TensorFlow's and Airflow's objects one at a time,
    about 2.5 s here, where the operating system frees the whole process at once."""
    import atexit
    import os

    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
