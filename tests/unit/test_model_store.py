import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from include.artifacts.embeddings import load_embeddings
from include.errors import PipelineInputError
from include.quality.neighbour_table import write_neighbour_table
from include.serving.model_store import ModelStore, UnknownWordError
from include.storage.store import open_store
from tests.conftest import PROJECT_ROOT


@pytest.fixture
def store(trained_version, data_root):
    models = data_root / "models"
    folder = models / "20261101T000000Z-aaaaaaaa"
    shutil.copytree(trained_version["version_dir"], folder)
    write_neighbour_table(load_embeddings(folder), 3, folder / "neighbours.parquet")
    (folder / "manifest.json").write_text(json.dumps({"version": folder.name}))
    open_store(data_root).swap("models/LATEST", f"{folder.name}\n".encode(), None)
    return ModelStore()


def test_store_answers_like_gensim(store):
    model = store.load()
    keyed = model.embeddings.to_keyed_vectors()
    assert model.version == "20261101T000000Z-aaaaaaaa" and store.versions() == [model.version]
    assert np.array_equal(model.vector("king"), keyed["king"])
    assert model.similarity("king", "queen") == pytest.approx(float(keyed.similarity("king", "queen")), abs=1e-6)
    from_table = model.neighbours("king", 3)
    assert [w for w, _ in from_table] == [w for w, _ in keyed.most_similar("king", topn=3)]
    computed = model.neighbours("king", 6)  # more than the table holds: computed exactly
    assert [w for w, _ in computed] == [w for w, _ in keyed.most_similar("king", topn=6)]
    with pytest.raises(UnknownWordError):
        model.vector("zebra")


def test_store_errors_name_the_problem(data_root):
    with pytest.raises(PipelineInputError, match="no promoted model yet"):
        ModelStore().load()
    with pytest.raises(PipelineInputError, match="no model version 'v9'"):
        ModelStore().load("v9")


def test_cli(store, data_root):
    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "include.cli", *args],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            env={"EMBEDDINGS_DATA_DIR": str(data_root), "PATH": "/usr/bin"},
        )

    result = cli("--json", "neighbours", "king", "-k", "2")
    assert result.returncode == 0 and len(json.loads(result.stdout)["neighbours"]) == 2
    assert cli("similarity", "king", "zebra").returncode == 1
    assert cli("--version", "nope", "vector", "king").returncode == 2
    assert cli("versions").stdout.strip() == "* 20261101T000000Z-aaaaaaaa"
