import json

import pytest

from include.quality.gate import decide
from include.storage.store import open_store
from include.storage.versions import find_by_content_hash, list_versions


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


def test_listing_and_finding_versions(tmp_path):
    models = tmp_path / "models"
    store = open_store(tmp_path)
    _version(models, "20261101T000000Z-aaaaaaaa", data_time="2026-11-01", digest="h1")
    _version(models, "20261103T000000Z-bbbbbbbb", data_time="2026-11-03", decision="rejected")
    _version(models, "20261102T000000Z-cccccccc", data_time="2026-11-02")
    _version(models, "20261104T000000Z-dddddddd", corpus="other", data_time="2026-11-04")
    (models / "stray").mkdir()
    (models / "20261105T000000Z-eeeeeeee").mkdir()  # being built: no manifest yet
    (models / "20261105T000000Z-eeeeeeee" / "embeddings.npy").write_bytes(b"half")
    assert next(v["version"] for v in list_versions(store)) == "20261101T000000Z-aaaaaaaa"
    assert len(list_versions(store)) == 4
    assert find_by_content_hash(store, "h1")["version"] == "20261101T000000Z-aaaaaaaa"
    assert find_by_content_hash(store, "nope") is None


def _paired(delta: float, se: float = 0.01, scored: int = 300) -> dict:
    return {
        "value": 0.4 + delta,
        "reference": 0.4,
        "delta": delta,
        "delta_se": se,
        "coverage": {"scored": scored, "total": 353, "unit": "pairs"},
    }


CHAMPION = {"version": "v1", "training": {"vocab_size": 1000, "corpus_words": 50_000}}


def _facts(**paired) -> dict:
    return {"vocab_size": 1000, "degenerate": {"value": 0.7, "words": 100}, "paired": paired}


def test_first_version_is_promoted_with_only_the_degenerate_check():
    decision = decide(_facts(), None, 0.05)
    assert decision["decision"] == "promoted" and decision["compared_with"] is None
    assert [(c["name"], c["status"]) for c in decision["checks"]] == [("degenerate space", "passed")]
    assert decision["deltas"] == {} and decision["contract_changes"] == {}


def test_worse_beyond_tolerance_and_noise_is_rejected_with_reason():
    decision = decide(_facts(wordsim353=_paired(-0.1)), CHAMPION, 0.05, corpus_tokens=50_000)
    assert decision["decision"] == "rejected"
    assert "v1" in decision["reason"] and "wordsim353 failed" in decision["reason"]
    assert decision["deltas"]["wordsim353"] == pytest.approx(-0.1)
    line = next(c for c in decision["checks"] if c["name"] == "wordsim353")
    assert line["kind"] == "metric" and line["threshold"].startswith("drop <= 0.050")
    assert line["coverage"] == {"scored": 300, "total": 353, "unit": "pairs"}


def test_within_tolerance_or_within_the_paired_noise_is_promoted():
    assert decide(_facts(simlex999=_paired(-0.04)), CHAMPION, 0.05, corpus_tokens=50_000)["decision"] == "promoted"
    assert decide(_facts(simlex999=_paired(-0.04)), CHAMPION, 0.0, corpus_tokens=50_000)["decision"] == "rejected"
    # a drop of 0.1 with a paired standard error of 0.1 (a few dozen pairs) is noise
    noisy = decide(_facts(simlex999=_paired(-0.1, se=0.1)), CHAMPION, 0.05, corpus_tokens=50_000)
    assert noisy["decision"] == "promoted"
    assert next(c for c in noisy["checks"] if c["name"] == "simlex999")["threshold"].startswith("drop <= 0.196")


def test_metrics_not_computable_on_common_items_are_not_compared():
    missing = {"value": None, "reference": None, "delta": None, "delta_se": None, "coverage": None}
    decision = decide(_facts(wordsim353=missing), CHAMPION, 0.0, corpus_tokens=50_000)
    assert decision["decision"] == "promoted" and "not computable: " in decision["reason"]
    assert "wordsim353" in decision["reason"] and decision["deltas"] == {}


def test_shrunk_vocabulary_or_corpus_is_rejected_and_unrecorded_tokens_are_not_computable():
    shrunk = decide({**_facts(), "vocab_size": 400}, CHAMPION, 0.05, corpus_tokens=20_000)
    assert shrunk["decision"] == "rejected"
    assert "vocabulary failed" in shrunk["reason"] and "corpus tokens failed" in shrunk["reason"]
    old_layout = decide(_facts(), {"version": "v0"}, 0.05, corpus_tokens=20_000)
    assert old_layout["decision"] == "promoted"
    assert {c["name"]: c["status"] for c in old_layout["checks"]}["corpus tokens"] == "not computable"
