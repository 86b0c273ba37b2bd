"""Bring a model's MLflow side in line with the data root: one run per version, one registered
model version per run, the registry's aliases where the data root's point.

The registered version is an **artifact reference**, not a copy of the vectors: its source is the
run's ``version/`` artifacts (``runs:/<run id>/version``: ``manifest.json``, ``report/report.json``,
``report/report.html`` and ``location.json``, which names where the version's files are and how to
load them with :class:`include.serving.model_store.ModelStore`). The data root keeps the files.

Every mirror compares the two sides first, so a version or alias move that an earlier mirror missed
(MLflow was down) is added by the next one. An error stops the mirror with a warning in the log and
is returned, never raised: the pipeline's run and the data root never depend on MLflow.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from include.mlflow_mirror.records import RunFacts, VersionRecord, version_record
from include.mlflow_mirror.settings import bound_http_requests, deadline_seconds, tracking_uri
from include.storage.layout import MANIFEST_FILE, version_key

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from include.storage.store import Store

log = logging.getLogger(__name__)

#: the artifact folder of a version's run, and what the registered version's source points at
ARTIFACT_DIR = "version"
#: files of a version copied into its run, relative to the version's folder
COPIED_FILES = (MANIFEST_FILE, "report/report.json", "report/report.html")
#: MLflow's log_batch limits: params and metrics per call
PARAMS_PER_BATCH = 100
METRICS_PER_BATCH = 1000


@dataclass
class MirrorResult:
    """What a mirror did. ``error``: why it stopped early (logged as a warning); ``skipped``: why it
    did nothing (no tracking URI)."""

    model: str
    tracking_uri: str | None
    runs: dict[str, str] = field(default_factory=dict)  #: version -> MLflow run id, every mirrored one
    registered: dict[str, str] = field(default_factory=dict)  #: version -> registered model version number
    added: list[str] = field(default_factory=list)  #: versions this mirror added
    aliases: dict[str, str] = field(default_factory=dict)  #: alias -> version, as MLflow now has them
    error: str | None = None
    skipped: str | None = None
    seconds: float = 0.0


class DeadlinePassed(TimeoutError):
    """The mirror ran out of its time (``EMBEDDINGS_MLFLOW_DEADLINE_SECONDS``)."""


class _Clock:
    def __init__(self, seconds: float) -> None:
        self.started = time.monotonic()
        self.seconds = seconds

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def check(self, doing: str) -> None:
        if self.elapsed() > self.seconds:
            raise DeadlinePassed(f"deadline of {self.seconds:g} s passed before {doing}")


def probe(uri: str, timeout: float) -> None:
    """Raise ``OSError`` when an ``http(s)`` tracking server does not answer ``/health`` within
    ``timeout`` seconds (one try: a server that is down costs one refused connection, not MLflow's
    retries). Other URIs (a local folder, ``databricks``) are not probed."""
    if not uri.startswith(("http://", "https://")):
        return
    with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout) as answer:
        answer.read()


def mirror_model(
    store: Store,
    model: str,
    manifests: list[dict],
    aliases: dict[str, str],
    *,
    run: RunFacts | None = None,
    uri: str | None = None,
) -> MirrorResult:
    """Mirror ``model`` (its published ``manifests``, oldest first, and ``aliases``: alias -> version,
    both as :class:`include.registry.registry.ModelRegistry` gives them) to the MLflow at ``uri``
    (default ``MLFLOW_TRACKING_URI``; nothing is done without one). ``run``: the Airflow run mirroring,
    whose own version gets its task seconds. Never raises for MLflow's sake: an error is logged as a
    warning and returned in :attr:`MirrorResult.error`."""
    uri = uri or tracking_uri()
    result = MirrorResult(model=model, tracking_uri=uri)
    if uri is None:
        result.skipped = "MLFLOW_TRACKING_URI is not set"
        return result
    bound_http_requests()
    clock = _Clock(deadline_seconds())
    try:
        probe(uri, timeout=min(5.0, clock.seconds))
        client = _client(uri)
        _mirror(client, store, model, manifests, aliases, run, clock, result)
    except Exception as error:  # MLflow down, slow, refusing: the run goes on
        result.error = f"{type(error).__name__}: {error}"
        log.warning(
            "MLflow mirror of model %r at %s stopped after %.1f s (%s). The data root is unchanged and "
            "remains the source of truth; the next mirror adds what is missing.",
            model,
            uri,
            clock.elapsed(),
            result.error,
        )
    result.seconds = round(clock.elapsed(), 3)
    return result


def _client(uri: str) -> MlflowClient:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _mirror(
    client: MlflowClient,
    store: Store,
    model: str,
    manifests: list[dict],
    aliases: dict[str, str],
    run: RunFacts | None,
    clock: _Clock,
    result: MirrorResult,
) -> None:
    experiment_id = _experiment(client, model)
    result.runs = _finished_runs(client, experiment_id)
    for manifest in manifests:
        version = manifest["version"]
        if version not in result.runs:
            clock.check(f"logging version {version}")
            record = version_record(manifest, _read_json(store, f"{version_key(version)}/report/report.json"), run)
            result.runs[version] = _log_run(client, experiment_id, record, store)
            result.added.append(version)
            log.info("MLflow: version %s of %r logged as run %s", version, model, result.runs[version])
    clock.check("registering versions")
    result.registered = _registered_versions(client, model)
    for manifest in manifests:
        version = manifest["version"]
        if version not in result.registered and version in result.runs:
            clock.check(f"registering version {version}")
            result.registered[version] = _register(client, model, manifest, result.runs[version])
            log.info("MLflow: %s version %s registered as %s", model, version, result.registered[version])
    clock.check("moving aliases")
    result.aliases = _mirror_aliases(client, model, aliases, result.registered)


def _experiment(client: MlflowClient, model: str) -> str:
    """The id of the experiment named ``model``, created (or restored from MLflow's trash) when needed."""
    experiment = client.get_experiment_by_name(model)
    if experiment is None:
        # experimentKind: MLflow's UI shows it as model training (not a GenAI evaluation)
        tags = {"word2vec.model": model, "mlflow.experimentKind": "custom_model_development"}
        return client.create_experiment(model, tags=tags)
    if experiment.lifecycle_stage == "deleted":
        client.restore_experiment(experiment.experiment_id)
    return experiment.experiment_id


def _finished_runs(client: MlflowClient, experiment_id: str) -> dict[str, str]:
    """version -> run id of the experiment's finished runs; a run an interrupted mirror left
    unfinished is deleted, to be logged again whole."""
    from mlflow.entities import RunStatus

    found: dict[str, str] = {}
    page_token = None
    while True:
        page = client.search_runs([experiment_id], max_results=1000, page_token=page_token)
        for mlflow_run in page:
            version = mlflow_run.data.tags.get("version")
            if not version:
                continue
            if mlflow_run.info.status == RunStatus.to_string(RunStatus.FINISHED):
                found.setdefault(version, mlflow_run.info.run_id)
            else:
                client.delete_run(mlflow_run.info.run_id)
        page_token = page.token
        if not page_token:
            return found


def _log_run(client: MlflowClient, experiment_id: str, record: VersionRecord, store: Store) -> str:
    """One finished run holding ``record`` and the version's files under ``version/``; its id."""
    from mlflow.entities import Metric, Param, RunStatus

    mlflow_run = client.create_run(experiment_id, run_name=record.version, tags=record.tags)
    run_id = mlflow_run.info.run_id
    now = int(time.time() * 1000)
    params = [Param(name, value) for name, value in record.params.items()]
    metrics = [Metric(name, value, now, 0) for name, value in record.metrics.items()]
    for start in range(0, len(params), PARAMS_PER_BATCH):
        client.log_batch(run_id, params=params[start : start + PARAMS_PER_BATCH])
    for start in range(0, len(metrics), METRICS_PER_BATCH):
        client.log_batch(run_id, metrics=metrics[start : start + METRICS_PER_BATCH])
    with tempfile.TemporaryDirectory(prefix="mlflow-mirror-") as folder:
        _write_version_files(Path(folder), store, record)
        client.log_artifacts(run_id, folder, ARTIFACT_DIR)
    client.set_terminated(run_id, RunStatus.to_string(RunStatus.FINISHED))
    return run_id


def _write_version_files(folder: Path, store: Store, record: VersionRecord) -> None:
    """The version's manifest and report as the data root holds them, and ``location.json``."""
    for name in COPIED_FILES:
        try:
            data = store.read_bytes(f"{version_key(record.version)}/{name}")
        except FileNotFoundError:
            continue
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    location = {
        "model": record.model,
        "version": record.version,
        "path": record.tags.get("path"),
        "load": f"ModelStore(model={record.model!r}, version={record.version!r}).load()",
        "note": "the version's files stay in the pipeline's data root (the source of truth); this run mirrors it",
    }
    (folder / "location.json").write_text(json.dumps(location, indent=2) + "\n", encoding="utf-8")


def _registered_versions(client: MlflowClient, model: str) -> dict[str, str]:
    """version -> registered version number of ``model`` (the registered model created when new)."""
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(model)
    except MlflowException as error:
        if error.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        client.create_registered_model(
            model, description=f"word2vec model {model!r}, mirrored from the pipeline's data root"
        )
        return {}
    found: dict[str, str] = {}
    for model_version in client.search_model_versions(f"name = '{model}'"):
        version = model_version.tags.get("version")
        if version:
            found.setdefault(version, str(model_version.version))
    return found


def _register(client: MlflowClient, model: str, manifest: dict, run_id: str) -> str:
    gate = manifest.get("gate") or {}
    tags = {
        "version": manifest["version"],
        "gate_decision": str(gate.get("decision", "")),
        "data_time": str(manifest.get("data_time", "")),
        "path": str(manifest.get("path", "")),
    }
    model_version = client.create_model_version(
        model,
        source=f"runs:/{run_id}/{ARTIFACT_DIR}",
        run_id=run_id,
        tags=tags,
        description=f"{manifest['version']} ({gate.get('decision', '?')}: {gate.get('reason', '')})"[:1000],
        await_creation_for=0,
    )
    return str(model_version.version)


def _mirror_aliases(
    client: MlflowClient, model: str, aliases: dict[str, str], registered: dict[str, str]
) -> dict[str, str]:
    """Point each alias of ``model`` at the registered version of the data root's version; remove
    the aliases the data root has not. Returns alias -> version as MLflow now has them."""
    from mlflow.exceptions import MlflowException

    current: dict[str, Any] = dict(client.get_registered_model(model).aliases or {})
    mirrored = {}
    for alias, version in sorted(aliases.items()):
        number = registered.get(version)
        if number is None:
            log.warning("MLflow: %s@%s names %s, which is not registered there yet", model, alias, version)
            continue
        if str(current.get(alias)) != number:
            try:
                client.set_registered_model_alias(model, alias, number)
            except MlflowException as error:  # MLflow reserves "latest" and "v<number>"
                log.warning("MLflow refused alias %s@%s: %s", model, alias, error.message)
                continue
            log.info("MLflow: %s@%s -> version %s (%s)", model, alias, number, version)
        mirrored[alias] = version
    for alias in sorted(set(current) - set(aliases)):
        client.delete_registered_model_alias(model, alias)
        log.info("MLflow: %s@%s removed (the data root has no such alias)", model, alias)
    return mirrored


def _read_json(store: Store, key: str) -> dict | None:
    try:
        value = store.read_json(key)
    except (FileNotFoundError, ValueError):
        return None
    return value if isinstance(value, dict) else None
