"""Writing files so a reader never sees half of one: write a sibling temp file, then rename."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temp file and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # e.g. a full disk: leave no half-written temp file behind
        raise


def write_json_atomic(path: Path, payload: object, indent: int | None = 1) -> None:
    """Write ``payload`` as strict JSON (``NaN`` and infinities refused) to ``path`` atomically."""
    write_text_atomic(path, json.dumps(payload, indent=indent, ensure_ascii=False, allow_nan=False) + "\n")


def replace_dir(staged: Path, final: Path) -> None:
    """Put the finished folder ``staged`` at ``final``, replacing what was there.

    The new folder appears by one rename; an older folder at ``final`` is first renamed aside and
    then deleted, so ``final`` is never a mix of old and new files.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    if final.exists():
        os.rename(final, old)
    os.rename(staged, final)
    shutil.rmtree(old, ignore_errors=True)
