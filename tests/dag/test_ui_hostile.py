"""Hostile requests to the ``/word2vec`` app (issue 25, items 5 and 6): every route of the app,
enumerated from the app itself, refuses a request without a login (so a new route cannot forget);
names that are not slugs and parameters past their bounds are refused; a POST body past
``MAX_BODY_BYTES`` is a 413 before it is read; a version whose files do not match its manifest is
a 503 naming the damaged file."""

from __future__ import annotations

import json
import re

import pytest

from include.registry.registry import ModelRegistry
from include.serving.request_checks import MAX_BODY_BYTES, MAX_K, MAX_WORD_CHARS
from include.storage.store import LocalStore, sha256_file
from tests.dag import test_ui_routes as ui
from tests.dag.test_ui_routes import DAG_ID, NEWS_1, NEWS_2, bearer

app_root = ui.app_root  # the same fixtures: a data root of two models, the app behind Airflow's auth
client = ui.client

SAMPLE = {
    "model": "news-en",
    "alias": "champion",
    "version": NEWS_2,
    "relative": "embeddings.npy",
    "run_dag_id": DAG_ID,
    "run_id": "manual__1",
}


def app_routes(client) -> list[tuple[str, str]]:
    """``(method, path)`` of every route of the mounted app, path parameters filled with samples."""
    mounted = next(route.app for route in client.app.routes if getattr(route, "path", "") == "/word2vec")
    found = []
    for route in mounted.routes:
        path = re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: SAMPLE[m.group(1)], route.path)
        for method in sorted(getattr(route, "methods", None) or {"GET"}):
            if method != "HEAD":
                found.append((method, f"/word2vec{path}"))
    return found


def test_every_route_of_the_app_needs_a_login(client):
    routes = app_routes(client)
    assert len(routes) >= 20 and ("POST", "/word2vec/api/models/news-en/aliases/champion") in routes
    for method, path in routes:
        anonymous = client.request(method, path, follow_redirects=False)
        if anonymous.status_code == 303:  # a page: to the login page, nothing of the app shown
            assert "login" in anonymous.headers["location"], (method, path, anonymous.headers)
        else:
            assert anonymous.status_code == 401, (method, path, anonymous.status_code, anonymous.text[:200])
        outsider = client.request(method, path, headers=bearer("outsider"), follow_redirects=False)
        assert outsider.status_code == 403, (method, path, outsider.status_code, outsider.text[:200])
        assert client.request(method, path, headers={"Authorization": "Bearer not-a-jwt"}).status_code in (401, 403)
    schema = client.get("/word2vec/api/openapi.json", headers=bearer("reader"))  # with a login: served
    assert schema.status_code == 200 and "/api/models/{model}/neighbours" in schema.json()["paths"]


@pytest.mark.parametrize(
    "path",
    [
        "/word2vec/api/models/..%2F..%2Fetc/versions",
        "/word2vec/api/models/%2e%2e/aliases",
        "/word2vec/api/models/a%00b/versions",
        "/word2vec/api/models/%2Fetc%2Fpasswd/neighbours?word=king",
        f"/word2vec/api/models/news-en/versions/..%2F{NEWS_2}",
        "/word2vec/api/models/news-en/neighbours?version=..%2F..%2Fx&word=king",
        "/word2vec/api/models/news-en/neighbours?version=%2Fetc%2Fpasswd&word=king",
        "/word2vec/api/models/news-en/neighbours?alias=..%2Fx&word=king",
        "/word2vec/api/models/news-en/neighbours?alias=a%00b&word=king",
        "/word2vec/api/versions/%2e%2e/neighbours?word=king",
        "/word2vec/api/versions/a%00b/similarity?a=king&b=queen",
        f"/word2vec/versions/{NEWS_2}/files/%2e%2e%2fmanifest.json",
        f"/word2vec/versions/{NEWS_2}/files/%252e%252e/x",
        f"/word2vec/versions/{NEWS_2}/files/%2Fetc%2Fpasswd",
        f"/word2vec/versions/{NEWS_2}/files/a%00b",
        "/word2vec/versions/..%2Fx",
    ],
)
def test_names_that_are_not_slugs_are_refused_before_storage(client, monkeypatch, path):
    mounted = next(route.app for route in client.app.routes if getattr(route, "path", "") == "/word2vec")
    store = mounted.state.catalog.source.store
    touched: list[str] = []

    def spy(name: str):
        original = getattr(store, name)

        def recorded(key, *args, **kwargs):
            touched.append(f"{name} {key}")
            return original(key, *args, **kwargs)

        return recorded

    for name in ("read_bytes", "read_versioned", "exists", "children", "files", "fetch", "download"):
        monkeypatch.setattr(store, name, spy(name))
    response = client.get(path, headers=bearer("reader"))
    assert response.status_code in (404, 422), (path, response.status_code, response.text[:300])  # 404: no route
    assert "Traceback" not in response.text
    assert touched == [], f"{path} read the data root before refusing: {touched}"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"word": "king", "k": str(MAX_K + 1)}, f"from 1 to {MAX_K}"),
        ({"word": "w" * (MAX_WORD_CHARS + 1)}, f"at most {MAX_WORD_CHARS}"),
        ({"word": "king", "k": "1e9"}, "whole number"),
    ],
)
def test_k_and_word_length_are_bounded(client, params, message):
    response = client.get("/word2vec/api/models/news-en/neighbours", params=params, headers=bearer("reader"))
    assert response.status_code == 422 and message in response.json()["detail"]


def test_a_post_body_over_the_limit_is_a_413_before_it_is_read(client, app_root):
    url = "/word2vec/api/models/news-en/aliases/champion"
    big = json.dumps({"version": NEWS_1, "reason": "x" * MAX_BODY_BYTES}).encode()
    declared = client.post(url, content=big, headers={**bearer("editor"), "Content-Type": "application/json"})
    assert declared.status_code == 413 and f"at most {MAX_BODY_BYTES} bytes" in declared.json()["detail"]

    def chunks():  # no Content-Length: refused while it streams in
        for start in range(0, len(big), 4096):
            yield big[start : start + 4096]

    streamed = client.post(url, content=chunks(), headers={**bearer("editor"), "Content-Type": "application/json"})
    assert streamed.status_code == 413, streamed.text
    form = client.post(
        "/word2vec/models/news-en/aliases",
        content=b"reason=" + b"x" * MAX_BODY_BYTES,
        headers={**bearer("editor"), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 413 and "Request too large" in form.text
    assert ModelRegistry(LocalStore(app_root)).aliases("news-en") == {"champion": NEWS_2}
    small = client.post(url, json={"version": NEWS_1, "reason": "fits"}, headers=bearer("editor"))
    assert small.status_code == 200, small.text


def test_a_version_with_a_flipped_byte_is_a_503_naming_the_file(client, app_root):
    folder = app_root / "models" / NEWS_2
    manifest = json.loads((folder / "manifest.json").read_text())
    for name in manifest["files"]:  # as publish records them: sha256 and size
        digest, size = sha256_file(folder / name)
        manifest["files"][name] = {"sha256": digest, "bytes": size}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    data = bytearray((folder / "embeddings.npy").read_bytes())
    data[-1] ^= 0x01
    (folder / "embeddings.npy").write_bytes(bytes(data))

    api = client.get("/word2vec/api/models/news-en/neighbours", params={"word": "king"}, headers=bearer("reader"))
    assert api.status_code == 503, api.text
    detail = api.json()["detail"]
    assert f"version {NEWS_2} is damaged" in detail and "embeddings.npy: sha256 expected" in detail
    page = client.get(
        "/word2vec/search", params={"model": "news-en", "at": "champion", "word": "king"}, headers=bearer("reader")
    )
    assert page.status_code == 503 and "embeddings.npy" in page.text
    again = client.get(
        "/word2vec/api/models/news-en/similarity", params={"a": "king", "b": "queen"}, headers=bearer("reader")
    )
    assert again.status_code == 503  # refused on every request, never served
    other = client.get(
        "/word2vec/api/models/news-en/neighbours", params={"version": NEWS_1, "word": "king"}, headers=bearer("reader")
    )
    assert other.status_code == 200, other.text
