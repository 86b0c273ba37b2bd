"""The ``mirror_to_mlflow`` step: the run's model mirrored to MLflow, when ``MLFLOW_TRACKING_URI``
is set (:mod:`include.mlflow_mirror`); nothing (a skip) when it is not.

Runs after ``promote`` whatever the gate decided (a rejected version is mirrored too). It mirrors
the whole model, not only this run's version: a version or an alias move an earlier mirror missed
while MLflow was down is added now. It never fails the run: MLflow down or slow, or the data root
unreadable here, is a warning in the task's log and :attr:`MirrorFacts.error`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TypedDict

from include.mlflow_mirror.records import RunFacts
from include.mlflow_mirror.settings import tracking_uri
from include.mlflow_mirror.sync import MirrorResult, mirror_model
from include.registry.registry import ModelRegistry
from include.storage.layout import data_store

log = logging.getLogger(__name__)


class MirrorFacts(TypedDict):
    model: str
    tracking_uri: str
    added: list[str]  #: versions this mirror logged and registered
    runs: dict[str, str]  #: version -> MLflow run id, every version of the model in MLflow
    registered: dict[str, str]  #: version -> registered model version number
    aliases: dict[str, str]  #: alias -> version, as MLflow's registry now has them
    error: str | None  #: why the mirror stopped early (MLflow down, slow, refusing), else None
    seconds: float


@dataclass(frozen=True)
class NotConfigured:
    reason: str


def mirror_to_mlflow(model: str, *, run: RunFacts) -> MirrorFacts | NotConfigured:
    """The whole ``mirror_to_mlflow`` task for ``model``, from the Airflow run ``run`` (its DAG, run id
    and each finished task's seconds)."""
    uri = tracking_uri()
    if uri is None:
        return NotConfigured("MLFLOW_TRACKING_URI is not set: nothing is mirrored to MLflow")
    store = data_store()
    registry = ModelRegistry(store)
    try:
        manifests, aliases = registry.manifests(model), registry.aliases(model)
    except Exception as error:  # the run's own steps read the same root: they would have failed first
        log.warning("MLflow mirror of model %r skipped: the data root could not be read (%s)", model, error)
        result = MirrorResult(model=model, tracking_uri=uri, error=str(error))
    else:
        result = mirror_model(store, model, manifests, aliases, run=run, uri=uri)
    return MirrorFacts(
        model=model,
        tracking_uri=uri,
        added=result.added,
        runs=result.runs,
        registered=result.registered,
        aliases=result.aliases,
        error=result.error,
        seconds=result.seconds,
    )
