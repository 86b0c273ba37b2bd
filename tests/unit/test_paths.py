"""Unit tests of include/storage/paths.py: the data root, corpus path confinement, ids and folder names."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from include.errors import PipelineInputError
from include.storage import paths
from include.storage.paths import corpus_id, data_root, resolve_corpus_path, safe_name

PROJECT_ROOT = Path(__file__).resolve().parents[2]


# --- data_root -------------------------------------------------------------------------------


def test_data_root_defaults_to_data_under_project_root_not_cwd(monkeypatch, tmp_path):
    monkeypatch.delenv("EMBEDDINGS_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)  # the working directory must not matter
    assert data_root() == PROJECT_ROOT / "data"
    assert data_root().is_absolute()


def test_data_root_blank_variable_means_default(monkeypatch):
    monkeypatch.setenv("EMBEDDINGS_DATA_DIR", "   ")
    assert data_root() == PROJECT_ROOT / "data"


def test_data_root_absolute_variable_is_used_as_is(monkeypatch, tmp_path):
    monkeypatch.setenv("EMBEDDINGS_DATA_DIR", str(tmp_path / "elsewhere"))
    assert data_root() == tmp_path / "elsewhere"


def test_data_root_relative_variable_is_taken_from_project_root(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EMBEDDINGS_DATA_DIR", "var/embeddings")
    assert data_root() == PROJECT_ROOT / "var" / "embeddings"


def test_data_root_relative_variable_is_normalised(monkeypatch):
    monkeypatch.setenv("EMBEDDINGS_DATA_DIR", "../shared-data")
    root = data_root()
    assert ".." not in root.parts
    assert root == PROJECT_ROOT.parent / "shared-data"


def test_data_root_expands_user(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("EMBEDDINGS_DATA_DIR", "~/embeddings")
    assert data_root() == tmp_path / "embeddings"


def test_derived_locations_live_under_the_data_root(data_root, monkeypatch):
    from include.storage.layout import data_store, staging_key, version_key

    store = data_store()
    assert store.key_url(version_key("v1")) == str(data_root / "models" / "v1")
    staging = staging_key("manual__2024-01-01T00:00:00+00:00")
    assert staging.startswith("staging/") and ":" not in staging and "+" not in staging
    monkeypatch.setenv("EMBEDDINGS_DATA_DIR", "s3://bucket/prefix/")
    assert paths.data_root_location() == "s3://bucket/prefix"
    assert paths.allowed_roots() == [paths.bundled_corpus_path("lee").resolve()], "no local data/ for an S3 root"


# --- resolve_corpus_path: bundled corpora --------------------------------------------------------


def test_bundled_lee_resolves_to_gensim_lee_background(data_root):
    import gensim

    resolved = resolve_corpus_path("bundled:lee")
    expected = Path(gensim.__file__).resolve().parent / "test" / "test_data" / "lee_background.cor"
    assert resolved == expected
    assert resolved.is_file()
    assert resolve_corpus_path("  bundled:lee  ") == expected


def test_default_corpus_is_bundled_lee_and_resolves(data_root):
    assert paths.DEFAULT_CORPUS == "bundled:lee"
    assert resolve_corpus_path(paths.DEFAULT_CORPUS).name == "lee_background.cor"


@pytest.mark.parametrize("name", ["bundled:nope", "bundled:", "bundled:LEE"])
def test_unknown_bundled_name_is_refused_listing_known_ones(data_root, name):
    with pytest.raises(PipelineInputError) as caught:
        resolve_corpus_path(name)
    message = str(caught.value)
    assert name in message
    assert "bundled:lee" in message


# --- resolve_corpus_path: malformed values -------------------------------------------------------


@pytest.mark.parametrize("value", ["", "   ", "\t\n", None, 42, ["data"], b"corpus"])
def test_empty_or_non_string_corpus_path_is_refused(data_root, value):
    with pytest.raises(PipelineInputError, match="non-empty string"):
        resolve_corpus_path(value)


def test_corpus_path_with_nul_byte_is_refused_as_input_error(data_root):
    with pytest.raises(PipelineInputError, match="corpus"):
        resolve_corpus_path("corpus\x00.txt")


# --- resolve_corpus_path: paths inside / outside the allowed roots -------------------------------


def test_relative_path_is_resolved_against_the_data_root(data_root, tmp_path, monkeypatch):
    corpus = data_root / "corpora" / "news"
    corpus.mkdir(parents=True)
    monkeypatch.chdir(tmp_path)  # not the working directory
    assert resolve_corpus_path("corpora/news") == corpus
    assert resolve_corpus_path("corpora/news/") == corpus


def test_absolute_path_inside_data_root_is_accepted(data_root):
    corpus = data_root / "one.txt"
    corpus.write_text("hello world\n", encoding="utf-8")
    assert resolve_corpus_path(str(corpus)) == corpus


def test_path_outside_allowed_roots_is_refused_naming_path_and_roots(data_root, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    with pytest.raises(PipelineInputError) as caught:
        resolve_corpus_path(str(outside))
    message = str(caught.value)
    assert str(outside) in message
    assert str(data_root) in message  # the allowed roots are listed
    assert "lee_background.cor" in message
    assert "EMBEDDINGS_CORPUS_ROOTS" in message


def test_sibling_folder_sharing_the_data_root_prefix_is_refused(data_root):
    # /tmp/x/data2 starts with the string /tmp/x/data but is not inside it
    sibling = data_root.parent / (data_root.name + "2")
    sibling.mkdir()
    with pytest.raises(PipelineInputError, match="outside the allowed roots"):
        resolve_corpus_path(str(sibling))


@pytest.mark.parametrize("escape", ["../secret", "corpus/../../secret", "./../secret/file.txt"])
def test_dotdot_escape_from_the_data_root_is_refused(data_root, escape):
    (data_root / "corpus").mkdir()
    secret = data_root.parent / "secret"
    secret.mkdir()
    (secret / "file.txt").write_text("private words\n", encoding="utf-8")
    with pytest.raises(PipelineInputError, match="outside the allowed roots") as caught:
        resolve_corpus_path(escape)
    assert escape in str(caught.value)


def test_dotdot_that_stays_inside_the_data_root_is_accepted(data_root):
    (data_root / "a").mkdir()
    (data_root / "b").mkdir()
    assert resolve_corpus_path("a/../b") == data_root / "b"


def test_symlink_in_data_root_pointing_outside_is_refused(data_root, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "t.txt").write_text("words\n", encoding="utf-8")
    link = data_root / "innocent"
    link.symlink_to(outside, target_is_directory=True)
    with pytest.raises(PipelineInputError, match="outside the allowed roots") as caught:
        resolve_corpus_path("innocent")
    assert str(outside) in str(caught.value)  # the resolved target is shown
    with pytest.raises(PipelineInputError, match="outside the allowed roots"):
        resolve_corpus_path("innocent/t.txt")


def test_symlink_in_data_root_pointing_inside_resolves_to_target(data_root):
    target = data_root / "real"
    target.mkdir()
    (data_root / "alias").symlink_to(target, target_is_directory=True)
    assert resolve_corpus_path("alias") == target


def test_corpus_roots_variable_allows_several_folders(data_root, tmp_path, monkeypatch):
    first, second, third = tmp_path / "first", tmp_path / "second", tmp_path / "third"
    for folder in (first, second, third):
        folder.mkdir()
    (second / "x.txt").write_text("words\n", encoding="utf-8")
    monkeypatch.setenv("EMBEDDINGS_CORPUS_ROOTS", os.pathsep.join([str(first), "", str(second)]))
    assert resolve_corpus_path(str(first)) == first
    assert resolve_corpus_path(str(second / "x.txt")) == second / "x.txt"
    with pytest.raises(PipelineInputError) as caught:
        resolve_corpus_path(str(third))
    message = str(caught.value)
    assert str(first) in message and str(second) in message


def test_corpus_roots_variable_unset_allows_nothing_extra(data_root, tmp_path):
    outside = tmp_path / "first"
    outside.mkdir()
    with pytest.raises(PipelineInputError, match="outside the allowed roots"):
        resolve_corpus_path(str(outside))


def test_missing_path_inside_root_says_does_not_exist(data_root):
    with pytest.raises(PipelineInputError, match="does not exist") as caught:
        resolve_corpus_path("no/such/corpus")
    assert "no/such/corpus" in str(caught.value)
    assert str(data_root / "no" / "such" / "corpus") in str(caught.value)


def test_missing_path_outside_root_is_refused_as_outside_not_missing(data_root, tmp_path):
    with pytest.raises(PipelineInputError, match="outside the allowed roots"):
        resolve_corpus_path(str(tmp_path / "missing"))


# --- corpus_id and safe_name -------------------------------------------------------------------


def test_corpus_id_is_readable_and_free_of_colon_and_plus(tmp_path):
    path = tmp_path / "my:corpus+v2.txt"
    cid = corpus_id(path)
    assert ":" not in cid and "+" not in cid and "/" not in cid
    assert re.fullmatch(r"[A-Za-z0-9._-]+-[0-9a-f]{8}", cid)
    assert cid.startswith("my_corpus_v2-")


def test_corpus_id_is_stable_and_distinguishes_paths(tmp_path):
    a = tmp_path / "one" / "news"
    b = tmp_path / "two" / "news"
    assert corpus_id(a) == corpus_id(a)
    assert corpus_id(a) != corpus_id(b)  # same name, different folder
    assert corpus_id(a).split("-")[0] == corpus_id(b).split("-")[0] == "news"


def test_corpus_id_is_the_same_in_another_process(tmp_path):
    path = tmp_path / "news"
    code = (
        "import sys; from pathlib import Path; from include.storage.paths import corpus_id; "
        "print(corpus_id(Path(sys.argv[1])))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    other = subprocess.run(
        [sys.executable, "-c", code, str(path)], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert other == corpus_id(path)
    assert other.endswith(hashlib.sha1(str(path).encode()).hexdigest()[:8])


def test_corpus_id_of_nameless_path_is_not_empty():
    cid = corpus_id(Path("/"))
    assert re.fullmatch(r"[A-Za-z0-9._]+-[0-9a-f]{8}", cid)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("manual__2024-01-01T00:00:00+00:00", "manual__2024-01-01T00_00_00_00_00"),
        ("scheduled__2024-05-06", "scheduled__2024-05-06"),
        ("../../etc/passwd", "etc_passwd"),
        ("..", "run"),
        ("", "run"),
        ("¿qué?", "qu"),
        ("a  b", "a_b"),
    ],
)
def test_safe_name(text, expected):
    assert safe_name(text) == expected


@pytest.mark.parametrize("text", ["x/y", ".hidden", "a:b+c d", "ünïcödé", "-_.-"])
def test_safe_name_is_a_portable_folder_name(text):
    name = safe_name(text)
    assert re.fullmatch(r"[A-Za-z0-9._-]+", name)
    assert not name.startswith(".") and name not in {".", ".."}


# --- EMBEDDINGS_CORPUS_ROOTS entries and corpus URLs (confined by key prefix, no store touched) ----


@pytest.mark.parametrize(
    ("setting", "entries"),
    [
        ("s3://corpora/texts,/srv/texts", ["s3://corpora/texts", "/srv/texts"]),
        ("s3://a/b:/srv/x", ["s3://a/b", "/srv/x"]),
        ("/srv/x:s3://a/b", ["/srv/x", "s3://a/b"]),
        (" s3://a/b , gs://c/d::/srv/x,", ["s3://a/b", "gs://c/d", "/srv/x"]),
        ("file:///srv/x:/srv/y", ["file:///srv/x", "/srv/y"]),
        ("/one:/two", ["/one", "/two"]),
        ("", []),
    ],
)
def test_roots_split_on_commas_and_pathsep_keeping_a_scheme_whole(setting, entries):
    assert paths.split_roots(setting) == entries


@pytest.fixture
def url_roots(data_root, monkeypatch, tmp_path):
    """EMBEDDINGS_CORPUS_ROOTS with a URL root and a local one, in one setting."""
    local = tmp_path / "texts"
    local.mkdir()
    monkeypatch.setenv("EMBEDDINGS_CORPUS_ROOTS", f"s3://corpora/texts,{local}")
    return local


@pytest.mark.parametrize(
    ("corpus_path", "resolved"),
    [
        ("s3://corpora/texts", "s3://corpora/texts"),
        ("s3://corpora/texts/news/", "s3://corpora/texts/news"),
        ("S3://corpora//texts/./news/2026-11-01/a.txt", "s3://corpora/texts/news/2026-11-01/a.txt"),
    ],
)
def test_url_under_a_url_root_resolves_normalised(url_roots, corpus_path, resolved):
    assert resolve_corpus_path(corpus_path) == resolved


def test_url_roots_and_local_roots_hold_together(url_roots):
    (url_roots / "a.txt").write_text("words\n", encoding="utf-8")
    assert resolve_corpus_path(str(url_roots / "a.txt")) == url_roots / "a.txt"
    assert paths.allowed_url_roots() == ["s3://corpora/texts"]
    assert url_roots in paths.allowed_roots()


@pytest.mark.parametrize(
    "corpus_path",
    ["s3://corpora/texts2", "s3://corpora/texts2/news", "s3://corpora/text", "s3://corpora", "s3://other/texts"],
)
def test_url_outside_the_roots_is_refused_on_segment_boundaries(url_roots, data_root, corpus_path):
    with pytest.raises(PipelineInputError, match="outside the allowed roots") as caught:
        resolve_corpus_path(corpus_path)
    message = str(caught.value)
    assert f"corpus_path '{corpus_path}'" in message
    assert "s3://corpora/texts" in message and str(url_roots) in message and str(data_root) in message
    assert "EMBEDDINGS_CORPUS_ROOTS" in message


@pytest.mark.parametrize(
    "corpus_path", ["s3://corpora/texts/../secret", "s3://corpora/texts/news/../../x", "s3://corpora/texts/.."]
)
def test_url_with_a_dotdot_segment_is_refused_even_when_it_would_stay_inside(url_roots, corpus_path):
    with pytest.raises(PipelineInputError, match=r"'\.\.' segment") as caught:
        resolve_corpus_path(corpus_path)
    assert corpus_path in str(caught.value)


@pytest.mark.parametrize("corpus_path", ["s3://", "s3:///", "s3://./"])
def test_url_without_a_bucket_is_refused(url_roots, corpus_path):
    with pytest.raises(PipelineInputError, match="names no bucket"):
        resolve_corpus_path(corpus_path)


def test_url_is_refused_when_only_local_roots_are_allowed(data_root):
    with pytest.raises(PipelineInputError, match="outside the allowed roots") as caught:
        resolve_corpus_path("s3://corpora/texts")
    assert str(data_root) in str(caught.value)


def test_a_root_entry_with_dotdot_is_refused_naming_the_setting(data_root, monkeypatch):
    monkeypatch.setenv("EMBEDDINGS_CORPUS_ROOTS", "s3://corpora/texts/../all")
    with pytest.raises(PipelineInputError, match=r"EMBEDDINGS_CORPUS_ROOTS entry 's3://corpora/texts/\.\./all'"):
        resolve_corpus_path("s3://corpora/all/x")


def test_under_an_s3_data_root_relative_paths_and_urls_resolve_inside_it(monkeypatch):
    monkeypatch.setenv("EMBEDDINGS_DATA_DIR", "s3://bucket/embeddings/")
    monkeypatch.delenv("EMBEDDINGS_CORPUS_ROOTS", raising=False)
    assert resolve_corpus_path("corpora/news") == "s3://bucket/embeddings/corpora/news"
    assert resolve_corpus_path("s3://bucket/embeddings/corpora") == "s3://bucket/embeddings/corpora"
    for outside in ("s3://bucket/embeddings2/x", "s3://bucket/other"):
        with pytest.raises(PipelineInputError, match="outside the allowed roots"):
            resolve_corpus_path(outside)
    with pytest.raises(PipelineInputError, match=r"'\.\.' segment"):
        resolve_corpus_path("corpora/../../secret")


def test_file_url_is_a_local_path_confined_as_one(data_root, tmp_path):
    (data_root / "a.txt").write_text("words\n", encoding="utf-8")
    assert resolve_corpus_path(f"file://{data_root / 'a.txt'}") == data_root / "a.txt"
    with pytest.raises(PipelineInputError, match="outside the allowed roots"):
        resolve_corpus_path(f"file://{tmp_path}")


def test_corpus_id_of_a_url_is_readable_and_distinguishes_prefixes():
    news, other = corpus_id("s3://corpora/texts/news"), corpus_id("s3://corpora/other/news")
    assert news.startswith("news-") and other.startswith("news-") and news != other
    assert news == corpus_id("s3://corpora/texts/news")
