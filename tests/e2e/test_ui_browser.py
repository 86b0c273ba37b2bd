"""The pipeline's results in the Airflow UI, used as a person uses them: a real Airflow (scheduler,
dag-processor, api-server on PostgreSQL, tests/integration/cluster.py), a run of a small corpus,
then headless Chromium logs in through Airflow's login page, follows the "Model report" link of
the run's ``publish`` task, opens Browse > Word embeddings, searches a word, and opens the run's tab.
Each step asserts visible text and saves a screenshot to test-artifacts/. The JSON API is checked
for 401/403/404/422 and path traversal against the same api-server (one cluster for everything);
an alias is moved through the API (403 for a read-only user and for a cookie-authenticated POST
from another origin) and through the version page's form in the browser; the versions page is
shot in light and dark (``prefers-color-scheme``) and its background must differ.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.integration.cluster import AirflowCluster
from tests.integration.test_local_airflow import write_corpus

pytestmark = pytest.mark.slow

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
DAG_ID = "word2vec_embeddings"
CONF = {"epochs": 3, "min_count": 1, "vector_size": 16, "workers": 1, "top_k": 5}
AUTH_MANAGER = "tests.e2e.ui_auth_manager.OutsiderDeniedAuthManager"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """One cluster with two finished runs of the same corpus: the first promoted, the second
    ``unchanged`` (same inputs, params and code). Yields a dict of facts for the tests."""
    tmp_path = tmp_path_factory.mktemp("ui")
    data_root = tmp_path / "data"
    corpus = write_corpus(data_root / "corpus", lines=400)
    cluster = AirflowCluster(
        tmp_path,
        env_extra={
            "EMBEDDINGS_DATA_DIR": str(data_root),
            "AIRFLOW__CORE__AUTH_MANAGER": AUTH_MANAGER,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,outsider:viewer,reader:viewer",
        },
    )
    # Links are built from [api] base_url: the address the browser uses.
    cluster.env_extra["AIRFLOW__API__BASE_URL"] = cluster.base_url
    with cluster:
        conf = {**CONF, "corpus_path": str(corpus)}
        first = cluster.trigger(DAG_ID, conf)
        outcome = cluster.wait_for_run(DAG_ID, first, timeout=900)
        assert outcome.state == "success", outcome.report
        second = cluster.trigger(DAG_ID, conf)
        outcome = cluster.wait_for_run(DAG_ID, second, timeout=600)
        assert outcome.state == "success", outcome.report
        passwords = json.loads((cluster.home / "simple_auth_manager_passwords.json.generated").read_text())
        latest = champion_of(data_root)
        yield {
            "cluster": cluster,
            "data_root": data_root,
            "promoted_run": first,
            "unchanged_run": second,
            "version": latest,
            "passwords": passwords,
        }


def champion_of(data_root: Path, model: str = "default") -> str:
    """The version ``model@champion`` names (``models/LATEST`` of the previous layout included)."""
    from include.registry.registry import ModelRegistry
    from include.storage.store import LocalStore

    return ModelRegistry(LocalStore(data_root)).resolve(model)


def token_for(stack, user: str) -> str:
    cluster = stack["cluster"]
    response = httpx.post(
        f"{cluster.base_url}/auth/token",
        json={"username": user, "password": stack["passwords"][user]},
        timeout=30,
    )
    assert response.status_code in (200, 201), response.text
    return response.json()["access_token"]


def get(stack, path: str, token: str | None = None, **params) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(
        f"{stack['cluster'].base_url}{path}", params=params or None, headers=headers, timeout=60, follow_redirects=False
    )


# ---------------------------------------------------------------------------- the JSON API


def test_every_route_wants_a_login_and_read_access(stack):
    version = stack["version"]
    admin, outsider = token_for(stack, "admin"), token_for(stack, "outsider")
    routes = [
        "/word2vec/api/versions",
        f"/word2vec/api/versions/{version}/neighbours?word=king&k=3",
        f"/word2vec/api/versions/{version}/similarity?a=king&b=queen",
        "/word2vec/versions",
        f"/word2vec/versions/{version}",
        f"/word2vec/versions/{version}/report",
        f"/word2vec/versions/{version}/files/embeddings.npy",
        "/word2vec/search?word=king",
        f"/word2vec/dags/{DAG_ID}/runs/{quote(stack['promoted_run'], safe='')}",
    ]
    for route in routes:
        anonymous = get(stack, route)
        if "/api/" in route:
            assert anonymous.status_code == 401, (route, anonymous.status_code, anonymous.text)
            assert anonymous.json()["detail"]
        else:  # a page sends the browser to Airflow's login, and back here afterwards
            assert anonymous.status_code == 303, (route, anonymous.status_code)
            assert "/auth/login" in anonymous.headers["location"] and "next=" in anonymous.headers["location"]
        assert get(stack, route, token="not-a-jwt").status_code in (401, 403), route
        denied = get(stack, route, token=outsider)
        assert denied.status_code == 403, (route, denied.status_code, denied.text[:300])
        assert get(stack, route, token=admin).status_code == 200, route


def test_neighbours_and_similarity_json_match_the_published_files(stack):
    from include.serving.model_store import ModelStore

    admin, version = token_for(stack, "admin"), stack["version"]
    model = ModelStore(stack["data_root"] / "models").load(version)
    answer = get(stack, f"/word2vec/api/versions/{version}/neighbours", admin, word="king", k=5)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["version"] == version and body["word"] == "king"
    expected = model.neighbours("king", k=5)
    assert [w for w, _ in body["neighbours"]] == [w for w, _ in expected]
    assert [c for _, c in body["neighbours"]] == pytest.approx([c for _, c in expected], abs=1e-5)
    latest = get(stack, "/word2vec/api/versions/latest/similarity", admin, a="king", b="queen").json()
    assert latest["version"] == version
    assert latest["cosine"] == pytest.approx(model.similarity("king", "queen"), abs=1e-5)
    listing = get(stack, "/word2vec/api/versions", admin).json()
    assert [v["version"] for v in listing["versions"]] == [version] and listing["latest"] == version
    assert listing["versions"][0]["decision"] == "promoted"


@pytest.mark.parametrize(
    ("path", "params", "status", "message"),
    [
        ("/word2vec/api/versions/{v}/neighbours", {"word": "king", "k": "0"}, 422, "k="),
        ("/word2vec/api/versions/{v}/neighbours", {"word": "king", "k": "100000"}, 422, "k="),
        ("/word2vec/api/versions/{v}/neighbours", {"word": "king", "k": "ten"}, 422, "k="),
        ("/word2vec/api/versions/{v}/neighbours", {"word": "x" * 500}, 422, "at most"),
        ("/word2vec/api/versions/{v}/neighbours", {}, 422, "word is missing"),
        ("/word2vec/api/versions/{v}/neighbours", {"word": "zzzunknownzzz"}, 404, "not in the vocabulary"),
        ("/word2vec/api/versions/{v}/similarity", {"a": "king"}, 422, "b is missing"),
        ("/word2vec/api/versions/not-a-version/neighbours", {"word": "king"}, 422, "not a version name"),
        ("/word2vec/api/versions/20991231T000000Z-deadbeef/neighbours", {"word": "king"}, 404, "no published"),
        ("/word2vec/api/versions/..%2F..%2Fruns/neighbours", {"word": "king"}, None, None),
        ("/word2vec/versions/{v}/files/..%2F..%2Fruns%2Fx.json", {}, None, None),
        ("/word2vec/versions/{v}/files/%2E%2E/LATEST", {}, None, None),
        ("/word2vec/versions/{v}/files/word2vec.model.bak", {}, 404, "has no file"),
        ("/word2vec/versions/..%2F..%2Fetc/report", {}, None, None),
    ],
)
def test_bad_requests_get_a_clear_4xx(stack, path, params, status, message):
    response = get(stack, path.format(v=stack["version"]), token_for(stack, "admin"), **params)
    if status is None:  # a traversal attempt: refused (404/422), never a file from outside
        assert response.status_code in (404, 422), (path, response.status_code, response.text[:300])
    else:
        assert response.status_code == status, (path, response.status_code, response.text[:300])
        assert message in response.text
    assert "Traceback" not in response.text and 'File "' not in response.text


def test_report_is_served_as_on_disk_in_a_sandbox(stack):
    version = stack["version"]
    response = get(stack, f"/word2vec/versions/{version}/report", token_for(stack, "admin"))
    on_disk = (stack["data_root"] / "models" / version / "report" / "report.html").read_bytes()
    assert response.content == on_disk
    assert response.headers["content-security-policy"].startswith("sandbox")
    download = get(stack, f"/word2vec/versions/{version}/files/vocab.json", token_for(stack, "admin"))
    assert download.content == (stack["data_root"] / "models" / version / "vocab.json").read_bytes()
    assert "attachment" in download.headers["content-disposition"]


def test_extra_links_name_the_version_for_promoted_and_unchanged_runs(stack):
    cluster, version = stack["cluster"], stack["version"]
    report_url = f"{cluster.base_url}/word2vec/versions/{version}/report"

    def links(run_id: str, task_id: str) -> dict:
        path = f"/api/v2/dags/{DAG_ID}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}/links"
        return cluster.api("GET", path)["extra_links"]

    assert links(stack["promoted_run"], "publish") == {"Model report": report_url}
    assert links(stack["promoted_run"], "promote") == {"Model report": report_url}
    assert links(stack["promoted_run"], "train_word2vec") == {"Model report": None}  # nothing published yet then
    assert links(stack["unchanged_run"], "train_word2vec") == {"Model report": report_url}  # the identical version


def test_run_tab_of_another_dag_says_there_is_nothing(stack):
    response = get(stack, "/word2vec/dags/some_other_dag/runs/manual__x", token_for(stack, "admin"))
    assert response.status_code == 200 and "nothing to show" in response.text


# ---------------------------------------------------------------------------- in the browser


@pytest.fixture(scope="module")
def browser(stack):
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver, "Debian's chromium and chromium-driver are needed (make test-deps installs them)"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    session = webdriver.Chrome(service=Service(driver), options=options)
    session.set_page_load_timeout(60)
    try:
        # A person opens the versions page, is sent to Airflow's login, signs in, comes back.
        base = stack["cluster"].base_url
        session.get(f"{base}/word2vec/versions")
        wait = WebDriverWait(session, 60)
        wait.until(ec.presence_of_element_located((By.NAME, "username"))).send_keys("admin")
        session.find_element(By.NAME, "password").send_keys(stack["passwords"]["admin"])
        session.find_element(By.XPATH, "//button[@type='submit']").click()
        wait.until(lambda s: "/auth/login" not in s.current_url)
        yield session
    finally:
        session.quit()


def shot(browser, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    assert browser.save_screenshot(str(path))
    return path


def wait_for_text(browser, text: str, timeout: float = 60, frame: bool = False) -> str:
    """The page's (or its plugin iframe's) visible text once it contains ``text``."""
    from selenium.webdriver.common.by import By

    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        try:
            browser.switch_to.default_content()
            if frame:
                frames = browser.find_elements(By.TAG_NAME, "iframe")
                if not frames:
                    time.sleep(0.5)
                    continue
                browser.switch_to.frame(frames[0])
            seen = browser.find_element(By.TAG_NAME, "body").text
            if text in seen:
                return seen
        except Exception:  # the page is still loading or re-rendering
            pass
        time.sleep(0.5)
    raise AssertionError(f"{text!r} not shown within {timeout}s; page text:\n{seen[:2000]}")


def test_browser_follows_the_model_report_link_of_the_publish_task(stack, browser):
    from selenium.webdriver.common.by import By

    base, version = stack["cluster"].base_url, stack["version"]
    run = quote(stack["promoted_run"], safe="")
    browser.get(f"{base}/dags/{DAG_ID}/runs/{run}/tasks/publish")
    wait_for_text(browser, "Details")
    next(e for e in browser.find_elements(By.XPATH, "//*[text()='Details']") if e.is_displayed()).click()
    wait_for_text(browser, "Model report")  # under "Extra Links" on the task instance's Details tab
    link = next(
        element
        for element in browser.find_elements(By.XPATH, "//a[contains(., 'Model report')]")
        if element.is_displayed()
    )
    href = link.get_attribute("href")
    assert href == f"{base}/word2vec/versions/{version}/report"
    shot(browser, "ui-task-extra-link.png")
    link.click()  # a link to the same origin opens in this tab
    wait_for_text(browser, version)
    assert browser.title.startswith(f"Word2Vec report {version}")
    wait_for_text(browser, "promoted")
    shot(browser, "ui-model-report.png")


def test_browser_opens_word_embeddings_from_browse_and_searches(stack, browser):
    from selenium.webdriver.common.by import By

    base, version = stack["cluster"].base_url, stack["version"]
    browser.get(f"{base}/")
    wait_for_text(browser, "Browse")
    browser.find_element(By.XPATH, "//button[.//*[contains(text(), 'Browse')] or contains(., 'Browse')]").click()
    wait_for_text(browser, "Word embeddings")
    next(e for e in browser.find_elements(By.XPATH, "//*[text()='Word embeddings']") if e.is_displayed()).click()
    text = wait_for_text(browser, version, frame=True)
    assert "promoted" in text and "champion" in text and "default" in text
    browser.switch_to.default_content()
    path = shot(browser, "ui-versions.png")
    assert path.stat().st_size > 20_000

    browser.switch_to.frame(browser.find_elements(By.TAG_NAME, "iframe")[0])
    form = browser.find_element(By.ID, "neighbours-form")
    form.find_element(By.NAME, "word").send_keys("king")
    form.find_element(By.XPATH, ".//button").click()
    text = wait_for_text(browser, "Nearest neighbours of", frame=True)
    rows = browser.find_elements(By.CSS_SELECTOR, "#neighbours tr")[1:]
    assert len(rows) == 10  # the default k
    first_word, first_cosine = rows[0].find_elements(By.TAG_NAME, "td")[1:3]
    assert first_word.text and -1.0 <= float(first_cosine.text) <= 1.0
    assert version in text
    browser.switch_to.default_content()
    shot(browser, "ui-search.png")

    browser.switch_to.frame(browser.find_elements(By.TAG_NAME, "iframe")[0])
    form = browser.find_element(By.ID, "neighbours-form")
    form.find_element(By.NAME, "word").clear()
    form.find_element(By.NAME, "word").send_keys("zzzunknownzzz")
    form.find_element(By.XPATH, ".//button").click()
    wait_for_text(browser, "'zzzunknownzzz' is not in the vocabulary", frame=True)
    browser.switch_to.default_content()


def test_browser_shows_the_runs_version_in_its_tab(stack, browser):
    from selenium.webdriver.common.by import By

    base, version = stack["cluster"].base_url, stack["version"]
    browser.get(f"{base}/dags/{DAG_ID}/runs/{quote(stack['unchanged_run'], safe='')}")
    wait_for_text(browser, "Model version")
    next(e for e in browser.find_elements(By.XPATH, "//*[text()='Model version']") if e.is_displayed()).click()
    text = wait_for_text(browser, "unchanged", frame=True)
    assert version in text
    browser.switch_to.default_content()
    shot(browser, "ui-run-tab.png")


# ---------------------------------------------------------------------------- models and aliases


def post(stack, path: str, body: dict, headers: dict) -> httpx.Response:
    return httpx.post(f"{stack['cluster'].base_url}{path}", json=body, headers=headers, timeout=60)


def test_models_api_and_moving_an_alias_needs_edit_access_and_a_same_origin_request(stack):
    version, base = stack["version"], stack["cluster"].base_url
    admin, reader = token_for(stack, "admin"), token_for(stack, "reader")
    models = get(stack, "/word2vec/api/models", reader).json()["models"]
    assert {m["model"]: m["aliases"] for m in models}["default"]["champion"] == version
    versions = get(stack, "/word2vec/api/models/default/versions", reader).json()["versions"]
    assert versions[0]["version"] == version and "champion" in versions[0]["aliases"]
    assert versions[0]["gate"]["decision"] == "promoted"
    missing = get(stack, "/word2vec/api/models/default/neighbours", reader, alias="nope", word="king")
    assert missing.status_code == 404 and f"champion -> {version}" in missing.json()["detail"]
    unknown = get(stack, "/word2vec/api/models/nope/versions", reader)
    assert unknown.status_code == 404 and "models: default" in unknown.json()["detail"]

    path, body = "/word2vec/api/models/default/aliases/staging", {"version": version, "reason": "e2e: try it"}
    refused = post(stack, path, body, {"Authorization": f"Bearer {reader}"})
    assert refused.status_code == 403, refused.text  # read access only
    # the browser's session cookie, sent by a page of another origin: refused
    forged = httpx.post(
        f"{base}{path}", json=body, cookies={"_token": admin}, headers={"Origin": "https://evil.example"}, timeout=60
    )
    assert forged.status_code == 403 and "cross-site" in forged.json()["detail"], forged.text
    assert "staging" not in get(stack, "/word2vec/api/models/default/aliases", reader).json()["aliases"]

    moved = post(stack, path, body, {"Authorization": f"Bearer {admin}"})
    assert moved.status_code == 200, moved.text
    aliases = get(stack, "/word2vec/api/models/default/aliases", reader).json()
    assert aliases["aliases"]["staging"] == version
    newest = aliases["history"][0]
    assert (newest["alias"], newest["actor"], newest["reason"]) == ("staging", "admin", "e2e: try it")
    at_alias = get(stack, "/word2vec/api/models/default/neighbours", reader, alias="staging", word="king", k=3)
    assert at_alias.status_code == 200 and at_alias.json()["version"] == version


def test_browser_moves_an_alias_from_the_version_page(stack, browser):
    from selenium.webdriver.common.by import By

    base, version = stack["cluster"].base_url, stack["version"]
    browser.switch_to.default_content()
    browser.get(f"{base}/word2vec/versions/{version}")
    wait_for_text(browser, "Move an alias here")
    form = browser.find_element(By.ID, "move-alias-form")
    alias = form.find_element(By.NAME, "alias")
    alias.clear()
    alias.send_keys("pinned")
    form.find_element(By.NAME, "reason").send_keys("pinned from the browser")
    form.find_element(By.XPATH, ".//button").click()
    text = wait_for_text(browser, "pinned from the browser")
    assert "/word2vec/models/default" in browser.current_url
    assert "Alias history" in text and "admin" in text
    assert champion_of(stack["data_root"]) == version
    from include.registry.registry import ModelRegistry
    from include.storage.store import LocalStore

    move = ModelRegistry(LocalStore(stack["data_root"])).history("default", "pinned")[-1]
    assert (move["to_version"], move["actor"], move["reason"]) == (version, "admin", "pinned from the browser")
    shot(browser, "ui-model-history.png")


def test_browser_pages_follow_light_and_dark(stack, browser, tmp_path):
    """The versions page in light and in dark (the ``prefers-color-scheme`` a browser gives a page,
    also what it gives Airflow's iframe when Airflow's own theme is dark): a screenshot of each
    under the test's tmp dir, and the page's computed background differs."""
    base = stack["cluster"].base_url
    backgrounds = {}
    try:
        for scheme in ("light", "dark"):
            browser.execute_cdp_cmd(
                "Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": scheme}]}
            )
            browser.switch_to.default_content()
            browser.get(f"{base}/word2vec/versions")
            wait_for_text(browser, "Models")
            backgrounds[scheme] = browser.execute_script(
                "return [getComputedStyle(document.body).backgroundColor, getComputedStyle(document.body).color]"
            )
            path = tmp_path / f"ui-versions-{scheme}.png"
            assert browser.save_screenshot(str(path)) and path.stat().st_size > 10_000
            shot(browser, f"ui-versions-{scheme}.png")
        forced = {}
        for theme in ("light", "dark"):
            browser.get(f"{base}/word2vec/versions?theme={theme}")
            wait_for_text(browser, "Models")
            forced[theme] = browser.execute_script("return getComputedStyle(document.body).backgroundColor")
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
    assert backgrounds["light"][0] != backgrounds["dark"][0], backgrounds
    assert backgrounds["light"][1] != backgrounds["dark"][1], backgrounds  # the text follows
    assert forced["light"] == backgrounds["light"][0], forced  # ?theme=light wins over a dark preference
    assert forced["dark"] == backgrounds["dark"][0], forced


def test_browser_pages_follow_airflows_own_theme_inside_airflow(stack, browser, tmp_path):
    """A user who picks dark in Airflow (its ``theme`` in localStorage; Airflow then sets
    ``color-scheme: dark`` on its page) sees the versions page dark in Airflow's iframe, though the
    system preference is light: the browser hands the iframe the embedding page's colour scheme."""
    from selenium.webdriver.common.by import By

    base = stack["cluster"].base_url
    seen = {}
    try:
        for theme in ("light", "dark"):
            browser.switch_to.default_content()
            browser.get(f"{base}/")
            browser.execute_script("window.localStorage.setItem('theme', arguments[0])", theme)
            browser.get(f"{base}/plugin/word-embeddings")
            wait_for_text(browser, "Models", frame=True)  # leaves the driver inside the iframe
            seen[theme] = browser.execute_script("return getComputedStyle(document.body).backgroundColor")
            browser.switch_to.default_content()
            path = tmp_path / f"ui-in-airflow-{theme}.png"
            assert browser.save_screenshot(str(path))
            shot(browser, f"ui-in-airflow-{theme}.png")
            assert browser.find_elements(By.TAG_NAME, "iframe")
    finally:
        browser.switch_to.default_content()
        browser.execute_script("window.localStorage.removeItem('theme')")
    assert seen["light"] != seen["dark"], seen
