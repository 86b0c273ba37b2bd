"""Bad and hostile input at the library level: each refused with a message naming the file."""

import os

import pytest
from fsspec.implementations.local import LocalFileSystem

from include.artifacts.embeddings import export_embeddings, load_embeddings
from include.artifacts.keras_models import write_keras_models
from include.errors import PipelineInputError
from include.quality.evaluation import evaluate_keyed_vectors
from include.quality.parity import check_parity
from include.steps.ingest_text import ingest_corpus, read_manifest
from include.steps.train_word2vec import Word2VecParams, train_word2vec
from include.steps.write_similarity_report import build_report
from include.storage.corpus_location import CorpusLocation
from include.text.files import TextFileReader
from include.text.tokens import tokenize_files, write_token_file


def test_file_swapped_for_an_outside_link_after_the_scan_is_refused(data_root, tmp_path):
    corpus = data_root / "corpus"
    corpus.mkdir()
    target = corpus / "a.txt"
    target.write_text("harmless words here\n")
    manifest_path = tmp_path / "m.json"
    ingest_corpus(corpus, manifest_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("secret words from elsewhere\n")
    target.unlink()
    os.symlink(secret, target)  # swapped between the check (ingest) and the read (tokenize)
    with pytest.raises(PipelineInputError, match=r"a\.txt' now leads to .*secret\.txt', outside"):
        tokenize_files(read_manifest(manifest_path), tmp_path / "tokens")
    with pytest.raises(PipelineInputError, match="outside"):
        write_token_file(read_manifest(manifest_path)["files"], tmp_path / "p.parquet", corpus=corpus)
    assert not (tmp_path / "tokens").exists() and not (tmp_path / "p.parquet").exists()


def test_unreadable_file_is_named(data_root, tmp_path, monkeypatch):
    corpus = data_root / "corpus"
    corpus.mkdir()
    (corpus / "locked.txt").write_text("words\n")
    real_open = LocalFileSystem.open

    def deny(self, path, *args, **kwargs):
        if str(path).endswith("locked.txt"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(self, path, *args, **kwargs)

    monkeypatch.setattr(LocalFileSystem, "open", deny)
    with pytest.raises(PipelineInputError, match=r"locked\.txt' cannot be read: .*Permission denied"):
        ingest_corpus(corpus, tmp_path / "m.json")
    assert not (tmp_path / "m.json").exists()


def test_unreadable_folder_is_named(data_root, monkeypatch):
    corpus = data_root / "corpus"
    (corpus / "private").mkdir(parents=True)
    (corpus / "a.txt").write_text("words\n")
    real_scandir = os.scandir

    def deny(path="."):
        if str(path).endswith("private"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", deny)
    with pytest.raises(PipelineInputError, match=r"private' cannot be read: Permission denied"):
        CorpusLocation.of(corpus).files()


def test_a_one_word_vocabulary_trains_exports_and_reports(tmp_path):
    corpus = tmp_path / "one.txt"
    corpus.write_text("hello hello hello\nhello hello\n")
    ingest_corpus(corpus, tmp_path / "m.json")
    tokens = tokenize_files(read_manifest(tmp_path / "m.json"), tmp_path / "tokens")
    version = tmp_path / "v"
    train_word2vec(
        tokens["path"], Word2VecParams(vector_size=8, min_count=1, epochs=1, workers=1), version / "word2vec.model"
    )
    export_embeddings(version / "word2vec.model", version)
    emb = load_embeddings(version)
    assert emb.index_to_word == ["hello"]
    write_keras_models(emb.vectors, emb.index_to_word, version / "keras")
    report = build_report(
        emb,
        version="v",
        params={},
        corpus={},
        probe_words=["hello", "<b>"],
        top_k=5,
        parity=check_parity(emb, version / "keras", pairs=5, seed=0),
        evaluation=evaluate_keyed_vectors(emb.to_keyed_vectors()),
    )
    assert report["neighbours"] == {"hello": []} and report["oov_probe_words"] == ["<b>"]
    assert report["parity"]["max_abs_diff"] < 1e-5


def test_reader_without_confinement_reads_plain_paths(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("one\ntwo\n")
    reader = TextFileReader(path)
    assert [text for _, text, _ in reader.pieces()] == ["one", "two"]
