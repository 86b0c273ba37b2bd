"""Fixtures of the fault tests: a fault-injecting proxy (:mod:`tests.faults.proxy`) in front of the
session's S3 server, with the standard AWS_* environment pointing at the proxy."""

import pytest

from include.storage import store as store_module
from tests.faults.proxy import FaultProxy


@pytest.fixture
def proxy_for(s3_endpoint, s3_bucket, monkeypatch):
    """``proxy_for(**options)``: a started :class:`FaultProxy` in front of the S3 server, which the
    data root's store now goes through (``AWS_ENDPOINT_URL``); stopped at the end of the test."""
    started = []

    def make(**options) -> FaultProxy:
        proxy = FaultProxy(s3_endpoint, **options).start()
        started.append(proxy)
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        store_module.configure(None)  # forget stores and filesystems made for the direct endpoint
        store_module._checked.clear()
        return proxy

    yield make
    for proxy in started:
        proxy.stop()
    store_module.configure(None)
