"""How many passes training makes: the ``epochs`` Param, a number or ``"auto"``, resolved against the
corpus size (:func:`resolve_epochs`), with the reason recorded in ``report.json``."""

from __future__ import annotations

import math
from typing import TypedDict

from include.errors import PipelineInputError

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
