"""Training's vocabulary is counted by Arrow while the LineSentence file is written
(include/artifacts/word_counts.py): it must be exactly what gensim's own scan of that file finds, in
the same order, or the vocabulary's ties, initial vectors and trained vectors would change."""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from include.artifacts import word_counts
from include.artifacts.word_counts import WHITESPACE_CLASS, WordCounts
from include.errors import PipelineInputError
from include.steps.training.gensim_word2vec import train_word2vec_on_file
from include.steps.training.line_sentence import write_line_sentence_file
from include.steps.training.params import Word2VecParams
from tests.conftest import synthetic_sentences


def _tokens(folder: Path, rows: list[list[str]]) -> Path:
    import pyarrow.parquet as pq

    folder.mkdir(parents=True)
    pq.write_table(pa.table({"tokens": pa.array(rows, pa.list_(pa.string()))}), folder / "part-00000.parquet")
    return folder


def _gensim_scan(corpus_file: Path):
    from gensim.models import Word2Vec

    model = Word2Vec(min_count=1)
    total, sentences = model.scan_vocab(corpus_file=str(corpus_file))
    return dict(model.raw_vocab), total, sentences


@pytest.fixture
def many_ties(tmp_path) -> Path:
    """Rows where hundreds of words share each count, first seen in a shuffled order."""
    rng = np.random.default_rng(3)
    words = [f"w{i:04d}" for i in range(600)]
    rows = [list(rng.choice(words, size=rng.integers(1, 40))) for _ in range(3000)]
    rows += [s.lower().split() for s in synthetic_sentences(count=300, seed=2)]
    return _tokens(tmp_path / "tokens", rows)


@pytest.mark.parametrize("batch_bytes,merge_at", [(None, word_counts.MERGE_AT_ENTRIES), (512, 64)])
def test_counts_equal_gensims_own_scan_in_order(many_ties, tmp_path, monkeypatch, batch_bytes, merge_at):
    """Tiny batches and merges every few batches give the same dict, in the same order."""
    monkeypatch.setattr(word_counts, "MERGE_AT_ENTRIES", merge_at)
    counts = WordCounts()
    lines = write_line_sentence_file(many_ties, tmp_path / "corpus.txt", batch_bytes=batch_bytes, counts=counts)
    raw_vocab, total, sentences = _gensim_scan(tmp_path / "corpus.txt")
    found = counts.to_dict()
    assert list(found.items()) == list(raw_vocab.items())
    assert (counts.tokens, counts.sentences, counts.most_common) == (total, sentences, max(raw_vocab.values()))
    assert lines == sentences


def test_empty_rows_are_no_sentences_as_for_gensim(tmp_path):
    folder = _tokens(tmp_path / "tokens", [["a", "b"], [], ["b"], []])
    counts = WordCounts()
    assert write_line_sentence_file(folder, tmp_path / "corpus.txt", counts=counts) == 4
    assert (counts.to_dict(), counts.tokens, counts.sentences) == ({"a": 1, "b": 2}, 3, 2)
    assert _gensim_scan(tmp_path / "corpus.txt") == ({"a": 1, "b": 2}, 3, 2)


def test_no_tokens_count_nothing():
    counts = WordCounts()
    counts.add(pa.chunked_array([pa.array([[], []], pa.list_(pa.string()))]))
    assert (counts.to_dict(), counts.tokens, counts.sentences, counts.most_common) == ({}, 0, 0, 0)


@pytest.mark.parametrize(
    "bad", ["", "new york", "tab\there", "line\nbreak", "no\u00a0break", "wide\u3000space", "next\x85line"]
)
def test_a_partition_with_an_empty_or_spaced_token_is_refused_naming_it(tmp_path, bad):
    """Such a token would not read back from the LineSentence file as one word, so the counts
    would not be what gensim trains on: training stops, naming the rows' folder and the token."""
    folder = _tokens(tmp_path / "tokens", [["fine", "words"], ["a", bad, "fine"]])
    with pytest.raises(PipelineInputError, match=r"token rows under .*tokens.*: 1 distinct tokens are empty or hold"):
        write_line_sentence_file(folder, tmp_path / "corpus.txt", counts=WordCounts())
    counts = WordCounts()
    counts.add(pa.array([["a", bad]], pa.list_(pa.string())))
    with pytest.raises(PipelineInputError) as error:
        counts.refuse_malformed_words("here")
    assert repr(bad) in str(error.value)


def test_well_formed_tokens_pass_the_check(tmp_path):
    folder = _tokens(tmp_path / "tokens", [["café", "zero\u200bwidth", "new_york", "x"], []])
    assert write_line_sentence_file(folder, tmp_path / "corpus.txt", counts=WordCounts()) == 2


def test_the_whitespace_class_is_exactly_what_str_split_splits_on():
    import pyarrow.compute as pc

    points = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]  # surrogates are no UTF-8
    matched = pc.match_substring_regex(pa.array([f"a{c}b" for c in points]), WHITESPACE_CLASS).to_pylist()
    assert [c for c, hit in zip(points, matched) if hit] == [c for c in points if len(f"a{c}b".split()) == 2]


@pytest.mark.parametrize("max_final_vocab", [0, 250])
def test_training_from_counts_equals_gensims_build_vocab(many_ties, tmp_path, max_final_vocab):
    """The vocabulary (ties broken by first appearance, and the max_final_vocab cut through a tie)
    and the vectors are those of gensim's own ``build_vocab`` + ``train`` on the same file."""
    from gensim.models import Word2Vec

    params = Word2VecParams(vector_size=16, min_count=2, epochs=2, workers=1, seed=5, max_final_vocab=max_final_vocab)
    counts = WordCounts()
    write_line_sentence_file(many_ties, tmp_path / "ours.txt", counts=counts)
    reference_file = tmp_path / "gensim.txt"
    reference_file.write_bytes((tmp_path / "ours.txt").read_bytes())
    stats = train_word2vec_on_file(tmp_path / "ours.txt", counts, params, tmp_path / "ours" / "w2v.model")
    ours = Word2Vec.load(str(tmp_path / "ours" / "w2v.model"))

    reference = Word2Vec(**params.gensim_kwargs())
    reference.build_vocab(corpus_file=str(reference_file))
    reference.train(  # as train_word2vec_on_file calls it (total_examples shapes the learning rate)
        corpus_file=str(reference_file),
        total_examples=reference.corpus_count,
        total_words=reference.corpus_total_words,
        epochs=params.epochs,
    )
    assert ours.wv.index_to_key == reference.wv.index_to_key
    assert (ours.corpus_count, ours.corpus_total_words) == (reference.corpus_count, reference.corpus_total_words)
    assert stats["sentences"] == reference.corpus_count
    assert np.array_equal(ours.wv.vectors, reference.wv.vectors)
