"""The FastAPI app behind ``/word2vec`` (built by :func:`build_app`, called by the api-server on
the first request through ``word2vec_ui.LazyASGIApp``).

This module is imported by every Airflow process (the plugin loader imports each file of
``plugins/``), so FastAPI, numpy and the library are imported inside :func:`build_app` only.
(No ``from __future__ import annotations`` here: FastAPI reads the route functions' annotations,
which name classes imported inside :func:`build_app`.)

Routes (all ``GET``, all behind Airflow's login and read access to the DAG):

    /word2vec/versions?page=&per_page=          versions page (HTML)
    /word2vec/versions/{version}                one version: facts, report link, downloads (HTML)
    /word2vec/versions/{version}/report         report.html as on disk, sandboxed by its CSP
    /word2vec/versions/{version}/report.json    report.json
    /word2vec/versions/{version}/files/{path}   a file the version's manifest lists (download)
    /word2vec/search?word=&k=&a=&b=&version=    neighbour / similarity search (HTML)
    /word2vec/dags/{dag_id}/runs/{run_id}       a DAG run's version (the tab on the DAG run page)
    /word2vec/api/versions                      the versions as JSON
    /word2vec/api/versions/{version}/neighbours?word=&k=
    /word2vec/api/versions/{version}/similarity?a=&b=
"""

import logging

log = logging.getLogger(__name__)
MAX_RUN_ID_CHARS = 250


def build_app(dag_id, prefix):
    """A FastAPI app serving the versions of the data root (``EMBEDDINGS_DATA_DIR``, local or an
    object store, read through the same storage layer as the pipeline).

    ``dag_id``: the DAG whose read access every route requires. ``prefix()``: the URL path the
    browser reaches the app at (links in pages are built from it)."""
    import unicodedata

    from airflow.api_fastapi.core_api.security import requires_access_dag
    from fastapi import Depends, FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from include.serving import pages
    from include.serving.catalog import (
        Catalog,
        CatalogError,
        InvalidRequestError,
        data_root_source,
        run_summary,
    )
    from include.storage.run_records import read_run_record

    catalog = Catalog(data_root_source())
    app = FastAPI(
        title="Word embeddings",
        description="Published word2vec model versions: reports, downloads, neighbour search. Read-only.",
        dependencies=[Depends(requires_access_dag("GET", param_dag_id=dag_id))],
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )

    def is_api(request: Request) -> bool:
        return request.scope.get("path", "").removeprefix(request.scope.get("root_path", "")).startswith("/api/")

    def html(body: str, status: int = 200) -> HTMLResponse:
        return HTMLResponse(body, status_code=status, headers={"Content-Security-Policy": pages.PAGE_CSP})

    def error_response(request: Request, status: int, message: str):
        titles = {401: "Not logged in", 403: "Forbidden", 404: "Not found", 422: "Bad request"}
        if is_api(request):
            return JSONResponse({"detail": message}, status_code=status)
        return html(pages.render_error(prefix(), status, titles.get(status, "Error"), message), status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException):
        if error.status_code == 401 and not is_api(request):
            return RedirectResponse(login_url(request), status_code=303)
        return error_response(request, error.status_code, str(error.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError):
        problems = "; ".join(f"{'.'.join(map(str, e.get('loc', ())))}: {e.get('msg')}" for e in error.errors())
        return error_response(request, 422, problems or "invalid request")

    @app.exception_handler(CatalogError)
    async def catalog_error(request: Request, error: CatalogError):
        status = 422 if isinstance(error, InvalidRequestError) else 404
        return error_response(request, status, str(error))

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, error: Exception):
        log.exception("word2vec UI: %s failed", request.url.path)
        return error_response(request, 500, "internal error (the api-server log has the details)")

    def login_url(request: Request) -> str:
        from airflow.api_fastapi.app import get_auth_manager

        url = get_auth_manager().get_url_login(next_url=str(request.url))
        base = prefix().removesuffix("/word2vec")
        return base + url if url.startswith("/") and not url.startswith(base + "/") else url

    # ------------------------------------------------------------------ pages

    @app.get("/", include_in_schema=False)
    def home():
        return RedirectResponse(f"{prefix()}/versions", status_code=307)

    @app.get("/versions", response_class=HTMLResponse)
    def versions_page(page: str = "1", per_page: str = "50"):
        return html(pages.render_versions(prefix(), catalog.page(page, per_page)))

    @app.get("/versions/{version}", response_class=HTMLResponse)
    def version_page(version: str):
        return html(pages.render_version(prefix(), catalog.summary(version)))

    @app.get("/versions/{version}/report", response_class=HTMLResponse)
    def report(version: str):
        return FileResponse(
            catalog.report_file(version, "report.html"),
            media_type="text/html; charset=utf-8",
            headers={"Content-Security-Policy": pages.REPORT_CSP, "X-Content-Type-Options": "nosniff"},
        )

    @app.get("/versions/{version}/report.json")
    def report_json(version: str):
        return FileResponse(catalog.report_file(version, "report.json"), media_type="application/json")

    @app.get("/versions/{version}/files/{relative:path}")
    def download(version: str, relative: str):
        path = catalog.file(version, relative)
        return FileResponse(
            path,
            media_type="application/octet-stream",
            filename=path.name,
            headers={"Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff"},
        )

    @app.get("/search", response_class=HTMLResponse)
    def search(version: str = "latest", word: str = "", k: str = "10", a: str = "", b: str = ""):
        query = {"version": version, "word": word, "k": k, "a": a, "b": b}
        neighbours = similarity = None
        try:
            if word:
                neighbours = catalog.neighbours(version, word, k)
            elif a or b:
                similarity = catalog.similarity(version, a, b)
        except CatalogError as error:
            status = 422 if isinstance(error, InvalidRequestError) else 404
            return html(pages.render_search(prefix(), query, error=str(error)), status)
        return html(pages.render_search(prefix(), query, neighbours, similarity))

    @app.get("/dags/{run_dag_id}/runs/{run_id}", response_class=HTMLResponse)
    def dag_run(run_dag_id: str, run_id: str):
        if len(run_id) > MAX_RUN_ID_CHARS or any(unicodedata.category(c).startswith("C") for c in run_id):
            raise InvalidRequestError(f"run id must be at most {MAX_RUN_ID_CHARS} printable characters")
        record = read_run_record(run_id) if run_dag_id == dag_id else None
        return html(pages.render_run(prefix(), run_id, run_summary(record, catalog)))

    # ------------------------------------------------------------------ JSON

    @app.get("/api/versions")
    def api_versions(page: str = "1", per_page: str = "50"):
        listing = catalog.page(page, per_page)
        return {**listing, "versions": [row.as_dict() for row in listing["versions"]]}

    @app.get("/api/versions/{version}/neighbours")
    def api_neighbours(version: str, word: str = "", k: str = "10"):
        return catalog.neighbours(version, word, k)

    @app.get("/api/versions/{version}/similarity")
    def api_similarity(version: str, a: str = "", b: str = ""):
        return catalog.similarity(version, a, b)

    app.state.catalog = catalog
    return app
