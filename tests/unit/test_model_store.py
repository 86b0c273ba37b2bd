import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from include.artifacts.embeddings import load_embeddings
from include.errors import NotInRegistryError, PipelineInputError
from include.quality.neighbour_table import write_neighbour_table
from include.registry.registry import ModelRegistry
from include.serving.model_store import ModelStore, UnknownWordError
from include.storage.store import open_store
from tests.conftest import PROJECT_ROOT, champion


@pytest.fixture
def store(trained_version, data_root):
    models = data_root / "models"
    folder = models / "20261101T000000Z-aaaaaaaa"
    shutil.copytree(trained_version["version_dir"], folder)
    write_neighbour_table(load_embeddings(folder), 3, folder / "neighbours.parquet")
    (folder / "manifest.json").write_text(json.dumps({"version": folder.name}))
    ModelRegistry(open_store(data_root)).move_alias("default", "champion", folder.name, actor="test", reason="setup")
    assert champion(data_root) == folder.name
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
    # "latest" (the previous layout's name) still means the champion; unknown names list what exists
    assert store.load("latest").version == model.version == store.latest()
    with pytest.raises(NotInRegistryError, match="its versions: 20261101T000000Z-aaaaaaaa"):
        store.load("20261109T000000Z-99999999")
    with pytest.raises(NotInRegistryError, match="its aliases: champion -> 20261101T000000Z-aaaaaaaa"):
        store.load(alias="staging")


def test_store_errors_name_the_problem(data_root):
    with pytest.raises(NotInRegistryError, match=r"no model 'default' in .*models: \(none yet\)"):
        ModelStore().load()
    with pytest.raises(PipelineInputError, match="version 'v9' is not a version name"):
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
    table = cli("versions").stdout.splitlines()
    assert table[0].split() == [
        "VERSION",
        "ALIASES",
        "DATA",
        "TIME",
        "CORPUS",
        "VOCAB",
        "EPOCHS",
        "WORDSIM353",
        "SIMLEX999",
        "ANALOGIES",
        "GATE",
        "FAILED",
        "CHECKS",
    ]
    assert table[1].split() == [  # a manifest with no facts but the name
        "*",
        "20261101T000000Z-aaaaaaaa",
        "champion",
        "-",
        "-",
        "-",
        "-",
        "-",
        "-",
        "-",
        "-",
        "-",
    ]
    assert table[2].startswith("* = default@champion (")


def _manifest(folder, **facts):
    manifest = {
        "version": folder.name,
        "corpus_id": "lee_background.cor-1234abcd",
        "data_time": "2026-11-27T10:00:00+00:00",
        "params": {"corpus_path": "/x/lee_background.cor", "epochs": 35, "epochs_requested": "auto"},
        "training": {"vocab_size": 1750},
        "evaluation": {
            "wordsim353": {"spearman": 0.12, "oov_ratio": 0.5, "scored": 177, "total": 353, "unit": "pairs"},
            "simlex999": {"spearman": None, "oov_ratio": 0.9, "scored": 2, "total": 999, "unit": "pairs"},
            "analogies": {"accuracy": 0.01, "oov_ratio": 0.8, "scored": 300, "total": 1500, "unit": "questions"},
        },
        "gate": {"decision": "promoted", "reason": "first version of this corpus"},
        **facts,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_versions_tell_a_person_what_they_have(store, data_root, capsys):
    from include.serving.cli import main

    models = data_root / "models"
    first = models / "20261101T000000Z-aaaaaaaa"
    _manifest(first)
    rejected = models / "20261102T000000Z-bbbbbbbb"
    shutil.copytree(first, rejected)
    _manifest(
        rejected,
        data_time="2026-11-28T10:00:00+00:00",
        params={"corpus_path": "/x/lee_background.cor", "epochs": 1},
        gate={
            "decision": "rejected",
            "reason": "worse than 20261101T000000Z-aaaaaaaa by more than 0.05",
            "checks": [
                {"name": "vocabulary", "value": 1750, "threshold": ">= 0.5 x champion", "status": "passed"},
                {
                    "name": "wordsim353",
                    "value": 0.01,
                    "threshold": "drop <= 0.050",
                    "coverage": {"scored": 177, "total": 353, "unit": "pairs"},
                    "status": "failed",
                },
            ],
        },
    )
    summaries = store.describe_versions()
    assert [(v["version"], v["model"], v["aliases"], v["gate"]) for v in summaries] == [
        ("20261101T000000Z-aaaaaaaa", "default", ["champion"], "promoted"),
        ("20261102T000000Z-bbbbbbbb", "default", [], "rejected"),
    ]
    assert summaries[0]["vocab_size"] == 1750 and summaries[0]["wordsim353"] == 0.12
    assert summaries[0]["simlex999"] is None and summaries[0]["analogies"] == 0.01
    assert summaries[0]["coverage"] == {
        "wordsim353": {"scored": 177, "total": 353, "unit": "pairs"},
        "simlex999": {"scored": 2, "total": 999, "unit": "pairs"},
        "analogies": {"scored": 300, "total": 1500, "unit": "questions"},
    }
    assert summaries[0]["epochs"] == 35 and summaries[0]["epochs_requested"] == "auto"
    assert summaries[1]["epochs_requested"] == 1 and "worse than" in summaries[1]["gate_reason"]

    assert main(["versions"]) == 0
    header, latest, other, legend = capsys.readouterr().out.splitlines()
    assert latest.split() == [
        "*",
        "20261101T000000Z-aaaaaaaa",
        "champion",
        "2026-11-27T10:00:00",
        "lee_background.cor-1234abcd",
        "1750",
        "35",
        "(auto)",
        "0.120",
        "(177/353",
        "pairs)",
        "not",
        "computable",
        "(2/999",
        "pairs)",
        "0.010",
        "(300/1500",
        "questions)",
        "promoted",
        "-",  # no failed check
    ]
    assert other.split()[:3] == ["20261102T000000Z-bbbbbbbb", "-", "2026-11-28T10:00:00"]  # no alias
    assert other.split()[5] == "1"
    assert other.endswith("rejected  wordsim353 0.010 (177/353 pairs) (drop <= 0.050)"), other
    assert header.index("GATE") == latest.index("promoted") and legend.startswith("* = default@champion (")
    assert main(["--json", "versions"]) == 0
    assert json.loads(capsys.readouterr().out) == summaries
