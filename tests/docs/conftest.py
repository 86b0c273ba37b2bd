"""The data root the docs' examples assume, built once per session with the project's own functions.

The docs' CLI examples name models (``default``, ``lee-300d``), aliases (``champion``, ``staging``,
``pinned-2026q4``), versions (``20261201T000000Z-9f8e7d6c``, ...) and words (``government``,
``king``, phrases such as ``prime_minister``). This root holds exactly those, trained on the bundled
Lee corpus (phrases on, as ``tokens`` shows), so every example runs for real against it. Each
command gets a copy of it (a promote must not change what the next example sees).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

#: model -> [(version, data day)]; the last version of each model is its champion.
DOCS_VERSIONS = {
    "default": [
        ("20261125T214138Z-de2324db", "2026-11-25"),
        ("20261201T000000Z-9f8e7d6c", "2026-12-01"),
        ("20261205T101500Z-1a2b3c4d", "2026-12-05"),
    ],
    "lee-300d": [("20261206T000000Z-300d300d", "2026-12-06")],
}
#: (model, alias, version) set beside each model's champion
DOCS_ALIASES = [
    ("default", "pinned-2026q4", "20261205T101500Z-1a2b3c4d"),
    ("lee-300d", "staging", "20261206T000000Z-300d300d"),
]
#: what a command's placeholder stands for in this root
PLACEHOLDERS = {"VERSION": "20261201T000000Z-9f8e7d6c"}


def _train(rows: list[list[str]], vector_size: int):
    from gensim.models import Word2Vec

    return Word2Vec(rows, vector_size=vector_size, window=5, min_count=1, epochs=5, workers=1, seed=1).wv


def build_docs_root(root: Path) -> Path:
    from gensim.utils import simple_preprocess

    from include.artifacts.embeddings import write_embeddings
    from include.artifacts.phrases import PhraseApplier, PhraseParams, learn_phrases, write_phrases
    from include.registry.registry import ModelRegistry
    from include.storage.paths import bundled_corpus_path
    from include.storage.store import LocalStore

    lines = [simple_preprocess(line) for line in bundled_corpus_path("lee").read_text(encoding="utf-8").splitlines()]
    phrases = learn_phrases(lambda: iter(lines), PhraseParams(phrases=1))
    apply = PhraseApplier(phrases)
    rows = [apply(row) for row in lines]
    store = LocalStore(root)
    registry = ModelRegistry(store)
    for model, versions in DOCS_VERSIONS.items():
        vector_size = 300 if model == "lee-300d" else 32
        vectors = _train(rows, vector_size)
        for version, day in versions:
            folder = root / "models" / version
            written = write_embeddings(vectors, folder)
            write_phrases(folder / "phrases.json", phrases)
            manifest = {
                "version": version,
                "model": model,
                "data_time": f"{day}T00:00:00+00:00",
                "params": {"vector_size": vector_size, "epochs": 5, "min_count": 1, "phrases": 1},
                "training": {"vocab_size": written["vocab_size"]},
                "gate": {"decision": "promoted", "reason": "built for the docs test", "checks": []},
            }
            store.put_json(f"models/{version}/manifest.json", manifest, create_only=True)
            registry.move_alias(model, "champion", version, actor="docs-test", reason="the docs' example root")
    for model, alias, version in DOCS_ALIASES:
        registry.move_alias(model, alias, version, actor="docs-test", reason="the docs' example root")
    return root


@pytest.fixture(scope="session")
def docs_root(tmp_path_factory) -> Path:
    """The docs' example data root (build it once; copy it before changing it)."""
    saved = os.environ.get("EMBEDDINGS_DATA_DIR")
    root = build_docs_root(tmp_path_factory.mktemp("docs-root") / "data")
    assert os.environ.get("EMBEDDINGS_DATA_DIR") == saved
    return root


@pytest.fixture
def docs_env(docs_root, tmp_path) -> dict[str, str]:
    """The environment a docs command runs in: a private copy of the docs' data root, a private
    cache and Airflow home, the venv's bin first on PATH (so ``python`` is the project's)."""
    from tests.conftest import PROJECT_ROOT

    data = tmp_path / "data"
    shutil.copytree(docs_root, data)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("EMBEDDINGS_", "AWS_"))}
    env.update(
        {
            "EMBEDDINGS_DATA_DIR": str(data),
            "EMBEDDINGS_CACHE_DIR": str(tmp_path / "cache"),
            "AIRFLOW_HOME": str(tmp_path / "airflow-home"),
            "PATH": f"{PROJECT_ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": str(tmp_path / "home"),
            "USER": "docs-test",
        }
    )
    (tmp_path / "home").mkdir()
    return env
