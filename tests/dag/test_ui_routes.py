"""The ``/word2vec`` app's routes in-process, with Airflow's real security dependencies: the JWT
checked by the configured auth manager (SimpleAuthManager with one user that may not read the
DAG), read access for every route, edit access (``PUT``) and the CSRF checks for alias moves,
404s that list what exists, and a move recorded in the model's history."""

from __future__ import annotations

import re
import sys

import pytest

from include.registry.registry import ModelRegistry
from include.storage.store import LocalStore
from tests.conftest import PROJECT_ROOT
from tests.unit.test_catalog import NEW, OLD, make_version

DAG_ID = "word2vec_embeddings"
NEWS_1 = "20261201T000000Z-11111111"
NEWS_2 = "20261202T000000Z-22222222"
USERS = {"admin": "admin", "editor": "user", "reader": "viewer", "outsider": "viewer"}


@pytest.fixture
def app_root(airflow_db, tmp_path, monkeypatch):
    """A data root with two models: ``default`` of the previous layout (``models/LATEST``) and
    ``news-en`` (manifests naming it, ``champion`` set through the registry)."""
    root = tmp_path / "data"
    make_version(root / "models", OLD)
    make_version(root / "models", NEW, decision="rejected", data_time="2026-11-02T00:00:00+00:00")
    (root / "models" / "LATEST").write_text(OLD + "\n")
    make_version(root / "models", NEWS_1, model="news-en", data_time="2026-12-01T00:00:00+00:00", coverage=True)
    make_version(root / "models", NEWS_2, model="news-en", data_time="2026-12-02T00:00:00+00:00", coverage=True)
    ModelRegistry(LocalStore(root)).move_alias("news-en", "champion", NEWS_2, actor="gate", reason="first", run_id="r1")
    monkeypatch.setenv("EMBEDDINGS_DATA_DIR", str(root))
    monkeypatch.setenv("AIRFLOW__CORE__AUTH_MANAGER", "tests.e2e.ui_auth_manager.OutsiderDeniedAuthManager")
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", ",".join(f"{u}:{r}" for u, r in USERS.items()))
    monkeypatch.delenv("AIRFLOW__API__BASE_URL", raising=False)
    return root


@pytest.fixture
def client(app_root):
    from airflow.api_fastapi.app import create_auth_manager
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    sys.path.insert(0, str(PROJECT_ROOT / "plugins"))
    from word2vec_ui_app import build_app

    create_auth_manager()
    parent = FastAPI()
    parent.mount("/word2vec", build_app(DAG_ID, lambda: "/word2vec"))
    with TestClient(parent, base_url="http://testserver") as test_client:
        yield test_client


def token(user: str) -> str:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return get_auth_manager().generate_jwt(SimpleAuthManagerUser(username=user, role=USERS[user]))


def bearer(user: str) -> dict:
    return {"Authorization": f"Bearer {token(user)}"}


def page_csrf(client, user: str, version: str) -> str:
    """The CSRF token the version page renders into its move form for ``user`` (cookie session)."""
    client.cookies.set("_token", token(user))
    page = client.get(f"/word2vec/versions/{version}")
    assert page.status_code == 200, page.text
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, "the move form is missing"
    return found.group(1)


def test_models_api_lists_models_aliases_and_versions(client):
    models = client.get("/word2vec/api/models", headers=bearer("reader")).json()["models"]
    assert [m["model"] for m in models] == ["default", "news-en"]
    assert models[0]["aliases"] == {"champion": OLD} and models[1]["aliases"] == {"champion": NEWS_2}
    versions = client.get("/word2vec/api/models/news-en/versions", headers=bearer("reader")).json()["versions"]
    assert [v["version"] for v in versions] == [NEWS_2, NEWS_1]
    assert versions[0]["aliases"] == ["champion"] and versions[1]["aliases"] == []
    assert versions[0]["gate"]["decision"] == "promoted"
    assert versions[0]["scores"][0]["shown"] == "0.412 (212/353 pairs)"
    legacy = client.get("/word2vec/api/models/default/versions", headers=bearer("reader")).json()["versions"]
    assert legacy[1]["scores"][0]["shown"] == "0.250 (coverage not recorded)"
    aliases = client.get("/word2vec/api/models/news-en/aliases", headers=bearer("reader")).json()
    assert aliases["aliases"] == {"champion": NEWS_2}
    assert [(h["actor"], h["to_version"]) for h in aliases["history"]] == [("gate", NEWS_2)]


def test_neighbours_at_an_alias_a_version_and_the_previous_latest(client):
    at_alias = client.get(
        "/word2vec/api/models/news-en/neighbours",
        params={"alias": "champion", "word": "king", "k": 2},
        headers=bearer("reader"),
    ).json()
    assert at_alias["version"] == NEWS_2 and at_alias["model"] == "news-en" and len(at_alias["neighbours"]) == 2
    at_version = client.get(
        "/word2vec/api/models/news-en/neighbours", params={"version": NEWS_1, "word": "king"}, headers=bearer("reader")
    ).json()
    assert at_version["version"] == NEWS_1 and at_version["alias"] is None
    latest = client.get(
        "/word2vec/api/versions/latest/similarity", params={"a": "king", "b": "queen"}, headers=bearer("reader")
    )
    assert latest.status_code == 200 and latest.json()["version"] == OLD


@pytest.mark.parametrize(
    ("path", "params", "listed"),
    [
        ("/word2vec/api/models/nope/versions", {}, "models: default, news-en"),
        ("/word2vec/api/models/news-en/neighbours", {"alias": "staging", "word": "king"}, f"champion -> {NEWS_2}"),
        ("/word2vec/api/models/news-en/neighbours", {"version": OLD, "word": "king"}, f"{NEWS_2}, {NEWS_1}"),
        ("/word2vec/api/models/nope/aliases", {}, "models: default, news-en"),
        ("/word2vec/models/nope", {}, "models: default, news-en"),
    ],
)
def test_unknown_model_alias_or_version_is_a_404_listing_what_exists(client, path, params, listed):
    response = client.get(path, params=params, headers=bearer("reader"))
    assert response.status_code == 404, response.text
    assert listed in response.text and "Traceback" not in response.text


def test_a_malformed_model_name_is_a_422(client):
    response = client.get("/word2vec/api/models/..%2Fx/versions", headers=bearer("reader"))
    assert response.status_code in (404, 422)
    response = client.get("/word2vec/api/models/Bad Name/versions", headers=bearer("reader"))
    assert response.status_code == 422 and "not a valid name" in response.json()["detail"]


def test_reading_needs_read_access(client):
    assert client.get("/word2vec/api/models").status_code == 401
    assert client.get("/word2vec/api/models", headers=bearer("outsider")).status_code == 403


def test_a_read_only_user_may_not_move_an_alias(client):
    body = {"version": NEWS_1, "reason": "roll back"}
    response = client.post("/word2vec/api/models/news-en/aliases/champion", json=body, headers=bearer("reader"))
    assert response.status_code == 403, response.text
    client.cookies.set("_token", token("reader"))
    page = client.get(f"/word2vec/versions/{NEWS_1}")
    assert 'id="move-alias-form"' not in page.text and "needs edit permission" in page.text
    form = client.post(
        "/word2vec/models/news-en/aliases",
        data={"alias": "champion", "version": NEWS_1, "reason": "x", "csrf_token": "1.x"},
        headers={"Origin": "http://testserver"},
    )
    assert form.status_code == 403
    aliases = client.get("/word2vec/api/models/news-en/aliases", headers=bearer("reader")).json()
    assert aliases["aliases"] == {"champion": NEWS_2} and len(aliases["history"]) == 1


def test_an_editor_moves_an_alias_by_json_and_it_is_in_the_history(client, app_root):
    body = {"version": NEWS_1, "reason": "  NEWS_2 splits 'new york' wrongly  "}
    response = client.post("/word2vec/api/models/news-en/aliases/champion", json=body, headers=bearer("editor"))
    assert response.status_code == 200, response.text
    assert response.json()["aliases"] == {"champion": NEWS_1}
    history = ModelRegistry(LocalStore(app_root)).history("news-en", "champion")
    assert history[-1]["from_version"] == NEWS_2 and history[-1]["to_version"] == NEWS_1
    assert history[-1]["actor"] == "editor" and history[-1]["reason"] == "NEWS_2 splits 'new york' wrongly"
    # a new alias too, and the versions listing shows both badges
    client.post(
        "/word2vec/api/models/news-en/aliases/staging",
        json={"version": NEWS_2, "reason": "try"},
        headers=bearer("admin"),
    )
    versions = client.get("/word2vec/api/models/news-en/versions", headers=bearer("reader")).json()["versions"]
    assert {v["version"]: v["aliases"] for v in versions} == {NEWS_2: ["staging"], NEWS_1: ["champion"]}
    page = client.get("/word2vec/models/news-en", headers=bearer("reader")).text
    assert "NEWS_2 splits &#39;new york&#39; wrongly" in page and ">editor<" in page


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"version": NEWS_1, "reason": "   "}, 422, "reason is missing"),
        ({"version": NEWS_1}, 422, "reason is missing"),
        ({"version": NEWS_1, "reason": "x" * 501}, 422, "at most 500"),
        ({"version": OLD, "reason": "wrong model"}, 404, f"its versions: {NEWS_2}, {NEWS_1}"),
        ({"version": "latest", "reason": "no"}, 422, "not a version name"),
    ],
)
def test_a_bad_move_is_refused_with_a_message(client, app_root, body, status, message):
    response = client.post("/word2vec/api/models/news-en/aliases/champion", json=body, headers=bearer("editor"))
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]
    assert ModelRegistry(LocalStore(app_root)).aliases("news-en") == {"champion": NEWS_2}


def test_a_bad_alias_name_in_a_move_is_a_422(client):
    response = client.post(
        "/word2vec/api/models/news-en/aliases/Champion!",
        json={"version": NEWS_1, "reason": "r"},
        headers=bearer("editor"),
    )
    assert response.status_code == 422 and "not a valid name" in response.json()["detail"]


def test_the_form_on_the_version_page_moves_an_alias(client, app_root):
    csrf = page_csrf(client, "editor", NEWS_1)
    response = client.post(
        "/word2vec/models/news-en/aliases",
        data={"alias": "champion", "version": NEWS_1, "reason": "rolled back from the UI", "csrf_token": csrf},
        headers={"Origin": "http://testserver"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/word2vec/models/news-en#history"
    move = ModelRegistry(LocalStore(app_root)).history("news-en")[-1]
    assert (move["actor"], move["to_version"], move["reason"]) == ("editor", NEWS_1, "rolled back from the UI")


@pytest.mark.parametrize(
    ("headers", "field", "message"),
    [
        ({"Origin": "https://evil.example"}, True, "cross-site request refused"),
        ({"Origin": "http://testserver.evil.example"}, True, "cross-site request refused"),
        ({"Origin": "null"}, True, "cross-site request refused"),
        ({}, True, "cross-site request refused"),  # neither Origin nor Referer
        ({"Referer": "https://evil.example/page"}, True, "cross-site request refused"),
        ({"Origin": "http://testserver"}, False, "CSRF token"),  # same origin but no token
    ],
)
def test_a_cookie_authenticated_post_from_another_origin_or_without_the_token_is_refused(
    client, app_root, headers, field, message
):
    csrf = page_csrf(client, "editor", NEWS_1)
    data = {"alias": "champion", "version": NEWS_1, "reason": "forged"}
    if field:
        data["csrf_token"] = csrf
    response = client.post("/word2vec/models/news-en/aliases", data=data, headers=headers, follow_redirects=False)
    assert response.status_code == 403, response.text
    assert message in response.text
    assert ModelRegistry(LocalStore(app_root)).aliases("news-en") == {"champion": NEWS_2}


def test_the_csrf_token_is_bound_to_the_user(client, app_root):
    other = page_csrf(client, "admin", NEWS_1)
    client.cookies.set("_token", token("editor"))
    response = client.post(
        "/word2vec/models/news-en/aliases",
        data={"alias": "champion", "version": NEWS_1, "reason": "r", "csrf_token": other},
        headers={"Origin": "http://testserver"},
    )
    assert response.status_code == 403 and "CSRF token" in response.text


def test_a_cookie_authenticated_json_post_needs_the_csrf_header(client, app_root):
    client.cookies.set("_token", token("editor"))
    url, body = "/word2vec/api/models/news-en/aliases/champion", {"version": NEWS_1, "reason": "script"}
    same_origin = {"Origin": "http://testserver"}
    assert client.post(url, json=body, headers=same_origin).status_code == 403
    csrf = client.get("/word2vec/api/csrf-token").json()["csrf_token"]
    assert client.post(url, json=body, headers={**same_origin, "X-CSRF-Token": csrf}).status_code == 200
    assert (
        client.post(url, json=body, headers={"Origin": "https://evil.example", "X-CSRF-Token": csrf}).status_code == 403
    )
    assert ModelRegistry(LocalStore(app_root)).resolve("news-en") == NEWS_1


def test_pages_show_models_aliases_coverage_and_history(client):
    client.cookies.set("_token", token("admin"))
    page = client.get("/word2vec/versions")
    assert page.status_code == 200
    text = page.text
    assert 'id="model-default"' in text and 'id="model-news-en"' in text
    assert "0.412 (212/353 pairs)" in text and "0.250 (coverage not recorded)" in text and "-1.000" not in text
    assert f'data-version="{NEWS_2}" data-model="news-en"' in text
    version = client.get(f"/word2vec/versions/{NEWS_2}").text
    assert 'id="gate-checks"' in version and "wordsim353_vs_champion" in version
    assert 'id="move-alias-form"' in version and 'name="csrf_token"' in version
    search = client.get("/word2vec/search", params={"model": "news-en", "at": "champion", "word": "king", "k": "3"})
    assert search.status_code == 200 and f"news-en@champion = {NEWS_2}" in search.text
    missing = client.get("/word2vec/search", params={"model": "news-en", "at": "staging", "word": "king"})
    assert missing.status_code == 404 and "has no alias" in missing.text


def test_a_second_request_reads_no_manifest_again(client, monkeypatch):
    """The app lists ``models/`` per request but reads each (immutable) manifest once."""
    mounted = next(route.app for route in client.app.routes if getattr(route, "path", "") == "/word2vec")
    store = mounted.state.catalog.source.store
    reads = []
    original = store.read_json

    def counting(key, *args, **kwargs):
        if key.endswith("/manifest.json"):
            reads.append(key)
        return original(key, *args, **kwargs)

    monkeypatch.setattr(store, "read_json", counting)
    client.cookies.set("_token", token("reader"))
    assert client.get("/word2vec/versions").status_code == 200
    assert len(reads) == 4  # OLD, NEW, NEWS_1, NEWS_2
    reads.clear()
    for path in ("/word2vec/versions", "/word2vec/models/news-en", f"/word2vec/versions/{NEWS_2}"):
        assert client.get(path).status_code == 200, path
    assert client.get("/word2vec/api/models/news-en/versions", headers=bearer("reader")).status_code == 200
    assert reads == [], "a second request read manifests again"
