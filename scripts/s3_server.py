"""A local S3-compatible server for trying an ``s3://`` data root, for the tests and the benchmark:
``moto_server`` (PyPI ``moto[server]``, the S3 server s3fs's own tests use) as a child process on a
free port of 127.0.0.1, with fake keys, everything in memory. Nothing leaves the machine.

Usage: ``.venv/bin/python scripts/s3_server.py BUCKET`` starts one, creates ``BUCKET`` and prints
the environment a shell needs (``export EMBEDDINGS_DATA_DIR=s3://BUCKET/data AWS_...``) until
Ctrl-C; then ``make run`` in that shell runs on it.
"""

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
    log = open(Path(log_dir) / f"moto-{port}.log", "wb")  # noqa: SIM115 (closed in the finally below)
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


def main(argv: list[str]) -> int:
    import tempfile

    bucket = argv[0] if argv else "embeddings"
    with moto_server(Path(tempfile.mkdtemp(prefix="moto-"))) as endpoint:
        create_bucket(endpoint, bucket)
        exports = {**s3_env(endpoint), "EMBEDDINGS_DATA_DIR": f"s3://{bucket}/data"}
        print("export " + " ".join(f"{name}={value}" for name, value in exports.items()), flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
