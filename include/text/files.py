"""Reading corpus files as text in bounded pieces.

Which files a corpus holds, and opening them (on a local disk or in an object store), is
:class:`include.storage.corpus_location.CorpusLocation`'s. Text is decoded as UTF-8; undecodable
bytes become U+FFFD and are counted. Lines are split the way Python's text mode splits them
(``\\n``, ``\\r\\n``, ``\\r``) and long lines are delivered in pieces of at most ``block_chars``
characters, so memory stays bounded whatever the file holds.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import os
import re
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from include.errors import PipelineInputError
from include.storage.corpus_location import CorpusLocation, CorpusReplacedWhileRead, OpenedFile, replaced_while_read

BLOCK_CHARS = 1 << 16
#: Characters decoded per read: the size of a block of whole lines, and the length past which a line
#: still open is delivered in pieces.
READ_CHARS = 1 << 20
LINES, PIECE = "lines", "piece"
_READ_BYTES = 1 << 20
_BINARY_SNIFF_BYTES = 8192

# Undecodable bytes are decoded with "surrogateescape" (one lone surrogate per byte, which valid
# UTF-8 never yields), then counted and replaced by U+FFFD: a count per reader, no global state.
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


class _HashingReader(io.RawIOBase):
    """Raw reader that feeds every byte it reads into a sha256 and counts them."""

    def __init__(self, raw) -> None:
        self._raw = raw
        self.sha256 = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = self._raw.readinto(buffer)
        if count:
            view = memoryview(buffer)[:count]
            self.sha256.update(view)
            self.size += count
        return count or 0

    def close(self) -> None:
        self._raw.close()
        super().close()


@dataclass
class TextFileReader:
    """Reads one corpus file as text; after :meth:`blocks` (or :meth:`pieces`) is exhausted, ``sha256``, ``size``
    (bytes stored), ``lines``, ``bad_bytes`` and ``etag`` (an object's; ``None`` on a local disk)
    describe the whole file.

    ``path`` is a local path or a URL, opened through ``corpus`` (the corpus it belongs to, which it
    must stay inside; by default the file alone). ``expected``, the file's ingest manifest entry when
    it is read again, makes a file whose size or ETag changed since fail as it is opened.
    """

    path: Path | str
    block_chars: int = BLOCK_CHARS
    read_chars: int = READ_CHARS
    corpus: CorpusLocation | None = None
    expected: Mapping | None = None
    sha256: str = ""
    size: int = 0
    lines: int = 0
    bad_bytes: int = 0
    etag: str | None = None

    def _open(self, expected: Mapping | None = None) -> OpenedFile:
        return (self.corpus or CorpusLocation.of(self.path)).open(str(self.path), expected)

    def _decompressed(self, hashing: _HashingReader):
        suffix = os.path.splitext(str(self.path))[1].lower()
        buffered = io.BufferedReader(hashing, buffer_size=_READ_BYTES)
        if suffix == ".gz":
            return io.BufferedReader(gzip.GzipFile(fileobj=buffered, mode="rb"), buffer_size=_READ_BYTES)
        if suffix == ".bz2":
            return io.BufferedReader(bz2.BZ2File(buffered, mode="rb"), buffer_size=_READ_BYTES)
        return buffered

    def looks_binary(self) -> bool:
        """True when the first 8 KiB of (decompressed) content hold a NUL byte."""
        try:
            with self._open() as opened:
                head = self._decompressed(_HashingReader(opened.file)).peek(_BINARY_SNIFF_BYTES)
        except (OSError, EOFError, zlib.error, lzma.LZMAError, ValueError) as error:
            raise PipelineInputError(f"corpus file '{self.path}' cannot be read: {error}") from error
        return b"\x00" in head[:_BINARY_SNIFF_BYTES]

    def blocks(self) -> Iterator[tuple[str, int, str, bool]]:
        """Yield the file's text as ``(kind, line_number, text, ends_line)`` with 1-based line numbers.

        ``kind`` is :data:`LINES` for a block of whole lines (``text`` holds them, each ended by
        ``\\n`` except perhaps the file's last; ``line_number`` is the first one's): a block holds
        about ``read_chars`` characters, decoded and newline-translated in C, so nothing runs per
        line in Python. A line still open after ``read_chars`` characters arrives as :data:`PIECE`
        items of at most ``block_chars`` characters with its own number, the last one with
        ``ends_line`` true, so memory stays bounded whatever the file holds. Line terminators are
        translated as Python's text mode does (``\\n``, ``\\r\\n``, ``\\r``) and are not part of pieces.
        Raises :class:`PipelineInputError` naming the file when it is corrupt or truncated.
        """
        bad_bytes = 0
        line_number = 0  # lines delivered in full so far
        pending = ""  # the start of a line whose end has not been read yet
        long_line = False
        opened = None
        try:
            with self._open(self.expected) as opened:
                hashing = _HashingReader(opened.file)
                stream = io.TextIOWrapper(
                    self._decompressed(hashing), encoding="utf-8", errors="surrogateescape", newline=None
                )
                # decode a MiB at a time, not 8 KiB (a CPython TextIOWrapper attribute typeshed leaves out)
                stream._CHUNK_SIZE = _READ_BYTES  # type: ignore[attr-defined]
                while True:
                    chunk = stream.read(self.read_chars)
                    if not chunk:
                        break
                    if not chunk.isascii() and _ESCAPED_BYTE.search(chunk):
                        chunk, replaced = _ESCAPED_BYTE.subn("\ufffd", chunk)
                        bad_bytes += replaced
                    if long_line:
                        end = chunk.find("\n")
                        if end < 0:
                            pending += chunk
                            pending = yield from self._long_line_pieces(line_number + 1, pending)
                            continue
                        yield from self._line_end_pieces(line_number + 1, pending + chunk[: end + 1])
                        line_number += 1
                        pending, long_line, chunk = "", False, chunk[end + 1 :]
                    cut = chunk.rfind("\n")
                    if cut >= 0:
                        text = pending + chunk[: cut + 1]
                        yield LINES, line_number + 1, text, True
                        line_number += text.count("\n")
                        pending = chunk[cut + 1 :]
                    else:
                        pending += chunk
                    if len(pending) >= self.read_chars:
                        long_line = True
                        pending = yield from self._long_line_pieces(line_number + 1, pending)
                if long_line:
                    yield from self._line_end_pieces(line_number + 1, pending)
                    line_number += 1
                elif pending:
                    yield LINES, line_number + 1, pending, True
                    line_number += 1
                # drain what the decompressor did not need, so the checksum covers the whole file
                while hashing.readinto(bytearray(_READ_BYTES)):
                    pass
        except (OSError, EOFError, zlib.error, lzma.LZMAError) as error:
            if opened is not None and replaced_while_read(error):
                raise CorpusReplacedWhileRead(str(self.path), opened.etag) from error
            raise PipelineInputError(f"corpus file '{self.path}' is corrupt or unreadable: {error}") from error
        self.sha256 = hashing.sha256.hexdigest()
        self.size = hashing.size
        self.etag = opened.etag
        self.lines = line_number
        self.bad_bytes = bad_bytes

    def _long_line_pieces(self, line_number: int, text: str):
        """Yield full ``block_chars`` pieces of an open line while more than that is held; return the rest."""
        start = 0
        while len(text) - start > self.block_chars:
            yield PIECE, line_number, text[start : start + self.block_chars], False
            start += self.block_chars
        return text[start:]

    def _line_end_pieces(self, line_number: int, text: str):
        """The last pieces of a line: ``text`` is its rest, with its ``\\n`` unless the file ended first."""
        for piece, ends_line in _split_line(text, self.block_chars):
            yield PIECE, line_number, piece, ends_line

    def pieces(self) -> Iterator[tuple[int, str, bool]]:
        """Yield ``(line_number, text, ends_line)``, one line (or piece of a line) at a time.

        A line longer than ``block_chars`` arrives as several pieces with the same number, the
        last one with ``ends_line`` true: the pieces :meth:`io.TextIOBase.readline` with a size
        limit would give. Line terminators are not included in ``text``. A convenience view of
        :meth:`blocks` (which the pipeline reads, a block at a time).
        """
        for kind, line_number, text, ends_line in self.blocks():
            if kind == PIECE:
                yield line_number, text, ends_line
                continue
            lines = text.split("\n")
            if text.endswith("\n"):
                lines.pop()
            for offset, line in enumerate(lines):
                terminated = offset < len(lines) - 1 or text.endswith("\n")
                for piece, ends in _split_line(line + "\n" if terminated else line, self.block_chars):
                    yield line_number + offset, piece, ends


def _split_line(text: str, size: int) -> Iterator[tuple[str, bool]]:
    """``(piece, ends_line)`` of one line's text (with its ``\\n``, or without at the end of a file),
    cut every ``size`` characters as a size-limited ``readline`` cuts; an unterminated line ends
    with an empty piece."""
    for start in range(0, len(text), size):
        piece = text[start : start + size]
        if piece.endswith("\n"):
            yield piece[:-1], True
            return
        yield piece, False
    yield "", True
