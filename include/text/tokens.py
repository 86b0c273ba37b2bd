"""Corpus text to Parquet rows of tokens (what ``tokenize_to_parquet`` writes).

Tokens are exactly those of :func:`gensim.utils.simple_preprocess` (lowercased runs of word
characters without digits, 2 to 15 characters, none starting with ``_``): gensim's own function
is called on every piece of text. Rows are ``(source, line, chunk, tokens)``; a line yields one
row per ``MAX_SENTENCE_TOKENS`` tokens, and lines without tokens yield no row.

Long lines are read in bounded pieces and cut only where the cut cannot change the tokens (after
whitespace, a digit or another character that is neither a token character nor part of a
lowercasing context), so memory stays bounded and tokens stay identical to tokenizing the line
whole. Only in a run of more than 64 Ki characters with no such character is the cut forced.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from include.errors import PipelineInputError
from include.storage.atomic_io import replace_dir, write_json_atomic
from include.storage.corpus_location import CorpusChanged, CorpusLocation
from include.text.fast_tokens import tokenize_block, tokenize_text
from include.text.files import BLOCK_CHARS, LINES, TextFileReader
from include.text.prefetch import prefetched
from include.versions import TOKENIZER_VERSION

log = logging.getLogger(__name__)

#: gensim's ``MAX_WORDS_IN_BATCH``: Word2Vec silently truncates longer sentences.
MAX_SENTENCE_TOKENS = 10_000
ROWS_PER_ROW_GROUP = 20_000
#: A row group is also written once it holds this many tokens, so memory stays bounded when
#: rows are long (a huge line gives rows of 10,000 tokens each).
TOKENS_PER_ROW_GROUP = 500_000
MAX_TOKEN_CHARS = 15  # simple_preprocess max_len
_TOKEN_CHAR = re.compile(r"(?!\d)\w")
_NOT_TOKEN_CHAR = re.compile(r"\W|\d")
_SPACE_OR_DIGIT = re.compile(r"[\s\d]")


def token_schema():
    """The Arrow schema of token files."""
    import pyarrow as pa

    return pa.schema(
        [
            ("source", pa.string()),
            ("line", pa.int64()),
            ("chunk", pa.int32()),
            ("tokens", pa.list_(pa.string())),
        ]
    )


def is_exact_cut_after(char: str) -> bool:
    """True when cutting text right after ``char`` cannot change its tokens.

    That holds when ``char`` lowercases to no token character and blocks the context of
    Greek final-sigma lowercasing on both sides (it is neither cased nor case-ignorable).
    """
    if char.isspace() or char.isdecimal():
        return True
    if _TOKEN_CHAR.search(char.lower()):
        return False
    return ("AΣ" + char + "A").lower()[1] == "ς" and ("A" + char + "Σ").lower()[-1] == "σ"


def _last_exact_cut(text: str) -> int:
    """Index just after the last exact cut point of ``text``, or -1."""
    match = None
    for match in _SPACE_OR_DIGIT.finditer(text, max(0, len(text) - 4096)):  # noqa: B007 (keeps the last)
        pass
    if match:
        return match.end()
    for index in range(len(text) - 1, -1, -1):
        if is_exact_cut_after(text[index]):
            return index + 1
    return -1


class LineTokenizer:
    """Tokenizes one line delivered in pieces, holding at most about two pieces of text."""

    def __init__(self, block_chars: int = BLOCK_CHARS) -> None:
        self.block_chars = block_chars
        self._pending = ""
        self.forced_cuts = 0

    def feed(self, piece: str) -> list[str]:
        """Add a piece of the line; return the tokens that are now final."""
        text = self._pending + piece
        if len(text) < self.block_chars:
            self._pending = text
            return []
        cut = _last_exact_cut(text)
        if cut <= 0:
            if not _NOT_TOKEN_CHAR.search(text.lower()):
                # One run of token characters, longer than any token: simple_preprocess drops it
                # whole. Keep only its last MAX_TOKEN_CHARS + 1 characters, so the run still counts
                # as too long and the lowercasing context of what follows is unchanged.
                self._pending = text[-(MAX_TOKEN_CHARS + 1) :]
                return []
            match = None
            for match in _NOT_TOKEN_CHAR.finditer(text):  # noqa: B007 (keeps the last)
                pass
            cut = match.end() if match else len(text)  # no cut point at all: only lowercasing splits it
            self.forced_cuts += 1
        self._pending = text[cut:]
        return _tokenize_piece(text[:cut])

    def finish(self) -> list[str]:
        """End the line; return its remaining tokens."""
        text, self._pending = self._pending, ""
        return _tokenize_piece(text) if text else []


def _tokenize_piece(text: str) -> list[str]:
    """Tokens of one piece of a line: the block kernel for ASCII, else gensim."""
    if text.isascii() and "\n" not in text:
        return tokenize_block(text).to_pylist()[0]
    return tokenize_text(text)


def iter_token_rows(path: Path, reader: TextFileReader | None = None) -> Iterator[tuple[int, int, list[str]]]:
    """Yield ``(line, chunk, tokens)`` for one file, one row at a time (the rows of
    :func:`iter_token_batches`); every token list is non-empty and holds at most
    ``MAX_SENTENCE_TOKENS`` tokens."""
    for lines, chunks, tokens in iter_token_batches(path, reader):
        yield from zip(lines.tolist(), chunks.tolist(), tokens.to_pylist())


def iter_token_batches(path: Path | str, reader: TextFileReader | None = None):
    """Yield ``(lines, chunks, tokens)`` batches for one file: numpy line and chunk numbers and a
    ``list<string>`` Arrow array, the same rows as :func:`iter_token_rows` in the same order.

    Blocks of whole lines are tokenized a block at a time (:func:`include.text.fast_tokens.tokenize_block`);
    lines too long for a block go through :class:`LineTokenizer` piece by piece.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    reader = reader or TextFileReader(path)

    def rows_to_batch(rows):
        return (
            np.array([r[0] for r in rows], dtype=np.int64),
            np.array([r[1] for r in rows], dtype=np.int32),
            pa.array([r[2] for r in rows], type=pa.list_(pa.string())),
        )

    def block_batch(first_line: int, text: str):
        tokens = tokenize_block(text)
        counts = pc.list_value_length(tokens).to_numpy(zero_copy_only=False)
        lines = np.arange(first_line, first_line + len(tokens), dtype=np.int64)
        if counts.max(initial=0) > MAX_SENTENCE_TOKENS:  # rare: split the long rows in Python
            rows = []
            for line, row in zip(lines.tolist(), tokens.to_pylist()):
                rows += [
                    (line, number, row[start : start + MAX_SENTENCE_TOKENS])
                    for number, start in enumerate(range(0, len(row), MAX_SENTENCE_TOKENS))
                ]
            return rows_to_batch(rows)
        keep = counts > 0
        return lines[keep], np.zeros(int(keep.sum()), dtype=np.int32), tokens.filter(pa.array(keep))

    long_rows: list[tuple[int, int, list[str]]] = []
    tokenizer = LineTokenizer(reader.block_chars)
    buffered: list[str] = []
    chunk = 0
    for kind, line_number, text, ends_line in reader.blocks():
        if kind == LINES:
            batch = block_batch(line_number, text)
            if len(batch[0]):
                yield batch
            continue
        buffered += tokenizer.feed(text)
        if ends_line:
            buffered += tokenizer.finish()
        while len(buffered) >= MAX_SENTENCE_TOKENS:
            long_rows.append((line_number, chunk, buffered[:MAX_SENTENCE_TOKENS]))
            buffered = buffered[MAX_SENTENCE_TOKENS:]
            chunk += 1
        if ends_line:
            if buffered:
                long_rows.append((line_number, chunk, buffered))
            buffered, chunk = [], 0
        if long_rows:
            yield rows_to_batch(long_rows)
            long_rows = []
    if tokenizer.forced_cuts:
        log.warning(
            "%s: %d cuts inside runs of over %d characters without whitespace",
            path,
            tokenizer.forced_cuts,
            reader.block_chars,
        )


class ShardTotals(TypedDict):
    """What :func:`write_token_file` wrote (also kept beside the part file as JSON)."""

    rows: int
    tokens: int
    files: int
    sources: list[str]  #: the files' sha256, in order
    inputs: dict[str, str]  #: file path -> sha256


def write_token_file(
    entries: Sequence[Mapping[str, Any]],
    out_path: Path,
    progress_every: int = 100_000,
    corpus: CorpusLocation | Path | str | None = None,
) -> ShardTotals:
    """Tokenize the files of ingest manifest ``entries`` into one Parquet file at ``out_path``.

    The files are read through ``corpus`` (the manifest's corpus: a local folder or file, or a URL;
    every file must lie inside it), each by default on its own. The file is written beside
    ``out_path`` and renamed into place when complete. Each file is checked against its entry: its
    size and ETag when opened, its sha256 while it is read. Returns
    ``{"rows", "tokens", "files", "sources"}`` (``sources``: the files' sha256, in order).
    Raises :class:`~include.storage.corpus_location.CorpusChanged` (a :class:`PipelineInputError`)
    naming the file when it changed since ingest.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    started = time.perf_counter()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_name(f".{out_path.name}.partial")
    schema = token_schema()
    totals = ShardTotals(rows=0, tokens=0, files=0, sources=[], inputs={})
    pending: list = []
    pending_rows = pending_tokens = 0
    next_report = progress_every
    files = [entry for entry in entries if "skipped" not in entry]
    corpus = CorpusLocation.of(corpus) if corpus is not None else None

    with pq.ParquetWriter(partial, schema, compression="zstd") as writer:

        def flush() -> None:
            nonlocal pending_rows, pending_tokens
            if pending:
                writer.write_table(pa.Table.from_batches(pending, schema=schema))
                pending.clear()
            pending_rows = pending_tokens = 0

        for number, entry in enumerate(files, start=1):
            reader = TextFileReader(entry["path"], corpus=corpus, expected=entry)
            source = pa.scalar(entry["path"], type=pa.string())
            # the file is read and tokenized on a second thread while this one writes row groups
            batches = prefetched(iter_token_batches(reader.path, reader), name="tokenize")
            for lines, chunks, tokens in batches:
                count = len(lines)
                token_count = int(pc.sum(pc.list_value_length(tokens)).as_py() or 0)
                pending.append(
                    pa.RecordBatch.from_arrays(
                        [pa.repeat(source, count), pa.array(lines), pa.array(chunks), tokens], schema=schema
                    )
                )
                pending_rows += count
                pending_tokens += token_count
                totals["rows"] += count
                totals["tokens"] += token_count
                if pending_rows >= ROWS_PER_ROW_GROUP or pending_tokens >= TOKENS_PER_ROW_GROUP:
                    flush()
                if totals["tokens"] >= next_report:
                    rate = totals["tokens"] / max(time.perf_counter() - started, 1e-9)
                    log.info(
                        "tokenized %d tokens (%.0f tokens/s), file %d/%d", totals["tokens"], rate, number, len(files)
                    )
                    next_report = totals["tokens"] + progress_every
            if reader.sha256 != entry["sha256"]:
                partial.unlink(missing_ok=True)
                raise CorpusChanged(entry["path"], "sha256", entry["sha256"], reader.sha256)
            totals["files"] += 1
            totals["sources"].append(entry["sha256"])
            totals["inputs"][entry["path"]] = entry["sha256"]
            log.info("read file %d/%d: %s", number, len(files), entry["path"])
        flush()
    partial.replace(out_path)
    elapsed = time.perf_counter() - started
    log.info(
        "tokenized %d files: %d rows, %d tokens in %.2fs (%.0f tokens/s)",
        totals["files"],
        totals["rows"],
        totals["tokens"],
        elapsed,
        totals["tokens"] / max(elapsed, 1e-9),
    )
    return totals


class TokenizedFiles(TypedDict):
    """What :func:`tokenize_files` wrote: the partition's totals and its folder."""

    rows: int
    tokens: int
    files: int
    path: str  #: the partition folder


def tokenize_files(manifest: Mapping[str, Any], out_dir: Path, progress_every: int = 100_000) -> TokenizedFiles:
    """Tokenize every file of an ingest ``manifest`` into the partition ``out_dir`` (one part file).

    The folder is built beside ``out_dir`` and moved into place by one rename, replacing an
    earlier one. Returns ``{"rows", "tokens", "files", "path"}`` (also in ``out_dir/_SUCCESS.json``).
    Raises :class:`PipelineInputError` when a file changed since ingest or no token is found.
    """
    out_dir = Path(out_dir)
    staged = out_dir.with_name(f".{out_dir.name}.staging")
    if staged.exists():
        shutil.rmtree(staged)
    started = time.perf_counter()
    try:
        totals = write_token_file(
            manifest["files"], staged / part_file_name(0), progress_every, corpus=manifest["corpus_path"]
        )
        if totals["tokens"] == 0:
            raise PipelineInputError(
                f"corpus_path '{manifest['corpus_path']}': no line yields a token (tokens are runs of 2 to 15 letters)"
            )
        summary = write_partition_summary(staged, [totals], time.perf_counter() - started)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    replace_dir(staged, out_dir)
    return TokenizedFiles(rows=summary["rows"], tokens=summary["tokens"], files=summary["files"], path=str(out_dir))


def part_file_name(shard: int) -> str:
    """Name of shard ``shard``'s Parquet file inside a partition."""
    return f"part-{shard:05d}.parquet"


class PartitionSummary(TypedDict):
    """A committed partition's ``_SUCCESS.json`` (:func:`partition_summary`)."""

    rows: int
    tokens: int
    files: int
    sources: list[str]  #: the files' sha256, sorted
    inputs: dict[str, str]  #: file path -> sha256, sorted by path
    tokenizer: str  #: :func:`tokenizer_version` when it was made
    seconds: float
    parts: NotRequired[list[str]]  #: the part files that belong to it, when the shards' totals name them


def partition_summary(shard_totals: Sequence[Mapping[str, Any]], seconds: float) -> PartitionSummary:
    """A partition's ``_SUCCESS.json``: rows, tokens, files, the sources' sha256 sorted, ``inputs``
    (each file's path and sha256), the ``tokenizer`` version that made it, seconds, and ``parts``
    (the part files that belong to it, when the shards' totals name them)."""
    summary: PartitionSummary = {
        "rows": sum(t["rows"] for t in shard_totals),
        "tokens": sum(t["tokens"] for t in shard_totals),
        "files": sum(t["files"] for t in shard_totals),
        "sources": sorted(sha for t in shard_totals for sha in t["sources"]),
        "inputs": dict(sorted((path, sha) for t in shard_totals for path, sha in t.get("inputs", {}).items())),
        "tokenizer": tokenizer_version(),
        "seconds": round(seconds, 3),
    }
    parts = [t["part"] for t in shard_totals if "part" in t]
    if parts:
        summary["parts"] = parts
    return summary


def write_partition_summary(
    partition_dir: Path, shard_totals: Sequence[Mapping[str, Any]], seconds: float
) -> PartitionSummary:
    """Write :func:`partition_summary` as ``_SUCCESS.json`` into a local partition folder."""
    summary = partition_summary(shard_totals, seconds)
    write_json_atomic(partition_dir / "_SUCCESS.json", summary)
    return summary


def tokenizer_version() -> str:
    """The tokenizer's declared version (:data:`include.versions.TOKENIZER_VERSION`): a committed
    partition made by another version is tokenized again rather than reused."""
    return TOKENIZER_VERSION


#: :func:`iter_token_arrays` reads token rows in batches of about this many bytes of Arrow memory.
TOKEN_BATCH_BYTES = 16 * 2**20
#: Arrow bytes per token assumed when sizing a batch: a 4-byte offset and the token's UTF-8 bytes
#: (tokens are 2 to 15 characters; about 6 ASCII bytes on English text, so this over-estimates).
_BYTES_PER_TOKEN = 24


def _rows_per_batch(part: Path, parquet_file, batch_bytes: int) -> int:
    """Rows of ``parquet_file`` that fit in about ``batch_bytes``, from its footer: the largest
    mean token count per row over its row groups, at ``_BYTES_PER_TOKEN`` each."""
    meta = parquet_file.metadata
    column = next((j for j in range(meta.num_columns) if meta.schema.column(j).path.split(".")[0] == "tokens"), None)
    if column is None:
        raise PipelineInputError(f"token file '{part}' has no 'tokens' column: not a token partition file")
    widest = 1.0
    for number in range(meta.num_row_groups):
        group = meta.row_group(number)
        if group.num_rows:
            widest = max(widest, group.column(column).num_values / group.num_rows)
    return int(max(1, min(65_536, batch_bytes // (widest * _BYTES_PER_TOKEN))))


def iter_token_arrays(tokens_dirs: Path | list[Path], batch_bytes: int = TOKEN_BATCH_BYTES):
    """Yield the ``tokens`` column of every Parquet file in ``tokens_dirs`` (one partition folder or
    a list of them), folder by folder, in file and row order, as Arrow ``list<string>`` arrays of
    about ``batch_bytes`` bytes each (at least one row), however long the rows are.

    Memory stays within a few batches plus one Parquet row group (the tokenizer writes row groups
    of at most ``TOKENS_PER_ROW_GROUP`` tokens). ``tokens_dirs`` may also name Parquet files.
    Raises :class:`PipelineInputError` naming the file when one is not readable Parquet (corrupt,
    truncated, not Parquet) or has no ``tokens`` column.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if batch_bytes <= 0:
        raise ValueError(f"batch_bytes={batch_bytes} must be > 0")
    folders = [tokens_dirs] if isinstance(tokens_dirs, (str, Path)) else list(tokens_dirs)
    parts = [p for f in map(Path, folders) for p in (sorted(f.glob("*.parquet")) if f.is_dir() else [f])]
    for part in parts:
        try:
            parquet_file = pq.ParquetFile(part)
            rows = _rows_per_batch(part, parquet_file, batch_bytes)
            for batch in parquet_file.iter_batches(batch_size=rows, columns=["tokens"]):
                yield batch.column(0)
        except (OSError, pa.ArrowException) as error:  # pyarrow's message does not say which file
            raise PipelineInputError(f"token file '{part}' cannot be read as Parquet: {error}") from error


def iter_token_lists(tokens_dirs: Path | list[Path], batch_bytes: int = TOKEN_BATCH_BYTES) -> Iterator[list[str]]:
    """Yield the token lists of every Parquet file in ``tokens_dirs`` (partition folders, or Parquet
    files), folder by folder, in file and row order; reads batches of about ``batch_bytes``
    (see :func:`iter_token_arrays`), so memory does not grow with the row length or the corpus."""
    for tokens in iter_token_arrays(tokens_dirs, batch_bytes):
        yield from tokens.to_pylist()
