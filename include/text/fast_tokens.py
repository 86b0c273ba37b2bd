"""``simple_preprocess`` over whole blocks of lines at once: bytes and Arrow kernels, no Python loop
per line or per token.

For ASCII text gensim's rule reduces to: lowercase, split on anything but ``[a-z_]``, keep pieces
of 2 to 15 characters that do not start with ``_``. One ``bytes.translate`` maps ``A-Z`` to
``a-z`` and every other non-token byte to a space (newlines stay), then Arrow splits the block into
lines and the lines on spaces and filters the lengths, all in C. Lines with any non-ASCII
character (Unicode lowercasing and word classes are not byte rules) go through gensim's own
function, so the tokens are identical for any text.
"""

from __future__ import annotations

import numpy as np

_TOKEN_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyz_")
#: ``A-Z`` -> ``a-z``; ``a-z``, ``_`` and ``\n`` kept; every other byte -> space.
_ASCII_TABLE = bytes(c + 32 if 65 <= c <= 90 else c if c in _TOKEN_BYTES or c == 10 else 32 for c in range(256))
_MIN_LEN, _MAX_LEN = 2, 15  # simple_preprocess defaults


def tokenize_text(text: str) -> list[str]:
    """Tokens of ``text``, by :func:`gensim.utils.simple_preprocess` itself (the rule for any text,
    and the reference the block kernel equals on ASCII)."""
    from gensim.utils import simple_preprocess

    return simple_preprocess(text)


def tokenize_block(text: str):
    """Tokens of each line of ``text`` (lines split on ``\\n``; a final ``\\n`` ends the last line
    and adds none) as a ``pyarrow.ListArray`` of ``list<string>``, one entry per line, equal to
    ``[simple_preprocess(line) for line in lines]``."""
    if text.isascii():
        return _tokenize_ascii_block(text)
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    return tokenize_lines(lines)


def tokenize_lines(lines: list[str]):
    """Tokens of each line (no line may hold ``\\n``) as a ``pyarrow.ListArray``, one entry per
    line, equal to ``[simple_preprocess(line) for line in lines]``."""
    import pyarrow as pa

    is_ascii = np.fromiter((line.isascii() for line in lines), dtype=bool, count=len(lines))
    if is_ascii.all():
        return _tokenize_ascii_block("\n".join(lines) + "\n") if lines else pa.array([], pa.list_(pa.string()))
    ascii_rows = np.flatnonzero(is_ascii)
    other_rows = np.flatnonzero(~is_ascii)
    other = pa.array([tokenize_text(lines[i]) for i in other_rows], type=pa.list_(pa.string()))
    if not len(ascii_rows):
        return other
    fast = _tokenize_ascii_block("\n".join(lines[i] for i in ascii_rows) + "\n")
    # combined holds the ASCII lines, then the others: row of line i in combined
    row_of_line = np.empty(len(lines), dtype=np.int64)
    row_of_line[np.concatenate([ascii_rows, other_rows])] = np.arange(len(lines))
    return pa.concat_arrays([fast, other]).take(pa.array(row_of_line))


def _tokenize_ascii_block(text: str):
    import pyarrow as pa
    import pyarrow.compute as pc

    data = text.encode("ascii").translate(_ASCII_TABLE)
    lines = pc.split_pattern(pa.array([data.decode("ascii")], pa.string()), "\n").flatten()
    if text.endswith("\n"):
        lines = lines.slice(0, len(lines) - 1)
    pieces = pc.ascii_split_whitespace(lines)
    flat = pieces.flatten()
    lengths = pc.binary_length(flat)
    keep = pc.and_(
        pc.and_(pc.greater_equal(lengths, _MIN_LEN), pc.less_equal(lengths, _MAX_LEN)),
        pc.invert(pc.starts_with(flat, "_")),
    )
    kept = pc.filter(flat, keep)
    counts = np.bincount(pc.filter(pc.list_parent_indices(pieces), keep).to_numpy(), minlength=len(lines))
    offsets = np.zeros(len(lines) + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets), kept)
