"""The ``train_word2vec`` step: gensim Word2Vec over the Parquet tokens, unless an identical version exists.

Example (what the task does, without Airflow)::

    from include.steps.train_word2vec import Word2VecParams, train_word2vec
    stats = train_word2vec(Path("data/tokens/<corpus_id>/snapshot"), Word2VecParams(epochs=10), Path("w2v.model"))
    # {"vocab_size": 1772, "corpus_words": 58338, "sentences": 300, "epochs": 10, "train_seconds": 1.9}
    resolve_epochs("auto", 58_338)["epochs"]  # 35: small corpora get more passes (see resolve_epochs)
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import TypedDict

from include.artifacts.embeddings import write_embeddings
from include.artifacts.phrases import PhraseParams
from include.artifacts.word_counts import WordCounts
from include.errors import PipelineInputError
from include.registry.contract import Contract, check_contract, make_contract
from include.registry.names import DEFAULT_MODEL
from include.registry.registry import ModelRegistry
from include.storage.layout import data_store, partition_key, staging_key, version_key
from include.storage.partitions import partition_parts, read_partition_summary, training_partitions
from include.storage.publish import content_hash, version_id
from include.storage.run_records import RunOutcome, update_run_record
from include.storage.version_files import record_written
from include.storage.versions import claim_version, find_by_content_hash
from include.text.tokens import tokenizer_version
from include.versions import CODE_VERSION

log = logging.getLogger(__name__)


#: Below this many words, several threads train from one stream of sentences rather than each from
#: its part of the file: as fast on a corpus this small, and equal in quality to the recipe.
SMALL_CORPUS_WORDS = 250_000
MODEL_FILE = "word2vec.model"

#: ``epochs: "auto"`` trains enough passes to see about this many tokens in all, between
#: ``AUTO_EPOCHS_MIN`` (gensim's default, for corpora of 400k tokens and more) and ``AUTO_EPOCHS_MAX``.
#: Measured on the Lee corpus (58k tokens, 3 seeds; benchmarks/epochs_measure.py): 5 epochs leave
#: every probe word's nearest neighbour at cosine 1.0 (stop words); 20 give 0.89; 35 (what "auto"
#: picks there) give 0.78 and ``government`` -> federal, interim, asio, committee.
AUTO_EPOCHS = "auto"
AUTO_EPOCHS_TARGET_WORDS = 2_000_000
AUTO_EPOCHS_MIN = 5
AUTO_EPOCHS_MAX = 50
MAX_EPOCHS = 200


@dataclass(frozen=True)
class Word2VecParams:
    """The Word2Vec hyper-parameters the DAG exposes as Params (gensim's names, meanings and
    defaults, except ``max_final_vocab``: 0 = no cap, gensim's ``None``).

    Cross-field rules the Params' JSON schemas cannot state are checked here: construction raises
    :class:`PipelineInputError` naming the Param (``negative: 0`` needs ``hs: 1``; ``min_alpha``
    must not exceed ``alpha``), and so does a value outside a Param's bounds.

    Example: ``Word2VecParams(hs=1, negative=0)`` trains with hierarchical softmax alone;
    ``Word2VecParams(negative=0)`` raises ``PipelineInputError("negative=0 with hs=0 trains nothing: ...")``.
    """

    vector_size: int = 100
    window: int = 5
    min_count: int = 5
    sg: int = 0
    negative: int = 5
    sample: float = 1e-3
    epochs: int | str = 5  #: passes, or ``"auto"`` (see :func:`resolve_epochs`); the DAG's default is ``"auto"``
    workers: int = 3
    seed: int = 1
    alpha: float = 0.025  #: initial learning rate
    min_alpha: float = 0.0001  #: the learning rate falls linearly to this by the last epoch
    hs: int = 0  #: 1 = hierarchical softmax (with ``negative: 0``, instead of negative sampling)
    ns_exponent: float = 0.75  #: exponent of the negative-sampling distribution (1 = by frequency)
    cbow_mean: int = 1  #: CBOW: 1 = mean of the context vectors, 0 = their sum
    shrink_windows: bool = True  #: sample each word's window size from 1..window
    max_final_vocab: int = 0  #: keep at most this many words (raising min_count as needed); 0 = no cap

    def __post_init__(self) -> None:
        check_bounds(self, WORD2VEC_BOUNDS)
        if self.hs == 0 and self.negative == 0:
            raise PipelineInputError(
                "negative=0 with hs=0 trains nothing: set negative to 1 or more (negative sampling), "
                "or hs to 1 (hierarchical softmax)"
            )
        if self.min_alpha > self.alpha:
            raise PipelineInputError(
                f"min_alpha={self.min_alpha} is larger than alpha={self.alpha}: the learning rate falls "
                "from alpha to min_alpha, so set min_alpha to alpha or less"
            )

    def as_dict(self) -> dict:
        return asdict(self)

    def gensim_kwargs(self) -> dict:
        """Keyword arguments of :class:`gensim.models.Word2Vec` (``workers`` 0 = one per CPU)."""
        kwargs = self.as_dict()
        kwargs["workers"] = self.workers or os.cpu_count() or 1
        kwargs["max_final_vocab"] = self.max_final_vocab or None
        kwargs["shrink_windows"] = bool(self.shrink_windows)
        return kwargs


#: The new Params' bounds (as the DAG's JSON schemas state them), checked for callers without
#: Airflow: name -> (type, minimum, maximum); ``None`` = unbounded. The first nine fields are left
#: to the Params' schemas, as before.
WORD2VEC_BOUNDS: dict[str, tuple[type, float | None, float | None]] = {
    "alpha": (float, 1e-6, 1),
    "min_alpha": (float, 0, 1),
    "hs": (int, 0, 1),
    "ns_exponent": (float, -1, 1),
    "cbow_mean": (int, 0, 1),
    "shrink_windows": (bool, None, None),
    "max_final_vocab": (int, 0, 100_000_000),
}


def check_bounds(params: object, bounds: dict[str, tuple[type, float | None, float | None]]) -> None:
    """Raise :class:`PipelineInputError` naming the first field of ``params`` whose value is of the
    wrong type or outside its ``(type, minimum, maximum)`` in ``bounds``."""
    for name, (kind, low, high) in bounds.items():
        value = getattr(params, name)
        if kind is bool:
            ok = isinstance(value, bool)
        elif kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok:
            raise PipelineInputError(f"{name}={value!r} must be {'a' if kind is not int else 'an'} {kind.__name__}")
        if (low is not None and value < low) or (high is not None and value > high):
            shown = f"{low}..{high}" if high is not None else f"{low} or more"
            raise PipelineInputError(f"{name}={value!r} is outside its range {shown}")


class EpochsChoice(TypedDict):
    """How many passes training made, and why (``report.json``'s ``epochs_choice``)."""

    epochs: int  #: the passes trained
    requested: int | str  #: the ``epochs`` Param as given: a number or ``"auto"``
    corpus_words: int  #: tokens per pass the choice was made from
    reason: str  #: one sentence for people


def resolve_epochs(requested: int | str, corpus_words: int) -> EpochsChoice:
    """The passes to train for the ``epochs`` Param ``requested`` on a corpus of ``corpus_words``
    tokens per pass.

    A number (1..``MAX_EPOCHS``) is used as given. ``"auto"`` gives
    ``ceil(AUTO_EPOCHS_TARGET_WORDS / corpus_words)`` clamped to ``AUTO_EPOCHS_MIN..AUTO_EPOCHS_MAX``:
    gensim's 5 from 400k tokens up, 35 for the Lee corpus (58k tokens), 50 below 40k tokens.
    Raises :class:`PipelineInputError` naming ``epochs`` for anything else.

    >>> [resolve_epochs(asked, words)["epochs"] for asked, words in [("auto", 58_152), ("auto", 5_000_000), (7, 10)]]
    [35, 5, 7]
    """
    if requested == AUTO_EPOCHS:
        wanted = math.ceil(AUTO_EPOCHS_TARGET_WORDS / max(int(corpus_words), 1))
        epochs = min(max(wanted, AUTO_EPOCHS_MIN), AUTO_EPOCHS_MAX)
        bound = (
            f", capped at {AUTO_EPOCHS_MAX}"
            if wanted > AUTO_EPOCHS_MAX
            else f", at least gensim's {AUTO_EPOCHS_MIN}"
            if wanted < AUTO_EPOCHS_MIN
            else ""
        )
        reason = (
            f"epochs auto: {epochs} passes over {corpus_words:,} tokens, to see about "
            f"{AUTO_EPOCHS_TARGET_WORDS:,} tokens in all{bound}"
        )
        return EpochsChoice(epochs=epochs, requested=requested, corpus_words=int(corpus_words), reason=reason)
    if isinstance(requested, bool) or not isinstance(requested, int) or not 1 <= requested <= MAX_EPOCHS:
        raise PipelineInputError(
            f"epochs must be a whole number from 1 to {MAX_EPOCHS} or {AUTO_EPOCHS!r}, got {requested!r}"
        )
    return EpochsChoice(
        epochs=requested,
        requested=requested,
        corpus_words=int(corpus_words),
        reason=f"epochs {requested}: as requested ({corpus_words:,} tokens per pass)",
    )


class TrainingStats(TypedDict):
    """What training learned about the corpus, and how long it took."""

    vocab_size: int  #: words kept by ``min_count``
    corpus_words: int  #: tokens read per epoch
    sentences: int  #: token rows (lines) per epoch
    epochs: int  #: passes trained (``"auto"`` resolved)
    train_seconds: float  #: writing the LineSentence file, the vocabulary, every epoch and saving


class TrainedVersion(TrainingStats):
    """A new version, trained and staged: what ``train_word2vec`` tells the tasks after it."""

    version: str  #: ``YYYYMMDDTHHMMSSZ-<8 hex>``, from the data time and the content hash
    model: str  #: the model the version belongs to
    contract: Contract  #: its vector size, tokenizer version and phrases on or off
    contract_changes: dict[str, list]  #: field -> [champion's, this version's] (allow_contract_change)
    content_hash: str  #: sha256 of the inputs' checksums, the params and the code version
    data_time: str  #: ISO time of the data the version describes
    version_dir: str  #: the staging folder the later steps write the version's files into
    model_path: str  #: the gensim model in it
    partitions: list[str]  #: the token partitions trained on, oldest first
    epochs_choice: EpochsChoice  #: the passes trained, as requested and as resolved, and why


@dataclass(frozen=True)
class Unchanged:
    """Nothing new to train or publish: ``version`` was built from the same inputs, params and code."""

    version: str
    reason: str


def train_version(
    *,
    corpus_id: str,
    dated: bool,
    window_end: date | None,
    history_days: int,
    params: Word2VecParams,
    run_id: str,
    data_time: datetime,
    phrase_settings: PhraseParams | None = None,
    model: str = DEFAULT_MODEL,
    allow_contract_change: bool = False,
) -> TrainedVersion | Unchanged:
    """The whole ``train_word2vec`` task.

    Chooses the committed partitions of ``corpus_id`` in the training window (see
    :func:`include.storage.partitions.training_partitions`), hashes their checksums with the params
    and the code, and returns :class:`Unchanged` (recorded as the run's outcome) when a published
    version has that content hash, or when another run holds the claim on that version (the same
    interval run twice at once). Otherwise claims the version, trains in a local scratch folder on
    exactly the part files each partition's ``_SUCCESS.json`` names, and writes the model into
    ``models/<version>/`` (published only later, when ``publish`` writes its manifest).

    ``params.epochs`` ``"auto"`` is resolved (:func:`resolve_epochs`) before hashing, from the
    token counts of the partitions' ``_SUCCESS.json`` (the tokens gensim counts as
    ``corpus_total_words``), so the content hash covers the passes actually trained; an explicit
    number hashes exactly as before, and ``"auto"`` resolving to N is the same version as N.

    With ``phrase_settings.phrases`` on, training reads the rows with the phrases ``detect_phrases``
    learned joined, and the version holds them as ``phrases.json``
    (:func:`include.steps.detect_phrases.write_phrased_training_file`); the content hash covers
    the phrase settings (only ``{"phrases": 0}`` when off).

    The version belongs to ``model``: its contract (vector size, the tokenizer's version,
    phrases on or off) is checked against the model's champion before anything is trained
    (:func:`include.registry.contract.check_contract`; ``allow_contract_change`` lets a different
    one through, recorded as ``contract_changes`` for the gate). The content hash covers the model
    name (but for ``default``, whose hashes stay those of the layout before named models).
    """
    phrase_settings = phrase_settings or PhraseParams()
    started = time.perf_counter()
    store = data_store()
    plan = training_plan(store, corpus_id, dated, window_end, int(history_days), params, phrase_settings, model)
    partitions, summaries, params, epochs_choice, digest = plan
    contract = make_contract(params.vector_size, tokenizer_version(), phrase_settings.phrases)
    champion = ModelRegistry(store).champion_manifest(model)
    contract_changes = check_contract(model, champion, contract, allow_change=allow_contract_change)
    log.info("%s", epochs_choice["reason"])
    version = version_id(data_time, digest)
    existing = find_by_content_hash(store, digest)
    holder = None if existing else claim_version(store, version, run_id)
    if existing or holder:
        name = existing["version"] if existing else version
        reason = (
            f"nothing new to publish: version {name} was built from the same inputs, params and code"
            if existing
            else f"nothing new to publish: run {holder} is building version {version} from the same inputs"
        )
        update_run_record(run_id, outcome=RunOutcome.UNCHANGED, version=name, reason=reason)
        store.delete_tree(staging_key(run_id))  # the run ends here: nothing of it is needed any more
        return Unchanged(name, reason)
    log.info("training on %d partitions: %s", len(partitions), partitions)
    try:
        stats = _train_into_version(
            store, corpus_id, partitions, summaries, params, phrase_settings, version, run_id, started
        )
    except BaseException:
        store.delete_tree(version_key(version))  # its claim too: nothing of a failed training stays behind
        raise
    if stats["corpus_words"] != epochs_choice["corpus_words"]:
        log.warning(
            "gensim counted %d tokens, the partitions' _SUCCESS.json %d: epochs were chosen from the latter",
            stats["corpus_words"],
            epochs_choice["corpus_words"],
        )
    return TrainedVersion(
        version=version,
        model=model,
        contract=contract,
        contract_changes={field: list(pair) for field, pair in contract_changes.items()},
        content_hash=digest,
        data_time=data_time.isoformat(),
        version_dir=store.key_url(version_key(version)),
        model_path=store.key_url(f"{version_key(version)}/{MODEL_FILE}"),
        partitions=partitions,
        epochs_choice=epochs_choice,
        **stats,
    )


def _train_into_version(
    store, corpus_id, partitions, summaries, params, phrase_settings, version, run_id, started
) -> TrainingStats:
    """Fetch the partitions' part files, write the LineSentence file (with the phrases joined when
    they are on) and train, all in a local scratch folder; the model files (and ``phrases.json``)
    go to ``models/<version>/`` and are recorded for the manifest."""
    with tempfile.TemporaryDirectory(prefix="w2v-train-") as scratch:
        parts = [
            store.fetch(f"{partition_key(corpus_id, name)}/{part}", Path(scratch))
            for name in partitions
            for part in partition_parts(store, corpus_id, name, summaries[name])
        ]
        corpus_file = Path(scratch) / "corpus.txt"
        counts = WordCounts()
        with store.writer(version_key(version), Path(scratch)) as out:
            if phrase_settings.enabled:
                from include.steps.detect_phrases import write_phrased_training_file  # it imports this module

                checksums = partition_checksums(summaries)
                write_phrased_training_file(
                    store, parts, checksums, phrase_settings, run_id, out.folder, corpus_file, counts
                )
            else:
                write_line_sentence_file(parts, corpus_file, counts=counts)
            stats = train_word2vec_on_file(corpus_file, counts, params, out.folder / MODEL_FILE, started)
        record_written(store, run_id, "train_word2vec", out.files)
    return stats


def partition_checksums(summaries: dict[str, dict]) -> list[str]:
    """``<partition>:<sha256>`` of every source file of the partitions (what a content hash covers),
    from their ``_SUCCESS.json`` summaries (partition name -> summary, in training order)."""
    return [f"{name}:{sha}" for name, summary in summaries.items() for sha in summary["sources"]]


def training_plan(
    store,
    corpus_id: str,
    dated: bool,
    window_end: date | None,
    history_days: int,
    params: Word2VecParams,
    phrase_settings: PhraseParams,
    model: str = DEFAULT_MODEL,
):
    """What a training of ``corpus_id`` would read and be: ``(partitions, summaries, params with
    epochs resolved, the epochs choice, content hash)``. The hash covers the partitions' source
    checksums, the params (resolved epochs, ``history_days``, the phrase settings), the model name
    (left out for ``default``, so its hashes match the layout before named models) and the code."""
    partitions = training_partitions(store, corpus_id, dated, window_end, int(history_days))
    summaries = {name: read_partition_summary(store, corpus_id, name) for name in partitions}
    epochs_choice = resolve_epochs(params.epochs, sum(int(s.get("tokens", 0)) for s in summaries.values()))
    params = replace(params, epochs=epochs_choice["epochs"])
    digest = content_hash(
        partition_checksums(summaries),
        {**params.as_dict(), "history_days": int(history_days), **phrase_settings.hashed()}
        | ({} if model == DEFAULT_MODEL else {"model": model}),
        CODE_VERSION,
    )
    return partitions, summaries, params, epochs_choice, digest


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


def write_line_sentence_file(
    tokens_dirs: Path | list[Path], out_path: Path, batch_bytes: int | None = None, counts: WordCounts | None = None
) -> int:
    """Write the token rows of ``tokens_dirs`` as gensim's ``LineSentence`` format (one row per
    line, tokens separated by spaces, each line ending in ``\\n``) at ``out_path``; returns the
    number of lines. ``counts``, when given, counts every batch's words as it is written (what
    training builds its vocabulary from, see :mod:`include.artifacts.word_counts`).

    Tokens never hold whitespace, so the file reads back into exactly the same token lists; a row
    holds at most ``MAX_SENTENCE_TOKENS`` tokens, so gensim splits no line. Rows are read in
    batches of about ``batch_bytes`` bytes (default ``TOKEN_BATCH_BYTES``, 16 MiB) and each batch
    is joined by Arrow kernels and written straight from the Arrow buffer (no Python string per
    row): memory is a few batches, whatever the length of a line or the size of the corpus.
    Raises :class:`PipelineInputError` on a null token list, or (with ``counts``) an empty token or
    one holding whitespace: not files this pipeline wrote.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from include.text.prefetch import prefetched
    from include.text.tokens import TOKEN_BATCH_BYTES, iter_token_arrays

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
