"""The data root's layout, as keys of its :class:`~include.storage.store.Store`.

```
tokens/<corpus_id>/<partition>/part-<run>-<shard>.parquet   token rows; _SUCCESS.json names the parts
models/<version>/...                                          one version; whole once manifest.json exists
models/<version>/.claim                                       the run building it (create-only)
registry/<model>/aliases/<alias>, registry/<model>/history/     a model's aliases and their moves (include.registry)
models/LATEST                                                 the previous layout's pointer, read as default@champion
runs/<run_id>.json                                            how each run ended
staging/<run_id>/...                                          one run's small intermediate files
```
"""

from __future__ import annotations

from include.storage.paths import data_root_location, safe_name
from include.storage.store import Store, open_store

MODELS = "models"
TOKENS = "tokens"
RUNS = "runs"
STAGING = "staging"
REGISTRY = "registry"
LATEST_KEY = f"{MODELS}/LATEST"
MANIFEST_FILE = "manifest.json"
CLAIM_FILE = ".claim"
SUCCESS_FILE = "_SUCCESS.json"


def data_store() -> Store:
    """The :class:`Store` of ``EMBEDDINGS_DATA_DIR`` (a local folder or an object-store URL)."""
    return open_store(data_root_location())


def version_key(version: str) -> str:
    return f"{MODELS}/{version}"


def corpus_tokens_key(corpus_id: str) -> str:
    return f"{TOKENS}/{corpus_id}"


def partition_key(corpus_id: str, partition: str) -> str:
    return f"{TOKENS}/{corpus_id}/{partition}"


def staging_key(run_id: str) -> str:
    """Small files one run passes between its tasks (the ingest manifest, shard totals, file lists)."""
    return f"{STAGING}/{safe_name(run_id)}"


def run_record_key(run_id: str) -> str:
    return f"{RUNS}/{safe_name(run_id)}.json"


def files_list_key(run_id: str, task_id: str) -> str:
    """Where a task of run ``run_id`` records the version files it wrote (key -> sha256, bytes)."""
    return f"{staging_key(run_id)}/files/{task_id}.json"
