"""The CLI's model and alias commands: the JSON contract scripts rely on, explicit promotes recorded
in the history, and unknown names answered with what exists (exit 2), never a traceback."""

import json

import pytest

from include.registry.registry import ModelRegistry
from include.serving.cli import main
from include.storage.layout import data_store

V1, V2, V3 = "20261101T000000Z-11111111", "20261102T000000Z-22222222", "20261103T000000Z-33333333"


def publish(store, version, model, day, decision="promoted", scored=212):
    store.put_json(
        f"models/{version}/manifest.json",
        {
            "version": version,
            "model": model,
            "data_time": f"2026-11-{day}T00:00:00+00:00",
            "params": {"vector_size": 100, "epochs": 10},
            "training": {"vocab_size": 1750},
            "evaluation": {
                "wordsim353": {"spearman": 0.41, "scored": scored, "total": 353, "unit": "pairs"},
                "simlex999": {"spearman": None, "scored": 12, "total": 999, "unit": "pairs"},
            },
            "gate": {
                "decision": decision,
                "reason": "test",
                "checks": [
                    {
                        "name": "vocabulary",
                        "value": 133 if decision == "rejected" else 1750,
                        "threshold": ">= 0.5 x champion",
                        "coverage": None,
                        "status": "failed" if decision == "rejected" else "passed",
                    }
                ],
            },
        },
        create_only=True,
    )


@pytest.fixture
def registry(data_root):
    store = data_store()
    publish(store, V1, "default", "01")
    publish(store, V2, "default", "02", decision="rejected")
    publish(store, V3, "scratch", "03")
    registry = ModelRegistry(store)
    registry.move_alias("default", "champion", V1, actor="gate", reason="first", forward_only=True)
    registry.move_alias("scratch", "champion", V3, actor="gate", reason="first", forward_only=True)
    return registry


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_versions_json_gives_one_object_per_version_with_aliases_and_gate(registry, capsys):
    code, out, _ = run(capsys, "--json", "--model", "default", "versions")
    assert code == 0
    rows = json.loads(out)
    assert [(r["version"], r["aliases"], r["gate"]) for r in rows] == [
        (V1, ["champion"], "promoted"),
        (V2, [], "rejected"),
    ]
    assert rows[0]["coverage"]["wordsim353"] == {"scored": 212, "total": 353, "unit": "pairs"}
    code, out, _ = run(capsys, "--model", "scratch", "versions")
    assert code == 0 and V3 in out and V1 not in out and "* = scratch@champion" in out


def test_versions_table_shows_every_score_with_its_coverage(registry, capsys):
    _, out, _ = run(capsys, "versions")
    assert "0.410 (212/353 pairs)" in out and "not computable (12/999 pairs)" in out
    assert "FAILED CHECKS" in out and "vocabulary 133 (>= 0.5 x champion)" in out and "vocabulary 1750" not in out
    assert "-1.000" not in out


def test_promote_moves_an_alias_explicitly_and_records_it(registry, capsys):
    code, out, _ = run(
        capsys,
        "--model",
        "default",
        "promote",
        V2,
        "--alias",
        "champion",
        "--reason",
        "the gate was wrong",
        "--actor",
        "ana",
    )
    assert code == 0 and f"default@champion: {V1} -> {V2}" in out
    code, out, _ = run(capsys, "--json", "--model", "default", "aliases")
    assert json.loads(out) == {"champion": V2}
    code, out, _ = run(capsys, "--model", "default", "aliases")
    assert f"champion: {V1} -> {V2}  by ana: the gate was wrong" in out and f"champion: - -> {V1}  by gate" in out
    code, out, _ = run(capsys, "--json", "--model", "default", "history")
    assert [(m["from_version"], m["to_version"], m["actor"]) for m in json.loads(out)] == [
        (None, V1, "gate"),
        (V1, V2, "ana"),
    ]
    # rolling back goes backward in data time: allowed for a person
    code, _, _ = run(capsys, "promote", V1, "--alias", "champion", "--reason", "roll back")
    assert code == 0 and registry.resolve("default") == V1
    code, _, _ = run(capsys, "promote", V2, "--alias", "staging", "--reason", "try it")
    assert code == 0 and registry.aliases("default") == {"champion": V1, "staging": V2}


def test_models_lists_each_model_with_its_aliases(registry, capsys):
    code, out, _ = run(capsys, "--json", "models")
    assert code == 0 and json.loads(out) == {"default": {"champion": V1}, "scratch": {"champion": V3}}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--model", "nope", "versions"), "no model 'nope'"),
        (("--model", "nope", "neighbours", "king"), "models: default, scratch"),
        (("--alias", "staging", "neighbours", "king"), f"no alias 'staging'; its aliases: champion -> {V1}"),
        (("--version", V3, "neighbours", "king"), f"model 'default' has no version '{V3}'; its versions: {V1}, {V2}"),
        (("--version", "garbage", "vector", "king"), "'garbage' is not a version name"),
        (("--model", "Bad Name", "versions"), "model 'Bad Name' is not a valid name"),
        (("promote", V3, "--alias", "champion", "--reason", "x"), f"has no version '{V3}'"),
        (("promote", V2, "--alias", "champion", "--reason", "  "), "--reason is required"),
        (("promote", V2, "--alias", "Champion!", "--reason", "x"), "alias 'Champion!' is not a valid name"),
    ],
)
def test_unknown_or_bad_names_exit_2_listing_what_exists(registry, capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and message in err and "Traceback" not in err and out == ""
    assert registry.resolve("default") == V1, "a refused promote moves nothing"
