"""A real S3-compatible server for tests: ``moto_server`` (PyPI ``moto[server]``, the one s3fs's own
tests use) as a child process on a free port of 127.0.0.1, with fake keys. Nothing leaves the machine."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

FAKE_KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def moto_server(log_dir: Path):
    """Start ``moto_server``; yield its endpoint URL; stop it. The server keeps everything in memory."""
    port = free_port()
    log = open(Path(log_dir) / f"moto-{port}.log", "wb")
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **FAKE_KEYS},
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).read()
                break
            except OSError as error:
                if server.poll() is not None or time.monotonic() > deadline:
                    output = (Path(log_dir) / f"moto-{port}.log").read_text()
                    raise RuntimeError(f"moto_server did not start: {output}") from error
                time.sleep(0.2)
        yield endpoint
    finally:
        server.terminate()
        server.wait(10)
        log.close()


def s3_env(endpoint: str) -> dict[str, str]:
    """The standard AWS environment a user sets for an S3-compatible endpoint: all the project needs."""
    return {**FAKE_KEYS, "AWS_ENDPOINT_URL": endpoint}


def create_bucket(endpoint: str, bucket: str) -> None:
    import boto3

    boto3.client("s3", endpoint_url=endpoint, **_keys()).create_bucket(Bucket=bucket)


def _keys() -> dict:
    return {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
