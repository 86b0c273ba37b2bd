"""Token partitions written as gensim's ``LineSentence`` file (one row per line, tokens separated
by spaces), straight from Arrow buffers, counting the words as they go: what training reads."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from include.artifacts.word_counts import WordCounts
from include.errors import PipelineInputError
from include.text.prefetch import prefetched
from include.text.tokens import TOKEN_BATCH_BYTES, iter_token_arrays

log = logging.getLogger(__name__)


def write_line_sentence_file(
    tokens_dirs: Path | list[Path], out_path: Path, batch_bytes: int | None = None, counts: WordCounts | None = None
) -> int:
    """Write the token rows of ``tokens_dirs`` as gensim's ``LineSentence`` format (one row per
    line, tokens separated by spaces, each line ending in ``\\n``) at ``out_path``; returns the
    number of lines. ``counts``, when given, counts every batch's words as it is written (what
    training builds its vocabulary from, see :mod:`include.artifacts.word_counts`).

    Tokens never hold whitespace, so the file reads back into exactly the same token lists; a row
    holds at most :data:`include.text.tokens.MAX_SENTENCE_TOKENS` tokens, so gensim splits no line. Rows are read in
    batches of about ``batch_bytes`` bytes (default ``TOKEN_BATCH_BYTES``, 16 MiB) and each batch
    is joined by Arrow kernels and written straight from the Arrow buffer (no Python string per
    row): memory is a few batches, whatever the length of a line or the size of the corpus.
    Raises :class:`PipelineInputError` on a null token list, or (with ``counts``) an empty token or
    one holding whitespace: not files this pipeline wrote.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    lines = 0
    written = 0
    started = time.perf_counter()
    next_report = 1 << 30
    with open(out_path, "wb") as handle:
        batches = iter_token_arrays(tokens_dirs, batch_bytes or TOKEN_BATCH_BYTES)
        for tokens in prefetched(batches, depth=1, name="read-tokens"):  # the next batch decodes meanwhile
            if tokens.null_count:
                raise PipelineInputError(f"token rows under {tokens_dirs}: {tokens.null_count} null token lists")
            if counts is not None:
                counts.add(tokens)
            # "tok tok tok" per row, then "\n" appended: the values buffer is the file's bytes
            text = pc.binary_join_element_wise(pc.binary_join(tokens, " "), pa.scalar("", pa.string()), "\n")
            for chunk in text.chunks if isinstance(text, pa.ChunkedArray) else [text]:
                if len(chunk) == 0:
                    continue
                offsets = chunk.buffers()[1]
                first, last = (
                    int.from_bytes(offsets[4 * i : 4 * i + 4], "little", signed=True)
                    for i in (chunk.offset, chunk.offset + len(chunk))
                )
                handle.write(memoryview(chunk.buffers()[2])[first:last])
                written += last - first
            lines += len(text)
            del text
            if written >= next_report:
                log.info(
                    "LineSentence file: %d lines, %.0f MiB in %.1fs",
                    lines,
                    written / 2**20,
                    time.perf_counter() - started,
                )
                next_report += 1 << 30
    if counts is not None:
        counts.refuse_malformed_words(f"token rows under {tokens_dirs}")
    log.info("LineSentence file: %d lines, %.1f MiB in %.2fs", lines, written / 2**20, time.perf_counter() - started)
    return lines
