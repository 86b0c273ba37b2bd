"""Multi-word phrases (``new york`` -> ``new_york``): learned with gensim's ``Phrases``, stored in a
version as ``phrases.json`` (never a pickle), applied the same way by training and by serving.

A version trained with the ``phrases`` Param on holds ``phrases.json``::

    {"format": 1,
     "settings": {"phrases": 1, "phrases_min_count": 5, "phrases_threshold": 10.0, ...},
     "delimiter": "_", "separator": " ", "connector_words": ["a", "an", "and", ...],
     "passes": [{"scores": {"new york": 412.7, ...}, "counts": {"new york": 31, ...}}],
     "inputs": [...], "tokens": 58338, "sentences": 300, "seconds": 0.4}

``passes`` holds one phrase -> score dict per pass (gensim's ``Phrases.export_phrases()``), with
each phrase's count in the corpus it was learned from. A phrase is written as its parts separated
by spaces (``"children of israel"``; the second pass joins pass-one tokens: ``"new_york times"``)
and becomes one token with its parts joined by ``_`` (``new_york_times``). gensim learns with the
space as its delimiter: tokens never hold one, whereas ``_`` may sit inside a token, and a second
pass learning with ``_`` cannot export ``new_york_times`` (its ``export_phrases`` splits the key
back into ``new``, ``york``, ``times``, which that pass never counted). :class:`PhraseApplier`
rebuilds gensim's ``FrozenPhrases`` from the JSON, so a sentence is joined by gensim's own code.

Example (what ``detect_phrases`` and ``train_word2vec`` do, without Airflow)::

    document = learn_phrases(lambda: iter_token_lists(partitions), PhraseParams(phrases=1))
    applier = PhraseApplier(document)
    applier(["the", "mayor", "of", "new", "york"])  # ['the', 'mayor', 'of', 'new_york']
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from include.artifacts.word_counts import WordCounts
from include.errors import PipelineInputError

log = logging.getLogger(__name__)

PHRASES_FILE = "phrases.json"
PHRASES_FORMAT = 1
DELIMITER = "_"  #: joins a phrase's parts into its token
SEPARATOR = " "  #: separates a phrase's parts while learning and in ``phrases.json``
#: Rows between two progress lines while phrases are learned.
PROGRESS_ROWS = 100_000


@dataclass(frozen=True)
class PhraseParams:
    """The phrase Params: ``phrases`` (0 = off, 1 = bigrams, 2 = a second pass for longer phrases),
    gensim ``Phrases``' ``min_count``, ``threshold``, ``scoring`` and ``max_vocab_size``.

    Construction raises :class:`PipelineInputError` naming the Param for a value out of range or
    a threshold outside its scoring's range (``default``: above 0; ``npmi``: -1..1).
    """

    phrases: int = 0
    phrases_min_count: int = 5
    phrases_threshold: float = 10.0
    phrases_scoring: str = "default"
    phrases_max_vocab: int = 10_000_000

    def __post_init__(self) -> None:
        if self.phrases not in (0, 1, 2) or isinstance(self.phrases, bool):
            raise PipelineInputError(f"phrases={self.phrases!r} must be 0 (off), 1 (bigrams) or 2 (two passes)")
        if not isinstance(self.phrases_min_count, int) or self.phrases_min_count < 1:
            raise PipelineInputError(f"phrases_min_count={self.phrases_min_count!r} must be an integer of 1 or more")
        if not isinstance(self.phrases_max_vocab, int) or self.phrases_max_vocab < 10_000:
            raise PipelineInputError(
                f"phrases_max_vocab={self.phrases_max_vocab!r} must be an integer of 10000 or more"
            )
        if self.phrases_scoring not in ("default", "npmi"):
            raise PipelineInputError(f"phrases_scoring={self.phrases_scoring!r} must be 'default' or 'npmi'")
        threshold = self.phrases_threshold
        if not isinstance(threshold, (int, float)) or isinstance(threshold, bool):
            raise PipelineInputError(f"phrases_threshold={threshold!r} must be a number")
        if self.phrases_scoring == "default" and threshold <= 0:
            raise PipelineInputError(
                f"phrases_threshold={threshold} must be above 0 with phrases_scoring='default' "
                "(its scores are positive; gensim's default is 10)"
            )
        if self.phrases_scoring == "npmi" and not -1 <= threshold <= 1:
            raise PipelineInputError(
                f"phrases_threshold={threshold} is outside -1..1, the range of npmi scores "
                "(phrases_scoring='npmi'); set phrases_threshold to e.g. 0.5"
            )

    @property
    def enabled(self) -> bool:
        return self.phrases > 0

    def as_dict(self) -> dict:
        return asdict(self)

    def hashed(self) -> dict:
        """What the version's content hash covers: every setting when phrases are on, only
        ``{"phrases": 0}`` when off (the other settings then change nothing)."""
        return self.as_dict() if self.enabled else {"phrases": 0}


def english_connector_words() -> frozenset[str]:
    """gensim's ``ENGLISH_CONNECTOR_WORDS`` (a, an, the, of, for, ...): words that may sit inside
    a phrase (``children_of_israel``) but never start or end one."""
    from gensim.models.phrases import ENGLISH_CONNECTOR_WORDS

    return frozenset(ENGLISH_CONNECTOR_WORDS)


def _logged(rows: Iterable[list[str]], label: str, every: int = PROGRESS_ROWS) -> Iterator[list[str]]:
    """Yield ``rows`` unchanged, logging rows, tokens and tokens/s every ``every`` rows."""
    started, tokens = time.perf_counter(), 0
    for number, row in enumerate(rows, start=1):
        tokens += len(row)
        if number % every == 0:
            rate = tokens / max(time.perf_counter() - started, 1e-9)
            log.info("%s: %d rows, %d tokens (%.0f tokens/s)", label, number, tokens, rate)
        yield row


def learn_phrases(
    sentences: Callable[[], Iterable[list[str]]], params: PhraseParams, progress_every: int = PROGRESS_ROWS
) -> dict:
    """Learn ``params.phrases`` passes of gensim ``Phrases`` over the token rows ``sentences()``
    returns (called once per pass: a stream, never held in memory) and return the JSON document
    :func:`write_phrases` stores (see the module docstring). Pass 2 learns over pass 1's output.

    Memory is bounded by ``params.phrases_max_vocab`` distinct words and word pairs (gensim prunes
    the rarest when it is reached). Logs progress every ``progress_every`` rows and each pass's
    result. Raises :class:`PipelineInputError` when phrases are off.
    """
    from gensim.models.phrases import Phrases

    if not params.enabled:
        raise PipelineInputError("phrases=0: there are no phrases to learn")
    connector_words = english_connector_words()
    started = time.perf_counter()
    passes: list[dict] = []
    tokens = rows = 0
    for number in range(1, params.phrases + 1):
        applier = _Applier(passes, connector_words, params.phrases_threshold, params.phrases_scoring)
        label = f"phrases pass {number}/{params.phrases}"
        model = Phrases(
            min_count=params.phrases_min_count,
            threshold=params.phrases_threshold,
            max_vocab_size=params.phrases_max_vocab,
            delimiter=SEPARATOR,
            scoring=params.phrases_scoring,
            connector_words=connector_words,
            progress_per=1 << 62,  # our own progress lines instead of gensim's
        )
        counter = _RowCounter(_logged((applier(row) for row in sentences()), label, progress_every))
        model.add_vocab(counter)
        scores = model.export_phrases()
        counts = {phrase: int(model.vocab.get(phrase, 0)) for phrase in scores}
        passes.append({"scores": {p: float(s) for p, s in scores.items()}, "counts": counts})
        tokens, rows = counter.tokens, counter.rows
        log.info(
            "%s: %d phrases from %d rows, %d tokens (%d words and pairs counted) in %.2fs",
            label,
            len(scores),
            rows,
            tokens,
            len(model.vocab),
            time.perf_counter() - started,
        )
        del model
    return {
        "format": PHRASES_FORMAT,
        "settings": params.as_dict(),
        "delimiter": DELIMITER,
        "separator": SEPARATOR,
        "connector_words": sorted(connector_words),
        "passes": passes,
        "tokens": tokens,
        "sentences": rows,
        "seconds": round(time.perf_counter() - started, 3),
    }


class _RowCounter:
    """An iterable over ``rows`` that counts the rows and tokens it yielded."""

    def __init__(self, rows: Iterable[list[str]]) -> None:
        self.source, self.rows, self.tokens = rows, 0, 0

    def __iter__(self) -> Iterator[list[str]]:
        for row in self.source:
            self.rows += 1
            self.tokens += len(row)
            yield row


def _frozen_phrases(scores: dict[str, float], threshold: float, scoring: str, connector_words: frozenset[str]):
    """gensim's ``FrozenPhrases`` rebuilt from its exported phrase -> score dict and settings.

    ``FrozenPhrases.__init__`` wants a trained ``Phrases`` model; everything it keeps of it (and
    all that ``analyze_sentence`` reads) is set here instead, so sentences are joined by gensim's
    own code exactly as the trained model would join them.
    """
    from gensim.models.phrases import FrozenPhrases

    frozen = FrozenPhrases.__new__(FrozenPhrases)
    frozen.phrasegrams = dict(scores)
    frozen.threshold = threshold
    frozen.min_count = None  # not used when applying
    frozen.delimiter = SEPARATOR
    frozen.scoring = scoring
    frozen.connector_words = connector_words
    return frozen


class _Applier:
    """Applies ``passes`` (phrase -> score dicts, in order) to one token list at a time."""

    def __init__(self, passes: list[dict], connector_words: frozenset[str], threshold: float, scoring: str) -> None:
        self.layers = [_frozen_phrases(p["scores"], threshold, scoring, connector_words) for p in passes]

    def __call__(self, tokens: list[str]) -> list[str]:
        for layer in self.layers:
            tokens = [token.replace(SEPARATOR, DELIMITER) for token, _score in layer.analyze_sentence(tokens)]
        return tokens


class PhraseApplier(_Applier):
    """Joins a token list's phrases as the version's ``phrases.json`` says (every pass, in order).

    >>> applier = PhraseApplier(read_phrases(version_dir))
    >>> applier(["new", "york", "is", "big"])  # ['new_york', 'is', 'big']
    """

    def __init__(self, document: dict) -> None:
        found = (document.get("format"), document.get("delimiter"), document.get("separator"))
        if found != (PHRASES_FORMAT, DELIMITER, SEPARATOR):
            raise PipelineInputError(
                f"phrases.json has format, delimiter and separator {found!r}; "
                f"this code reads {(PHRASES_FORMAT, DELIMITER, SEPARATOR)!r}"
            )
        settings = document["settings"]
        super().__init__(
            document["passes"],
            frozenset(document["connector_words"]),
            float(settings["phrases_threshold"]),
            settings["phrases_scoring"],
        )
        self.phrase_count = len(distinct_phrases(document))


def write_phrases(path: Path, document: dict) -> None:
    """Write a :func:`learn_phrases` document as strict JSON (temp file + rename)."""
    from include.storage.atomic_io import write_json_atomic

    json.dumps(document, allow_nan=False)  # refuse NaN/inf before anything is written
    write_json_atomic(Path(path), document)


def read_phrases(folder_or_file: Path) -> dict | None:
    """The ``phrases.json`` of a version folder (or that file), ``None`` when there is none."""
    path = Path(folder_or_file)
    path = path / PHRASES_FILE if path.is_dir() else path
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def distinct_phrases(document: dict) -> list[dict]:
    """Every phrase of a :func:`learn_phrases` document once, as its token (``new_york``) with
    ``{"phrase", "count", "score", "pass"}`` from the first pass that has it."""
    found: dict[str, dict] = {}
    for number, layer in enumerate(document["passes"], start=1):
        for parts, score in layer["scores"].items():
            phrase = parts.replace(SEPARATOR, DELIMITER)
            if phrase not in found:
                count = int(layer["counts"].get(parts, 0))
                found[phrase] = {"phrase": phrase, "count": count, "score": round(score, 4), "pass": number}
    return list(found.values())


def most_frequent_phrases(document: dict, limit: int = 30) -> list[dict]:
    """The ``limit`` phrases of :func:`distinct_phrases` with the highest counts (in the corpus
    the phrases were learned from), ties broken by score, then by phrase."""
    found = sorted(distinct_phrases(document), key=lambda p: (-p["count"], -p["score"], p["phrase"]))
    return found[:limit]


def write_phrased_line_sentence_file(
    token_lists: Iterable[list[str]], applier: PhraseApplier, out_path: Path, counts: WordCounts | None = None
) -> int:
    """Write ``token_lists`` with their phrases joined by ``applier`` as a ``LineSentence`` file
    (one row per line, tokens separated by spaces); returns the number of lines. Rows are
    streamed, written in blocks of about 8 Ki lines; ``counts``, when given, counts the words of
    every block as written (training's vocabulary)."""
    lines = 0
    block: list[list[str]] = []

    def flush() -> None:
        handle.write(("\n".join(" ".join(row) for row in block) + "\n").encode("utf-8"))
        if counts is not None:
            counts.add_rows(block)

    with open(out_path, "wb") as handle:
        for tokens in _logged(token_lists, "phrased rows written"):
            block.append(applier(tokens))
            if len(block) >= 8192:
                flush()
                lines += len(block)
                block = []
        if block:
            flush()
            lines += len(block)
    return lines


def phrase_report(document: dict | None, vocab: dict[str, int], limit: int = 30) -> dict | None:
    """The report's ``phrases`` section: ``settings``, ``phrases`` (distinct phrases learned),
    ``in_vocab`` (how many of them the model kept), ``most_frequent`` (the ``limit`` phrases with
    the highest counts: phrase, count, score, pass, in_vocab); ``None`` without phrases."""
    if document is None:
        return None
    phrases = distinct_phrases(document)
    return {
        "settings": document["settings"],
        "phrases": len(phrases),
        "in_vocab": sum(1 for p in phrases if p["phrase"] in vocab),
        "most_frequent": [{**p, "in_vocab": p["phrase"] in vocab} for p in most_frequent_phrases(document, limit)],
    }
