"""The ``train_word2vec`` step: gensim Word2Vec over the Parquet tokens, unless an identical version exists.

Example (what the task does, without Airflow)::

    from include.steps.train_word2vec import Word2VecParams, train_word2vec
    stats = train_word2vec(Path("data/tokens/<corpus_id>/snapshot"), Word2VecParams(epochs=10), Path("w2v.model"))
    # {"vocab_size": 1772, "corpus_words": 58338, "sentences": 300, "train_seconds": 1.9}
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TypedDict

from include.errors import PipelineInputError
from include.storage.locks import shared_lock
from include.storage.partitions import training_partitions
from include.storage.paths import PROJECT_ROOT, lock_file, models_dir, staging_dir
from include.storage.publish import code_version, content_hash, version_id
from include.storage.run_records import RunOutcome, update_run_record
from include.storage.versions import find_by_content_hash
from include.text.tokens import read_partition_summary

log = logging.getLogger(__name__)


#: Below this many words, several threads train from one stream of sentences rather than each from
#: its part of the file: as fast on a corpus this small, and equal in quality to the recipe.
SMALL_CORPUS_WORDS = 250_000


@dataclass(frozen=True)
class Word2VecParams:
    """The Word2Vec hyper-parameters the DAG exposes as Params (gensim's names and meanings)."""

    vector_size: int = 100
    window: int = 5
    min_count: int = 5
    sg: int = 0
    negative: int = 5
    sample: float = 1e-3
    epochs: int = 5
    workers: int = 3
    seed: int = 1

    def as_dict(self) -> dict:
        return asdict(self)


class TrainingStats(TypedDict):
    """What training learned about the corpus, and how long it took."""

    vocab_size: int  #: words kept by ``min_count``
    corpus_words: int  #: tokens read per epoch
    sentences: int  #: token rows (lines) per epoch
    train_seconds: float  #: writing the LineSentence file, the vocabulary, every epoch and saving


class TrainedVersion(TrainingStats):
    """A new version, trained and staged: what ``train_word2vec`` tells the tasks after it."""

    version: str  #: ``YYYYMMDDTHHMMSSZ-<8 hex>``, from the data time and the content hash
    content_hash: str  #: sha256 of the inputs' checksums, the params and the code version
    data_time: str  #: ISO time of the data the version describes
    version_dir: str  #: the staging folder the later steps write the version's files into
    model_path: str  #: the gensim model in it
    partitions: list[str]  #: the token partitions trained on, oldest first


@dataclass(frozen=True)
class Unchanged:
    """Nothing new to train or publish: ``version`` was built from the same inputs, params and code."""

    version: str
    reason: str


def train_version(
    *,
    corpus_tokens: Path,
    corpus_id: str,
    dated: bool,
    window_end: date | None,
    history_days: int,
    params: Word2VecParams,
    run_id: str,
    data_time: datetime,
) -> TrainedVersion | Unchanged:
    """The whole ``train_word2vec`` task.

    Chooses the partitions of ``corpus_tokens`` in the training window (see
    :func:`include.storage.partitions.training_partitions`), hashes their checksums with the params
    and the code, and returns :class:`Unchanged` (recorded as the run's outcome) when a published
    version has that content hash. Otherwise trains into the run's staging version folder and
    returns a :class:`TrainedVersion`. The partitions are read under the corpus's shared lock, so a
    concurrent commit never swaps one between hashing and reading.
    """
    started = time.perf_counter()
    model_path = staging_dir(run_id) / "version" / "word2vec.model"
    with shared_lock(lock_file(f"tokens-{corpus_id}")):
        partitions = training_partitions(Path(corpus_tokens), dated, window_end, int(history_days))
        checksums = [f"{path.name}:{sha}" for path in partitions for sha in read_partition_summary(path)["sources"]]
        digest = content_hash(
            checksums, {**params.as_dict(), "history_days": int(history_days)}, code_version(PROJECT_ROOT)
        )
        existing = find_by_content_hash(models_dir(), digest)
        if existing:
            reason = (
                f"nothing new to publish: version {existing['version']} was built from the same inputs, params and code"
            )
            update_run_record(run_id, outcome=RunOutcome.UNCHANGED, version=existing["version"], reason=reason)
            return Unchanged(existing["version"], reason)
        log.info("training on %d partitions: %s", len(partitions), [p.name for p in partitions])
        model_path.parent.mkdir(parents=True, exist_ok=True)
        sentences = write_line_sentence_file(partitions, line_sentence_path(model_path))
    stats = train_word2vec_on_file(line_sentence_path(model_path), sentences, params, model_path, started)
    return TrainedVersion(
        version=version_id(data_time, digest),
        content_hash=digest,
        data_time=data_time.isoformat(),
        version_dir=str(model_path.parent),
        model_path=str(model_path),
        partitions=[p.name for p in partitions],
        **stats,
    )


def _epoch_logger():
    from gensim.models.callbacks import CallbackAny2Vec

    class EpochProgress(CallbackAny2Vec):
        """Logs each epoch's number, duration and raw words per second."""

        def __init__(self) -> None:
            self.epoch = 0
            self.started = 0.0

        def on_epoch_begin(self, model) -> None:
            self.started = time.perf_counter()

        def on_epoch_end(self, model) -> None:
            self.epoch += 1
            seconds = time.perf_counter() - self.started
            log.info(
                "epoch %d/%d done in %.2fs, %.0f words/s",
                self.epoch,
                model.epochs,
                seconds,
                model.corpus_total_words / max(seconds, 1e-9),
            )

    return EpochProgress()


def write_line_sentence_file(tokens_dirs: Path | list[Path], out_path: Path, batch_bytes: int | None = None) -> int:
    """Write the token rows of ``tokens_dirs`` as gensim's ``LineSentence`` format (one row per
    line, tokens separated by spaces, each line ending in ``\\n``) at ``out_path``; returns the
    number of lines.

    Tokens never hold whitespace, so the file reads back into exactly the same token lists; a row
    holds at most ``MAX_SENTENCE_TOKENS`` tokens, so gensim splits no line. Rows are read in
    batches of about ``batch_bytes`` bytes (default ``TOKEN_BATCH_BYTES``, 16 MiB) and each batch
    is joined by Arrow kernels and written straight from the Arrow buffer (no Python string per
    row): memory is a few batches, whatever the length of a line or the size of the corpus.
    Raises :class:`PipelineInputError` on a null token list (not a file this pipeline wrote).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from include.text.tokens import TOKEN_BATCH_BYTES, iter_token_arrays

    lines = 0
    written = 0
    started = time.perf_counter()
    next_report = 1 << 30
    with open(out_path, "wb") as handle:
        for tokens in iter_token_arrays(tokens_dirs, batch_bytes or TOKEN_BATCH_BYTES):
            if tokens.null_count:
                raise PipelineInputError(f"token rows under {tokens_dirs}: {tokens.null_count} null token lists")
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
    log.info("LineSentence file: %d lines, %.1f MiB in %.2fs", lines, written / 2**20, time.perf_counter() - started)
    return lines


def train_word2vec(tokens_dir: Path | list[Path], params: Word2VecParams, model_path: Path) -> TrainingStats:
    """Train Word2Vec on the token lists of ``tokens_dir`` (a partition folder or a list of them,
    read in order) and save it at ``model_path``. ``params.workers`` 0 means one thread per CPU.

    The token rows are written once to a ``LineSentence`` file beside the model and gensim trains
    in its ``corpus_file`` mode: each worker thread reads its own part of the file in C, so no
    Python iteration holds the threads back (removed once the model is saved). Below
    ``SMALL_CORPUS_WORDS`` words with several workers, the threads share one stream of the file's
    sentences instead, which scores better on a small corpus.
    The model is saved in gensim's native format (``Word2Vec.load`` reads it back; large arrays
    go to ``<model_path>.*.npy`` side files). With ``workers=1`` and a fixed ``seed`` the
    vectors are byte-identical between runs: gensim 4 seeds every random draw from ``seed``.
    Returns ``{"vocab_size", "corpus_words", "sentences", "train_seconds"}``.
    Raises :class:`PipelineInputError` naming ``min_count`` when it leaves no word.
    """
    started = time.perf_counter()
    corpus_file = line_sentence_path(model_path)
    corpus_file.parent.mkdir(parents=True, exist_ok=True)
    sentences = write_line_sentence_file(tokens_dir, corpus_file)
    return train_word2vec_on_file(corpus_file, sentences, params, model_path, started)


def line_sentence_path(model_path: Path) -> Path:
    """Where :func:`train_word2vec` writes the ``LineSentence`` file for ``model_path`` (beside it, hidden)."""
    return Path(model_path).with_name(f".{Path(model_path).name}.corpus.txt")


def train_word2vec_on_file(
    corpus_file: Path, sentences: int, params: Word2VecParams, model_path: Path, started: float | None = None
) -> TrainingStats:
    """Train on a ``LineSentence`` file of ``sentences`` lines (see :func:`write_line_sentence_file`)
    and save the model at ``model_path``; the file is removed afterwards. Returns and raises as
    :func:`train_word2vec` does (``started``: when the work began, for ``train_seconds``)."""
    from gensim.models import Word2Vec

    started = time.perf_counter() if started is None else started
    model_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        model = Word2Vec(
            vector_size=params.vector_size,
            window=params.window,
            min_count=params.min_count,
            sg=params.sg,
            negative=params.negative,
            sample=params.sample,
            epochs=params.epochs,
            workers=params.workers or os.cpu_count() or 1,
            seed=params.seed,
        )
        model.build_vocab(corpus_file=str(corpus_file), progress_per=100_000, keep_raw_vocab=True)
        top = max(model.raw_vocab.values(), default=0)
        model.raw_vocab = None  # only needed for the message below; frees the memory of every raw word
        if len(model.wv) == 0:
            raise PipelineInputError(
                f"min_count={params.min_count} leaves an empty vocabulary "
                f"(the corpus has {model.corpus_total_words} tokens; its most frequent word occurs {top} times)"
            )
        log.info(
            "vocabulary: %d words (min_count=%d) from %d tokens in %d sentences",
            len(model.wv),
            params.min_count,
            model.corpus_total_words,
            sentences,
        )
        source = {"corpus_file": str(corpus_file)}
        if model.workers > 1 and model.corpus_total_words < SMALL_CORPUS_WORDS:
            # corpus_file mode splits the file between the threads; on a small corpus that scores
            # measurably lower than one shared stream (WordSim 0.54 against 0.57 at 45k words)
            from gensim.models.word2vec import LineSentence

            source = {"corpus_iterable": LineSentence(str(corpus_file))}
            log.info("small corpus (%d words): training from one stream of sentences", model.corpus_total_words)
        model.train(
            **source,
            total_examples=sentences,
            total_words=model.corpus_total_words,
            epochs=params.epochs,
            callbacks=[_epoch_logger()],
        )
        model.save(str(model_path))
    finally:
        corpus_file.unlink(missing_ok=True)
    seconds = time.perf_counter() - started
    log.info("trained %d epochs in %.2fs", params.epochs, seconds)
    return TrainingStats(
        vocab_size=len(model.wv),
        corpus_words=int(model.corpus_total_words),
        sentences=int(sentences),
        train_seconds=round(seconds, 3),
    )
