"""The named-models story as a new user tells it (issue 24), through ``scripts/run_dag.py`` (what
``scripts/run`` runs) on the default Lee corpus, on a local and on an S3 data root:

1. ``{"epochs": 10}``                                   -> promoted: default@champion
2. ``{"epochs": 1, "vector_size": 2, "min_count": 50}`` -> refused before training (the contract)
   ``{"epochs": 1, "min_count": 50}``                   -> rejected by the gate (exit 3)
3. the 10-word corpus as ``"model": "scratch"``         -> promoted, default untouched
   the 10-word corpus sent to ``default``               -> rejected (exit 3)
4. ``{}`` (35 auto epochs)                              -> promoted over run 1
"""

import json
import random

import pytest

from include.registry.registry import ModelRegistry
from include.serving.cli import main as cli
from include.storage.layout import data_store

pytestmark = pytest.mark.slow


@pytest.fixture(params=["local", "s3"])
def root(request, data_root, tmp_path, monkeypatch, airflow_db):
    """An empty data root (local, or a prefix of a fresh bucket) holding ``corpora/tiny/tiny.txt``:
    ten random lowercase words."""
    rng = random.Random(24)
    tiny = " ".join("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(7)) for _ in range(10)) + "\n"
    monkeypatch.setenv("EMBEDDINGS_CACHE_DIR", str(tmp_path / "cache"))
    if request.param == "local":
        (data_root / "corpora" / "tiny").mkdir(parents=True)
        (data_root / "corpora" / "tiny" / "tiny.txt").write_text(tiny, encoding="utf-8")
        return request.param
    bucket = request.getfixturevalue("s3_bucket")
    monkeypatch.setenv("EMBEDDINGS_DATA_DIR", f"{bucket}/root")
    data_store().put_bytes("corpora/tiny/tiny.txt", tiny.encode())
    return request.param


def run(conf: dict, capsys) -> tuple[int, str, str]:
    from scripts.run_dag import main

    code = main(["--conf", json.dumps(conf)])
    out, err = capsys.readouterr()
    return code, out, err


def gate_of(registry: ModelRegistry, model: str, version: str) -> dict:
    return registry.manifest(model, version)["gate"]


def newest(registry: ModelRegistry, model: str) -> str:
    return registry.manifests(model)[-1]["version"]


def test_named_models_and_a_gate_that_cannot_be_fooled(root, capsys):
    registry = ModelRegistry(data_store())

    code, out, err = run({"epochs": 10}, capsys)
    assert code == 0 and "succeeded: promoted" in out, out[-2000:] + err[-3000:]
    first = registry.resolve("default")
    assert registry.manifest("default", first)["contract"]["vector_size"] == 100

    # 2. another vector size: refused before any token is written or any training starts
    code, out, err = run({"epochs": 1, "vector_size": 2, "min_count": 50}, capsys)
    assert code == 1, out[-2000:] + err[-2000:]
    assert "FAILED ingest_text" in err and "model 'default'" in err and "vector_size is 2" in err
    assert "has 100" in err and "allow_contract_change" in err
    assert [m["version"] for m in registry.manifests("default")] == [first]
    #    the same with the model's vector_size: trained, published, rejected by the gate
    code, out, err = run({"epochs": 1, "min_count": 50}, capsys)
    assert code == 3 and "default@champion is unchanged" in err, out[-2000:] + err[-2000:]
    weak = newest(registry, "default")
    gate = gate_of(registry, "default", weak)
    assert weak != first and gate["decision"] == "rejected" and gate["compared_with"] == first
    failed = [check["name"] for check in gate["checks"] if check["status"] == "failed"]
    assert failed and all(name in gate["reason"] for name in failed), gate
    for check in gate["checks"]:
        assert {"value", "threshold", "coverage", "status"} <= set(check), check
    report = json.loads(data_store().read_bytes(f"models/{weak}/report/report.json"))
    assert report["gate"] == gate
    assert registry.resolve("default") == first

    # 3. the 10-word corpus under its own model: promoted there, default untouched
    code, out, err = run({"corpus_path": "corpora/tiny", "min_count": 1, "model": "scratch"}, capsys)
    assert code == 0 and "succeeded: promoted" in out, out[-2000:] + err[-3000:]
    scratch = registry.resolve("scratch")
    assert registry.manifest("scratch", scratch)["model"] == "scratch"
    assert registry.resolve("default") == first
    #    ... and sent to default: rejected
    code, out, err = run({"corpus_path": "corpora/tiny", "min_count": 1}, capsys)
    assert code == 3, out[-2000:] + err[-2000:]
    assert gate_of(registry, "default", newest(registry, "default"))["decision"] == "rejected"
    assert registry.resolve("default") == first

    # 4. the good default: promoted over run 1
    code, out, err = run({}, capsys)
    assert code == 0 and "succeeded: promoted" in out, out[-2000:] + err[-3000:]
    good = registry.resolve("default")
    assert good != first and gate_of(registry, "default", good)["compared_with"] == first

    # what consumers see
    assert cli(["--json", "--model", "default", "versions"]) == 0
    rows = {row["version"]: row for row in json.loads(capsys.readouterr().out)}
    assert len(rows) == 4 and rows[good]["aliases"] == ["champion"] and rows[first]["aliases"] == []
    assert [rows[v]["gate"] for v in sorted(rows)] == ["promoted", "rejected", "rejected", "promoted"]
    assert cli(["--json", "models"]) == 0
    assert json.loads(capsys.readouterr().out) == {"default": {"champion": good}, "scratch": {"champion": scratch}}
    assert cli(["neighbours", "government", "-k", "3"]) == 0, "default@champion is the Lee model"
    assert [(m["to_version"], m["actor"]) for m in registry.history("default")] == [(first, "gate"), (good, "gate")]

    # each champion move emitted one event on its model's Asset (through the AssetAlias), no other run did
    assert [e["version"] for e in champion_events("default")] == [first, good]
    assert [(e["version"], e["previous"]) for e in champion_events("scratch")] == [(scratch, None)]
    if root == "local":
        consumer = consumer_dag()
        assert [asset.name for asset in consumer.timetable.asset_condition.objects] == ["word2vec_model.default"]
        from airflow.utils.state import DagRunState

        consumed = consumer.test(logical_date=None)
        assert consumed.state == DagRunState.SUCCESS
        described = consumed.get_task_instance("use_new_champion").xcom_pull(task_ids="use_new_champion")
        assert described["model"] == "default" and described["version"] == good and described["vocab_size"] > 1000


def champion_events(model: str) -> list[dict]:
    """The extras of the Asset events on ``word2vec_model.<model>`` for this test's data root, oldest first."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        events = (
            session.query(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetModel.name == f"word2vec_model.{model}")
            .order_by(AssetEvent.timestamp)
            .all()
        )
        return [dict(e.extra) for e in events if e.extra.get("data_root") == data_store().url]


def consumer_dag():
    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import PROJECT_ROOT

    return DagBag(dag_folder=str(PROJECT_ROOT / "dags")).dags["word2vec_champion_consumer"]
