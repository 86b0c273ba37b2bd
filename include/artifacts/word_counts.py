"""How often each distinct token occurs in a stream of token rows, counted by Arrow kernels while
the rows are written for training, so gensim never scans the corpus for its vocabulary.

gensim's ``build_vocab`` reads the whole ``LineSentence`` file in Python to count words (2.5 s for
10M tokens here, a pass the training file writer already makes over the same rows in Arrow).
:class:`WordCounts` gives gensim exactly what that scan would: every word's count, in the order
of its first appearance (gensim breaks frequency ties by that order, so the vocabulary, the
initial vectors and the trained vectors stay byte-identical), the token total and the number of
non-empty rows (gensim's ``corpus_count``; ``LineSentence`` yields nothing for an empty line).

Example::

    >>> import pyarrow as pa
    >>> counts = WordCounts()
    >>> counts.add(pa.array([["the", "cat"], ["the", "dog"], []], pa.list_(pa.string())))
    >>> counts.to_dict(), counts.tokens, counts.sentences
    ({'the': 2, 'cat': 1, 'dog': 1}, 4, 2)
"""

from __future__ import annotations

#: Characters ``str.split()`` splits on (gensim's ``LineSentence`` reads a line that way; its C reader
#: splits on the ASCII ones): a token holding one would not read back as itself. As an RE2 class.
WHITESPACE_CLASS = r"[\t-\r\x{1c}-\x{20}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]"

#: Per-batch counts are merged once they hold this many entries (or twice the merged table's):
#: memory stays a few times the number of distinct words, and merging costs O(entries) in all.
MERGE_AT_ENTRIES = 1 << 20


class WordCounts:
    """Counts of the distinct tokens of Arrow ``list<string>`` batches, in first-appearance order.

    ``add`` takes each batch (``pyarrow.ListArray`` or ``ChunkedArray`` of token lists, in corpus
    order); ``to_dict`` returns ``{word: count}`` ordered by first appearance, ``tokens`` the
    total, ``sentences`` the non-empty rows, ``most_common`` the largest count. Memory is the
    distinct words (per-batch counts are merged now and then, see ``_merge``), never the corpus.
    """

    def __init__(self) -> None:
        self._merged = None  # pyarrow.Table(word, count), first-appearance order
        self._pending: list = []  # per-batch (word, count) tables not merged yet
        self._pending_entries = 0
        self.tokens = 0
        self.sentences = 0

    def add(self, token_lists) -> None:
        """Count one batch of token rows (``list<string>``; empty rows count no sentence)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        chunks = token_lists.chunks if isinstance(token_lists, pa.ChunkedArray) else [token_lists]
        for chunk in chunks:
            words = chunk.flatten()  # the rows' own tokens, whatever the array's offset
            if len(words) == 0:
                continue
            self.tokens += len(words)
            self.sentences += pc.sum(pc.greater(pc.list_value_length(chunk), 0)).as_py() or 0
            found = pc.value_counts(words)  # first-appearance order within the batch
            self._pending.append(pa.table({"word": found.field(0), "count": found.field(1)}))
            self._pending_entries += len(found)
            if self._pending_entries >= max(MERGE_AT_ENTRIES, 2 * self._merged_entries()):
                self._merge()

    def add_rows(self, rows: list[list[str]]) -> None:
        """Count token rows given as Python lists (the phrased rows, joined in Python)."""
        import pyarrow as pa

        self.add(pa.array(rows, type=pa.list_(pa.string())))

    def _merged_entries(self) -> int:
        return 0 if self._merged is None else self._merged.num_rows

    def _merge(self) -> None:
        """Sum the pending counts into the merged ones, keeping first-appearance order: a
        dictionary encoding numbers the words in the order first met, and the counts are summed
        per number. (Arrow's ``group_by`` does not keep that order, even single-threaded.)"""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        if not self._pending:
            return
        tables = ([self._merged] if self._merged is not None else []) + self._pending
        words = pa.chunked_array([chunk for t in tables for chunk in t["word"].chunks], pa.string())
        counts = np.concatenate([t["count"].to_numpy() for t in tables])
        encoded = pc.dictionary_encode(words)  # one dictionary for all chunks, in first-seen order
        dictionary = encoded.chunk(0).dictionary
        indices = np.concatenate([chunk.indices.to_numpy() for chunk in encoded.chunks])
        # float64 sums are exact up to 2**53 occurrences
        summed = np.bincount(indices, weights=counts, minlength=len(dictionary)).astype(np.int64)
        self._merged = pa.table({"word": dictionary, "count": summed})
        self._pending, self._pending_entries = [], 0

    def to_dict(self) -> dict[str, int]:
        """``{word: count}`` in the order each word first appeared (gensim's ``raw_vocab``)."""
        self._merge()
        if self._merged is None:
            return {}
        return dict(zip(self._merged["word"].to_pylist(), self._merged["count"].to_pylist()))

    def refuse_malformed_words(self, where: str) -> None:
        """Raise :class:`include.errors.PipelineInputError` naming ``where`` (the token rows' source)
        when a counted word is empty or holds whitespace: written to a ``LineSentence`` file it
        would not read back as one word, and the counts would not be what gensim reads. The
        tokenizer never writes such a token; a partition written by other code might. Costs one
        pass over the distinct words, not the corpus."""
        import pyarrow.compute as pc

        from include.errors import PipelineInputError

        self._merge()
        if self._merged is None:
            return
        words = self._merged["word"]
        bad = pc.or_(pc.equal(pc.binary_length(words), 0), pc.match_substring_regex(words, WHITESPACE_CLASS))
        found = pc.sum(bad).as_py() or 0
        if found:
            examples = words.filter(bad)[:3].to_pylist()
            raise PipelineInputError(
                f"{where}: {found} distinct tokens are empty or hold whitespace, e.g. {examples!r}; "
                "a token must be one word (this pipeline's tokenizer never writes such tokens)"
            )

    @property
    def most_common(self) -> int:
        """The largest count (0 for no tokens)."""
        import pyarrow.compute as pc

        self._merge()
        return 0 if self._merged is None else int(pc.max(self._merged["count"]).as_py())
