"""Where the mirror writes and how long it may take: read from the environment.

``MLFLOW_TRACKING_URI`` (MLflow's own variable) turns the mirror on; unset or empty, nothing is
imported and nothing is sent. MLflow's HTTP client retries a refused connection 7 times with an
exponential backoff by default (about 250 s for one call, measured here), so before ``mlflow`` is
imported :func:`bound_http_requests` gives its timeout and retry variables small defaults (a value
already set in the environment wins). ``EMBEDDINGS_MLFLOW_DEADLINE_SECONDS`` bounds one whole
mirror: once past it, no further call is started.
"""

from __future__ import annotations

import os

from include.errors import PipelineInputError

TRACKING_URI = "MLFLOW_TRACKING_URI"
DEADLINE = "EMBEDDINGS_MLFLOW_DEADLINE_SECONDS"
DEFAULT_DEADLINE_SECONDS = 60.0

#: MLflow's variables and the defaults the mirror gives them: 5 s per request, one retry after a
#: second, no jitter: a refused port costs about a second, a server that does not answer ~10 s per call.
HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0",
    # uploads of the report and manifest (small files) through the server's artifact proxy
    "MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT": "20",
    # the pipeline's workers send nothing to MLflow's own usage collection
    "MLFLOW_DISABLE_TELEMETRY": "true",
}


def tracking_uri() -> str | None:
    """``MLFLOW_TRACKING_URI``, or ``None`` when the mirror is off."""
    return os.environ.get(TRACKING_URI, "").strip() or None


def deadline_seconds() -> float:
    """``EMBEDDINGS_MLFLOW_DEADLINE_SECONDS`` (default 60): no MLflow call starts after this many
    seconds of one mirror."""
    raw = os.environ.get(DEADLINE, "").strip()
    if not raw:
        return DEFAULT_DEADLINE_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise PipelineInputError(f"environment variable {DEADLINE}={raw!r} must be a number of seconds > 0")
    return value


def bound_http_requests() -> None:
    """Give MLflow's HTTP timeout and retry variables the mirror's defaults where unset (MLflow reads
    them at each request)."""
    for name, value in HTTP_DEFAULTS.items():
        os.environ.setdefault(name, value)
