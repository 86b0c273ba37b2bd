import json

import pyarrow.parquet as pq
import pytest

from include.errors import PipelineInputError
from include.steps.commit_tokens import commit_partitions
from include.steps.ingest_text import ingest_corpus, plan_shards, read_manifest
from include.steps.tokenize_to_parquet import tokenize_shard
from include.storage.partitions import plan_partitions
from include.text.tokens import read_partition_summary, tokenize_text


def test_shards_balance_sizes_within_each_partition():
    entries = [{"partition": "p", "size": s} for s in (100, 90, 10, 10, 5)] + [
        {"partition": "q", "size": 1},
        {"partition": "p", "skipped": "binary", "size": 1000},
    ]
    shards = plan_shards(entries, 2)
    by_partition = [(s["partition"], s["shard"], s["files"]) for s in shards]
    assert by_partition == [("p", 0, [0, 3]), ("p", 1, [1, 2, 4]), ("q", 0, [5])]  # 110 and 105 bytes
    assert len(plan_shards(entries, 50)) == 6  # never more shards than files


def test_sharded_tokenize_then_commit_equals_tokenizing_the_files(tmp_path):
    corpus = tmp_path / "news"
    for day, lines in (("2026-11-01", ["The King speaks.", "Queen, too!"]), ("2026-11-02", ["River boats 42"])):
        (corpus / day).mkdir(parents=True)
        for number, line in enumerate(lines):
            (corpus / day / f"{number}.txt").write_text(line + "\n")
    manifest_path = tmp_path / "manifest.json"
    ingest_corpus(corpus, manifest_path, plan_partitions(corpus, None, None), max_shards=4)
    manifest = read_manifest(manifest_path)
    assert [(s["partition"], len(s["files"])) for s in manifest["shards"]] == [
        ("dt=2026-11-01", 1),
        ("dt=2026-11-01", 1),
        ("dt=2026-11-02", 1),
    ]
    staging, final = tmp_path / "staging", tmp_path / "tokens"
    for number in range(len(manifest["shards"])):
        tokenize_shard(manifest, number, staging)
    tokenize_shard(manifest, 0, staging)  # a retried shard overwrites its own file
    committed = commit_partitions(manifest, staging, final)
    assert sorted(committed["partitions"]) == ["dt=2026-11-01", "dt=2026-11-02"]
    day1 = pq.read_table(final / "dt=2026-11-01").to_pylist()
    assert sorted(t for row in day1 for t in row["tokens"]) == sorted(tokenize_text("The King speaks. Queen, too!"))
    summary = read_partition_summary(final / "dt=2026-11-01")
    assert summary["files"] == 2 and summary["tokens"] == 5 and len(summary["sources"]) == 2
    assert not list(final.rglob("part-*.json")), "shard sidecars are not published"


def test_commit_refuses_missing_shards_and_runs_without_tokens(tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.txt").write_text("12 34\n")
    (corpus / "b.txt").write_text("5 6\n")
    manifest_path = tmp_path / "m.json"
    ingest_corpus(corpus, manifest_path, max_shards=2)
    manifest = read_manifest(manifest_path)
    tokenize_shard(manifest, 0, tmp_path / "staging")
    with pytest.raises(FileNotFoundError, match="shard 1"):
        commit_partitions(manifest, tmp_path / "staging", tmp_path / "tokens")
    tokenize_shard(manifest, 1, tmp_path / "staging")
    with pytest.raises(PipelineInputError, match="no line yields a token"):
        commit_partitions(manifest, tmp_path / "staging", tmp_path / "tokens")
    assert not (tmp_path / "tokens").exists()


def test_recommitting_a_partition_replaces_it(tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.txt").write_text("first version words\n")
    for text in ("first version words\n", "second words only\n"):
        (corpus / "a.txt").write_text(text)
        manifest_path = tmp_path / "m.json"
        ingest_corpus(corpus, manifest_path)
        manifest = read_manifest(manifest_path)
        tokenize_shard(manifest, 0, tmp_path / "staging")
        commit_partitions(manifest, tmp_path / "staging", tmp_path / "tokens")
    rows = pq.read_table(tmp_path / "tokens" / "snapshot").to_pylist()
    assert [row["tokens"] for row in rows] == [["second", "words", "only"]]


# --- reusing committed partitions ---------------------------------------------------------------


def _run(corpus, tmp_path, name):
    """One run's ingest, shards and commit against the committed tokens in tmp_path/tokens."""
    manifest_path = tmp_path / f"{name}.json"
    final = tmp_path / "tokens"
    ingest_corpus(corpus, manifest_path, plan_partitions(corpus, None, None), max_shards=2, committed_tokens=final)
    manifest = read_manifest(manifest_path)
    for number in range(len(manifest["shards"])):
        tokenize_shard(manifest, number, tmp_path / name)
    return manifest, commit_partitions(manifest, tmp_path / name, final)


def _dated_corpus(tmp_path):
    corpus = tmp_path / "news"
    for day, text in (("2026-11-01", "The King speaks.\n"), ("2026-11-02", "River boats sail.\n")):
        (corpus / day).mkdir(parents=True)
        (corpus / day / "a.txt").write_text(text)
    return corpus


def test_unchanged_partitions_are_reused_not_tokenized_again(tmp_path):
    corpus = _dated_corpus(tmp_path)
    first_manifest, first = _run(corpus, tmp_path, "first")
    assert first_manifest["reused"] == [] and sorted(first["partitions"]) == ["dt=2026-11-01", "dt=2026-11-02"]
    part = tmp_path / "tokens" / "dt=2026-11-01" / "part-00000.parquet"
    made = part.stat().st_mtime_ns

    manifest, again = _run(corpus, tmp_path, "again")
    assert manifest["shards"] == [] and manifest["reused"] == ["dt=2026-11-01", "dt=2026-11-02"]
    assert manifest["totals"]["reused_partitions"] == 2
    assert again["partitions"] == {} and again["tokens"] == first["tokens"] and again["rows"] == first["rows"]
    assert part.stat().st_mtime_ns == made, "a reused partition is left as it is"

    (corpus / "2026-11-02" / "a.txt").write_text("River boats sail home.\n")  # one day changes
    manifest, changed = _run(corpus, tmp_path, "changed")
    assert manifest["reused"] == ["dt=2026-11-01"] and [s["partition"] for s in manifest["shards"]] == ["dt=2026-11-02"]
    assert sorted(changed["partitions"]) == ["dt=2026-11-02"] and changed["tokens"] == first["tokens"] + 1
    assert read_partition_summary(tmp_path / "tokens" / "dt=2026-11-02")["tokens"] == 4


@pytest.mark.parametrize("change", ["rename", "add", "tokenizer", "no summary"])
def test_a_partition_is_tokenized_again_when_anything_that_makes_it_differs(tmp_path, change):
    corpus = _dated_corpus(tmp_path)
    _run(corpus, tmp_path, "first")
    day = tmp_path / "tokens" / "dt=2026-11-01"
    if change == "rename":  # same bytes, another path: the rows' source column would be stale
        (corpus / "2026-11-01" / "a.txt").rename(corpus / "2026-11-01" / "b.txt")
    elif change == "add":
        (corpus / "2026-11-01" / "more.txt").write_text("More words.\n")
    elif change == "tokenizer":  # made by another version of the tokenizer
        summary = json.loads((day / "_SUCCESS.json").read_text())
        (day / "_SUCCESS.json").write_text(json.dumps({**summary, "tokenizer": "0" * 16}))
    else:
        (day / "_SUCCESS.json").unlink()
    manifest, _ = _run(corpus, tmp_path, "again")
    assert manifest["reused"] == ["dt=2026-11-02"]
    assert {s["partition"] for s in manifest["shards"]} == {"dt=2026-11-01"}
    sources = set(pq.read_table(day, columns=["source"]).column("source").to_pylist())
    assert sources == {str(p) for p in (corpus / "2026-11-01").iterdir()}
