"""`make run` on an S3 data root whose every request goes through the fault proxy: a few percent of
all requests answered 503 SlowDown or 500 InternalError, reset or delayed, and a fifth of the
conditional writes forwarded and then their answer dropped. One run to the end, then one killed at a
seeded moment and run again. Afterwards every published version is whole, the aliases name whole
versions, no token partition is half-written or duplicated, and a sweep leaves no staging, claim or
probe behind. The figures (requests, faults by kind, versions, files checked) are printed: they are
the table in docs/reliability.md (``.venv/bin/pytest -s -m slow tests/faults/test_make_run_through_faults.py``)."""

import hashlib
import io
import json
import os
import random
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import PROJECT_ROOT, migrated_airflow_home, synthetic_sentences
from tests.faults.proxy import FaultProxy
from tests.s3server import bucket_objects, put_objects, s3_env

pytestmark = pytest.mark.slow
SEED = int(os.environ.get("FAULT_SEED", "25"))  # another seed: FAULT_SEED=7 .venv/bin/pytest ...
TINY = {"min_count": 1, "epochs": 1, "vector_size": 8, "workers": 1}


def _env(tmp_path, bucket: str, endpoint: str) -> dict[str, str]:
    env = {**os.environ, **s3_env(endpoint), "AIRFLOW_HOME": str(migrated_airflow_home(tmp_path / "airflow-home"))}
    env |= {"EMBEDDINGS_DATA_DIR": f"s3://{bucket}/embeddings", "HOME": str(tmp_path / "home")}
    for key in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "PYTHONPATH", "EMBEDDINGS_CORPUS_ROOTS"):
        env.pop(key, None)
    return env


def _command(conf: dict) -> list[str]:
    return ["make", "-s", "run", f"CONF={json.dumps(conf)}"]


def _run(env, conf: dict) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    result = subprocess.run(_command(conf), cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600)
    return result, time.monotonic() - started


def _killed(env, conf: dict, after: float) -> float:
    """Start a run and kill its whole process group (SIGKILL) ``after`` seconds in."""
    process = subprocess.Popen(
        _command(conf),
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        process.wait(after)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)
        return after
    return -1.0  # ended before the kill


def _check_whole(objects: dict[str, bytes]) -> dict[str, int]:
    """Assert the bucket's invariants; return what was checked."""
    import pyarrow.parquet as pq

    figures = {"versions": 0, "files": 0, "aliases": 0, "partitions": 0, "parts": 0}
    manifests = {
        key.split("/")[2]: json.loads(data)
        for key, data in objects.items()
        if key.startswith("embeddings/models/") and key.endswith("/manifest.json") and key.count("/") == 3
    }
    for version, manifest in manifests.items():
        figures["versions"] += 1
        assert f"embeddings/models/{version}/.claim" not in objects, f"a claim stays inside {version}"
        for name, entry in manifest["files"].items():
            data = objects.get(f"embeddings/models/{version}/{name}")
            assert data is not None, f"{version}/{name} missing"
            assert len(data) == entry["bytes"] and hashlib.sha256(data).hexdigest() == entry["sha256"], name
            figures["files"] += 1
    for key, data in objects.items():
        if key.startswith("embeddings/registry/") and "/aliases/" in key:
            assert data.decode().strip() in manifests, f"{key} names {data!r}, not a whole version"
            figures["aliases"] += 1
    for key, data in objects.items():
        if key.startswith("embeddings/tokens/") and key.endswith("/_SUCCESS.json"):
            summary = json.loads(data)
            folder = key.rsplit("/", 1)[0]
            parts = summary["parts"]
            assert len(parts) == len(set(parts)), f"{key} names a part twice"
            rows = 0
            for part in parts:
                table = pq.read_table(io.BytesIO(objects[f"{folder}/{part}"]))  # whole Parquet, or this raises
                rows += table.num_rows
                figures["parts"] += 1
            if "rows" in summary:
                assert rows == summary["rows"], f"{key}: {rows} rows in its parts, {summary['rows']} recorded"
            figures["partitions"] += 1
    assert figures["versions"] >= 1 and figures["aliases"] >= 1 and figures["partitions"] >= 1, figures
    return figures


def test_make_run_through_faults_and_a_kill_publishes_only_whole_versions(tmp_path, s3_endpoint, s3_bucket):
    from include.storage import store as store_module
    from include.storage.sweep import sweep

    bucket = s3_bucket.removeprefix("s3://")
    lines = synthetic_sentences(1500)
    put_objects(s3_endpoint, bucket, {"embeddings/corpus/a.txt": ("\n".join(lines) + "\n").encode()})
    proxy = FaultProxy(s3_endpoint, seed=SEED, rate=0.04, conditional_rate=0.2, delay_seconds=0.3).start()
    try:
        env = _env(tmp_path, bucket, proxy.endpoint)
        first, first_seconds = _run(env, {"corpus_path": "corpus", **TINY})
        assert "succeeded:" in first.stdout, first.stdout[-3000:] + first.stderr[-3000:]
        after_first = dict(proxy.counts)
        conf = {"corpus_path": "corpus", **TINY, "epochs": 2}  # another version: trained again
        # a moment inside the run: the first run's time includes migrating the metadata DB once
        killed_at = _killed(env, conf, random.Random(SEED).uniform(0.25, 0.6) * first_seconds)
        assert killed_at > 0, "the run to kill ended before the kill"
        again, again_seconds = _run(env, conf)
        assert "succeeded:" in again.stdout, again.stdout[-3000:] + again.stderr[-3000:]
    finally:
        proxy.stop()
    retried = sum((run.stdout + run.stderr).lower().count("up_for_retry") for run in (first, again))
    objects = bucket_objects(s3_endpoint, bucket)
    figures = _check_whole(objects)

    store_module.configure(None)
    store = store_module.open_store(f"{s3_bucket}/embeddings")
    swept = sweep(store, now=datetime.now(UTC) + timedelta(days=2))
    left = [
        k for k in bucket_objects(s3_endpoint, bucket) if "/staging/" in k or k.endswith("/.claim") or "/.probe/" in k
    ]
    assert not left, left
    _check_whole(bucket_objects(s3_endpoint, bucket))
    print(
        "\nFAULT FIGURES",
        json.dumps(
            {
                "seed": SEED,
                "runs": {
                    "first": round(first_seconds, 1),
                    "killed_at": round(killed_at, 1),
                    "rerun": round(again_seconds, 1),
                },
                "outcomes": [
                    first.stdout.split("succeeded: ")[1].split(".")[0],
                    again.stdout.split("succeeded: ")[1].split(".")[0],
                ],
                "requests_first_run": after_first,
                "requests_total": dict(proxy.counts),
                "task_retries_logged": retried,
                "checked": figures,
                "swept": swept,
                "lost": 0,
            }
        ),
    )


@pytest.mark.parametrize("code", ["InvalidAccessKeyId", "AccessDenied"])
def test_make_run_with_refused_keys_fails_at_once_naming_url_cause_and_fix(tmp_path, s3_endpoint, s3_bucket, code):
    """The task fails without Airflow retries (no 30 s retry delay waited out); a missing bucket and
    a refusing endpoint: tests/e2e/test_s3_data_root.py."""
    bucket = s3_bucket.removeprefix("s3://")
    with FaultProxy(s3_endpoint, permanent=(403, code)) as proxy:
        result, seconds = _run(_env(tmp_path, bucket, proxy.endpoint), {"corpus_path": "corpus", **TINY})
    assert result.returncode != 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "FAILED ingest_text" in result.stderr and f"'s3://{bucket}/embeddings'" in result.stderr, result.stderr[
        -2000:
    ]
    assert "credentials refused or access denied" in result.stderr and "check the keys" in result.stderr
    assert "up_for_retry" not in (result.stdout + result.stderr).lower()
    assert seconds < 75  # DB migration and Airflow included (about 14 s here); one retry would add 30 s + 60 s
