"""Shared fixtures. Every test gets its own data root; Airflow-backed tests get their own
AIRFLOW_HOME with a fresh SQLite metadata DB (see tests/airflow_home.py)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


@pytest.fixture
def data_root(tmp_path, monkeypatch) -> Path:
    """An empty data root for this test (EMBEDDINGS_DATA_DIR), with no extra corpus roots."""
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv("EMBEDDINGS_DATA_DIR", str(root))
    monkeypatch.delenv("EMBEDDINGS_CORPUS_ROOTS", raising=False)
    return root


@pytest.fixture
def small_corpus(data_root) -> Path:
    """A folder of text inside the data root: two .txt files, a .gz and a .bz2 in a sub-folder."""
    import bz2
    import gzip

    corpus = data_root / "corpus"
    (corpus / "more").mkdir(parents=True)
    sentences = [
        "the king rules the kingdom and the queen rules beside the king",
        "a man and a woman walk to the market in the old town",
        "the queen speaks to the people of the kingdom every year",
        "children play in the park while the man reads the paper",
    ]
    (corpus / "a.txt").write_text("\n".join(sentences * 30) + "\n", encoding="utf-8")
    (corpus / "b.TXT").write_text("\n".join(reversed(sentences * 30)), encoding="utf-8")
    (corpus / "more" / "c.txt.gz").write_bytes(gzip.compress(("\n".join(sentences * 20) + "\n").encode()))
    (corpus / "more" / "d.bz2").write_bytes(bz2.compress(("\n".join(sentences * 20) + "\n").encode()))
    (corpus / ".hidden.txt").write_text("hidden words never read\n", encoding="utf-8")
    (corpus / "notes.md").write_text("markdown is not a corpus file\n", encoding="utf-8")
    return corpus
