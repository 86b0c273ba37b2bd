"""``simple_preprocess`` over whole batches of lines at once, with Arrow compute kernels.

For ASCII text gensim's rule reduces to: lowercase, split on anything but ``[a-z_]``, keep pieces
of 2 to 15 characters that do not start with ``_``; Arrow's ``utf8_lower`` and
``split_pattern_regex`` do exactly that for ASCII, in C++, a batch at a time. Lines with any
non-ASCII character (Unicode lowercasing and word classes differ between Arrow/RE2 and Python on
rare characters) go through gensim's own function, so the tokens are identical for any text.
"""
from __future__ import annotations

import numpy as np


def tokenize_lines(lines: list[str]):
    """Tokens of each line as a ``pyarrow.ListArray`` (``list<string>``), one entry per line,
    equal to ``[simple_preprocess(line) for line in lines]``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from include.tokens import tokenize_text

    texts = pa.array(lines, type=pa.string())
    is_ascii = pc.string_is_ascii(texts).to_numpy(zero_copy_only=False)
    ascii_rows = np.flatnonzero(is_ascii)
    other_rows = np.flatnonzero(~is_ascii)
    parts = []
    if len(ascii_rows):
        parts.append(_tokenize_ascii(texts.take(pa.array(ascii_rows))))
    if len(other_rows):
        parts.append(pa.array([tokenize_text(lines[i]) for i in other_rows], type=pa.list_(pa.string())))
    if not parts:
        return pa.array([], type=pa.list_(pa.string()))
    combined = pa.concat_arrays(parts) if len(parts) > 1 else parts[0]
    if len(parts) == 1:
        return combined
    # combined holds the ASCII lines, then the others: row of line i in combined
    row_of_line = np.empty(len(lines), dtype=np.int64)
    row_of_line[np.concatenate([ascii_rows, other_rows])] = np.arange(len(lines))
    return combined.take(pa.array(row_of_line))


def _tokenize_ascii(texts):
    import pyarrow as pa
    import pyarrow.compute as pc

    pieces = pc.split_pattern_regex(pc.utf8_lower(texts), pattern="[^a-z_]+")
    flat = pc.list_flatten(pieces)
    owners = pc.list_parent_indices(pieces)
    lengths = pc.utf8_length(flat)
    keep = pc.and_(pc.and_(pc.greater_equal(lengths, 2), pc.less_equal(lengths, 15)),
                   pc.invert(pc.starts_with(flat, "_")))
    kept = pc.filter(flat, keep)
    counts = np.bincount(pc.filter(owners, keep).to_numpy(), minlength=len(texts))
    offsets = np.zeros(len(texts) + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets), kept)
