"""A corpus read from object storage (``corpus_path: s3://…``) against a real S3 server process
(moto_server on 127.0.0.1): the same manifest, tokens and errors as the same files on a local disk,
a changed object caught between ingest and tokenize, and clear errors naming the URL."""

from __future__ import annotations

import bz2
import gzip
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from s3fs.core import S3File

from include.errors import PipelineInputError
from include.steps.commit_tokens import commit_partitions
from include.steps.ingest_text import ingest_corpus, ingest_text, read_ingest_manifest, read_manifest
from include.steps.tokenize_to_parquet import tokenize_to_parquet
from include.storage import corpus_location
from include.storage.corpus_location import CorpusChanged, CorpusLocation, resolve_corpus
from include.storage.layout import data_store, partition_key
from include.storage.partitions import partition_parts, read_partition_summary
from include.storage.store import StorageConfigError, configure
from include.text.files import BLOCK_CHARS, TextFileReader
from tests.s3server import free_port, put_objects, s3_client

LINES = [
    "The King rules the kingdom, and the Queen rules beside him.",
    "Ünïcode wörds and naïve café society — ΟΔΟΣ and δέλτα.",
    "River boats 42 sail under the old bridge",
]


def dated_corpus() -> dict[str, bytes]:
    """Two day folders of .txt/.gz/.bz2 files and what is no corpus file (hidden, .md): key -> bytes."""
    text = ("\n".join(LINES * 40) + "\n").encode("utf-8")
    return {
        "2026-11-01/a.txt": text,
        "2026-11-01/more/b.txt.gz": gzip.compress(("\n".join(reversed(LINES * 20)) + "\n").encode("utf-8")),
        "2026-11-02/c.bz2": bz2.compress(text.replace(b"King", b"Queen")),
        "2026-11-02/d.TXT": b"last line without a newline",
        "2026-11-02/.hidden.txt": b"hidden words never read\n",
        "notes.md": b"not a corpus file\n",
    }


def write_local(folder: Path, objects: dict[str, bytes]) -> Path:
    for key, data in objects.items():
        (folder / key).parent.mkdir(parents=True, exist_ok=True)
        (folder / key).write_bytes(data)
    return folder


@pytest.fixture
def corpora(s3_endpoint, s3_bucket, data_root, monkeypatch, tmp_path):
    """A local data root; ``s3://<bucket>/texts`` and a local folder as the allowed corpus roots.
    Returns a function that writes ``{key: bytes}`` under both and gives (URL, local path)."""
    bucket = s3_bucket.removeprefix("s3://")
    local_root = tmp_path / "texts"
    local_root.mkdir()
    monkeypatch.setenv("EMBEDDINGS_CORPUS_ROOTS", f"{s3_bucket}/texts,{local_root}")

    def write(name: str, objects: dict[str, bytes]) -> tuple[str, Path]:
        put_objects(s3_endpoint, bucket, {f"texts/{name}/{key}": data for key, data in objects.items()})
        return f"{s3_bucket}/texts/{name}", write_local(local_root / name, objects)

    return write


def run_until_committed(corpus_path: str, run_id: str) -> dict:
    """ingest_text, every tokenize_to_parquet shard and the commit, as the DAG runs them; the manifest."""
    facts = ingest_text(corpus_path, run_id=run_id, conf={}, declared_params=[], max_shards=2)
    for shard in range(facts["shards"]):
        tokenize_to_parquet(facts["manifest_path"], shard, run_id)
    manifest = read_ingest_manifest(facts["manifest_path"])
    commit_partitions(data_store(), manifest, run_id)
    return manifest


def committed_rows(manifest: dict, scratch: Path) -> dict[str, list[tuple]]:
    """Per partition, the rows training reads, with each source shown relative to the corpus."""
    store, rows = data_store(), {}
    for partition in manifest["partitions"]:
        summary = read_partition_summary(store, manifest["corpus_id"], partition)
        folder = partition_key(manifest["corpus_id"], partition)
        rows[partition] = sorted(
            (row["source"].removeprefix(manifest["corpus_path"]), row["line"], row["chunk"], tuple(row["tokens"]))
            for part in partition_parts(store, manifest["corpus_id"], partition, summary)
            for row in pq.read_table(store.fetch(f"{folder}/{part}", scratch)).to_pylist()
        )
    return rows


def relative_files(manifest: dict) -> list[dict]:
    """The manifest's file entries with paths relative to the corpus and without ETags (local files have none)."""
    return [
        {
            **{key: value for key, value in entry.items() if key != "etag"},
            "path": entry["path"].removeprefix(manifest["corpus_path"]),
        }
        for entry in manifest["files"]
    ]


def test_a_dated_corpus_in_a_bucket_gives_the_tokens_of_the_same_files_on_disk(corpora, tmp_path):
    url, local = corpora("news", dated_corpus())
    remote, on_disk = run_until_committed(url, "remote"), run_until_committed(str(local), "local")

    assert (
        remote["corpus_path"] == url and remote["dated"] and remote["partitions"] == ["dt=2026-11-01", "dt=2026-11-02"]
    )
    assert [entry["path"] for entry in relative_files(remote)] == [
        "/2026-11-01/a.txt",
        "/2026-11-01/more/b.txt.gz",
        "/2026-11-02/c.bz2",
        "/2026-11-02/d.TXT",
    ]
    assert all(entry["etag"].strip('"') for entry in remote["files"]) and "etag" not in on_disk["files"][0]
    assert relative_files(remote) == relative_files(on_disk)  # sizes, sha256, lines, bad bytes, partitions
    assert remote["totals"] == on_disk["totals"] and remote["totals"]["lines"] == 120 + 60 + 120 + 1

    assert committed_rows(remote, tmp_path) == committed_rows(on_disk, tmp_path)
    assert committed_rows(remote, tmp_path)["dt=2026-11-02"][-1][3] == ("last", "line", "without", "newline")

    again = run_until_committed(url, "again")  # same objects: both partitions reused, keyed by URL
    assert again["reused"] == ["dt=2026-11-01", "dt=2026-11-02"] and again["shards"] == []
    summary = read_partition_summary(data_store(), remote["corpus_id"], "dt=2026-11-01")
    assert sorted(summary["inputs"]) == [f"{url}/2026-11-01/a.txt", f"{url}/2026-11-01/more/b.txt.gz"]


def test_an_object_replaced_after_ingest_is_reingested_not_reused(corpora, s3_endpoint, s3_bucket, tmp_path):
    url, _ = corpora("daily", dated_corpus())
    run_until_committed(url, "first")
    put_objects(s3_endpoint, s3_bucket.removeprefix("s3://"), {"texts/daily/2026-11-02/d.TXT": b"new words\n"})
    manifest = run_until_committed(url, "second")
    assert manifest["reused"] == ["dt=2026-11-01"] and {s["partition"] for s in manifest["shards"]} == {"dt=2026-11-02"}
    assert ("/2026-11-02/d.TXT", 1, 0, ("new", "words")) in committed_rows(manifest, tmp_path)["dt=2026-11-02"]


@pytest.mark.parametrize("change", ["same size", "longer", "removed"])
def test_an_object_changed_between_ingest_and_tokenize_fails_naming_it(corpora, s3_endpoint, s3_bucket, change):
    url, _ = corpora("moving", {"a.txt": b"the king rules\n", "b.txt": b"the queen rules\n"})
    facts = ingest_text(url, run_id="run", conf={}, declared_params=[], max_shards=1)
    key, client = "texts/moving/b.txt", s3_client(s3_endpoint)
    bucket = s3_bucket.removeprefix("s3://")
    if change == "removed":
        client.delete_object(Bucket=bucket, Key=key)
    else:
        client.put_object(Bucket=bucket, Key=key, Body=b"the quiet rules\n" if change == "same size" else b"more\n" * 9)
    expected = CorpusChanged if change != "removed" else PipelineInputError
    with pytest.raises(expected, match=f"'{url}/b.txt'") as caught:
        tokenize_to_parquet(facts["manifest_path"], 0, "run")
    if change != "removed":
        assert "changed between ingest and tokenize (ETag" in str(caught.value)
    assert not data_store().files("tokens"), "no part file is published"


def test_an_etag_from_ingest_is_checked_before_the_object_is_read(corpora):
    url, _ = corpora("pinned", {"a.txt": b"the king rules\n"})
    corpus = resolve_corpus(url)
    [found] = corpus.files()
    with corpus.open(found.path, {"size": found.size, "etag": found.etag}) as opened:
        assert opened.etag == found.etag and opened.file.read() == b"the king rules\n"
    with pytest.raises(CorpusChanged, match=r"ETag \"0+\" at ingest"):
        corpus.open(found.path, {"size": found.size, "etag": '"' + "0" * 32 + '"'})


def test_a_corrupt_gz_and_a_binary_object_give_the_errors_they_give_on_disk(corpora):
    packed = gzip.compress(b"hello world\n" * 2000)
    binary = {
        "a.txt": b"fine words here\n",
        "b.txt": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        "c.gz": gzip.compress(b"\x00x"),
    }
    url, local = corpora("binary", binary)
    remote, on_disk = local.parent / "remote.json", local.parent / "local.json"
    ingest_corpus(CorpusLocation.of(url), remote)
    ingest_corpus(local, on_disk)
    assert relative_files(read_manifest(remote)) == relative_files(read_manifest(on_disk))
    assert [entry.get("skipped") for entry in read_manifest(remote)["files"]] == [None, "binary", "binary"]

    for name, data in {"cut.gz": packed[:-30], "liar.bz2": b"plain text, not bz2\n"}.items():
        url, local = corpora(f"corrupt-{name}", {"fine.txt": b"fine words\n", name: data})
        errors = []
        for corpus in (CorpusLocation.of(url), CorpusLocation.of(local)):
            with pytest.raises(PipelineInputError, match="cannot be read|is corrupt or unreadable") as caught:
                ingest_corpus(corpus, local.parent / "m.json")
            errors.append(str(caught.value).replace(corpus.path, "<corpus>"))
        assert errors[0] == errors[1] and f"'<corpus>/{name}'" in errors[0]


def test_invalid_utf8_and_a_huge_line_stream_in_bounded_reads(corpora, monkeypatch):
    huge = ("word " * 600_000).encode() + b"\xff\xfe tail\n"  # 3 MB, one line, two undecodable bytes
    url, local = corpora("huge", {"huge.txt": huge})
    monkeypatch.setattr(corpus_location, "READ_BLOCK_BYTES", 256 << 10)
    corpus = resolve_corpus(url)
    ranges: list[int] = []
    fetch = S3File._fetch_range
    monkeypatch.setattr(
        S3File, "_fetch_range", lambda file, start, end: ranges.append(end - start) or fetch(file, start, end)
    )
    reader = TextFileReader(f"{url}/huge.txt", corpus=corpus)
    assert reader.etag is None  # known once read
    longest = max(len(text) for _, text, _ in reader.pieces())
    assert longest <= BLOCK_CHARS and reader.lines == 1 and reader.bad_bytes == 2
    assert sum(ranges) == len(huge) and max(ranges) <= (1 << 20) + (256 << 10) < len(huge), "never the whole object"
    local_reader = TextFileReader(local / "huge.txt")
    list(local_reader.pieces())
    assert (reader.sha256, reader.size) == (local_reader.sha256, local_reader.size) and reader.etag


def test_a_missing_prefix_bucket_or_text_fails_at_ingest_naming_the_url(corpora, s3_bucket, monkeypatch):
    with pytest.raises(
        PipelineInputError, match=rf"corpus_path '{s3_bucket}/texts/nothing' does not exist .*no object"
    ):
        ingest_text(f"{s3_bucket}/texts/nothing", run_id="r", conf={}, declared_params=[])
    monkeypatch.setenv("EMBEDDINGS_CORPUS_ROOTS", "s3://no-such-bucket-anywhere/texts")
    with pytest.raises(PipelineInputError, match="its bucket 'no-such-bucket-anywhere' does not exist"):
        ingest_text("s3://no-such-bucket-anywhere/texts/news", run_id="r", conf={}, declared_params=[])
    monkeypatch.setenv("EMBEDDINGS_CORPUS_ROOTS", f"{s3_bucket}/texts")
    url, _ = corpora("notext", {"notes.md": b"x\n", ".hidden.txt": b"x\n", "sub/table.csv": b"a,b\n"})
    with pytest.raises(PipelineInputError, match=rf"corpus_path '{url}' holds no \.txt, \.gz or \.bz2 file"):
        ingest_text(url, run_id="r", conf={}, declared_params=[])


def test_an_unreachable_endpoint_fails_fast_naming_the_url(corpora, s3_bucket, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    configure(None)
    started = time.monotonic()
    with pytest.raises(PipelineInputError, match=rf"corpus_path '{s3_bucket}/texts/news' cannot be read"):
        resolve_corpus(f"{s3_bucket}/texts/news")
    with pytest.raises(PipelineInputError, match=rf"corpus location '{s3_bucket}/texts/news' cannot be read"):
        CorpusLocation.of(f"{s3_bucket}/texts/news").files()  # a manifest's corpus, listed again later
    assert time.monotonic() - started < 15
    configure(None)


def test_a_corpus_under_an_s3_data_root_is_read_from_a_relative_path(s3_endpoint, s3_bucket, monkeypatch, tmp_path):
    monkeypatch.setenv("EMBEDDINGS_DATA_DIR", f"{s3_bucket}/embeddings")
    monkeypatch.delenv("EMBEDDINGS_CORPUS_ROOTS", raising=False)
    put_objects(s3_endpoint, s3_bucket.removeprefix("s3://"), {"embeddings/corpora/news.txt": b"The King speaks.\n"})
    manifest = run_until_committed("corpora/news.txt", "r1")
    assert manifest["corpus_path"] == f"{s3_bucket}/embeddings/corpora/news.txt"
    assert committed_rows(manifest, tmp_path) == {"snapshot": [("", 1, 0, ("the", "king", "speaks"))]}
    assert manifest["files"][0]["etag"]


def test_a_protocol_without_an_installed_filesystem_is_refused_naming_it(data_root, monkeypatch):
    monkeypatch.setenv("EMBEDDINGS_CORPUS_ROOTS", "nosuchproto://bucket/texts")
    with pytest.raises(StorageConfigError, match="'nosuchproto://bucket/texts/x'.*no fsspec filesystem"):
        resolve_corpus("nosuchproto://bucket/texts/x")


@pytest.mark.parametrize("change", ["replaced", "deleted"])
def test_an_object_replaced_while_it_is_read_fails_naming_it(corpora, s3_endpoint, s3_bucket, monkeypatch, change):
    lines = b"".join(b"the king rules the land line %d\n" % n for n in range(100_000))  # 3.3 MB
    url, _ = corpora("busy", {"busy.txt": lines})
    monkeypatch.setattr(corpus_location, "READ_BLOCK_BYTES", 256 << 10)  # many ranged reads
    reader = TextFileReader(f"{url}/busy.txt", corpus=resolve_corpus(url))
    pieces = reader.pieces()
    next(pieces)  # the read has begun: its first range came back, pinned to the object's ETag
    bucket, key = s3_bucket.removeprefix("s3://"), "texts/busy/busy.txt"
    if change == "deleted":
        s3_client(s3_endpoint).delete_object(Bucket=bucket, Key=key)
    else:
        put_objects(s3_endpoint, bucket, {key: lines.replace(b"king", b"queen")})
    with pytest.raises(CorpusChanged, match=rf"'{url}/busy.txt' changed between ingest and tokenize: replaced"):
        list(pieces)
