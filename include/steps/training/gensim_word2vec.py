"""gensim's Word2Vec training on a ``LineSentence`` file, with each epoch's progress logged, and
the model, ``embeddings.npy`` and ``vocab.json`` saved (:func:`train_word2vec`,
:func:`train_word2vec_on_file`). gensim is imported only when training starts.

Example::

    stats = train_word2vec(Path("data/tokens/<corpus_id>/snapshot"), Word2VecParams(epochs=10), Path("w2v.model"))
    # {"vocab_size": 1772, "corpus_words": 58338, "sentences": 300, "epochs": 10, "train_seconds": 1.9}
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import TypedDict

from include.artifacts.embeddings import write_embeddings
from include.artifacts.word_counts import WordCounts
from include.errors import PipelineInputError
from include.steps.training.epochs import AUTO_EPOCHS, AUTO_EPOCHS_MIN, resolve_epochs
from include.steps.training.line_sentence import write_line_sentence_file
from include.steps.training.params import Word2VecParams

log = logging.getLogger(__name__)

#: Below this many words, several threads train from one stream of sentences rather than each from
#: its part of the file: as fast on a corpus this small, and equal in quality to the recipe.
SMALL_CORPUS_WORDS = 250_000


class TrainingStats(TypedDict):
    """What training learned about the corpus, and how long it took."""

    vocab_size: int  #: words kept by ``min_count``
    corpus_words: int  #: tokens read per epoch
    sentences: int  #: token rows (lines) per epoch
    epochs: int  #: passes trained (``"auto"`` resolved)
    train_seconds: float  #: writing the LineSentence file, the vocabulary, every epoch and saving


def _epoch_logger():
    """A gensim callback that logs each epoch's number, duration and words per second (defined
    here, when training starts, so gensim is imported only then)."""
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
    ``params.epochs`` ``"auto"`` is resolved from gensim's ``corpus_total_words`` after
    counting the vocabulary (:func:`resolve_epochs`; no extra pass over the corpus).
    Returns ``{"vocab_size", "corpus_words", "sentences", "epochs", "train_seconds"}``.
    Raises :class:`PipelineInputError` naming ``min_count`` when it leaves no word.
    """
    started = time.perf_counter()
    corpus_file = line_sentence_path(model_path)
    corpus_file.parent.mkdir(parents=True, exist_ok=True)
    counts = WordCounts()
    write_line_sentence_file(tokens_dir, corpus_file, counts=counts)
    return train_word2vec_on_file(corpus_file, counts, params, model_path, started)


def line_sentence_path(model_path: Path) -> Path:
    """Where :func:`train_word2vec` writes the ``LineSentence`` file for ``model_path`` (beside it, hidden)."""
    return Path(model_path).with_name(f".{Path(model_path).name}.corpus.txt")


def train_word2vec_on_file(
    corpus_file: Path, counts: WordCounts, params: Word2VecParams, model_path: Path, started: float | None = None
) -> TrainingStats:
    """Train on a ``LineSentence`` file whose rows ``counts`` counted as they were written (see
    :func:`write_line_sentence_file`) and save the model at ``model_path``, its ``embeddings.npy``
    and ``vocab.json`` beside it (:func:`include.artifacts.embeddings.write_embeddings`); the file
    is removed afterwards. Returns and raises as :func:`train_word2vec` does (``started``: when the
    work began, for ``train_seconds``).

    The vocabulary comes from ``counts`` (gensim's ``build_vocab_from_freq``), not from a scan of
    the file: the same words, counts and first-appearance order gensim's own scan finds, so the
    model is the same, without a Python pass over the corpus."""
    from gensim.models import Word2Vec

    started = time.perf_counter() if started is None else started
    sentences = counts.sentences
    model_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if params.epochs != AUTO_EPOCHS:
            resolve_epochs(params.epochs, 0)  # refuses anything but 1..MAX_EPOCHS, naming epochs
        kwargs = params.gensim_kwargs()
        kwargs["epochs"] = AUTO_EPOCHS_MIN if params.epochs == AUTO_EPOCHS else params.epochs
        model = Word2Vec(**kwargs)
        model.build_vocab_from_freq(counts.to_dict(), corpus_count=counts.sentences)
        model.corpus_total_words = counts.tokens  # what build_vocab's own scan sets; train reads it
        if len(model.wv) == 0:
            cap = f" and max_final_vocab={params.max_final_vocab}" if params.max_final_vocab else ""
            raise PipelineInputError(
                f"min_count={params.min_count}{cap} leaves an empty vocabulary (the corpus has "
                f"{model.corpus_total_words} tokens; its most frequent word occurs {counts.most_common} times)"
            )
        log.info(
            "vocabulary: %d words (min_count=%d) from %d tokens in %d sentences",
            len(model.wv),
            params.min_count,
            model.corpus_total_words,
            sentences,
        )
        if params.epochs == AUTO_EPOCHS:
            choice = resolve_epochs(params.epochs, model.corpus_total_words)
            log.info("%s", choice["reason"])
            params = replace(params, epochs=choice["epochs"])
            model.epochs = params.epochs
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
        write_embeddings(model.wv, model_path.parent)  # from memory: the matrix is never read back
    finally:
        corpus_file.unlink(missing_ok=True)
    seconds = time.perf_counter() - started
    log.info("trained %d epochs in %.2fs", params.epochs, seconds)
    return TrainingStats(
        vocab_size=len(model.wv),
        corpus_words=int(model.corpus_total_words),
        sentences=int(sentences),
        epochs=int(params.epochs),
        train_seconds=round(seconds, 3),
    )
