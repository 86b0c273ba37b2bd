"""The FastAPI app behind ``/word2vec`` (built by :func:`build_app`, called by the api-server on
the first request through ``word2vec_ui.LazyASGIApp``).

This module is imported by every Airflow process (the plugin loader imports each file of
``plugins/``), so FastAPI, numpy and the library are imported inside :func:`build_app` only.
(No ``from __future__ import annotations`` here: FastAPI reads the route functions' annotations,
which name classes imported inside :func:`build_app`.)

Routes. Every route needs Airflow's login and read access to the DAG (``GET``); the two ``POST``
routes, which move an alias, need edit access to it as well (``requires_access_dag("PUT")``: the
auth manager's ``is_authorized_dag(method="PUT")``, which Airflow's own API asks for when a DAG is
changed; SimpleAuthManager grants it from the ``user`` role up, FAB to "can edit on DAGs")::

    /word2vec/versions                          models page: one section per model, aliases as badges (HTML)
    /word2vec/models/{model}?page=&per_page=    one model: aliases, versions, alias history (HTML)
    /word2vec/versions/{version}                one version: scores, gate checks, downloads, move form (HTML)
    /word2vec/versions/{version}/report         report.html as on disk, sandboxed by its CSP
    /word2vec/versions/{version}/report.json    report.json
    /word2vec/versions/{version}/files/{path}   a file the version's manifest lists (download)
    /word2vec/search?model=&at=&word=&k=&a=&b=  neighbour / similarity search at model@alias or a version (HTML)
    /word2vec/dags/{dag_id}/runs/{run_id}       a DAG run's version (the tab on the DAG run page)
    POST /word2vec/models/{model}/aliases       the version page's form (alias, version, reason, csrf_token)
    /word2vec/api/models                        models with their aliases
    /word2vec/api/models/{model}/versions?page=&per_page=   one object per version (version, aliases, gate, scores)
    /word2vec/api/models/{model}/versions/{version}
    /word2vec/api/models/{model}/aliases        alias -> version, and the alias history (newest first)
    POST /word2vec/api/models/{model}/aliases/{alias}   JSON {"version", "reason"}: move the alias
    /word2vec/api/models/{model}/neighbours?alias=|version=&word=&k=
    /word2vec/api/models/{model}/similarity?alias=|version=&a=&b=
    /word2vec/api/csrf-token                    the token a cookie-authenticated POST must carry
    /word2vec/api/openapi.json                  the API's OpenAPI schema (behind the login too)
    /word2vec/api/versions                      the previous routes: every version; "latest" is
    /word2vec/api/versions/{version}/neighbours?word=&k=       default@champion
    /word2vec/api/versions/{version}/similarity?a=&b=

An unknown model, alias or version is a 404 whose message lists what exists; a malformed one a 422
(model and alias names are slugs, version names ``YYYYMMDDTHHMMSSZ-<8 hex>``, both checked before
storage is touched). A version whose files do not match its manifest (size or sha256, checked when
the version is first loaded in the process) is a 503 naming the damaged files. Bounds
(``include.serving.request_checks``): ``k`` at most 100, a word 100 characters, a page 200
versions, a reason 500 characters; a request body over ``MAX_BODY_BYTES`` (16 KiB) is a 413,
refused before it is read (by its ``Content-Length``, or while it streams in).

Cross-site request forgery. Airflow's UI authenticates a browser with the JWT in the ``_token``
cookie (``SameSite=Lax``), which the browser attaches by itself; a script, with an
``Authorization: Bearer`` header, which no browser attaches by itself. So a POST that carries a
Bearer token is not checked further, and a POST authenticated by the cookie must pass two checks,
else 403: (1) its ``Origin`` header (or, without one, its ``Referer``) names this server (the
request's ``Host`` or the host of ``[api] base_url``) - another origin's page, including a
same-site one that ``SameSite=Lax`` lets through, is refused; (2) it carries a CSRF token, the form
field ``csrf_token`` or the header ``X-CSRF-Token``: ``<issued>.<HMAC-SHA256>`` of the user's name
and the issue time under ``[api] secret_key`` (valid :data:`CSRF_TOKEN_SECONDS`), which the version
page renders into its form and ``GET /api/csrf-token`` returns; another origin cannot read either.
"""

import logging

log = logging.getLogger(__name__)
MAX_RUN_ID_CHARS = 250
#: Seconds a CSRF token stays valid (a work day: a page left open can still move an alias).
CSRF_TOKEN_SECONDS = 12 * 3600


def build_app(dag_id, prefix):
    """A FastAPI app serving the models of the data root (``EMBEDDINGS_DATA_DIR``, local or an
    object store, read through the same storage layer as the pipeline).

    ``dag_id``: the DAG whose read access every route requires (edit access for alias moves).
    ``prefix()``: the URL path the browser reaches the app at (links in pages are built from it)."""
    import hashlib
    import hmac
    import json
    import secrets
    import time
    import unicodedata
    from urllib.parse import parse_qs, urlsplit

    from airflow.api_fastapi.core_api.security import get_user, requires_access_dag
    from fastapi import Depends, FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from include.serving import pages
    from include.serving.artifact_source import data_root_source
    from include.serving.catalog import Catalog, run_summary
    from include.serving.request_checks import (
        MAX_BODY_BYTES,
        VERSION_NAME,
        CatalogError,
        InvalidRequestError,
        RequestTooLargeError,
    )
    from include.storage.run_records import read_run_record

    catalog = Catalog(data_root_source())
    app = FastAPI(
        title="Word embeddings",
        description="Named word2vec models: versions, aliases and their history, reports, downloads, "
        "neighbour search. Moving an alias needs edit access to the DAG.",
        dependencies=[Depends(requires_access_dag("GET", param_dag_id=dag_id))],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # served below as a route of the app, behind the login like every other
    )
    can_edit = Depends(requires_access_dag("PUT", param_dag_id=dag_id))
    current_user = Depends(get_user)  # the same user the access checks saw (FastAPI caches it per request)

    class Forbidden(Exception):
        """A cookie-authenticated POST without a same-origin ``Origin`` or a valid CSRF token."""

    def is_api(request: Request) -> bool:
        return request.scope.get("path", "").removeprefix(request.scope.get("root_path", "")).startswith("/api/")

    def theme(request: Request):
        return pages.theme_of(request.query_params.get("theme"))

    def html(body: str, status: int = 200) -> HTMLResponse:
        return HTMLResponse(body, status_code=status, headers={"Content-Security-Policy": pages.PAGE_CSP})

    def error_response(request: Request, status: int, message: str):
        titles = {
            401: "Not logged in",
            403: "Forbidden",
            404: "Not found",
            413: "Request too large",
            422: "Bad request",
            503: "Version unavailable",
        }
        if is_api(request):
            return JSONResponse({"detail": message}, status_code=status)
        return html(pages.render_error(prefix(), status, titles.get(status, "Error"), message, theme(request)), status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException):
        if error.status_code == 401 and not is_api(request) and request.method == "GET":
            return RedirectResponse(login_url(request), status_code=303)
        return error_response(request, error.status_code, str(error.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError):
        problems = "; ".join(f"{'.'.join(map(str, e.get('loc', ())))}: {e.get('msg')}" for e in error.errors())
        return error_response(request, 422, problems or "invalid request")

    @app.exception_handler(CatalogError)
    async def catalog_error(request: Request, error: CatalogError):
        return error_response(request, error.status, str(error))

    def too_large(length: int | None = None) -> RequestTooLargeError:
        size = f"{length} bytes" if length is not None else "larger"
        return RequestTooLargeError(f"request body is {size}; at most {MAX_BODY_BYTES} bytes are accepted")

    @app.middleware("http")
    async def refuse_large_bodies(request: Request, call_next):
        """413 for a declared body over :data:`MAX_BODY_BYTES`, before any route reads or parses it."""
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                return error_response(request, 400, "Content-Length is not a number")
            if int(declared) > MAX_BODY_BYTES:
                return error_response(request, 413, str(too_large(int(declared))))
        return await call_next(request)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, error: Forbidden):
        return error_response(request, 403, str(error))

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, error: Exception):
        log.exception("word2vec UI: %s failed", request.url.path)
        return error_response(request, 500, "internal error (the api-server log has the details)")

    def login_url(request: Request) -> str:
        from airflow.api_fastapi.app import get_auth_manager

        url = get_auth_manager().get_url_login(next_url=str(request.url))
        base = prefix().removesuffix("/word2vec")
        return base + url if url.startswith("/") and not url.startswith(base + "/") else url

    # ------------------------------------------------------------------ permissions and CSRF

    def may_edit(user) -> bool:
        """Whether ``user`` may move aliases (edit access to the DAG), to show or hide the form."""
        from airflow.api_fastapi.app import get_auth_manager
        from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

        try:
            return bool(get_auth_manager().is_authorized_dag(method="PUT", details=DagDetails(id=dag_id), user=user))
        except Exception:  # an auth manager that cannot tell: hide the form, the POST checks again
            log.warning("word2vec UI: could not ask the auth manager for edit access", exc_info=True)
            return False

    def csrf_key() -> bytes:
        from airflow.configuration import conf

        configured = conf.get("api", "secret_key", fallback="") or ""
        return configured.encode() if configured else app.state.csrf_fallback_key

    app.state.csrf_fallback_key = secrets.token_bytes(32)  # one process only: set [api] secret_key

    def csrf_token(user_name: str, issued: int | None = None) -> str:
        issued = int(time.time()) if issued is None else issued
        digest = hmac.new(csrf_key(), f"word2vec-alias\x00{user_name}\x00{issued}".encode(), hashlib.sha256)
        return f"{issued}.{digest.hexdigest()}"

    def own_hosts(request: Request) -> set:
        hosts = {request.headers.get("host", "").lower()}
        try:
            from word2vec_links import _base_url

            base = _base_url()
        except Exception:  # pragma: no cover - configuration unreadable
            base = None
        if base:
            hosts.add(urlsplit(base).netloc.lower())
        return {h for h in hosts if h}

    def check_csrf(request: Request, user_name: str, submitted) -> None:
        """Refuse (:class:`Forbidden`) a cookie-authenticated POST from another origin or without
        this user's CSRF token; a Bearer-authenticated one passes (see the module docstring)."""
        if request.headers.get("authorization", "").lower().startswith("bearer "):
            return
        source = request.headers.get("origin") or request.headers.get("referer") or ""
        if not source or source == "null" or urlsplit(source).netloc.lower() not in own_hosts(request):
            raise Forbidden(
                f"cross-site request refused: a POST authenticated by the session cookie must come from a page "
                f"of this server (Origin/Referer {source[:100]!r}); scripts send 'Authorization: Bearer <token>'"
            )
        issued, _, _ = str(submitted or "").partition(".")
        valid = (
            issued.isdigit()
            and 0 <= time.time() - int(issued) <= CSRF_TOKEN_SECONDS
            and hmac.compare_digest(str(submitted), csrf_token(user_name, int(issued)))
        )
        if not valid:
            raise Forbidden(
                "missing or expired CSRF token: reload the page and submit the form again "
                "(a script sends the header X-CSRF-Token from GET /word2vec/api/csrf-token, or a Bearer token)"
            )

    async def read_body(request: Request) -> bytes:
        """The body, read in chunks and refused (413) as soon as it passes :data:`MAX_BODY_BYTES`
        (a chunked body declares no length)."""
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                raise too_large()
        return bytes(body)

    def move(model: str, alias, version, reason, user) -> dict:
        return catalog.move_alias(model, alias, version, actor=user.get_name(), reason=reason)

    # ------------------------------------------------------------------ pages

    @app.get("/", include_in_schema=False)
    def home():
        return RedirectResponse(f"{prefix()}/versions", status_code=307)

    @app.get("/versions", response_class=HTMLResponse)
    def versions_page(request: Request):
        return html(pages.render_versions(prefix(), catalog.overview(), catalog.latest(), theme(request)))

    @app.get("/models/{model}", response_class=HTMLResponse)
    def model_page(request: Request, model: str, page: str = "1", per_page: str = "50"):
        listing = catalog.page(page, per_page, model=model)
        body = pages.render_model(
            prefix(), model, catalog.aliases(model), listing, catalog.history(model), theme(request)
        )
        return html(body)

    @app.get("/versions/{version}", response_class=HTMLResponse)
    def version_page(request: Request, version: str, user=current_user):
        row = catalog.summary(version)
        editable = may_edit(user)
        body = pages.render_version(
            prefix(),
            row,
            aliases=catalog.aliases(row.model),
            can_move=editable,
            csrf_token=csrf_token(user.get_name()) if editable else None,
            theme=theme(request),
        )
        return html(body)

    @app.post("/models/{model}/aliases", response_class=HTMLResponse, dependencies=[can_edit])
    async def move_alias_form(request: Request, model: str, user=current_user):
        body = await read_body(request)
        fields = {key: values[0] for key, values in parse_qs(body.decode("utf-8", "replace")).items()}
        check_csrf(request, user.get_name(), fields.get("csrf_token"))
        moved = move(model, fields.get("alias"), fields.get("version"), fields.get("reason"), user)
        return RedirectResponse(f"{prefix()}/models/{moved['model']}#history", status_code=303)

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

    def where(model: str, at: str, version: str) -> dict:
        """Search arguments: the previous routes' ``version`` (a name or ``latest``), else ``model``
        (``default``) at ``at``: a version name, ``latest`` (default@champion) or an alias."""
        if version and not model and not at:
            return {"version": version}
        at = (at or "").strip()
        if at == "latest":
            return {"version": "latest"}
        if VERSION_NAME.fullmatch(at):
            return {"model": model or "default", "version": at}
        return {"model": model or "default", "alias": at or "champion"}

    @app.get("/search", response_class=HTMLResponse)
    def search(
        request: Request,
        model: str = "",
        at: str = "",
        version: str = "",
        word: str = "",
        k: str = "10",
        a: str = "",
        b: str = "",
    ):
        query = {"model": model, "at": at, "version": version, "word": word, "k": k, "a": a, "b": b}
        target = where(model, at, version)
        neighbours = similarity = None
        names = catalog.model_names()
        try:
            if word:
                if "model" in target:
                    neighbours = catalog.neighbours_at(
                        target["model"], word, k, alias=target.get("alias"), version=target.get("version")
                    )
                else:
                    neighbours = catalog.neighbours(target["version"], word, k)
            elif a or b:
                if "model" in target:
                    similarity = catalog.similarity_at(
                        target["model"], a, b, alias=target.get("alias"), version=target.get("version")
                    )
                else:
                    similarity = catalog.similarity(target["version"], a, b)
        except CatalogError as error:
            body = pages.render_search(prefix(), query, error=str(error), models=names, theme=theme(request))
            return html(body, error.status)
        return html(pages.render_search(prefix(), query, neighbours, similarity, models=names, theme=theme(request)))

    @app.get("/dags/{run_dag_id}/runs/{run_id}", response_class=HTMLResponse)
    def dag_run(request: Request, run_dag_id: str, run_id: str):
        if len(run_id) > MAX_RUN_ID_CHARS or any(unicodedata.category(c).startswith("C") for c in run_id):
            raise InvalidRequestError(f"run id must be at most {MAX_RUN_ID_CHARS} printable characters")
        record = read_run_record(run_id) if run_dag_id == dag_id else None
        return html(pages.render_run(prefix(), run_id, run_summary(record, catalog), theme(request)))

    # ------------------------------------------------------------------ JSON: models and aliases

    @app.get("/api/models")
    def api_models():
        return {"models": catalog.models()}

    @app.get("/api/models/{model}/versions")
    def api_model_versions(model: str, page: str = "1", per_page: str = "50"):
        listing = catalog.page(page, per_page, model=model)
        return {**listing, "versions": [row.as_dict() for row in listing["versions"]]}

    @app.get("/api/models/{model}/versions/{version}")
    def api_model_version(model: str, version: str):
        return catalog.summary(catalog.resolve_at(model, version=version)).as_dict()

    @app.get("/api/models/{model}/aliases")
    def api_aliases(model: str):
        return {"model": model, "aliases": catalog.aliases(model), "history": catalog.history(model)}

    @app.post("/api/models/{model}/aliases/{alias}", dependencies=[can_edit])
    async def api_move_alias(request: Request, model: str, alias: str, user=current_user):
        check_csrf(request, user.get_name(), request.headers.get("x-csrf-token"))
        body = await read_body(request)
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            raise InvalidRequestError('the body must be JSON: {"version": "...", "reason": "..."}') from None
        if not isinstance(payload, dict):
            raise InvalidRequestError('the body must be a JSON object: {"version": "...", "reason": "..."}')
        moved = move(model, alias, payload.get("version"), payload.get("reason"), user)
        return {"move": moved, "aliases": catalog.aliases(model)}

    @app.get("/api/models/{model}/neighbours")
    def api_model_neighbours(model: str, alias: str = "", version: str = "", word: str = "", k: str = "10"):
        return catalog.neighbours_at(model, word, k, alias=alias or None, version=version or None)

    @app.get("/api/models/{model}/similarity")
    def api_model_similarity(model: str, alias: str = "", version: str = "", a: str = "", b: str = ""):
        return catalog.similarity_at(model, a, b, alias=alias or None, version=version or None)

    @app.get("/api/openapi.json", include_in_schema=False)
    def api_openapi():
        return JSONResponse(app.openapi())

    @app.get("/api/csrf-token")
    def api_csrf_token(user=current_user):
        return {"csrf_token": csrf_token(user.get_name()), "header": "X-CSRF-Token", "seconds": CSRF_TOKEN_SECONDS}

    # ------------------------------------------------------------------ JSON: the previous routes

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
    app.state.csrf_token = csrf_token
    return app
