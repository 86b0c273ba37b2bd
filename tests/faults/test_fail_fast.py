"""Permanent errors fail fast and clearly: refused keys, AccessDenied, a missing bucket and an
endpoint that refuses connections each fail within seconds (no retry loop of minutes), as a
:class:`StorageConfigError` that the operators fail without Airflow retries, with a message naming
the data root's URL, the cause and the fix. The errors come from the fault proxy answering every
request with them (moto checks no keys), at the store's check and in the middle of a run."""

import time

import pytest

from include.storage.failures import reason_not_to_retry
from include.storage.store import StorageConfigError, checked, open_store

PERMANENT = [
    ((403, "InvalidAccessKeyId"), "credentials refused or access denied", "check the keys"),
    ((403, "SignatureDoesNotMatch"), "credentials refused or access denied", "check the keys"),
    ((403, "AccessDenied"), "credentials refused or access denied", "s3:PutObject"),
    ((404, "NoSuchBucket"), "does not exist (NoSuchBucket)", "create it, or set EMBEDDINGS_DATA_DIR"),
]


def _fails_fast(call, *fragments: str) -> StorageConfigError:
    started = time.monotonic()
    with pytest.raises(StorageConfigError) as caught:
        call()
    assert time.monotonic() - started < 30
    for fragment in fragments:
        assert fragment in str(caught.value), str(caught.value)
    assert reason_not_to_retry(caught.value, "run-1", "ingest_text") == str(caught.value), "no Airflow retry"
    return caught.value


@pytest.mark.parametrize(("answer", "cause", "fix"), PERMANENT, ids=[a[1] for a, _, _ in PERMANENT])
def test_a_permanent_error_at_the_check_fails_fast_naming_url_cause_and_fix(proxy_for, s3_bucket, answer, cause, fix):
    proxy_for(permanent=answer)
    root = f"{s3_bucket}/root"
    _fails_fast(lambda: checked(open_store(root)), f"'{root}'", cause, fix)


@pytest.mark.parametrize(("answer", "cause", "fix"), PERMANENT, ids=[a[1] for a, _, _ in PERMANENT])
def test_a_permanent_error_in_the_middle_of_a_run_fails_fast(proxy_for, s3_bucket, answer, cause, fix):
    proxy = proxy_for()
    root = f"{s3_bucket}/root"
    store = checked(open_store(root))
    store.put_bytes("runs/a.json", b"{}")
    proxy.permanent = answer  # e.g. the keys rotated, the policy changed, the bucket deleted
    for call in (
        lambda: store.put_bytes("runs/b.json", b"{}"),
        lambda: store.put_bytes("runs/c.json", b"{}", create_only=True),
        lambda: store.read_bytes("runs/a.json"),
        lambda: store.files("runs"),
        lambda: store.exists("runs/a.json"),
    ):
        _fails_fast(call, f"'{root}", cause, fix)


def test_an_endpoint_refusing_connections_fails_fast_naming_it_and_the_fix(s3_bucket, monkeypatch):
    from include.storage import store as store_module
    from tests.s3server import free_port

    endpoint = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    store_module.configure(None)
    _fails_fast(
        lambda: checked(open_store("s3://anywhere/root")),
        "'s3://anywhere/root'",
        f"cannot be reached at {endpoint}",
        "check that the endpoint (AWS_ENDPOINT_URL",
    )


def test_a_bucket_deleted_under_a_running_store_is_not_read_as_an_empty_root(s3_bucket):
    """Without the proxy: the S3 server's own NoSuchBucket, on the listing and lookup calls that
    would otherwise answer "nothing there"."""
    store = open_store("s3://no-such-bucket-for-listing/root")
    for call in (lambda: store.files("runs"), lambda: store.children("models"), lambda: store.exists("runs/a.json")):
        _fails_fast(call, "'s3://no-such-bucket-for-listing/root'", "does not exist (NoSuchBucket)")
