"""The ``train_word2vec`` step: claim a version, train gensim Word2Vec into it, unless an identical
version exists (:func:`train_version`).

The pieces it is made of live in :mod:`include.steps.training`: the params
(:class:`Word2VecParams`), ``epochs: "auto"`` (:func:`resolve_epochs`), the plan (which partitions,
which content hash: :func:`~include.steps.training.plan.training_plan`), the ``LineSentence`` file
and gensim's training loop (:func:`train_word2vec`). Their names stay importable from here.

Example (what the task does, without Airflow)::

    from include.steps.train_word2vec import Word2VecParams, train_word2vec
    stats = train_word2vec(Path("data/tokens/<corpus_id>/snapshot"), Word2VecParams(epochs=10), Path("w2v.model"))
    # {"vocab_size": 1772, "corpus_words": 58338, "sentences": 300, "epochs": 10, "train_seconds": 1.9}
    resolve_epochs("auto", 58_338)["epochs"]  # 35: small corpora get more passes (see resolve_epochs)
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from include.artifacts.phrases import PhraseParams
from include.artifacts.word_counts import WordCounts
from include.registry.contract import Contract, check_contract, make_contract
from include.registry.names import DEFAULT_MODEL
from include.registry.registry import ModelRegistry
from include.steps.detect_phrases import write_phrased_training_file
from include.steps.training.epochs import MAX_EPOCHS, EpochsChoice, resolve_epochs
from include.steps.training.gensim_word2vec import TrainingStats, train_word2vec, train_word2vec_on_file
from include.steps.training.line_sentence import write_line_sentence_file
from include.steps.training.params import WORD2VEC_BOUNDS, Word2VecParams
from include.steps.training.plan import TrainingPlan, fetch_parts, training_plan
from include.storage.layout import data_store, staging_key, version_key
from include.storage.publish import version_id
from include.storage.run_records import RunOutcome, update_run_record
from include.storage.store import Store
from include.storage.version_files import record_written
from include.storage.versions import claim_version, find_by_content_hash
from include.text.tokens import tokenizer_version

#: This module's own names, and those of :mod:`include.steps.training` that callers import from
#: here (the plugin, run_conf, publish, write_similarity_report, benchmarks and tests).
__all__ = [
    "MAX_EPOCHS",
    "MODEL_FILE",
    "WORD2VEC_BOUNDS",
    "EpochsChoice",
    "TrainedVersion",
    "TrainingStats",
    "Unchanged",
    "Word2VecParams",
    "resolve_epochs",
    "train_version",
    "train_word2vec",
    "train_word2vec_on_file",
    "write_line_sentence_file",
]

log = logging.getLogger(__name__)

MODEL_FILE = "word2vec.model"


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
    plan = training_plan(
        store,
        corpus_id=corpus_id,
        dated=dated,
        window_end=window_end,
        history_days=int(history_days),
        params=params,
        phrase_settings=phrase_settings,
        model=model,
    )
    epochs_choice, digest = plan.epochs_choice, plan.content_hash
    contract = make_contract(plan.params.vector_size, tokenizer_version(), phrase_settings.phrases)
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
    log.info("training on %d partitions: %s", len(plan.partitions), plan.partitions)
    try:
        stats = _train_into_version(store, plan, version, run_id, started)
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
        partitions=plan.partitions,
        epochs_choice=epochs_choice,
        **stats,
    )


def _train_into_version(store: Store, plan: TrainingPlan, version: str, run_id: str, started: float) -> TrainingStats:
    """Fetch the planned partitions' part files, write the LineSentence file (with the phrases
    joined when they are on) and train, all in a local scratch folder; the model files (and
    ``phrases.json``) go to ``models/<version>/`` and are recorded for the manifest. ``started``:
    when the task began, for ``train_seconds``."""
    with tempfile.TemporaryDirectory(prefix="w2v-train-") as scratch:
        parts = fetch_parts(store, plan, Path(scratch))
        corpus_file = Path(scratch) / "corpus.txt"
        counts = WordCounts()
        with store.writer(version_key(version), Path(scratch)) as out:
            if plan.phrase_settings.enabled:
                write_phrased_training_file(
                    store, parts, plan.checksums, plan.phrase_settings, run_id, out.folder, corpus_file, counts
                )
            else:
                write_line_sentence_file(parts, corpus_file, counts=counts)
            stats = train_word2vec_on_file(corpus_file, counts, plan.params, out.folder / MODEL_FILE, started)
        record_written(store, run_id, "train_word2vec", out.files)
    return stats
