"""Unit tests of finding a local corpus's files (include/storage/corpus_location.py) and of
include/text/files.py: reading them in bounded pieces."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from include.errors import PipelineInputError
from include.storage.corpus_location import CorpusLocation
from include.text.files import BLOCK_CHARS, TextFileReader


@pytest.fixture
def corpus(tmp_path) -> Path:
    """An empty corpus folder, as a real path."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    return Path(os.path.realpath(folder))


def write(path: Path, text: str = "some words here\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def read_lines(reader: TextFileReader) -> list[str]:
    """Reassemble the lines from the pieces, checking the piece protocol on the way."""
    lines: list[str] = []
    current_number, open_line = 0, False
    for number, text, ends_line in reader.pieces():
        if open_line:
            assert number == current_number, "a continued line keeps its number"
            lines[-1] += text
        else:
            assert number == current_number + 1, "line numbers are consecutive and 1-based"
            lines.append(text)
        assert "\n" not in text and "\r" not in text
        current_number, open_line = number, not ends_line
    assert not open_line, "the last piece ends its line"
    return lines


# --- CorpusLocation.files on a local corpus ------------------------------------------------------


def discover_files(corpus: Path) -> list[Path]:
    """The files a local corpus lists, as paths."""
    return [Path(found.path) for found in CorpusLocation.of(corpus).files()]


@pytest.mark.parametrize("name", ["notes.md", "data.csv", "no_extension", "archive.tar.xz"])
def test_single_file_is_returned_whatever_its_extension(corpus, name):
    path = write(corpus / name)
    assert discover_files(path) == [path]


def test_folder_is_read_recursively_and_sorted(corpus):
    deep = write(corpus / "a" / "b" / "c" / "deep.txt")
    top = write(corpus / "top.txt")
    middle = write(corpus / "a" / "middle.txt")
    found = discover_files(corpus)
    assert found == sorted([deep, top, middle])


def test_text_extensions_are_matched_case_insensitively(corpus):
    wanted = [
        write(corpus / "one.TXT"),
        write(corpus / "two.Txt"),
        corpus / "three.GZ",
        corpus / "four.gz",
        corpus / "five.Bz2",
        corpus / "six.txt.gz",
    ]
    wanted[2].write_bytes(gzip.compress(b"x\n"))
    wanted[3].write_bytes(gzip.compress(b"x\n"))
    wanted[4].write_bytes(bz2.compress(b"x\n"))
    wanted[5].write_bytes(gzip.compress(b"x\n"))
    assert discover_files(corpus) == sorted(wanted)


def test_other_extensions_are_skipped(corpus):
    kept = write(corpus / "kept.txt")
    for name in ["notes.md", "table.csv", "README", "old.txt.bak", "a.xz", "b.zip", "txt", "c.text"]:
        write(corpus / name)
    assert discover_files(corpus) == [kept]


def test_hidden_files_and_hidden_folders_are_skipped(corpus):
    kept = write(corpus / "visible" / "kept.txt")
    write(corpus / ".hidden.txt")
    write(corpus / ".git" / "objects.txt")
    write(corpus / "visible" / ".cache" / "deep" / "x.txt")
    write(corpus / "visible" / ".also.gz")
    assert discover_files(corpus) == [kept]


def test_empty_folder_gives_no_files(corpus):
    assert discover_files(corpus) == []


def test_missing_corpus_is_refused(corpus):
    with pytest.raises(PipelineInputError, match="neither a file nor a folder"):
        discover_files(corpus / "missing")


def test_symlink_to_a_file_outside_the_corpus_is_refused_naming_the_link(corpus, tmp_path):
    outside = write(tmp_path / "secret.txt", "private words\n")
    write(corpus / "fine.txt")
    link = corpus / "sneaky.txt"
    link.symlink_to(outside)
    with pytest.raises(PipelineInputError) as caught:
        discover_files(corpus)
    message = str(caught.value)
    assert str(link) in message
    assert str(outside) in message


def test_symlink_to_a_folder_outside_the_corpus_is_refused(corpus, tmp_path):
    write(tmp_path / "elsewhere" / "x.txt")
    (corpus / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(PipelineInputError, match="outside the corpus folder"):
        discover_files(corpus)


def test_symlinked_folder_inside_the_corpus_is_followed_once(corpus):
    write(corpus / "real" / "x.txt")
    write(corpus / "real" / "y.txt")
    (corpus / "alias").symlink_to(corpus / "real", target_is_directory=True)
    found = discover_files(corpus)
    assert len(found) == 2
    assert sorted(os.path.realpath(p) for p in found) == [
        str(corpus / "real" / "x.txt"),
        str(corpus / "real" / "y.txt"),
    ]


def test_symlinked_folder_only_reachable_through_the_link_is_read(corpus):
    write(corpus / ".store" / "x.txt")  # hidden, so only the link reaches it
    (corpus / "visible").symlink_to(corpus / ".store", target_is_directory=True)
    assert discover_files(corpus) == [corpus / "visible" / "x.txt"]


def test_symlink_loop_terminates(corpus):
    kept = write(corpus / "sub" / "x.txt")
    (corpus / "sub" / "back_to_top").symlink_to(corpus, target_is_directory=True)
    (corpus / "sub" / "self").symlink_to(corpus / "sub", target_is_directory=True)
    assert discover_files(corpus) == [kept]


def test_link_to_a_file_already_in_the_corpus_is_read_once(corpus):
    write(corpus / "b" / "original.txt")
    (corpus / "a_link.txt").symlink_to(corpus / "b" / "original.txt")
    found = discover_files(corpus)
    assert len(found) == 1
    assert os.path.realpath(found[0]) == str(corpus / "b" / "original.txt")


# --- TextFileReader.pieces: lines ---------------------------------------------------------------


def test_pieces_carry_1_based_line_numbers(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(b"one\ntwo\n\nfour\n")
    reader = TextFileReader(path)
    assert list(reader.pieces()) == [(1, "one", True), (2, "two", True), (3, "", True), (4, "four", True)]
    assert reader.lines == 4


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"a\nb\n", ["a", "b"]),
        (b"a\r\nb\r\n", ["a", "b"]),
        (b"a\rb\r", ["a", "b"]),
        (b"a\nb\r\nc\rd", ["a", "b", "c", "d"]),
        (b"a\r\r\nb", ["a", "", "b"]),
        (b"a\n\rb", ["a", "", "b"]),
        (b"\r\n\r\n", ["", ""]),
        (b"\r", [""]),
        (b"x\x0by\x0cz\xe2\x80\xa8w\x1cv", ["x\x0by\x0cz\u2028w\x1cv"]),  # only \n, \r\n, \r split
    ],
)
def test_line_endings_split_like_python_text_mode(tmp_path, data, expected):
    path = tmp_path / "t.txt"
    path.write_bytes(data)
    reader = TextFileReader(path, block_chars=3)
    assert read_lines(reader) == expected
    assert reader.lines == len(expected)
    with open(path, encoding="utf-8", newline=None) as handle:
        assert [line.rstrip("\n") for line in handle] == expected


def test_final_line_without_newline_is_delivered_and_closed(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(b"first\nlast words")
    reader = TextFileReader(path)
    pieces = list(reader.pieces())
    assert [(n, text) for n, text, _ in pieces if text] == [(1, "first"), (2, "last words")]
    assert pieces[-1][0] == 2 and pieces[-1][2] is True
    assert sum(1 for piece in pieces if piece[2]) == 2
    assert reader.lines == 2


def test_empty_file_has_no_pieces(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    reader = TextFileReader(path)
    assert list(reader.pieces()) == []
    assert (reader.lines, reader.size, reader.bad_bytes) == (0, 0, 0)
    assert reader.sha256 == hashlib.sha256(b"").hexdigest()


def test_long_line_arrives_in_bounded_pieces_with_one_line_number(tmp_path):
    path = tmp_path / "t.txt"
    long_line = "".join(chr(ord("a") + i % 26) for i in range(35))
    path.write_text(long_line + "\nshort\n", encoding="utf-8")
    pieces = list(TextFileReader(path, block_chars=10).pieces())
    first = [piece for piece in pieces if piece[0] == 1]
    assert [len(text) for _, text, _ in first] == [10, 10, 10, 5]
    assert [ends for _, _, ends in first] == [False, False, False, True]
    assert "".join(text for _, text, _ in first) == long_line
    assert [piece for piece in pieces if piece[0] == 2] == [(2, "short", True)]


def test_line_of_exactly_block_chars_is_one_line(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("a" * 10 + "\nb\n", encoding="utf-8")
    reader = TextFileReader(path, block_chars=10)
    assert read_lines(reader) == ["a" * 10, "b"]
    assert reader.lines == 2


def test_long_line_in_default_block_size(tmp_path):
    path = tmp_path / "t.txt"
    line = "word " * 40_000  # 200,000 characters, about 3 blocks
    path.write_text(line + "\n", encoding="utf-8")
    pieces = list(TextFileReader(path).pieces())
    assert max(len(text) for _, text, _ in pieces) <= BLOCK_CHARS
    assert len(pieces) >= 200_000 // BLOCK_CHARS + 1
    assert {number for number, _, _ in pieces} == {1}
    assert "".join(text for _, text, _ in pieces) == line


@pytest.mark.parametrize("offset", [8191, 8192, (1 << 20) - 1])
@pytest.mark.parametrize("suffix", [".txt", ".gz"])
def test_crlf_across_read_boundaries_is_one_line_end(tmp_path, offset, suffix):
    data = b"a" * offset + b"\r\n" + b"b\r\n"
    path = tmp_path / f"t{suffix}"
    path.write_bytes(gzip.compress(data) if suffix == ".gz" else data)
    reader = TextFileReader(path)
    assert read_lines(reader) == ["a" * offset, "b"]


@settings(max_examples=150, deadline=None)
@given(
    chunks=st.lists(st.sampled_from(["a", "é", "€", "😀", " ", "\n", "\r", "\r\n", "\t", "\x0b"]), max_size=60),
    block_chars=st.integers(min_value=1, max_value=9),
)
def test_pieces_reassemble_to_python_text_mode_lines(tmp_path_factory, chunks, block_chars):
    data = "".join(chunks).encode("utf-8")
    path = tmp_path_factory.mktemp("prop") / "t.txt"
    path.write_bytes(data)
    reader = TextFileReader(path, block_chars=block_chars)
    with open(path, encoding="utf-8", newline=None) as handle:
        expected = [line[:-1] if line.endswith("\n") else line for line in handle]
    lines = read_lines(reader)
    assert lines == expected
    assert reader.lines == len(expected)
    for _, text, _ in TextFileReader(path, block_chars=block_chars).pieces():
        assert len(text) <= block_chars


@settings(max_examples=200, deadline=None)
@given(
    chunks=st.lists(
        st.sampled_from([b"a", b"bc", "é".encode(), "😀".encode(), b" ", b"\n", b"\r", b"\r\n", b"\xff"]), max_size=80
    ),
    block_chars=st.integers(min_value=1, max_value=7),
    read_chars=st.integers(min_value=1, max_value=12),
)
def test_blocks_and_pieces_match_readline_for_any_read_size(tmp_path_factory, chunks, block_chars, read_chars):
    """Blocks of whole lines and pieces of long lines, whatever the read size: the pieces are exactly
    those of a size-limited ``readline``, the blocks rejoin to the file's text, line numbers agree."""
    data = b"".join(chunks)  # b"\xff" is never valid UTF-8: one bad byte each
    path = tmp_path_factory.mktemp("prop") / "t.txt"
    path.write_bytes(data)
    with open(path, encoding="utf-8", errors="replace", newline=None) as handle:
        expected = []
        while piece := handle.readline(block_chars):
            expected.append(piece)
    reader = TextFileReader(path, block_chars=block_chars, read_chars=read_chars)
    got = list(reader.pieces())
    want = [(p[:-1], True) if p.endswith("\n") else (p, False) for p in expected]
    if expected and not expected[-1].endswith("\n"):
        want.append(("", True))
    assert [(text, ends) for _, text, ends in got] == want
    whole = TextFileReader(path, block_chars=block_chars, read_chars=read_chars)
    rebuilt, next_line = "", 1
    for kind, number, text, ends_line in whole.blocks():
        assert number == next_line
        if kind == "lines":
            assert len(text) <= 2 * read_chars + block_chars
            next_line += text.count("\n") + (0 if text.endswith("\n") else 1)
            rebuilt += text
        else:
            assert len(text) <= block_chars
            rebuilt += text + ("\n" if ends_line else "")
            next_line += 1 if ends_line else 0
    assert whole.lines == reader.lines == next_line - 1
    assert rebuilt.rstrip("\n") == "".join(expected).rstrip("\n")
    assert whole.bad_bytes == reader.bad_bytes == data.count(b"\xff")


# --- TextFileReader: checksums and sizes -------------------------------------------------------------


def _compress(suffix: str, data: bytes) -> bytes:
    return {"txt": lambda d: d, "gz": gzip.compress, "bz2": bz2.compress}[suffix](data)


@pytest.mark.parametrize("suffix", ["txt", "gz", "bz2"])
def test_sha256_and_size_are_of_the_bytes_on_disk(tmp_path, suffix):
    text = "".join(f"line {i} with some words ünïcode\n" for i in range(2000)).encode("utf-8")
    path = tmp_path / f"t.{suffix}"
    path.write_bytes(_compress(suffix, text))
    on_disk = path.read_bytes()
    reader = TextFileReader(path)
    assert reader.sha256 == "" and reader.size == 0  # nothing known before reading
    assert read_lines(reader)[-1] == "line 1999 with some words ünïcode"
    assert reader.sha256 == hashlib.sha256(on_disk).hexdigest()
    assert reader.size == len(on_disk)
    assert reader.lines == 2000


def test_sha256_of_a_large_gz_covers_every_compressed_byte(tmp_path):
    # hex of random bytes barely compresses: over 1 MiB on disk, more than one read
    data = (os.urandom(1_000_000).hex() + "\n").encode()
    path = tmp_path / "big.gz"
    path.write_bytes(gzip.compress(data, compresslevel=1))
    assert path.stat().st_size > 1 << 20
    reader = TextFileReader(path)
    for _ in reader.pieces():
        pass
    assert reader.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert reader.size == path.stat().st_size


def test_gz_with_several_members_is_read_whole(tmp_path):
    path = tmp_path / "multi.gz"
    path.write_bytes(gzip.compress(b"first member\n") + gzip.compress(b"second member\n"))
    reader = TextFileReader(path)
    assert read_lines(reader) == ["first member", "second member"]
    assert reader.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_reading_twice_gives_the_same_facts(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(b"ab\xffcd\nxy\n")
    reader = TextFileReader(path)
    list(reader.pieces())
    first = (reader.sha256, reader.size, reader.lines, reader.bad_bytes)
    list(reader.pieces())
    assert (
        (reader.sha256, reader.size, reader.lines, reader.bad_bytes)
        == first
        == (hashlib.sha256(b"ab\xffcd\nxy\n").hexdigest(), 9, 2, 1)
    )


# --- TextFileReader: undecodable bytes -----------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "bad", "text"),
    [
        (b"ab\xff\xfecd", 2, "ab\ufffd\ufffdcd"),
        (b"ab\xc3", 1, "ab\ufffd"),  # a sequence cut by the end of the file
        (b"\x80plain", 1, "\ufffdplain"),
        (b"caf\xc3\xa9", 0, "café"),
    ],
)
def test_invalid_utf8_is_counted_and_replaced(tmp_path, data, bad, text):
    path = tmp_path / "t.txt"
    path.write_bytes(data)
    reader = TextFileReader(path)
    assert read_lines(reader) == [text]
    assert reader.bad_bytes == bad


def test_invalid_utf8_inside_gz_is_counted(tmp_path):
    path = tmp_path / "t.gz"
    path.write_bytes(gzip.compress(b"ok\n\xffbad\n\xfe\xfe\n"))
    reader = TextFileReader(path)
    assert read_lines(reader) == ["ok", "\ufffdbad", "\ufffd\ufffd"]
    assert reader.bad_bytes == 3


@pytest.mark.parametrize("offset", [8191, (1 << 20) - 1])
def test_multibyte_character_across_read_boundaries_is_not_bad(tmp_path, offset):
    path = tmp_path / "t.txt"
    path.write_bytes(b"a" * offset + "é😀".encode() + b"\n")
    reader = TextFileReader(path)
    assert read_lines(reader) == ["a" * offset + "é😀"]
    assert reader.bad_bytes == 0


def test_interleaved_readers_count_their_own_bad_bytes(tmp_path):
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    first.write_bytes(b"ab\xff\xfecd\n" * 3)  # 6 bad bytes
    second.write_bytes(b"x\xffy\n")  # 1 bad byte
    reader_1, reader_2 = TextFileReader(first), TextFileReader(second)
    pieces_1, pieces_2 = reader_1.pieces(), reader_2.pieces()
    next(pieces_1)
    next(pieces_2)
    list(pieces_1)
    list(pieces_2)
    assert (reader_1.bad_bytes, reader_2.bad_bytes) == (6, 1)


# --- TextFileReader: corrupt compressed files ----------------------------------------------------


def test_truncated_gz_raises_naming_the_file(tmp_path):
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(b"hello world\n" * 5000)[:-30])
    with pytest.raises(PipelineInputError) as caught:
        list(TextFileReader(path).pieces())
    assert str(path) in str(caught.value)


def test_corrupt_bz2_raises_naming_the_file(tmp_path):
    data = bytearray(bz2.compress(b"hello world\n" * 5000))
    data[60] ^= 0xFF
    path = tmp_path / "broken.bz2"
    path.write_bytes(bytes(data))
    with pytest.raises(PipelineInputError) as caught:
        list(TextFileReader(path).pieces())
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("suffix", [".gz", ".bz2"])
def test_plain_text_with_compressed_suffix_raises_naming_the_file(tmp_path, suffix):
    path = tmp_path / f"liar{suffix}"
    path.write_bytes(b"plain text, not compressed\n")
    with pytest.raises(PipelineInputError) as caught:
        list(TextFileReader(path).pieces())
    assert str(path) in str(caught.value)


def test_missing_file_raises_naming_the_file(tmp_path):
    path = tmp_path / "gone.txt"
    with pytest.raises(PipelineInputError) as caught:
        list(TextFileReader(path).pieces())
    assert str(path) in str(caught.value)


# --- TextFileReader.looks_binary ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "data", "binary"),
    [
        ("txt", b"plain text\nwith lines\n", False),
        ("txt", "ünïcödé and emoji 😀\n".encode(), False),
        ("txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", True),
        ("txt", b"text then a NUL \x00 byte", True),
        ("txt", b"ab\xff\xfecd", False),  # bad UTF-8 is not binary
        ("txt", b"", False),
        ("gz", b"plain text\n" * 100, False),
        ("gz", b"text\x00inside gzip", True),
        ("bz2", b"plain text\n" * 100, False),
        ("bz2", b"\x00\x01\x02", True),
    ],
)
def test_looks_binary(tmp_path, suffix, data, binary):
    path = tmp_path / f"f.{suffix}"
    path.write_bytes(_compress(suffix, data))
    assert TextFileReader(path).looks_binary() is binary


def test_nul_beyond_the_first_8_kib_is_not_sniffed(tmp_path):
    path = tmp_path / "late.txt"
    path.write_bytes(b"a" * 8192 + b"\x00")
    assert TextFileReader(path).looks_binary() is False
    path.write_bytes(b"a" * 8191 + b"\x00")
    assert TextFileReader(path).looks_binary() is True


def test_nul_in_the_first_8_kib_of_decompressed_gz_is_found(tmp_path):
    path = tmp_path / "late.gz"
    path.write_bytes(gzip.compress(b"a" * 8000 + b"\x00" + b"b" * 100_000))
    assert TextFileReader(path).looks_binary() is True


def test_looks_binary_on_corrupt_gz_raises_naming_the_file(tmp_path):
    path = tmp_path / "liar.gz"
    path.write_bytes(b"not gzip at all")
    with pytest.raises(PipelineInputError) as caught:
        TextFileReader(path).looks_binary()
    assert str(path) in str(caught.value)
