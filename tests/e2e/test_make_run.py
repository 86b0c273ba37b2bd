"""`make run` exactly as a user runs it, on a private Airflow home and data root."""

import os
import re
import subprocess
import time

import pytest

from tests.conftest import PROJECT_ROOT, champion, migrated_airflow_home

pytestmark = pytest.mark.slow


def _make_run(tmp_path, data_root, conf):
    home = migrated_airflow_home(tmp_path / "airflow-home")
    env = {**os.environ, "AIRFLOW_HOME": str(home), "EMBEDDINGS_DATA_DIR": str(data_root)}
    for key in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "PYTHONPATH"):
        env.pop(key, None)  # as in a user's shell: the Makefile sets what it needs
    started = time.monotonic()
    result = subprocess.run(
        ["make", "-s", "run", f"CONF={conf}"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    return result, time.monotonic() - started


def test_make_run_publishes_and_prints_where(tmp_path, data_root, small_corpus):
    result, _ = _make_run(tmp_path, data_root, '{"corpus_path": "corpus", "epochs": 2, "min_count": 2}')
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    version = champion(data_root)
    assert version and "succeeded: promoted" in result.stdout
    assert f"Model version: {data_root / 'models' / version}" in result.stdout
    assert re.search(r"Report: +\S+/report/report\.html", result.stdout)
    assert (data_root / "models" / version / "report" / "report.html").is_file()


def test_make_run_refuses_conf_that_is_not_json_or_breaks_a_param(tmp_path, data_root):
    result, _ = _make_run(tmp_path, data_root, "{epochs: 3}")
    assert result.returncode != 0 and "not valid JSON" in result.stderr
    result, _ = _make_run(tmp_path, data_root, '{"epochs": 0}')
    assert result.returncode == 2 and "Invalid DAG run conf" in result.stderr and "epochs" in result.stderr


def _scripts_run(tmp_path, data_root, conf):
    """``scripts/run CONF``, the command the README documents for its exit codes."""
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "airflow-home"), "EMBEDDINGS_DATA_DIR": str(data_root)}
    for key in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "PYTHONPATH"):
        env.pop(key, None)
    return subprocess.run(
        [str(PROJECT_ROOT / "scripts" / "run"), conf],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_scripts_run_exits_with_the_documented_codes(tmp_path, data_root):
    """Each exit code of ``scripts/run`` (what ``make run`` runs; make turns every failure into 2,
    which the other tests check) from a real run."""
    import json

    from tests.corpora import wordsim_corpus

    # a failure fails fast and names its cause: the first run, so the bound includes migrating a new
    # metadata DB; no retry delay is waited out
    started = time.monotonic()
    failed = _scripts_run(tmp_path, data_root, '{"corpus_path": "/etc"}')
    assert time.monotonic() - started < 120
    assert failed.returncode == 1 and "FAILED ingest_text" in failed.stderr, failed.stderr[-2000:]
    assert "outside the allowed roots" in failed.stderr
    assert not (data_root / "models").exists()
    for bad_conf, says in (("{epochs: 3}", "not valid JSON"), ('{"epochs": "ten"}', "Invalid DAG run conf")):
        result = _scripts_run(tmp_path, data_root, bad_conf)
        assert result.returncode == 2 and says in result.stderr and "epochs" in result.stderr, result.stderr[-2000:]

    corpus = wordsim_corpus(data_root / "wordsim" / "corpus.txt")
    good = {"corpus_path": str(corpus), "min_count": 1, "vector_size": 32, "window": 3, "workers": 1}  # epochs auto
    promoted = _scripts_run(tmp_path, data_root, json.dumps(good))
    assert promoted.returncode == 0 and "succeeded: promoted" in promoted.stdout, promoted.stderr[-3000:]
    version = champion(data_root)
    report = json.loads((data_root / "models" / version / "report" / "report.json").read_text())
    choice = report["epochs_choice"]
    assert report["params"]["epochs_requested"] == "auto" == choice["requested"]
    assert report["params"]["epochs"] == choice["epochs"] > 5 and choice["corpus_words"] == report["corpus"]["tokens"]
    assert choice["reason"] in (data_root / "models" / version / "report" / "report.html").read_text()

    # a vector_size other than the champion's fails before training unless allow_contract_change; with
    # it, the version is published and the gate rejects it (only an explicit promote could take it)
    worse = {**good, "epochs": 1, "vector_size": 2, "window": 1, "allow_contract_change": True}
    rejected = _scripts_run(tmp_path, data_root, json.dumps(worse))
    assert rejected.returncode == 3 and "succeeded: rejected" in rejected.stdout, rejected.stderr[-3000:]
    assert champion(data_root) == version
    [other] = [p for p in (data_root / "models").iterdir() if p.is_dir() and p.name != version]
    report = json.loads((other / "report" / "report.json").read_text())
    assert report["params"]["epochs"] == 1 == report["params"]["epochs_requested"]
    assert report["training"]["undertrained"] and "too few epochs" in report["training"]["warning"]
