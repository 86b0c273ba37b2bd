"""Quality unchanged (issue 12, item 6), and the guard of the declared CODE_VERSION: with
``workers: 1`` and a fixed seed, the LineSentence file
and ``embeddings.npy`` of a fixed small corpus stay byte-identical to what main produced before the
scale work (sha256 recorded on main at 3dc8716, before any change to training or its input)."""

import hashlib
from pathlib import Path

import pytest

from include.artifacts.embeddings import export_embeddings
from include.steps.ingest_text import ingest_corpus, read_manifest
from include.steps.train_word2vec import Word2VecParams, train_word2vec, write_line_sentence_file
from include.text.tokens import tokenize_files
from include.versions import CODE_VERSION, TOKENIZER_VERSION
from tests.conftest import synthetic_sentences

#: Per declared CODE_VERSION (include/versions.py): the tokenizer version it covers and the sha256
#: of the LineSentence file and of embeddings.npy. A change of output needs a new CODE_VERSION and a
#: new entry here; never edit a recorded one. The first was recorded on main at 3dc8716.
GOLDEN = {
    "c5eb5dce9d36d66c": {
        "tokenizer": "55ad17533dc8ce4a",
        "line_sentence": "7dc2c4f06c1c5a75e8e58dfe8f7ec0a6af34d71b5252882084c76e7273eca80b",
        "embeddings": "ddbeff85c2e14e7edc43f61fac748882d7dee9a7bd83982499f709783db20614",
    },
}
LINE_SENTENCE_SHA256 = GOLDEN[CODE_VERSION]["line_sentence"]
EMBEDDINGS_SHA256 = GOLDEN[CODE_VERSION]["embeddings"]


def test_the_code_version_covers_the_tokenizer_version():
    """A tokenizer bump changes the tokens a version is trained on, while the content hash covers the
    input files' checksums: the code version must be bumped with it."""
    assert GOLDEN[CODE_VERSION]["tokenizer"] == TOKENIZER_VERSION
    assert len({entry["embeddings"] for entry in GOLDEN.values()}) == len(GOLDEN)


def _corpus(folder: Path) -> Path:
    """Plain sentences, a line of 25,000 tokens (split into rows of 10,000), non-ASCII lines."""
    folder.mkdir(parents=True)
    lines = synthetic_sentences(count=600, seed=11)
    lines.insert(200, " ".join(synthetic_sentences(count=2500, seed=5)[:2500]))
    lines.insert(300, "Ça déjà vu, naïve café über straße ΣΊΣΥΦΟΣ")
    (folder / "a.txt").write_text("\n".join(lines[:400]) + "\n", encoding="utf-8")
    (folder / "b.txt").write_text("\n".join(lines[400:]), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def golden_tokens(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("golden")
    corpus = _corpus(base / "corpus")
    ingest_corpus(corpus, base / "manifest.json")
    return Path(tokenize_files(read_manifest(base / "manifest.json"), base / "tokens")["path"])


def test_line_sentence_file_is_unchanged(golden_tokens, tmp_path):
    lines = write_line_sentence_file(golden_tokens, tmp_path / "corpus.txt")
    content = (tmp_path / "corpus.txt").read_bytes()
    assert lines == content.count(b"\n")
    assert max(len(line.split()) for line in content.splitlines()) == 10_000
    assert hashlib.sha256(content).hexdigest() == LINE_SENTENCE_SHA256


def test_embeddings_of_one_worker_and_a_seed_are_unchanged(golden_tokens, tmp_path):
    params = Word2VecParams(vector_size=24, window=4, min_count=2, epochs=3, workers=1, seed=1)
    train_word2vec(golden_tokens, params, tmp_path / "word2vec.model")
    export_embeddings(tmp_path / "word2vec.model", tmp_path)
    digest = hashlib.sha256((tmp_path / "embeddings.npy").read_bytes()).hexdigest()
    assert digest == EMBEDDINGS_SHA256


@pytest.mark.parametrize("batch_bytes", [1, 4096])
def test_line_sentence_file_does_not_depend_on_the_batch_size(golden_tokens, tmp_path, batch_bytes):
    """Batches of one row, or of a few rows, write the same bytes as the default 16 MiB batches."""
    lines = write_line_sentence_file(golden_tokens, tmp_path / "corpus.txt", batch_bytes=batch_bytes)
    content = (tmp_path / "corpus.txt").read_bytes()
    assert lines == content.count(b"\n")
    assert hashlib.sha256(content).hexdigest() == LINE_SENTENCE_SHA256
