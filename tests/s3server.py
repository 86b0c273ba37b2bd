"""The S3 server the tests start: scripts/s3_server.py (moto_server on 127.0.0.1, fake keys)."""

from scripts.s3_server import FAKE_KEYS, create_bucket, free_port, moto_server, s3_env

__all__ = ["FAKE_KEYS", "create_bucket", "free_port", "moto_server", "s3_env"]
