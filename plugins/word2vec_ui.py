"""The pipeline's results in the Airflow UI: a "Model report" extra link on the tasks that know the
version, a models browser (each model's versions, aliases and alias history) with neighbour search
(a FastAPI app at ``/word2vec``), a "Word embeddings" entry under Browse and a tab on every DAG run.

Loaded by every Airflow process (scheduler, dag-processor, workers): this module imports nothing
heavy. The FastAPI app is built on its first request, in the api-server only (:class:`LazyASGIApp`).
Every route needs the logged-in Airflow user (the api-server's JWT, ``Authorization: Bearer`` or
the UI's ``_token`` cookie) with read access to the DAG ``word2vec_embeddings``, checked by
Airflow's own ``get_user`` and ``requires_access_dag`` through the configured auth manager; moving
an alias needs edit access to it as well, and a cookie session's POST must come from this server's
own page with its CSRF token (see ``word2vec_ui_app``).
"""

from __future__ import annotations

import threading
from typing import Any

from airflow.plugins_manager import AirflowPlugin
from word2vec_links import APP_PREFIX, ModelReportLink, app_prefix


class LazyASGIApp:
    """An ASGI app that builds the real one (``factory()``) on its first request: the api-server
    mounts this object, other processes only import it."""

    def __init__(self, factory) -> None:
        self._factory = factory
        self._app = None
        self._lock = threading.Lock()

    @property
    def app(self):
        if self._app is None:
            with self._lock:
                if self._app is None:
                    self._app = self._factory()
        return self._app

    async def __call__(self, scope, receive, send) -> None:
        await self.app(scope, receive, send)


def create_app():
    """The versions browser as a FastAPI app (mounted at :data:`APP_PREFIX` by the api-server)."""
    from word2vec_ui_app import build_app

    from include.steps.run_params import DAG_ID

    return build_app(DAG_ID, app_prefix)


class Word2VecUIPlugin(AirflowPlugin):
    """Extra link, FastAPI app and UI entries of the word2vec pipeline."""

    name = "word2vec_ui"
    # AirflowPlugin declares these as (list) instance attributes, so no ClassVar here
    operator_extra_links: list[Any] = [ModelReportLink()]  # noqa: RUF012
    fastapi_apps: list[Any] = [  # noqa: RUF012
        {"app": LazyASGIApp(create_app), "url_prefix": APP_PREFIX, "name": "Word embeddings"}
    ]
    external_views: list[Any] = [  # noqa: RUF012
        {
            "name": "Word embeddings",
            "href": "word2vec/versions",
            "destination": "nav",
            "category": "browse",
            "url_route": "word-embeddings",
        },
        {
            "name": "Model version",
            "href": "word2vec/dags/{DAG_ID}/runs/{RUN_ID}",
            "destination": "dag_run",
            "url_route": "word2vec-run",
        },
    ]
