"""A data root written by the release before named models (tests/fixtures/previous_layout_root:
versions without a model, ``models/LATEST``) opens as model ``default`` with LATEST as its
champion, every version readable, with no manual step; on a local root and on S3."""

import json
import shutil
from pathlib import Path

import pytest

from include.registry.registry import ModelRegistry
from include.serving.cli import main as cli
from include.serving.model_store import ModelStore
from include.storage.layout import data_store
from tests.conftest import PROJECT_ROOT
from tests.s3server import bucket_objects, put_objects

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "previous_layout_root"
OLDER, NEWER = "20261205T085608Z-91a06a15", "20261205T085622Z-ce232efc"


@pytest.fixture(params=["local", "s3"])
def old_root(request, tmp_path, monkeypatch):
    """The fixture's root copied to a local folder or uploaded to an S3 bucket, as EMBEDDINGS_DATA_DIR."""
    monkeypatch.setenv("EMBEDDINGS_CACHE_DIR", str(tmp_path / "cache"))
    if request.param == "local":
        root = tmp_path / "data"
        shutil.copytree(FIXTURE, root)
        monkeypatch.setenv("EMBEDDINGS_DATA_DIR", str(root))
        return str(root), None
    bucket = request.getfixturevalue("s3_bucket")
    endpoint = request.getfixturevalue("s3_endpoint")
    objects = {f"root/{path.relative_to(FIXTURE)}": path.read_bytes() for path in FIXTURE.rglob("*") if path.is_file()}
    put_objects(endpoint, bucket.removeprefix("s3://"), objects)
    monkeypatch.setenv("EMBEDDINGS_DATA_DIR", f"{bucket}/root")
    return f"{bucket}/root", endpoint


def test_previous_layout_opens_as_model_default_with_latest_as_champion(old_root, capsys):
    assert (FIXTURE / "models" / "LATEST").read_text().strip() == NEWER
    store = ModelStore()
    assert store.model_names() == ["default"] and store.aliases() == {"champion": NEWER}
    champion = store.load()
    assert champion.version == NEWER and len(champion.embeddings) > 10
    for version in (OLDER, NEWER):  # every version readable under its old name
        loaded = ModelStore(version=version).load()
        word = loaded.embeddings.index_to_word[0]
        assert loaded.neighbours(word, k=3) and loaded.vector(word).shape == (8,)
    assert ModelStore().load("latest").version == NEWER, "the previous layout's name for it still works"

    assert cli(["--json", "versions"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["version"], r["model"], r["aliases"]) for r in rows] == [
        (OLDER, "default", []),
        (NEWER, "default", ["champion"]),
    ]
    assert cli(["--json", "aliases"]) == 0 and json.loads(capsys.readouterr().out) == {"champion": NEWER}
    word = champion.embeddings.index_to_word[1]
    assert cli(["--version", OLDER, "neighbours", word, "-k", "2"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 2

    # an explicit rollback on the old root writes the alias; LATEST is not read after it
    assert cli(["promote", OLDER, "--alias", "champion", "--reason", "roll back after the upgrade"]) == 0
    capsys.readouterr()
    registry = ModelRegistry(data_store())
    assert registry.resolve("default") == OLDER and ModelStore().load().version == OLDER
    assert [(m["from_version"], m["to_version"]) for m in registry.history("default")] == [(NEWER, OLDER)]
    root, endpoint = old_root
    if endpoint:
        objects = bucket_objects(endpoint, root.removeprefix("s3://").split("/")[0])
        assert objects["root/registry/default/aliases/champion"].decode().strip() == OLDER
        assert objects["root/models/LATEST"].decode().strip() == NEWER, "LATEST is left as the old release wrote it"


@pytest.mark.slow
def test_a_new_run_on_the_previous_layout_gates_against_its_latest(tmp_path, monkeypatch, airflow_db):
    """The pipeline on the upgraded local root: the run's version belongs to default, the gate compares
    it with the version LATEST named, and the champion alias then names it; old versions stay."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils.state import DagRunState

    root = tmp_path / "data"
    shutil.copytree(FIXTURE, root)
    monkeypatch.setenv("EMBEDDINGS_DATA_DIR", str(root))
    monkeypatch.setenv("EMBEDDINGS_CACHE_DIR", str(tmp_path / "cache"))
    dag = DagBag(dag_folder=str(PROJECT_ROOT / "dags")).dags["word2vec_embeddings"]
    conf = {"corpus_path": "corpus", "epochs": 5, "vector_size": 8, "min_count": 1, "workers": 1}
    dag_run = dag.test(run_conf=conf, logical_date=None)
    assert dag_run.state == DagRunState.SUCCESS
    registry = ModelRegistry(data_store())
    new = [m for m in registry.manifests("default") if m["version"] not in (OLDER, NEWER)]
    assert len(new) == 1 and new[0]["model"] == "default" and new[0]["gate"]["compared_with"] == NEWER
    assert new[0]["contract"]["vector_size"] == 8
    assert new[0]["gate"]["decision"] == "promoted", new[0]["gate"]
    assert registry.resolve("default") == new[0]["version"]
    assert registry.history("default")[0]["from_version"] == NEWER
    assert {m["version"] for m in registry.manifests("default")} == {OLDER, NEWER, new[0]["version"]}


@pytest.mark.slow
def test_the_previous_release_root_keeps_reusing_its_tokens_and_models(s3_endpoint, s3_bucket, monkeypatch, tmp_path):
    """The fixture in the bucket its release wrote it to: the same runs again after the upgrade
    tokenize nothing (the partition is current) and train nothing (each version is found by its
    content hash), because the declared versions are those the previous release computed."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils.state import DagRunState

    from include.storage.run_records import read_run_record
    from tests.s3server import create_bucket

    create_bucket(s3_endpoint, "w2v-previous-release")
    objects = {f"root/{p.relative_to(FIXTURE)}": p.read_bytes() for p in FIXTURE.rglob("*") if p.is_file()}
    put_objects(s3_endpoint, "w2v-previous-release", objects)
    monkeypatch.setenv("EMBEDDINGS_DATA_DIR", "s3://w2v-previous-release/root")
    monkeypatch.setenv("EMBEDDINGS_CACHE_DIR", str(tmp_path / "cache"))
    dag = DagBag(dag_folder=str(PROJECT_ROOT / "dags")).dags["word2vec_embeddings"]
    for epochs, version in ((3, OLDER), (4, NEWER)):
        conf = {"corpus_path": "corpus", "epochs": epochs, "vector_size": 8, "min_count": 1, "workers": 1}
        dag_run = dag.test(run_conf=conf, logical_date=None)
        assert dag_run.state == DagRunState.SUCCESS
        states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
        assert states["tokenize_to_parquet"] == "skipped", "the committed partition is reused"
        assert states["train_word2vec"] == "skipped", states
        record = read_run_record(dag_run.run_id)
        assert record["outcome"] == "unchanged" and record["version"] == version, record
    after = bucket_objects(s3_endpoint, "w2v-previous-release")
    assert sorted({k.split("/")[2] for k in after if k.startswith("root/models/") and k.count("/") > 2}) == [
        OLDER,
        NEWER,
    ], "no new version"
    assert [k for k in after if k.startswith("root/tokens/")] == [k for k in objects if k.startswith("root/tokens/")]
