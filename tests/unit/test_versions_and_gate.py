import json

import pytest

from include.quality.gate import decide, reference_version
from include.storage.publish import point_latest
from include.storage.versions import find_by_content_hash, latest_manifest, list_versions, prune_versions


def _version(
    models, name, corpus="c", decision="promoted", data_time="2026-11-01T00:00:00+00:00", digest=None, evaluation=None
):
    folder = models / name
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(
        json.dumps(
            {
                "version": name,
                "corpus_id": corpus,
                "data_time": data_time,
                "content_hash": digest or name,
                "gate": {"decision": decision},
                "evaluation": evaluation or {},
            }
        )
    )
    return folder


def test_listing_finding_and_last_promoted(tmp_path):
    models = tmp_path / "models"
    _version(models, "20261101T000000Z-aaaaaaaa", data_time="2026-11-01", digest="h1")
    _version(models, "20261103T000000Z-bbbbbbbb", data_time="2026-11-03", decision="rejected")
    _version(models, "20261102T000000Z-cccccccc", data_time="2026-11-02")
    _version(models, "20261104T000000Z-dddddddd", corpus="other", data_time="2026-11-04")
    (models / "stray").mkdir()
    assert next(v["version"] for v in list_versions(models)) == "20261101T000000Z-aaaaaaaa"
    assert len(list_versions(models)) == 4
    assert find_by_content_hash(models, "h1")["version"] == "20261101T000000Z-aaaaaaaa"
    assert find_by_content_hash(models, "nope") is None
    assert reference_version(list_versions(models), "c")["version"] == "20261102T000000Z-cccccccc"
    newest_excluded = reference_version(list_versions(models), "c", exclude="20261102T000000Z-cccccccc")
    assert newest_excluded["version"] == "20261101T000000Z-aaaaaaaa"
    assert reference_version(list_versions(models), "missing") is None
    assert latest_manifest(models) is None
    point_latest(models, "20261101T000000Z-aaaaaaaa")
    assert latest_manifest(models)["version"] == "20261101T000000Z-aaaaaaaa"


def test_pruning_keeps_the_newest_and_latest(tmp_path):
    models = tmp_path / "models"
    names = [f"2026110{day}T000000Z-0000000{day}" for day in range(1, 6)]
    for name in names:
        _version(models, name)
    point_latest(models, names[0])
    assert prune_versions(models, 0) == []
    removed = prune_versions(models, 2)
    assert removed == names[1:3]
    assert sorted(v["version"] for v in list_versions(models)) == [names[0], names[3], names[4]]
    assert not list(models.glob(".*deleting"))


GOOD = {"wordsim353": {"spearman": 0.40}, "simlex999": {"spearman": 0.20}, "analogies": {"accuracy": 0.10}}


def test_first_version_is_promoted():
    assert decide(GOOD, None, 0.05)["decision"] == "promoted"


def test_worse_beyond_tolerance_is_rejected_with_reason():
    previous = {"version": "v1", "evaluation": GOOD}
    worse = {**GOOD, "wordsim353": {"spearman": 0.30}}
    decision = decide(worse, previous, 0.05)
    assert decision["decision"] == "rejected"
    assert "v1" in decision["reason"] and "wordsim353 -0.1000" in decision["reason"]
    assert decision["deltas"]["wordsim353"] == pytest.approx(-0.1)


def test_within_tolerance_or_better_is_promoted():
    previous = {"version": "v1", "evaluation": GOOD}
    assert decide({**GOOD, "simlex999": {"spearman": 0.16}}, previous, 0.05)["decision"] == "promoted"
    assert decide({**GOOD, "simlex999": {"spearman": 0.16}}, previous, 0.0)["decision"] == "rejected"


def test_metrics_missing_on_either_side_are_not_compared():
    previous = {"version": "v1", "evaluation": {"wordsim353": {"spearman": None}}}
    decision = decide({"wordsim353": {"spearman": 0.1}}, previous, 0.0)
    assert decision["decision"] == "promoted" and "no metric computable" in decision["reason"]
