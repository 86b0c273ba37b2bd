import json

import pyarrow.parquet as pq
import pytest

from include.errors import PipelineInputError
from include.steps.commit_tokens import commit_partitions, remove_leftovers
from include.steps.ingest_text import ingest_text, plan_shards
from include.steps.tokenize_to_parquet import tokenize_to_parquet
from include.storage.layout import data_store
from include.storage.partitions import read_partition_summary
from include.text.fast_tokens import tokenize_text


def test_shards_balance_sizes_within_each_partition():
    entries = [{"partition": "p", "size": s} for s in (100, 90, 10, 10, 5)] + [
        {"partition": "q", "size": 1},
        {"partition": "p", "skipped": "binary", "size": 1000},
    ]
    shards = plan_shards(entries, 2)
    by_partition = [(s["partition"], s["shard"], s["files"]) for s in shards]
    assert by_partition == [("p", 0, [0, 3]), ("p", 1, [1, 2, 4]), ("q", 0, [5])]  # 110 and 105 bytes
    assert len(plan_shards(entries, 50)) == 6  # never more shards than files


def _ingest(corpus, run_id, max_shards=4) -> dict:
    """The run's ingest_text step, then its manifest as the later steps read it."""
    facts = ingest_text(str(corpus), run_id=run_id, conf={}, declared_params=[], max_shards=max_shards)
    return data_store().read_json(data_store().key_of(facts["manifest_path"])) | {"location": facts["manifest_path"]}


def _tokenize(manifest, run_id, shards=None):
    for number in range(len(manifest["shards"])) if shards is None else shards:
        tokenize_to_parquet(manifest["location"], number, run_id)


def _rows(partition_folder):
    """Every row of the part files the partition's _SUCCESS.json names (what training reads)."""
    summary = json.loads((partition_folder / "_SUCCESS.json").read_text())
    return [row for part in summary["parts"] for row in pq.read_table(partition_folder / part).to_pylist()]


def test_sharded_tokenize_then_commit_equals_tokenizing_the_files(data_root):
    corpus = data_root / "news"
    for day, lines in (("2026-11-01", ["The King speaks.", "Queen, too!"]), ("2026-11-02", ["River boats 42"])):
        (corpus / day).mkdir(parents=True)
        for number, line in enumerate(lines):
            (corpus / day / f"{number}.txt").write_text(line + "\n")
    manifest = _ingest(corpus, "run1")
    assert [(s["partition"], len(s["files"])) for s in manifest["shards"]] == [
        ("dt=2026-11-01", 1),
        ("dt=2026-11-01", 1),
        ("dt=2026-11-02", 1),
    ]
    _tokenize(manifest, "run1")
    _tokenize(manifest, "run1", [0])  # a retried shard overwrites its own file
    committed = commit_partitions(data_store(), manifest, "run1")
    assert sorted(committed["partitions"]) == ["dt=2026-11-01", "dt=2026-11-02"]
    final = data_root / "tokens" / manifest["corpus_id"]
    day1 = _rows(final / "dt=2026-11-01")
    assert sorted(t for row in day1 for t in row["tokens"]) == sorted(tokenize_text("The King speaks. Queen, too!"))
    summary = read_partition_summary(data_store(), manifest["corpus_id"], "dt=2026-11-01")
    assert summary["files"] == 2 and summary["tokens"] == 5 and len(summary["sources"]) == 2
    assert summary["parts"] == ["part-run1-00000.parquet", "part-run1-00001.parquet"]
    assert not list(final.rglob("part-*.json")), "shard sidecars are not published"


def test_commit_refuses_missing_shards_and_runs_without_tokens(data_root):
    corpus = data_root / "c"
    corpus.mkdir()
    (corpus / "a.txt").write_text("12 34\n")
    (corpus / "b.txt").write_text("5 6\n")
    manifest = _ingest(corpus, "r", max_shards=2)
    _tokenize(manifest, "r", [0])
    with pytest.raises(FileNotFoundError, match="shard 1"):
        commit_partitions(data_store(), manifest, "r")
    _tokenize(manifest, "r", [1])
    with pytest.raises(PipelineInputError, match="no line yields a token"):
        commit_partitions(data_store(), manifest, "r")
    tokens = data_root / "tokens"
    assert not list(tokens.rglob("_SUCCESS.json")) and not list(tokens.rglob("*.parquet")), "nothing stays behind"


def test_recommitting_a_partition_replaces_it(data_root):
    corpus = data_root / "c"
    corpus.mkdir()
    for run, text in (("one", "first version words\n"), ("two", "second words only\n")):
        (corpus / "a.txt").write_text(text)
        manifest = _ingest(corpus, run)
        _tokenize(manifest, run)
        commit_partitions(data_store(), manifest, run)
    rows = _rows(data_root / "tokens" / manifest["corpus_id"] / "snapshot")
    assert [row["tokens"] for row in rows] == [["second", "words", "only"]]


def test_leftover_parts_are_removed_once_old(data_root):
    import os
    import time

    corpus = data_root / "c"
    corpus.mkdir()
    for run, text in (("one", "first words\n"), ("two", "second words\n")):
        (corpus / "a.txt").write_text(text)
        manifest = _ingest(corpus, run)
        _tokenize(manifest, run)
        commit_partitions(data_store(), manifest, run)
    folder = data_root / "tokens" / manifest["corpus_id"] / "snapshot"
    old = folder / "part-one-00000.parquet"
    assert old.is_file(), "a part a reader of the previous summary may still read is kept for now"
    two_days_ago = time.time() - 2 * 86400
    os.utime(old, (two_days_ago, two_days_ago))
    assert remove_leftovers(data_store(), f"tokens/{manifest['corpus_id']}/snapshot", {"part-two-00000.parquet"}) == [
        "part-one-00000.parquet"
    ]
    assert sorted(p.name for p in folder.iterdir()) == ["_SUCCESS.json", "part-two-00000.parquet"]


# --- reusing committed partitions ---------------------------------------------------------------


def _run(corpus, run_id):
    """One run's ingest, shards and commit against the committed tokens of the data root."""
    manifest = _ingest(corpus, run_id, max_shards=2)
    _tokenize(manifest, run_id)
    return manifest, commit_partitions(data_store(), manifest, run_id)


def _dated_corpus(data_root):
    corpus = data_root / "news"
    for day, text in (("2026-11-01", "The King speaks.\n"), ("2026-11-02", "River boats sail.\n")):
        (corpus / day).mkdir(parents=True)
        (corpus / day / "a.txt").write_text(text)
    return corpus


def test_unchanged_partitions_are_reused_not_tokenized_again(data_root):
    corpus = _dated_corpus(data_root)
    first_manifest, first = _run(corpus, "first")
    assert first_manifest["reused"] == [] and sorted(first["partitions"]) == ["dt=2026-11-01", "dt=2026-11-02"]
    tokens = data_root / "tokens" / first_manifest["corpus_id"]
    part = tokens / "dt=2026-11-01" / "part-first-00000.parquet"
    made = part.stat().st_mtime_ns

    manifest, again = _run(corpus, "again")
    assert manifest["shards"] == [] and manifest["reused"] == ["dt=2026-11-01", "dt=2026-11-02"]
    assert manifest["totals"]["reused_partitions"] == 2
    assert again["partitions"] == {} and again["tokens"] == first["tokens"] and again["rows"] == first["rows"]
    assert part.stat().st_mtime_ns == made, "a reused partition is left as it is"

    (corpus / "2026-11-02" / "a.txt").write_text("River boats sail home.\n")  # one day changes
    manifest, changed = _run(corpus, "changed")
    assert manifest["reused"] == ["dt=2026-11-01"] and [s["partition"] for s in manifest["shards"]] == ["dt=2026-11-02"]
    assert sorted(changed["partitions"]) == ["dt=2026-11-02"] and changed["tokens"] == first["tokens"] + 1
    assert read_partition_summary(data_store(), manifest["corpus_id"], "dt=2026-11-02")["tokens"] == 4


@pytest.mark.parametrize("change", ["rename", "add", "tokenizer", "no summary"])
def test_a_partition_is_tokenized_again_when_anything_that_makes_it_differs(data_root, change):
    corpus = _dated_corpus(data_root)
    first_manifest, _ = _run(corpus, "first")
    day = data_root / "tokens" / first_manifest["corpus_id"] / "dt=2026-11-01"
    if change == "rename":  # same bytes, another path: the rows' source column would be stale
        (corpus / "2026-11-01" / "a.txt").rename(corpus / "2026-11-01" / "b.txt")
    elif change == "add":
        (corpus / "2026-11-01" / "more.txt").write_text("More words.\n")
    elif change == "tokenizer":  # made by another version of the tokenizer
        summary = json.loads((day / "_SUCCESS.json").read_text())
        (day / "_SUCCESS.json").write_text(json.dumps({**summary, "tokenizer": "0" * 16}))
    else:
        (day / "_SUCCESS.json").unlink()
    manifest, _ = _run(corpus, "again")
    assert manifest["reused"] == ["dt=2026-11-02"]
    assert {s["partition"] for s in manifest["shards"]} == {"dt=2026-11-01"}
    sources = {row["source"] for row in _rows(day)}
    assert sources == {str(p) for p in (corpus / "2026-11-01").iterdir()}
