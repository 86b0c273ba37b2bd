"""Advisory file locks, so two runs writing the same partition or moving LATEST take turns, and a
run reading token partitions never sees one half-replaced."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import time
from pathlib import Path


@contextlib.contextmanager
def exclusive_lock(lock_path: Path, timeout: float = 600.0, poll: float = 0.2):
    """Hold an exclusive ``flock`` on ``lock_path`` (created if missing) for the ``with`` block.

    Waits up to ``timeout`` seconds for another holder, then raises ``TimeoutError`` naming the
    lock. The lock is released when the block ends or the process dies (the kernel drops it).
    """
    with _flock(lock_path, fcntl.LOCK_EX, timeout, poll):
        yield


@contextlib.contextmanager
def shared_lock(lock_path: Path, timeout: float = 600.0, poll: float = 0.2):
    """Hold a shared ``flock`` on ``lock_path``: any number of readers at once, never while a
    writer holds :func:`exclusive_lock` on it. Same waiting and release as :func:`exclusive_lock`."""
    with _flock(lock_path, fcntl.LOCK_SH, timeout, poll):
        yield


@contextlib.contextmanager
def _flock(lock_path: Path, mode: int, timeout: float, poll: float):
    lock_path = Path(lock_path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    with open(lock_path, "a+b") as handle:
        while True:
            try:
                fcntl.flock(handle.fileno(), mode | fcntl.LOCK_NB)
                break
            except OSError as error:
                if error.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"waited {timeout:.0f}s for the lock '{lock_path}' held by another run"
                    ) from error
                time.sleep(poll)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
