"""Run the word2vec_embeddings DAG once, end to end, in this process (what ``make run`` does).

Usage: run_dag.py [--conf JSON]. Prints the published version and its report on success; on
failure prints each failed task's error and exits 1 (2 for a conf that is not valid JSON or
breaks a Param's schema). Needs AIRFLOW_HOME set up (``airflow db migrate``) and the project
root on PYTHONPATH, as the Makefile does.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DAG_ID = "word2vec_embeddings"


def parse_conf(text: str) -> dict:
    try:
        conf = json.loads(text or "{}")
    except json.JSONDecodeError as error:
        raise SystemExit(f"CONF is not valid JSON ({error}): {text!r}") from error
    if not isinstance(conf, dict):
        raise SystemExit(f"CONF must be a JSON object such as '{{\"epochs\": 10}}', got {text!r}")
    return conf


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conf", default="{}", help="DAG run configuration as a JSON object")
    args = parser.parse_args(argv)
    conf = parse_conf(args.conf)

    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk.exceptions import ParamValidationError
    from airflow.utils.state import DagRunState, TaskInstanceState

    from include.paths import models_dir, staging_dir
    from include.publish import MANIFEST_FILE, read_latest

    project_root = Path(__file__).resolve().parent.parent
    bag = DagBag(dag_folder=str(project_root / "dags"))
    if bag.import_errors or DAG_ID not in bag.dags:
        print(f"cannot load DAG {DAG_ID}: {bag.import_errors}", file=sys.stderr)
        return 1
    try:
        dag_run = bag.dags[DAG_ID].test(run_conf=conf)
    except ParamValidationError as error:
        print(f"\nInvalid DAG run conf: {error}", file=sys.stderr)
        return 2

    if dag_run.state == DagRunState.SUCCESS:
        version = read_latest(models_dir())
        manifest = json.loads((models_dir() / version / MANIFEST_FILE).read_text(encoding="utf-8"))
        if manifest.get("run_id") != dag_run.run_id:
            print(f"run {dag_run.run_id} succeeded but models/LATEST names {version}", file=sys.stderr)
            return 1
        print(f"\nRun {dag_run.run_id} succeeded.")
        print(f"Model version: {models_dir() / version}")
        print(f"Report:        {models_dir() / version / 'report' / 'report.html'}")
        return 0

    print(f"\nRun {dag_run.run_id} ended {dag_run.state}.", file=sys.stderr)
    failures = staging_dir(dag_run.run_id) / "failures"
    failed = [ti for ti in dag_run.get_task_instances() if ti.state == TaskInstanceState.FAILED]
    for ti in failed:
        record = failures / f"{ti.task_id}.json"
        error = json.loads(record.read_text(encoding="utf-8"))["error"] if record.exists() else "see the log above"
        print(f"FAILED {ti.task_id}: {error}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
