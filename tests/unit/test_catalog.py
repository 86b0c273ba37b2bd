"""The versions browser's library: listing, validation, search, run summaries, the bounded cache
and the HTML pages (include/serving/catalog.py, pages.py). No Airflow."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from include.serving import pages
from include.serving.catalog import (
    MAX_K,
    MAX_WORD_CHARS,
    BoundedFileCache,
    Catalog,
    InvalidRequestError,
    LocalArtifactSource,
    NotFoundError,
    UnknownWordError,
    app_url,
    linked_version,
    run_summary,
    serving_cache,
    validate_k,
    validate_relative_file,
    validate_version,
    validate_word,
)

WORDS = ["king", "queen", "man", "woman", "river", "<b>bold</b>"]
VECTORS = np.array(
    [[1, 0.1, 0], [0.9, 0.2, 0], [0.5, 0.5, 0], [0.4, 0.6, 0], [0, 0, 1], [0, 1, 0]],
    dtype=np.float32,
)


def make_version(models: Path, name: str, *, decision="promoted", data_time="2026-11-01T00:00:00+00:00", words=WORDS):
    """A published version folder as publish writes it (embeddings, vocab, report, manifest)."""
    folder = models / name
    (folder / "report").mkdir(parents=True)
    (folder / "keras").mkdir()
    np.save(folder / "embeddings.npy", VECTORS[: len(words)], allow_pickle=False)
    (folder / "vocab.json").write_text(json.dumps({w: i for i, w in enumerate(words)}))
    (folder / "report" / "report.html").write_text(f"<html><title>Word2Vec report {name}</title></html>")
    (folder / "report" / "report.json").write_text("{}")
    (folder / "keras" / "keras_vocab.json").write_text("{}")
    files = {str(p.relative_to(folder)): {"bytes": p.stat().st_size} for p in folder.rglob("*") if p.is_file()}
    manifest = {
        "version": name,
        "run_id": f"run-{name}",
        "corpus_id": "lee-1234abcd",
        "data_time": data_time,
        "training": {"vocab_size": len(words)},
        "evaluation": {"wordsim353": {"spearman": 0.25}, "simlex999": {"spearman": None}, "analogies": {}},
        "gate": {"decision": decision, "reason": f"because <{decision}>"},
        "files": files,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


OLD = "20261101T000000Z-aaaaaaaa"
NEW = "20261102T000000Z-bbbbbbbb"


@pytest.fixture
def models(tmp_path) -> Path:
    models = tmp_path / "models"
    make_version(models, OLD, data_time="2026-11-01T00:00:00+00:00")
    make_version(models, NEW, decision="rejected", data_time="2026-11-02T00:00:00+00:00")
    (models / "LATEST").write_text(OLD + "\n")
    (models / "20261103T000000Z-cccccccc").mkdir()  # no manifest: half published, invisible
    return models


@pytest.fixture
def catalog(models) -> Catalog:
    return Catalog(LocalArtifactSource(models))


def test_versions_newest_first_with_scores_gate_and_latest(catalog):
    rows = catalog.summaries()
    assert [r.version for r in rows] == [NEW, OLD]
    assert rows[0].decision == "rejected" and not rows[0].is_latest
    assert rows[1].is_latest and rows[1].wordsim353 == 0.25 and rows[1].simlex999 is None
    assert rows[1].vocab_size == len(WORDS)
    assert "report/report.html" in rows[1].files


def test_pages_are_bounded_and_clamped(catalog):
    first = catalog.page(1, 1)
    assert [r.version for r in first["versions"]] == [NEW] and first["pages"] == 2 and first["total"] == 2
    assert [r.version for r in catalog.page(99, 1)["versions"]] == [OLD]  # past the end: the last page
    with pytest.raises(InvalidRequestError):
        catalog.page("zero", 10)
    with pytest.raises(InvalidRequestError):
        catalog.page(0, 10)


def test_neighbours_match_a_plain_cosine_ranking(catalog):
    result = catalog.neighbours("latest", "king", 3)
    assert result["version"] == OLD
    unit = VECTORS / np.linalg.norm(VECTORS, axis=1, keepdims=True)
    expected = np.argsort(-(unit @ unit[0]))[1:4]
    assert [w for w, _ in result["neighbours"]] == [WORDS[i] for i in expected]
    assert result["neighbours"][0][1] == pytest.approx(float(unit[0] @ unit[1]), abs=1e-6)
    assert len(catalog.neighbours(NEW, "King", MAX_K)["neighbours"]) == len(WORDS) - 1  # lower-cased, k capped


def test_similarity_and_unknown_words(catalog):
    assert catalog.similarity(OLD, "king", "king")["cosine"] == pytest.approx(1.0)
    assert catalog.similarity(OLD, "king", "river")["cosine"] == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(UnknownWordError, match="'dragon' is not in the vocabulary"):
        catalog.neighbours(OLD, "dragon", 5)
    with pytest.raises(UnknownWordError):
        catalog.similarity(OLD, "king", "dragon")


@pytest.mark.parametrize(
    "version", ["../models", "..", "20261101T000000Z-aaaaaaaa/../x", "LATEST", "", "a" * 500, None, "20261101"]
)
def test_bad_version_names_are_refused(catalog, version):
    with pytest.raises(InvalidRequestError):
        catalog.neighbours(version, "king", 5)


def test_unknown_version_and_half_published_version_are_not_found(catalog):
    with pytest.raises(NotFoundError):
        catalog.summary("20991231T000000Z-deadbeef")
    with pytest.raises(NotFoundError):
        catalog.summary("20261103T000000Z-cccccccc")


def test_latest_without_promotion_is_not_found(tmp_path):
    with pytest.raises(NotFoundError, match="no version has been promoted"):
        Catalog(LocalArtifactSource(tmp_path / "models")).neighbours("latest", "king", 3)


@pytest.mark.parametrize("word", ["", "   ", "x" * (MAX_WORD_CHARS + 1), "a\x00b", "a\nb", 5])
def test_bad_words_are_refused(word):
    with pytest.raises(InvalidRequestError):
        validate_word(word)


@pytest.mark.parametrize("k", [0, -1, MAX_K + 1, "ten", "1e9", True, ""])
def test_k_is_bounded(k):
    with pytest.raises(InvalidRequestError):
        validate_k(k)


def test_valid_inputs_pass():
    assert validate_word("  king ") == "king"
    assert validate_k("7") == 7
    assert validate_version("latest") == "latest"
    with pytest.raises(InvalidRequestError):
        validate_version("latest", allow_latest=False)
    assert validate_relative_file("keras/embedding.keras") == "keras/embedding.keras"


@pytest.mark.parametrize("name", ["../manifest.json", "/etc/passwd", "keras/../../x", "a\\b", "", "a//b", "./x"])
def test_file_names_stay_inside_the_version(name):
    with pytest.raises(InvalidRequestError):
        validate_relative_file(name)


def test_downloads_only_files_the_manifest_lists(catalog, models, tmp_path):
    assert catalog.file(OLD, "embeddings.npy") == (models / OLD / "embeddings.npy").resolve()
    assert catalog.file(OLD, "manifest.json").name == "manifest.json"
    assert catalog.report_file(OLD).read_text().startswith("<html>")
    (tmp_path / "secret.txt").write_text("secret")
    (models / OLD / "link.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(NotFoundError):
        catalog.file(OLD, "link.txt")  # not in the manifest
    with pytest.raises(NotFoundError):
        LocalArtifactSource(models).local_file(OLD, "link.txt")  # and points outside the version
    with pytest.raises(NotFoundError):
        catalog.report_file(OLD, "../manifest.json")


def test_loaded_versions_are_cached_and_bounded(models):
    catalog = Catalog(LocalArtifactSource(models), max_loaded=1)
    first = catalog.load(OLD)
    assert catalog.load("latest") is first
    assert isinstance(first.embeddings.vectors, np.memmap)
    catalog.load(NEW)
    assert catalog.load(OLD) is not first  # evicted by NEW, read again


def test_linked_version_and_run_summary(catalog):
    assert linked_version({"outcome": "unchanged", "version": OLD}, None, catalog) == OLD
    assert linked_version({"outcome": "rejected", "version": NEW}, NEW, catalog) == NEW
    assert linked_version(None, NEW, catalog) == NEW  # publish: its own version, now published
    assert linked_version(None, "20261103T000000Z-cccccccc", catalog) is None  # staged, not published
    assert linked_version({"outcome": "failed"}, None, catalog) is None
    assert run_summary(None, catalog)["outcome"] is None
    summary = run_summary({"outcome": "promoted", "version": OLD, "reason": "first"}, catalog)
    assert summary["published"] and summary["version"] == OLD
    assert not run_summary({"outcome": "promoted", "version": "20261001T000000Z-00000000"}, catalog)["published"]


def test_app_url_uses_the_base_url():
    assert app_url("https://example.org/airflow/", "/word2vec/x") == "https://example.org/airflow/word2vec/x"
    assert app_url(None, "/word2vec/x") == "/word2vec/x"


def test_bounded_cache_evicts_least_recently_used(tmp_path):
    cache = BoundedFileCache(tmp_path / "cache", max_bytes=10)
    calls = []

    def writer(payload: bytes):
        def download(destination: Path) -> None:
            calls.append(payload)
            destination.write_bytes(payload)

        return download

    a = cache.fetch("v1/a", writer(b"aaaa"))
    cache.fetch("v1/b", writer(b"bbbb"))
    assert cache.fetch("v1/a", writer(b"xxxx")).read_bytes() == b"aaaa"  # a hit: not downloaded again
    cache.fetch("v2/c", writer(b"cccc"))  # 12 bytes > 10: b, the least recently used, goes
    assert a.exists() and not (tmp_path / "cache" / "v1" / "b").exists()
    assert cache.used_bytes == 8 and calls == [b"aaaa", b"bbbb", b"cccc"]
    assert BoundedFileCache(tmp_path / "cache", max_bytes=10).used_bytes == 8  # survives a restart
    with pytest.raises(InvalidRequestError):
        cache.fetch("../escape", writer(b"x"))


def test_pages_escape_untrusted_text(catalog):
    listing = catalog.page(1, 50)
    html = pages.render_versions("/word2vec", listing)
    assert "because &lt;rejected&gt;" in html and "<rejected>" not in html
    assert f'href="/word2vec/versions/{OLD}/report"' in html
    assert "LATEST" in html
    found = catalog.neighbours(OLD, "king", 5)
    html = pages.render_search("/word2vec", {"word": "<script>x</script>"}, neighbours=found)
    assert "<script>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    html = pages.render_run("/word2vec", "run<1>", run_summary(None, catalog))
    assert "nothing to show" in html and "run&lt;1&gt;" in html
    html = pages.render_version("/word2vec", catalog.summary(OLD))
    assert f"/word2vec/versions/{OLD}/files/embeddings.npy" in html


def test_serving_cache_folder_and_size_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDDINGS_SERVING_CACHE_DIR", str(tmp_path / "c"))
    monkeypatch.setenv("EMBEDDINGS_SERVING_CACHE_MB", "3")
    cache = serving_cache()
    assert cache.folder == tmp_path / "c" and cache.max_bytes == 3 * 1024 * 1024
    monkeypatch.setenv("EMBEDDINGS_SERVING_CACHE_MB", "lots")
    with pytest.raises(ValueError, match="EMBEDDINGS_SERVING_CACHE_MB"):
        serving_cache()


def test_neighbours_equal_the_librarys_nearest_neighbours_on_a_bigger_matrix(tmp_path):
    from include.artifacts.embeddings import load_embeddings
    from include.quality.similarity import nearest_neighbours

    models = tmp_path / "models"
    words = [f"w{i}" for i in range(300)]
    folder = make_version(models, OLD, words=words[:6])
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(300, 8)).astype(np.float32)
    vectors[7] = 0  # a zero row: cosine 0, no division by zero
    np.save(folder / "embeddings.npy", vectors, allow_pickle=False)
    (folder / "vocab.json").write_text(json.dumps({w: i for i, w in enumerate(words)}))
    catalog = Catalog(LocalArtifactSource(models))
    expected = nearest_neighbours(load_embeddings(folder), ["w0", "w7"], 15)
    for word in ("w0", "w7"):
        got = catalog.neighbours(OLD, word, 15)["neighbours"]
        assert [w for w, _ in got] == [w for w, _ in expected[word]]
        assert [c for _, c in got] == pytest.approx([c for _, c in expected[word]], abs=2e-6)
    assert catalog.similarity(OLD, "w0", "w7")["cosine"] == 0.0


def test_an_object_store_data_root_is_read_through_the_bounded_cache(trained_version, s3_bucket, tmp_path):
    """The app reads an S3 data root through the same Store as the pipeline, each file copied once
    into the bounded local cache and memory-mapped from there."""
    from include.serving.catalog import BoundedFileCache, StoreArtifactSource
    from include.storage.store import open_store

    store = open_store(f"{s3_bucket}/root")
    with store.writer("models/20261101T000000Z-aaaaaaaa") as out:
        for name in ("embeddings.npy", "vocab.json"):
            (out.folder / name).write_bytes((trained_version["version_dir"] / name).read_bytes())
    store.put_json("models/20261101T000000Z-aaaaaaaa/manifest.json", {"version": "20261101T000000Z-aaaaaaaa"})
    store.swap("models/LATEST", b"20261101T000000Z-aaaaaaaa\n", None)
    cache = BoundedFileCache(tmp_path / "cache", 50 * 1024 * 1024)
    catalog = Catalog(StoreArtifactSource(store, cache))
    found = catalog.neighbours("latest", "king", 3)
    assert found["version"] == "20261101T000000Z-aaaaaaaa" and len(found["neighbours"]) == 3
    assert (tmp_path / "cache" / "20261101T000000Z-aaaaaaaa" / "embeddings.npy").is_file()
    with pytest.raises(NotFoundError):
        StoreArtifactSource(store, cache).local_file("20261101T000000Z-aaaaaaaa", "missing.bin")
