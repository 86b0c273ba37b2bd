"""The Word2Vec hyper-parameters (:class:`Word2VecParams`, what the DAG's Params become) and the
checks of their bounds and cross-field rules."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

from include.errors import PipelineInputError


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
    epochs: int | str = 5  #: passes, or ``"auto"`` (see :mod:`.epochs`); the DAG's default is ``"auto"``
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
