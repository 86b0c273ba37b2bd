"""The versions browser's library: listing, validation, search, run summaries, the bounded cache
and the HTML pages (include/serving/catalog.py and the modules beside it, pages.py). No Airflow."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from include.registry.registry import ModelRegistry
from include.serving import pages
from include.serving.artifact_source import LocalArtifactSource, StoreArtifactSource
from include.serving.catalog import Catalog, app_url, linked_version, run_summary
from include.serving.file_cache import BoundedFileCache, serving_cache
from include.serving.request_checks import (
    MAX_K,
    MAX_REASON_CHARS,
    MAX_WORD_CHARS,
    InvalidRequestError,
    NotFoundError,
    UnknownWordError,
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


def make_version(
    models: Path,
    name: str,
    *,
    decision="promoted",
    data_time="2026-11-01T00:00:00+00:00",
    words=WORDS,
    model: str | None = None,
    coverage: bool = False,
):
    """A published version folder as publish writes it (embeddings, vocab, report, manifest).
    ``model``: the manifest names it (the named-models layout; ``None``: the previous layout's
    manifest, read as ``default``). ``coverage``: the evaluation records each score's coverage and
    the gate its checks (the new layout), else only the scores (the previous one)."""
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
    if model is not None:
        manifest["model"] = model
    if coverage:
        manifest["evaluation"] = {
            "wordsim353": {"spearman": 0.412, "scored": 212, "total": 353, "unit": "pairs"},
            "simlex999": {"spearman": None, "scored": 2, "total": 999, "unit": "pairs"},
            "analogies": {"accuracy": 0.5, "scored": 120, "total": 19544, "unit": "questions"},
        }
        manifest["gate"]["checks"] = [
            {
                "name": "wordsim353_vs_champion",
                "kind": "regression",
                "value": 0.412,
                "reference": 0.4,
                "threshold": 0.02,
                "coverage": {"scored": 212, "total": 353, "unit": "pairs"},
                "status": "pass",
                "detail": "within tolerance",
            }
        ]
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
    html = pages.render_versions("/word2vec", catalog.overview(), catalog.latest())
    assert "because &lt;rejected&gt;" in html and "<rejected>" not in html
    assert f'href="/word2vec/versions/{OLD}/report"' in html
    assert "<code>default@champion</code>" in html and "LATEST" not in html
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


# ---------------------------------------------------------------------------- named models

NEWS_1 = "20261201T000000Z-11111111"
NEWS_2 = "20261202T000000Z-22222222"


@pytest.fixture
def two_models(models) -> tuple[Catalog, ModelRegistry]:
    """``default`` of the previous layout (``models/LATEST`` -> OLD) beside ``news-en`` (two
    versions with coverage and gate checks, ``champion`` at the newer one, set by the gate)."""
    make_version(models, NEWS_1, model="news-en", data_time="2026-12-01T00:00:00+00:00", coverage=True)
    make_version(models, NEWS_2, model="news-en", data_time="2026-12-02T00:00:00+00:00", coverage=True)
    source = LocalArtifactSource(models)
    source.registry.move_alias("news-en", "champion", NEWS_2, actor="gate", reason="first version", run_id="r1")
    return Catalog(source), source.registry


def test_versions_are_grouped_by_model_with_their_aliases(two_models):
    catalog, _ = two_models
    assert [(m["model"], m["aliases"], m["versions"], m["newest"]) for m in catalog.models()] == [
        ("default", {"champion": OLD}, 2, NEW),
        ("news-en", {"champion": NEWS_2}, 2, NEWS_2),
    ]
    sections = {s["model"]: s for s in catalog.overview()}
    assert [r.version for r in sections["news-en"]["versions"]] == [NEWS_2, NEWS_1]
    assert [r.version for r in sections["default"]["versions"]] == [NEW, OLD]
    news = {r.version: r for r in catalog.summaries("news-en")}
    assert news[NEWS_2].aliases == ("champion",) and news[NEWS_1].aliases == ()
    assert news[NEWS_2].model == "news-en" and not news[NEWS_2].is_latest  # LATEST is default@champion only
    default = {r.version: r for r in catalog.summaries("default")}
    assert default[OLD].aliases == ("champion",) and default[OLD].is_latest and default[OLD].model == "default"
    assert [h["to_version"] for h in sections["news-en"]["history"]] == [NEWS_2]
    assert sections["default"]["history"] == []  # models/LATEST is read, never written, by the UI


def test_every_score_is_shown_with_its_coverage_or_says_it_is_not_recorded(two_models):
    catalog, _ = two_models
    new_layout = catalog.summary(NEWS_2)
    assert [(s.label, s.shown) for s in new_layout.scores] == [
        ("WordSim-353", "0.412 (212/353 pairs)"),
        ("SimLex-999", "not computable (2/999 pairs)"),
        ("Analogies", "0.500 (120/19544 questions)"),
    ]
    assert new_layout.checks[0]["name"] == "wordsim353_vs_champion"
    assert new_layout.as_dict()["gate"]["checks"][0]["status"] == "pass"
    old_layout = catalog.summary(OLD)
    assert [s.shown for s in old_layout.scores] == ["0.250 (coverage not recorded)", "not computable", "not computable"]
    assert old_layout.checks == ()
    html = pages.render_versions("/word2vec", catalog.overview(), catalog.latest())
    assert "0.412 (212/353 pairs)" in html and "not computable (2/999 pairs)" in html
    assert "0.250 (coverage not recorded)" in html and "-1.000" not in html
    assert html.index('id="model-default"') < html.index('id="model-news-en"')
    version_page = pages.render_version("/word2vec", new_layout, aliases={"champion": NEWS_2}, can_move=True)
    assert "wordsim353_vs_champion" in version_page and "0.412 (212/353 pairs)" in version_page
    assert 'id="move-alias-form"' in version_page
    old_page = pages.render_version("/word2vec", old_layout)
    assert "not recorded for this version" in old_page and 'id="move-alias-form"' not in old_page


def test_non_finite_scores_are_not_shown_as_numbers(tmp_path):
    from include.serving.version_summary import scores_of

    scores = scores_of({"wordsim353": {"spearman": float("nan")}, "extra": {"accuracy": 0.25}, "junk": 3})
    assert [(s.name, s.metric, s.value, s.shown) for s in scores] == [
        ("wordsim353", "spearman", None, "not computable"),
        ("extra", "accuracy", 0.25, "0.250 (coverage not recorded)"),
    ]


def test_resolving_at_an_alias_or_a_version_of_a_model(two_models):
    catalog, _ = two_models
    assert catalog.resolve_at("news-en") == NEWS_2
    assert catalog.resolve_at("news-en", alias="champion") == NEWS_2
    assert catalog.resolve_at("news-en", version=NEWS_1) == NEWS_1
    assert catalog.resolve_at("default") == OLD == catalog.resolve("latest")
    with pytest.raises(NotFoundError, match="models: default, news-en"):
        catalog.resolve_at("fr-wiki")
    with pytest.raises(NotFoundError, match=f"its aliases: champion -> {NEWS_2}"):
        catalog.resolve_at("news-en", alias="staging")
    with pytest.raises(NotFoundError, match=f"has no version '{OLD}'; its versions: {NEWS_2}, {NEWS_1}"):
        catalog.resolve_at("news-en", version=OLD)
    with pytest.raises(InvalidRequestError, match="not a valid name"):
        catalog.resolve_at("News EN")
    with pytest.raises(InvalidRequestError, match="not both"):
        catalog.resolve_at("news-en", alias="champion", version=NEWS_1)
    found = catalog.neighbours_at("news-en", "king", 2, alias="champion")
    assert (found["model"], found["alias"], found["version"]) == ("news-en", "champion", NEWS_2)
    assert catalog.similarity_at("news-en", "king", "king", version=NEWS_1)["cosine"] == pytest.approx(1.0)


def test_an_alias_move_is_recorded_with_actor_and_reason_and_may_go_back(two_models):
    catalog, registry = two_models
    move = catalog.move_alias("news-en", "champion", NEWS_1, actor="ana", reason="  roll back: bad phrases ")
    assert (move["from_version"], move["to_version"], move["actor"], move["reason"]) == (
        NEWS_2,
        NEWS_1,
        "ana",
        "roll back: bad phrases",
    )
    assert registry.resolve("news-en") == NEWS_1  # backward in data time: an explicit move may
    catalog.move_alias("news-en", "staging", NEWS_2, actor="bo", reason="try it")
    assert catalog.aliases("news-en") == {"champion": NEWS_1, "staging": NEWS_2}
    assert [(h["alias"], h["actor"]) for h in catalog.history("news-en")] == [
        ("staging", "bo"),
        ("champion", "ana"),
        ("champion", "gate"),
    ]
    assert [h["actor"] for h in catalog.history("news-en", "champion")] == ["ana", "gate"]
    assert {r.version: r.aliases for r in catalog.summaries("news-en")} == {NEWS_2: ("staging",), NEWS_1: ("champion",)}
    page = pages.render_model(
        "/word2vec", "news-en", catalog.aliases("news-en"), catalog.page(model="news-en"), catalog.history("news-en")
    )
    assert "roll back: bad phrases" in page and ">ana<" in page


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"reason": ""}, InvalidRequestError, "reason is missing"),
        ({"reason": "   "}, InvalidRequestError, "reason is missing"),
        ({"reason": "x" * (MAX_REASON_CHARS + 1)}, InvalidRequestError, "at most"),
        ({"reason": "a\x00b"}, InvalidRequestError, "control characters"),
        ({"actor": ""}, InvalidRequestError, "actor"),
        ({"alias": "Champion"}, InvalidRequestError, "not a valid name"),
        ({"version": OLD}, NotFoundError, "its versions"),
        ({"version": "latest"}, InvalidRequestError, "not a version name"),
        ({"model": "nope"}, NotFoundError, "models: default, news-en"),
    ],
)
def test_a_bad_alias_move_changes_nothing(two_models, kwargs, error, message):
    catalog, registry = two_models
    arguments = {"model": "news-en", "alias": "champion", "version": NEWS_1, "actor": "ana", "reason": "r", **kwargs}
    with pytest.raises(error, match=message):
        catalog.move_alias(
            arguments["model"],
            arguments["alias"],
            arguments["version"],
            actor=arguments["actor"],
            reason=arguments["reason"],
        )
    assert registry.aliases("news-en") == {"champion": NEWS_2} and len(registry.history("news-en")) == 1


def count_manifest_reads(store, monkeypatch) -> list[str]:
    """Wrap ``store.read_json``: the returned list grows by the version of every manifest read."""
    reads: list[str] = []
    original = store.read_json

    def counting(key, *args, **kwargs):
        if key.endswith("/manifest.json"):
            reads.append(key.split("/")[-2])
        return original(key, *args, **kwargs)

    monkeypatch.setattr(store, "read_json", counting)
    return reads


HALF = "20261103T000000Z-cccccccc"  # the models fixture's folder without a manifest


def test_a_second_request_reads_no_manifest_again_and_new_or_pruned_versions_show_at_once(
    two_models, models, monkeypatch
):
    from include.storage.versions import delete_version

    source = StoreArtifactSource(two_models[1].store)
    reads = count_manifest_reads(source.store, monkeypatch)
    catalog = Catalog(source)
    catalog.overview()
    assert sorted(reads) == sorted([OLD, NEW, NEWS_1, NEWS_2, HALF]), "the first request reads each once"
    reads.clear()
    import time

    later = time.monotonic() + 3600
    monkeypatch.setattr(time, "monotonic", lambda: later)  # an hour on: manifests never go stale
    catalog.overview()
    catalog.page(model="news-en")
    catalog.summary(NEWS_2)
    catalog.resolve_at("news-en", version=NEWS_1)
    assert set(reads) <= {HALF}, f"a second request read published manifests again: {reads}"
    # the folder without a manifest is asked again, so it shows on the request after publish writes one
    make_version(models, HALF, data_time="2026-11-03T00:00:00+00:00")
    newest = "20261203T000000Z-33333333"
    make_version(models, newest, model="news-en", data_time="2026-12-03T00:00:00+00:00")
    reads.clear()
    assert next(r.version for r in catalog.summaries("news-en")) == newest
    assert HALF in [r.version for r in catalog.summaries("default")]
    assert sorted(set(reads)) == sorted([HALF, newest]) and len(reads) == 2, "only the new manifests are read"
    delete_version(source.store, NEWS_1)  # pruning: the manifest goes first, then the folder
    assert NEWS_1 not in [r.version for r in catalog.summaries("news-en")]
    with pytest.raises(NotFoundError):
        catalog.summary(NEWS_1)


def test_a_model_with_an_alias_but_no_version_yet_is_listed(two_models):
    catalog, registry = two_models
    registry.store.put_bytes("registry/empty/aliases/.keep", b"")
    names = [m["model"] for m in catalog.models()]
    assert "empty" in names
    assert catalog.page(model="empty")["total"] == 0


def test_a_root_without_a_default_champion_lists_no_manifest_again(tmp_path, monkeypatch):
    """Pages ask for ``default@champion`` (the previous routes' LATEST) on every request: when it is
    unset that costs the alias files, never a read of every manifest."""
    models = tmp_path / "models"
    make_version(models, NEWS_1, model="news-en", coverage=True)
    catalog = Catalog(LocalArtifactSource(models))
    reads = count_manifest_reads(catalog.source.store, monkeypatch)
    assert catalog.latest() is None and [m["model"] for m in catalog.models()] == ["news-en"]
    catalog.overview()
    before = len(reads)
    catalog.overview()
    catalog.page(model="news-en")
    assert catalog.latest() is None
    assert len(reads) == before
