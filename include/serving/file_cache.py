"""A bounded local folder of remote files: how an object-store data root's version files reach
the api-server's disk (memory-mapping needs a local file).

:class:`BoundedFileCache` keeps at most a configured number of bytes, least recently used evicted
first; :func:`serving_cache` sizes it from the environment.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from include.serving.request_checks import validate_relative_file


class BoundedFileCache:
    """Local copies of remote files in ``folder``, at most ``max_bytes`` in total, least recently
    used evicted first: the piece an object-store :class:`ArtifactSource` reads through.

    ``fetch(key, download)`` returns the cached path of ``key`` (a relative path such as
    ``<version>/embeddings.npy``), calling ``download(destination)`` to fill it on a miss. A file
    larger than ``max_bytes`` is still fetched (and evicted on the next miss). Files of a version
    are immutable, so a cached copy never goes stale.
    """

    def __init__(self, folder: Path, max_bytes: int) -> None:
        if max_bytes <= 0:
            raise ValueError(f"cache size must be positive, got {max_bytes}")
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._used: OrderedDict[str, int] = OrderedDict()  # key -> bytes, least recently used first
        self.folder.mkdir(parents=True, exist_ok=True)
        for path in sorted(self.folder.rglob("*"), key=lambda p: p.stat().st_mtime):
            if path.is_file() and not path.name.endswith(".part"):
                self._used[str(path.relative_to(self.folder))] = path.stat().st_size

    @property
    def used_bytes(self) -> int:
        return sum(self._used.values())

    def fetch(self, key: str, download: Callable[[Path], None]) -> Path:
        key = validate_relative_file(key)
        path = self.folder / key
        with self._lock:
            if key in self._used and path.is_file():
                self._used.move_to_end(key)
                return path
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(path.name + ".part")
            download(partial)
            size = partial.stat().st_size
            while self._used and self.used_bytes + size > self.max_bytes:
                old_key, _ = self._used.popitem(last=False)
                (self.folder / old_key).unlink(missing_ok=True)
            os.replace(partial, path)
            self._used[key] = size
            return path

    def discard(self, key: str) -> bool:
        """Drop the cached copy of ``key`` (a damaged one: the next :meth:`fetch` downloads it
        again); true when there was one."""
        key = validate_relative_file(key)
        with self._lock:
            known = self._used.pop(key, None) is not None
            path = self.folder / key
            present = path.is_file()
            path.unlink(missing_ok=True)
            return known or present

    def clear(self) -> None:
        with self._lock:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder.mkdir(parents=True, exist_ok=True)
            self._used.clear()


#: Environment variables sizing the local cache an object-store source reads through.
CACHE_DIR_VARIABLE = "EMBEDDINGS_SERVING_CACHE_DIR"
CACHE_MB_VARIABLE = "EMBEDDINGS_SERVING_CACHE_MB"
DEFAULT_CACHE_MB = 2048


def serving_cache() -> BoundedFileCache:
    """The api-server's cache of remote version files: folder ``$EMBEDDINGS_SERVING_CACHE_DIR``
    (default ``<temp dir>/word2vec-serving-cache``), size ``$EMBEDDINGS_SERVING_CACHE_MB``
    megabytes (default 2048). Raises :class:`ValueError` naming the variable for a bad size."""
    import tempfile

    folder = os.environ.get(CACHE_DIR_VARIABLE, "").strip() or str(
        Path(tempfile.gettempdir()) / "word2vec-serving-cache"
    )
    raw = os.environ.get(CACHE_MB_VARIABLE, "").strip() or str(DEFAULT_CACHE_MB)
    try:
        megabytes = int(raw)
    except ValueError:
        megabytes = 0
    if megabytes <= 0:
        raise ValueError(f"{CACHE_MB_VARIABLE}={raw!r} must be a whole number of megabytes > 0")
    return BoundedFileCache(Path(folder).expanduser(), megabytes * 1024 * 1024)
