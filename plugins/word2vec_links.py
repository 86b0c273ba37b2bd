"""The "Model report" extra link (:class:`ModelReportLink`), in a module of its own so that the
operators import it without the UI plugin. Imports only ``airflow.sdk`` at import time.
"""

from __future__ import annotations

from airflow.sdk import BaseOperatorLink

APP_PREFIX = "/word2vec"
REPORT_LINK_NAME = "Model report"


def _base_url() -> str | None:
    """``[api] base_url`` (the api-server's public address), or ``None`` when unset."""
    try:
        from airflow.sdk.configuration import conf
    except ImportError:  # pragma: no cover - the api-server without the task SDK
        from airflow.configuration import conf
    return conf.get("api", "base_url", fallback=None) or None


def app_prefix() -> str:
    """The app's URL path as the browser sees it: the path of ``[api] base_url`` (behind a proxy,
    e.g. ``/airflow``) followed by ``/word2vec``."""
    from urllib.parse import urlsplit

    return urlsplit(_base_url() or "").path.rstrip("/") + APP_PREFIX


class ModelReportLink(BaseOperatorLink):
    """ "Model report": the report of the version the run made (``rejected`` runs too) or, for an
    ``unchanged`` run, of the existing identical version; computed when the task ends (the task
    runner stores it as an XCom). No version published -> an empty link, which the UI shows disabled."""

    name = REPORT_LINK_NAME

    def get_link(self, operator, *, ti_key) -> str:
        from include.serving.catalog import Catalog, app_url, data_root_source, linked_version
        from include.storage.run_records import read_run_record

        record = read_run_record(ti_key.run_id)
        version = linked_version(record, getattr(operator, "version", None), Catalog(data_root_source()))
        if not version:
            return ""
        return app_url(_base_url(), f"{APP_PREFIX}/versions/{version}/report")
