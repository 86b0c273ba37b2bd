"""The ``mirror_to_mlflow`` task's operator: the run's model mirrored to MLflow when
``MLFLOW_TRACKING_URI`` is set (:mod:`include.steps.mirror_to_mlflow`, :mod:`include.mlflow_mirror`).

Light to import (the dag-processor and every worker load it): ``mlflow`` and the library are
imported in ``execute`` only. The task never fails the run: without a tracking URI it is skipped at
once; with MLflow down or slow it ends with a warning in its log (its XCom ``error`` says why), and
the next run mirrors what this one could not.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, cast

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowSkipException

from word2vec_operators import Templated, configure_storage_from_connection

log = logging.getLogger(__name__)


def step_seconds(context: Any) -> dict[str, float]:
    """Each finished task of this run and its seconds (a mapped task's instances added up), from
    Airflow's record of the run; ``{}`` when Airflow cannot say."""
    ti = context["ti"]
    try:
        crumbs = list(ti.get_task_breadcrumbs(ti.dag_id, context["run_id"]))
    except Exception as error:  # an executor or Airflow version without it: the metrics go without
        log.info("no task durations for the MLflow run (%s)", error)
        return {}
    seconds: dict[str, float] = {}
    for crumb in crumbs:
        duration = crumb.get("duration")
        if duration is not None:
            seconds[crumb["task_id"]] = round(seconds.get(crumb["task_id"], 0.0) + float(duration), 3)
    return seconds


class MirrorToMlflowOperator(BaseOperator):
    """Mirror the run's model to MLflow: one run per version (params, metrics, tags, the report and
    manifest), the registered model's versions, and its aliases where the data root's point.

    :param model: the model whose versions and aliases are mirrored (templated)
    """

    template_fields: Sequence[str] = ("model",)
    ui_color = "#f3e8fd"

    def __init__(self, *, model: Templated[str] = "default", **kwargs) -> None:
        super().__init__(**kwargs)
        self.model = cast(str, model)

    def execute(self, context: Any) -> dict[str, Any]:
        from include.mlflow_mirror.settings import tracking_uri

        if tracking_uri() is None:
            raise AirflowSkipException("MLFLOW_TRACKING_URI is not set: nothing is mirrored to MLflow")
        from include.mlflow_mirror.records import RunFacts
        from include.steps.mirror_to_mlflow import NotConfigured, mirror_to_mlflow

        configure_storage_from_connection()
        run = RunFacts(dag_id=self.dag_id, run_id=context["run_id"], step_seconds=step_seconds(context))
        result = mirror_to_mlflow(self.model, run=run)
        if isinstance(result, NotConfigured):
            raise AirflowSkipException(result.reason)
        if result["error"]:
            log.warning("mirror_to_mlflow: MLflow was not brought up to date: %s", result["error"])
        return dict(result)
