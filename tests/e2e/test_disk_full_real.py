"""A real full disk: the data root is a small tmpfs, filled up between two runs of ``make run``'s
script. The second run fails with an error naming the file and "No space left on device", and
publishes nothing: no new version folder, default@champion unchanged, no half-written folder in
models/.

Needs root (or CAP_SYS_ADMIN) to mount a tmpfs; skipped, saying so, where mounting is refused.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from include.storage.publish import file_sha256
from tests.conftest import PROJECT_ROOT, champion, synthetic_sentences

pytestmark = pytest.mark.slow
TMPFS_BYTES = 8 * 1024 * 1024
SMALL = {"min_count": 1, "epochs": 1, "vector_size": 8, "workers": 1, "window": 2}


@pytest.fixture
def small_filesystem(tmp_path):
    """A fresh tmpfs of TMPFS_BYTES mounted at ``tmp_path/data``; unmounted afterwards."""
    mount_point = tmp_path / "data"
    mount_point.mkdir()
    result = subprocess.run(
        [
            "mount",
            "-t",
            "tmpfs",
            "-o",
            f"size={TMPFS_BYTES},mode=0755",
            f"w2v-full-{uuid.uuid4().hex[:8]}",
            str(mount_point),
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill up (needs root or CAP_SYS_ADMIN): {result.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _run_dag(data_root: Path, corpus_root: Path, conf: dict) -> subprocess.CompletedProcess:
    env = {**os.environ, "EMBEDDINGS_DATA_DIR": str(data_root), "EMBEDDINGS_CORPUS_ROOTS": str(corpus_root)}
    return subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "scripts" / "run_dag.py"), "--conf", json.dumps(conf)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _fill(filesystem: Path, leave_bytes: int) -> int:
    """Write a ballast file until only about ``leave_bytes`` are free; returns the free bytes."""
    stats = os.statvfs(filesystem)
    free = stats.f_bavail * stats.f_frsize
    with open(filesystem / "ballast.bin", "wb") as ballast:
        ballast.write(b"\0" * max(free - leave_bytes, 0))
    stats = os.statvfs(filesystem)
    return stats.f_bavail * stats.f_frsize


def test_disk_full_fails_naming_the_file_and_publishes_nothing(airflow_db, tmp_path, small_filesystem):
    data_root = small_filesystem
    corpus_root = tmp_path / "corpora"
    corpus_root.mkdir()
    corpus = corpus_root / "news.txt"
    corpus.write_text("\n".join(synthetic_sentences(count=600)) + "\n", encoding="utf-8")
    conf = {"corpus_path": str(corpus), **SMALL}

    first = _run_dag(data_root, corpus_root, conf)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    models = data_root / "models"
    promoted = champion(data_root)
    assert promoted and (models / promoted / "manifest.json").is_file()
    versions = sorted(p.name for p in models.iterdir())
    checksums = {p: file_sha256(p) for p in sorted(models.rglob("*")) if p.is_file()}
    registry = {p: file_sha256(p) for p in sorted((data_root / "registry").rglob("*")) if p.is_file()}

    free = _fill(data_root, leave_bytes=64 * 1024)
    assert free < 128 * 1024
    second = _run_dag(data_root, corpus_root, {**conf, "seed": 2})  # new params: a new version to write
    assert second.returncode == 1, second.stdout[-3000:] + second.stderr[-3000:]
    # the summary `make run` ends with: the failed step, the file or folder, the OS's reason
    failed = [line for line in second.stderr.splitlines() if line.startswith("FAILED ")]
    assert failed, second.stderr[-3000:]
    assert any("No space left on device" in line and f"'{data_root}" in line for line in failed), failed
    # tasks beside the one that hit the full disk fail at once too (no retry delays waited out)
    assert all("No space left on device" in line or "had already failed in" in line for line in failed), failed

    assert sorted(p.name for p in models.iterdir()) == versions, "no new version, no half-written folder"
    assert champion(data_root) == promoted
    assert {p: file_sha256(p) for p in sorted((data_root / "registry").rglob("*")) if p.is_file()} == registry
    assert {p: file_sha256(p) for p in sorted(models.rglob("*")) if p.is_file()} == checksums
