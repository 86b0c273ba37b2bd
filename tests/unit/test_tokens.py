"""Unit tests of include/text/tokens.py: gensim-identical tokens, bounded streaming, Parquet output."""

from __future__ import annotations

import bz2
import gzip
import itertools
import json
import logging
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from gensim.utils import simple_preprocess
from hypothesis import example, given, settings
from hypothesis import strategies as st

from include.errors import PipelineInputError
from include.steps.ingest_text import ingest_corpus, read_manifest
from include.text.fast_tokens import tokenize_text
from include.text.files import BLOCK_CHARS, TextFileReader
from include.text.tokens import (
    MAX_SENTENCE_TOKENS,
    LineTokenizer,
    iter_token_lists,
    iter_token_rows,
    tokenize_files,
)

# --- tokenize_text ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Héllo Wörld ÆSIR naïve", ["héllo", "wörld", "æsir", "naïve"]),
        ("Я люблю Москву", ["люблю", "москву"]),
        ("abc123def 42 x1y", ["abc", "def"]),  # digits split words and never start tokens
        ("foo_bar _foo __init__ a_", ["foo_bar", "a_"]),  # underscores are word characters, no leading _
        ("cafe\u0301 resume\u0301", ["cafe", "resume"]),  # combining marks are not word characters
        ("ΟΔΟΣ ΟΔΟΣ.", ["οδος", "οδος"]),  # Greek final sigma
        ("ΣΑΣ", ["σας"]),
        ("İstanbul ISTANBUL ıi", ["stanbul", "istanbul", "ıi"]),  # İ lowercases to i + U+0307
        ("supercalifragilistic abcdefghijklmno abcdefghijklmnop", ["abcdefghijklmno"]),  # 15 chars max
        ("a b c ab I", ["ab"]),  # 2 chars min
        ("中文分词 日本語", ["中文分词", "日本語"]),
        ("😀 happy😀sad 👍🏽", ["happy", "sad"]),
        ("Straße ﬁnd", ["straße", "ﬁnd"]),
        ("don't stop-me now", ["don", "stop", "me", "now"]),
        ("x²y", ["x²y"]),  # superscripts are not decimal digits
        ("", []),
        ("  \t\n 123 !!! ...", []),
    ],
)
def test_tokenize_text_is_simple_preprocess(text, expected):
    assert tokenize_text(text) == expected
    assert tokenize_text(text) == simple_preprocess(text)


# --- LineTokenizer: streaming a line in pieces ---------------------------------------------------


def stream_tokens(text: str, block_chars: int, piece_sizes: list[int] | None = None) -> tuple[list[str], int]:
    """Feed ``text`` to a LineTokenizer in pieces of at most ``block_chars``; return tokens and forced cuts."""
    tokenizer = LineTokenizer(block_chars)
    tokens: list[str] = []
    sizes = itertools.cycle(piece_sizes or [block_chars])
    position = 0
    while position < len(text):
        size = max(1, min(next(sizes), block_chars))
        tokens += tokenizer.feed(text[position : position + size])
        position += size
    tokens += tokenizer.finish()
    return tokens, tokenizer.forced_cuts


TRICKY = [
    "a",
    "B",
    "é",
    "Σ",
    "σ",
    "ς",
    "İ",
    "ı",
    "I",
    "i",
    "ß",
    "ﬁ",
    "Я",
    "中",
    "😀",
    "ʰ",
    "々",
    "\u0301",
    "\u0307",
    "\u00ad",
    "'",
    ".",
    ":",
    "_",
    "-",
    " ",
    " ",
    " ",
    "\t",
    "\u00a0",
    "\u3000",
    "\n",
    "1",
    "٣",
    "²",
    "Ⅻ",
]
_segment = st.one_of(
    st.text(max_size=40),  # any Unicode
    st.text(alphabet=st.sampled_from(TRICKY), max_size=60),  # biased to the characters that matter
    st.builds(
        lambda word, count: word * count,  # long runs without whitespace
        st.sampled_from(["a", "Σ", "ab", "xΣ", "a'", "ΟΔΟΣ", "word ", "ΟΔΟΣ ", "a1"]),
        st.integers(min_value=1, max_value=150),
    ),
    st.sampled_from(["İstanbul", "ΟΔΟΣ", ".Σʰ", "'Σʰʰ", "\u0301Σ々", "abc123def", "foo_bar", "_foo"]),
)
line_texts = st.lists(_segment, max_size=12).map("".join)


@settings(max_examples=300, deadline=None)
@given(
    text=line_texts,
    block_chars=st.integers(min_value=64, max_value=300),
    piece_sizes=st.lists(st.integers(min_value=1, max_value=300), min_size=1, max_size=5),
)
@example(text="ΟΔΟΣ " * 40, block_chars=64, piece_sizes=[64])
@example(text="a" * 63 + " " + "ΟΔΟΣ" * 30 + " end", block_chars=64, piece_sizes=[64])
@example(text="word " * 30 + "Σ'", block_chars=64, piece_sizes=[7])
@example(text="x" * 200 + " " + "y" * 10, block_chars=64, piece_sizes=[64])
def test_streamed_tokens_equal_simple_preprocess_of_the_whole_line(text, block_chars, piece_sizes):
    tokens, forced_cuts = stream_tokens(text, block_chars, piece_sizes)
    if forced_cuts == 0:
        assert tokens == simple_preprocess(text)


def test_streaming_cuts_only_at_exact_points_in_ordinary_text():
    text = " ".join(f"Word{i % 7}ΟΔΟΣ café_{i}" for i in range(500))  # 10k chars, many blocks
    for block_chars in (64, 100, 257):
        tokens, forced_cuts = stream_tokens(text, block_chars)
        assert forced_cuts == 0
        assert tokens == simple_preprocess(text)


def test_final_sigma_at_a_block_boundary():
    # Σ is the last character of the first block; the next block decides its form
    for tail in ("", "Α", "'", "\u0301", "\u0301Α", "'ʰ"):
        text = "x" * 59 + " ΟΔΟΣ" + tail + " after words" * 10
        assert text[63] == "Σ"
        tokens, forced_cuts = stream_tokens(text, 64)
        assert forced_cuts == 0
        assert tokens == simple_preprocess(text), repr(tail)


def test_run_longer_than_a_block_is_dropped_like_gensim_does():
    text = "short " + "a" * 500 + " after"
    tokens, forced_cuts = stream_tokens(text, 64)
    assert tokens == ["short", "after"] == simple_preprocess(text)
    assert forced_cuts == 0


def test_run_without_exact_cut_point_is_forced_and_counted():
    text = "a'" * 200  # apostrophes are case-ignorable: never an exact cut point
    tokens, forced_cuts = stream_tokens(text, 64)
    assert forced_cuts >= 1
    assert tokens == simple_preprocess(text) == []  # one-letter words are never tokens


def test_long_run_continued_by_dotted_capital_i(tmp_path):
    path = tmp_path / "t.txt"
    text = "a" * (BLOCK_CHARS + 10) + "İstanbul is big\n"
    path.write_text(text, encoding="utf-8")
    tokens = [token for _, _, row in iter_token_rows(path) for token in row]
    assert tokens == simple_preprocess(text) == ["stanbul", "is", "big"]


def test_long_run_keeps_final_sigma_context(tmp_path):
    path = tmp_path / "t.txt"
    text = "a" * (BLOCK_CHARS + 10) + ".Σʰ\n"
    path.write_text(text, encoding="utf-8")
    tokens = [token for _, _, row in iter_token_rows(path) for token in row]
    assert tokens == simple_preprocess(text) == ["ςʰ"]


# --- iter_token_rows ---------------------------------------------------------------------------


def distinct_words(count: int) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(chars) for chars in itertools.islice(itertools.product(letters, repeat=4), count)]


def test_rows_skip_lines_without_tokens(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("Hello world\n\n123 !!! a\nsecond LINE here\n   \nlast", encoding="utf-8")
    assert list(iter_token_rows(path)) == [
        (1, 0, ["hello", "world"]),
        (4, 0, ["second", "line", "here"]),
        (6, 0, ["last"]),
    ]


def test_rows_of_a_compressed_file(tmp_path):
    path = tmp_path / "t.txt.gz"
    path.write_bytes(gzip.compress("Ünïcode Text\r\nsecond line\r\n".encode()))
    assert list(iter_token_rows(path)) == [(1, 0, ["ünïcode", "text"]), (2, 0, ["second", "line"])]


def test_line_with_25000_tokens_becomes_three_chunks(tmp_path):
    words = distinct_words(25_000)
    line = " ".join(words)
    path = tmp_path / "t.txt"
    path.write_text("first line\n" + line + "\nthird line\n", encoding="utf-8")
    rows = list(iter_token_rows(path))
    assert [(number, chunk, len(tokens)) for number, chunk, tokens in rows] == [
        (1, 0, 2),
        (2, 0, 10_000),
        (2, 1, 10_000),
        (2, 2, 5_000),
        (3, 0, 2),
    ]
    assert [token for number, _, tokens in rows if number == 2 for token in tokens] == simple_preprocess(line)
    assert all(len(tokens) <= MAX_SENTENCE_TOKENS for _, _, tokens in rows)


def test_line_with_exactly_20000_tokens_has_no_empty_third_chunk(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text(" ".join(distinct_words(20_000)) + "\n", encoding="utf-8")
    assert [(n, c, len(t)) for n, c, t in iter_token_rows(path)] == [(1, 0, 10_000), (1, 1, 10_000)]


class RecordingReader(TextFileReader):
    """A TextFileReader that remembers the longest block or piece it delivered."""

    longest_piece = 0

    def blocks(self):
        for item in super().blocks():
            self.longest_piece = max(self.longest_piece, len(item[2]))
            yield item


def test_5mb_single_line_without_newline_streams_in_bounded_pieces(tmp_path, caplog):
    vocabulary = ["alpha", "Beta", "gamma", "δέλτα", "ΟΔΟΣ", "x", "mix3d", "under_score", "naïve"]
    line = " ".join(itertools.islice(itertools.cycle(vocabulary), 850_000))
    assert len(line) > 5_000_000
    path = tmp_path / "huge.txt"
    path.write_text(line, encoding="utf-8")
    reader = RecordingReader(path)
    started = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger="include.text.tokens"):
        rows = list(iter_token_rows(path, reader))
    assert time.perf_counter() - started < 10
    assert 0 < reader.longest_piece <= BLOCK_CHARS
    assert {number for number, _, _ in rows} == {1}
    assert [chunk for _, chunk, _ in rows] == list(range(len(rows)))
    assert [token for _, _, tokens in rows for token in tokens] == simple_preprocess(line)
    assert not [record for record in caplog.records if "cuts" in record.getMessage()]  # no forced cut


def test_huge_run_of_letters_yields_only_the_words_after_it(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("a" * 300_000 + " hello world", encoding="utf-8")
    assert list(iter_token_rows(path)) == [(1, 0, ["hello", "world"])]


def test_forced_cuts_are_logged_naming_the_file(tmp_path, caplog):
    path = tmp_path / "apostrophes.txt"
    path.write_text("ab'" * 100 + "\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="include.text.tokens"):
        list(iter_token_rows(path, TextFileReader(path, block_chars=64, read_chars=64)))
    assert any(str(path) in record.getMessage() and "cuts" in record.getMessage() for record in caplog.records)


# --- tokenize_files ---------------------------------------------------------------------------


def ingest(corpus: Path, data_root: Path) -> dict:
    manifest_path = data_root / "manifest.json"
    ingest_corpus(corpus, manifest_path)
    return read_manifest(manifest_path)


def plain_lines(path: Path) -> list[str]:
    raw = path.read_bytes()
    if path.suffix.lower() == ".gz":
        raw = gzip.decompress(raw)
    elif path.suffix.lower() == ".bz2":
        raw = bz2.decompress(raw)
    return raw.decode("utf-8").splitlines()


def test_tokenize_files_writes_parquet_with_the_token_schema(small_corpus, data_root):
    manifest = ingest(small_corpus, data_root)
    out_dir = data_root / "tokens" / "corpus-1234" / "dt=2024-01-01"
    result = tokenize_files(manifest, out_dir)

    part = out_dir / "part-00000.parquet"
    schema = pq.read_schema(part)
    assert schema.names == ["source", "line", "chunk", "tokens"]
    assert schema.field("source").type == pa.string()
    assert schema.field("line").type == pa.int64()
    assert schema.field("chunk").type == pa.int32()
    assert schema.field("tokens").type == pa.list_(pa.string())

    table = pq.read_table(part)
    assert result["rows"] == table.num_rows
    assert result["tokens"] == sum(len(tokens) for tokens in table.column("tokens").to_pylist())
    assert result["files"] == 4
    assert result["path"] == str(out_dir)

    # every row holds the gensim tokens of its source line, files in manifest order
    sources = table.column("source").to_pylist()
    assert list(dict.fromkeys(sources)) == [entry["path"] for entry in manifest["files"]]
    for source, line, chunk, tokens in zip(
        sources, table.column("line").to_pylist(), table.column("chunk").to_pylist(), table.column("tokens").to_pylist()
    ):
        assert chunk == 0
        assert tokens == simple_preprocess(plain_lines(Path(source))[line - 1])
    assert result["rows"] == 120 + 120 + 80 + 80

    success = json.loads((out_dir / "_SUCCESS.json").read_text(encoding="utf-8"))
    assert {key: success[key] for key in ("rows", "tokens", "files")} == {
        key: result[key] for key in ("rows", "tokens", "files")
    }
    assert sorted(path.name for path in out_dir.iterdir()) == ["_SUCCESS.json", "part-00000.parquet"]
    assert sorted(path.name for path in out_dir.parent.iterdir()) == ["dt=2024-01-01"]  # no staging left


def test_tokenize_files_replaces_an_existing_output_folder(small_corpus, data_root):
    manifest = ingest(small_corpus, data_root)
    out_dir = data_root / "tokens" / "c" / "dt=2024-01-01"
    out_dir.mkdir(parents=True)
    (out_dir / "part-00007.parquet").write_bytes(b"old partition")
    (out_dir / "stale.txt").write_text("stale", encoding="utf-8")
    first = tokenize_files(manifest, out_dir)
    assert sorted(path.name for path in out_dir.iterdir()) == ["_SUCCESS.json", "part-00000.parquet"]
    second = tokenize_files(manifest, out_dir)  # a re-run replaces, never appends
    assert second["rows"] == first["rows"] == pq.read_table(out_dir / "part-00000.parquet").num_rows
    assert sorted(path.name for path in out_dir.parent.iterdir()) == ["dt=2024-01-01"]


def test_tokenize_files_skips_binary_entries(data_root):
    corpus = data_root / "mixed"
    corpus.mkdir()
    (corpus / "text.txt").write_text("real words here\n", encoding="utf-8")
    (corpus / "image.txt").write_bytes(b"\x89PNG\x00\x00 words words\n")
    manifest = ingest(corpus, data_root)
    out_dir = data_root / "tokens" / "mixed" / "dt=2024-01-01"
    result = tokenize_files(manifest, out_dir)
    table = pq.read_table(out_dir / "part-00000.parquet")
    assert set(table.column("source").to_pylist()) == {str(corpus / "text.txt")}
    assert result["files"] == 1 and result["tokens"] == 3


@pytest.mark.parametrize("change", ["append", "same_size"])
def test_tokenize_files_refuses_a_file_changed_since_ingest(small_corpus, data_root, change):
    manifest = ingest(small_corpus, data_root)
    out_dir = data_root / "tokens" / "c" / "dt=2024-01-01"
    tokenize_files(manifest, out_dir)
    before = (out_dir / "part-00000.parquet").read_bytes()
    target = small_corpus / "b.TXT"
    data = target.read_bytes()
    target.write_bytes(data + b"\nnew words\n" if change == "append" else data.replace(b"king", b"kong", 1))
    with pytest.raises(PipelineInputError, match="changed between ingest and tokenize") as caught:
        tokenize_files(manifest, out_dir)
    assert str(target) in str(caught.value)
    assert (out_dir / "part-00000.parquet").read_bytes() == before  # the last good partition stays


def test_tokenize_files_refuses_a_corpus_without_any_token(data_root):
    corpus = data_root / "numbers"
    corpus.mkdir()
    (corpus / "digits.txt").write_text("123 456 7890\n!!! ??? ... --\n1 2 3 a b c\n", encoding="utf-8")
    manifest = ingest(corpus, data_root)
    assert manifest["totals"]["lines"] == 3
    out_dir = data_root / "tokens" / "numbers" / "dt=2024-01-01"
    with pytest.raises(PipelineInputError, match="no line yields a token") as caught:
        tokenize_files(manifest, out_dir)
    assert str(corpus) in str(caught.value)
    assert not out_dir.exists()


# --- iter_token_lists ---------------------------------------------------------------------------


def test_iter_token_lists_returns_rows_in_order(small_corpus, data_root):
    manifest = ingest(small_corpus, data_root)
    out_dir = data_root / "tokens" / "c" / "dt=2024-01-01"
    tokenize_files(manifest, out_dir)
    expected = pq.read_table(out_dir / "part-00000.parquet").column("tokens").to_pylist()
    assert list(iter_token_lists(out_dir)) == expected
    assert list(iter_token_lists(out_dir, batch_bytes=200)) == expected  # batches of a few rows do not reorder
    assert expected[0] == simple_preprocess(plain_lines(Path(manifest["files"][0]["path"]))[0])


def test_iter_token_lists_reads_parts_in_file_name_order(tmp_path):
    from include.text.tokens import token_schema

    for number, words in [(1, ["second", "part"]), (0, ["first", "part"]), (10, ["third", "part"])]:
        table = pa.table({"source": ["s"], "line": [1], "chunk": [0], "tokens": [words]}, schema=token_schema())
        pq.write_table(table, tmp_path / f"part-{number:05d}.parquet")
    (tmp_path / "_SUCCESS.json").write_text("{}", encoding="utf-8")
    assert list(iter_token_lists(tmp_path)) == [["first", "part"], ["second", "part"], ["third", "part"]]


def test_iter_token_lists_of_an_empty_folder_is_empty(tmp_path):
    assert list(iter_token_lists(tmp_path)) == []


# --- the batched (Arrow) path must equal the line-by-line reference -------------------------------

from include.text.fast_tokens import tokenize_block, tokenize_lines  # noqa: E402
from include.text.tokens import iter_token_batches  # noqa: E402

_any_line = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=st.sampled_from(list("abAB_ 1.\t-xyzΣé")), max_size=80),
    st.text(alphabet=st.characters(max_codepoint=127), max_size=80),  # every ASCII character
).map(lambda line: line.replace("\n", " "))


@settings(max_examples=300, deadline=None)
@given(st.lists(_any_line, max_size=40))
def test_batched_tokenizer_equals_simple_preprocess(lines):
    assert tokenize_lines(lines).to_pylist() == [simple_preprocess(line) for line in lines]


@settings(max_examples=300, deadline=None)
@given(st.lists(_any_line, min_size=1, max_size=40), st.booleans())
def test_block_tokenizer_equals_simple_preprocess_per_line(lines, final_newline):
    """A block of lines (ASCII or not) tokenizes to gensim's tokens of each line, one entry per line."""
    text = "\n".join(lines) + ("\n" if final_newline else "")
    if text.endswith("\n") and not final_newline:
        lines = lines[:-1]  # a last empty line is indistinguishable from a final newline
    assert tokenize_block(text).to_pylist() == [simple_preprocess(line) for line in lines]


@pytest.mark.parametrize(
    "text",
    [
        "The quick brown fox\nJumps_over the lazy dog 42\n\nÜber café naïve\r\nΟΔΟΣ end",
        ("word " * 25_000) + "\nshort line\n",  # a short line over 10,000 tokens
        ("x" * 70_000) + " tail words\n" + ("y " * 40_000) + "\n",  # long lines through the piece path
    ],
)
def test_file_batches_equal_simple_preprocess_line_by_line(tmp_path, text):
    path = tmp_path / "t.txt"
    path.write_text(text, encoding="utf-8")
    expected = []
    with open(path, encoding="utf-8") as handle:  # Python's own line splitting, gensim's own tokens
        for number, line in enumerate(handle, start=1):
            tokens = simple_preprocess(line)
            expected += [
                (number, chunk, tokens[start : start + 10_000])
                for chunk, start in enumerate(range(0, len(tokens), 10_000))
            ]
    batched = [
        (int(line), int(chunk), tokens)
        for lines, chunks, arrays in iter_token_batches(path)
        for line, chunk, tokens in zip(lines, chunks, arrays.to_pylist())
    ]
    assert batched == expected
    assert list(iter_token_rows(path)) == expected
    assert all(0 < len(tokens) <= 10_000 for _, _, tokens in batched)


# --- the declared tokenizer version -------------------------------------------------------------

#: sha256 of the rows the tokenizer gives for :func:`_golden_text`, per declared TOKENIZER_VERSION
#: (include/versions.py). A change of output needs a new TOKENIZER_VERSION (and CODE_VERSION) and a
#: new entry here; never edit a recorded one.
GOLDEN_ROWS_SHA256 = {"55ad17533dc8ce4a": "a1fc9ccbed034749"}  # recorded with 8384ace's tokenizer


def _golden_text() -> str:
    """Lines that exercise what the tokenizer decides: accents, Cyrillic and Greek (final sigma),
    digits, markup, a dotted capital I, blank lines, CRLF, and a line longer than one row."""
    long_line = " ".join(distinct_words(12_000))
    return "\r\n".join(
        [
            "Héllo Wörld ÆSIR naïve café",
            "Я люблю Москву; ΟΔΥΣΣΕΥΣ σοφός",
            "abc123def 42 x1y <b>bold</b> http://example.com/a_b",
            "",
            "İstanbul is big — e-mail don't",
            long_line,
            "   last",
        ]
    )


def test_tokenizer_output_is_the_one_recorded_for_its_version(tmp_path):
    import hashlib

    from include.versions import TOKENIZER_VERSION

    path = tmp_path / "golden.txt"
    path.write_bytes(_golden_text().encode("utf-8"))
    rows = json.dumps(list(iter_token_rows(path)), ensure_ascii=False).encode("utf-8")
    assert hashlib.sha256(rows).hexdigest()[:16] == GOLDEN_ROWS_SHA256[TOKENIZER_VERSION]
