"""The HTML report in a real browser (Debian's headless Chromium through chromedriver), offline."""

import shutil
from pathlib import Path

import pytest

from include.artifacts.embeddings import load_embeddings
from include.quality.drift import compare_versions
from include.quality.evaluation import evaluate_keyed_vectors
from include.quality.parity import check_parity
from include.steps.write_similarity_report import build_report, write_report
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow
ARTIFACTS = PROJECT_ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def report_html(trained_version, tmp_path_factory):
    emb = load_embeddings(trained_version["version_dir"])
    history = [
        {
            "version": "20261101T000000Z-00000000",
            "data_time": "2026-11-01",
            "evaluation": {
                "wordsim353": {"spearman": 0.2},
                "simlex999": {"spearman": 0.1},
                "analogies": {"accuracy": 0.0},
            },
        }
    ]
    report = build_report(
        emb,
        version="20261102T000000Z-11111111",
        params={"corpus_path": "/data/<script>alert('x')</script>", "epochs": 3},
        corpus={"files": 1, "lines": 400, "tokens": 4500, "data_time": "2026-11-02"},
        probe_words=["king", "river", "<img src=x onerror=alert(1)>"],
        top_k=5,
        parity=check_parity(emb, trained_version["version_dir"] / "keras", pairs=20, seed=0),
        evaluation=evaluate_keyed_vectors(emb.to_keyed_vectors()),
        drift=compare_versions(emb, emb, ["king", "river"], 5, "20261101T000000Z-00000000"),
        history=history,
    )
    report["gate"] = {"decision": "promoted", "reason": "first version of this corpus"}
    out = tmp_path_factory.mktemp("report")
    return Path(write_report(report, emb, out)["report_html"])


@pytest.fixture(scope="module")
def browser():
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver, "Debian's chromium and chromium-driver are needed (make test installs them)"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

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
        "--window-size=1200,2400",
    ):
        options.add_argument(flag)
    session = webdriver.Chrome(service=Service(driver), options=options)
    yield session
    session.quit()


def test_report_renders_tables_and_images_offline(browser, report_html):
    from selenium.webdriver.common.by import By

    browser.get(report_html.as_uri())
    assert browser.title.startswith("Word2Vec report 20261102T000000Z-11111111")
    neighbour_tables = browser.find_elements(By.CSS_SELECTOR, "table.neighbour-table")
    assert len(neighbour_tables) == 2  # king and river; the markup probe is not a word
    assert neighbour_tables[0].find_elements(By.TAG_NAME, "tr")[0].text == "king"
    assert len(neighbour_tables[0].find_elements(By.TAG_NAME, "tr")) == 1 + 5
    for image_id in ("word-map", "history-plot"):
        image = browser.find_element(By.ID, image_id)
        width = browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", image)
        assert width and width > 300, f"{image_id} did not decode"
    assert browser.find_element(By.ID, "drift-probes").is_displayed()
    assert "promoted" in browser.find_element(By.ID, "gate-decision").text
    # markup from the conf and the probe words is shown as text, never run
    assert browser.execute_script("return document.querySelectorAll('script, img[onerror]').length") == 0
    assert "<script>alert('x')</script>" in browser.find_element(By.TAG_NAME, "body").text
    ARTIFACTS.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "report.png"))
    assert (ARTIFACTS / "report.png").stat().st_size > 50_000
