"""The decisions the operators used to hold, tested without Airflow: train or skip, publish or
end unchanged, promote or keep default@champion. Each writes the run's record as ``make run`` reads it."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from include.errors import VersionConflictError
from include.quality.gate import GateDecision
from include.steps.commit_tokens import commit_tokens
from include.steps.ingest_text import ingest_text
from include.steps.promote import NotPromoted, promote
from include.steps.publish import published_meanwhile
from include.steps.tokenize_to_parquet import tokenize_to_parquet
from include.steps.train_word2vec import Unchanged, Word2VecParams, train_version
from include.storage.layout import data_store, staging_key
from include.storage.run_records import RunOutcome, read_run_record
from tests.conftest import champion

PARAMS = Word2VecParams(vector_size=8, window=2, min_count=1, epochs=1, workers=1, seed=1)


def _version(name: str, data_time: str, decision: str = "promoted", content_hash: str = "", run_id: str = "r"):
    manifest = {
        "version": name,
        "run_id": run_id,
        "corpus_id": "c",
        "data_time": data_time,
        "content_hash": content_hash,
        "gate": {"decision": decision},
    }
    data_store().put_bytes(f"models/{name}/manifest.json", json.dumps(manifest).encode())


def _committed_tokens(run_id: str) -> dict:
    facts = ingest_text("corpus", run_id=run_id, conf={}, declared_params=[])
    for shard in range(facts["shards"]):
        tokenize_to_parquet(facts["manifest_path"], shard, run_id)
    return {
        **facts,
        **commit_tokens(Path(facts["manifest_path"]), facts["corpus_id"], run_id, datetime.now(UTC).date()),
    }


def _train(run_id: str, facts: dict):
    return train_version(
        corpus_id=facts["corpus_id"],
        dated=False,
        window_end=None,
        history_days=0,
        params=PARAMS,
        run_id=run_id,
        data_time=datetime(2026, 11, 2, tzinfo=UTC),
    )


def test_train_version_trains_then_finds_the_identical_version(small_corpus):
    facts = _committed_tokens("first")
    trained = _train("first", facts)
    assert not isinstance(trained, Unchanged)
    assert trained["version"].startswith("20261102T000000Z-") and trained["vocab_size"] > 0
    assert Path(trained["model_path"]).is_file() and trained["partitions"] == ["snapshot"]
    # another run of the same inputs, while this one has claimed the version: it ends unchanged
    racing = _train("racing", facts)
    assert isinstance(racing, Unchanged) and "run first is building version" in racing.reason
    # published from the same inputs, params and code: the next run has nothing new to do
    _version(trained["version"], trained["data_time"], content_hash=trained["content_hash"])
    data_store().put_bytes(f"{staging_key('second')}/ingest_manifest.json", b"{}")
    again = _train("second", facts)
    assert again == Unchanged(trained["version"], again.reason) and "same inputs" in again.reason
    assert read_run_record("second")["outcome"] == RunOutcome.UNCHANGED == "unchanged"
    assert not data_store().files(staging_key("second")), "a run that ends unchanged leaves no scratch"


def test_publish_meanwhile_ends_unchanged_or_refuses_another_content(data_root):
    version = "20261102T000000Z-abcdef01"
    _version(version, "2026-11-02", content_hash="abcdef01" * 8, run_id="the_other_run")
    data_store().put_bytes(f"{staging_key('this_run')}/files/x.json", b"{}")
    result = published_meanwhile(version, "abcdef01" * 8, "this_run", FileExistsError("exists"))
    assert isinstance(result, Unchanged) and "published meanwhile by run the_other_run" in result.reason
    assert read_run_record("this_run")["outcome"] == "unchanged"
    assert not data_store().files(staging_key("this_run")), "the duplicate's scratch is dropped"
    with pytest.raises(VersionConflictError, match="exists"):  # another version of the same name
        published_meanwhile(version, "0" * 64, "this_run", FileExistsError("exists"))


def test_publish_retried_after_its_own_manifest_goes_on_to_promote(data_root):
    """The publish task's worker died after writing the manifest, before the task's success was
    recorded, so Airflow runs publish again: that try must not end the run ``unchanged`` (which
    skips promote and leaves the champion behind for good, as later runs find the version by its hash)."""
    version = "20261102T000000Z-abcdef01"
    _version(version, "2026-11-02", content_hash="abcdef01" * 8, run_id="this_run")
    manifest = data_store().read_bytes(f"models/{version}/manifest.json")
    data_store().put_bytes(f"{staging_key('this_run')}/files/x.json", b"{}")
    result = published_meanwhile(version, "abcdef01" * 8, "this_run", FileExistsError("exists"))
    assert not isinstance(result, Unchanged)
    assert result["version"] == version and result["decision"] == GateDecision.PROMOTED
    assert result["version_path"] == data_store().key_url(f"models/{version}")
    assert data_store().read_bytes(f"models/{version}/manifest.json") == manifest, "the manifest is untouched"
    assert read_run_record("this_run") is None, "not recorded as unchanged"
    promoted = promote(version, decision=result["decision"], reason="ok", run_id="this_run")
    assert promoted["champion"] == version == champion(data_root)
    assert read_run_record("this_run")["outcome"] == "promoted"


def test_promote_moves_champion_forward_only_and_records_each_outcome(data_root):
    _version("20261103T000000Z-bbbbbbbb", "2026-11-03")
    _version("20261102T000000Z-aaaaaaaa", "2026-11-02")
    _version("20261104T000000Z-cccccccc", "2026-11-04", decision="rejected")

    rejected = promote("20261104T000000Z-cccccccc", decision="rejected", reason="worse", run_id="r1")
    assert rejected == NotPromoted(RunOutcome.REJECTED, rejected.reason) and "rejected" in rejected.reason
    assert champion(data_root) is None and read_run_record("r1")["outcome"] == "rejected"

    promoted = promote("20261103T000000Z-bbbbbbbb", decision=GateDecision.PROMOTED, reason="ok", run_id="r2")
    assert promoted["champion"] == "20261103T000000Z-bbbbbbbb" and promoted["corpus_id"] == "c"
    assert promoted["model"] == "default" and promoted["previous"] is None
    assert champion(data_root) == "20261103T000000Z-bbbbbbbb"
    assert not (data_root / "models" / "LATEST").exists(), "the previous layout's pointer is never written"
    assert read_run_record("r2")["outcome"] == "promoted"

    older = promote("20261102T000000Z-aaaaaaaa", decision="promoted", reason="ok", run_id="r3")
    assert isinstance(older, NotPromoted) and older.outcome == RunOutcome.PUBLISHED
    assert "kept default@champion at 20261103T000000Z-bbbbbbbb" in older.reason
    assert champion(data_root) == "20261103T000000Z-bbbbbbbb", "the champion never moves backward in data time"
    assert read_run_record("r3")["outcome"] == "published"
