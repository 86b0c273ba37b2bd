"""Integration tests: real Airflow processes on this machine's PostgreSQL (and Redis for Celery),
driven through the REST API as a user would. The harness is ``tests/integration/cluster.py``."""
