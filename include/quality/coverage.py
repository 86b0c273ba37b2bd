"""How many items a score was computed on, and how every score is shown with it.

A Spearman correlation over 2 of 999 pairs is noise, not a score: below the minimum an
evaluation is "not computable" (``None``), and wherever a score is shown, its coverage is shown
beside it (``0.41 (212/353 pairs)``).
"""

from __future__ import annotations

from typing import TypedDict

#: Fewest word pairs a similarity benchmark must score (both words in the vocabulary) to count:
#: below a few dozen pairs a Spearman correlation swings by more than the gate's tolerance.
MIN_PAIRS = 30
#: Fewest analogy questions answered for an accuracy to count.
MIN_QUESTIONS = 100


class Coverage(TypedDict):
    scored: int  #: items scored (pairs with both words known; questions with all four)
    total: int  #: items in the benchmark
    unit: str  #: ``pairs``, ``questions`` or ``words``


def format_score(value: float | None, coverage: Coverage | dict | None, digits: int = 3) -> str:
    """``0.412 (212/353 pairs)``; ``not computable (2/999 pairs)`` when ``value`` is ``None``;
    the bare value when no coverage is recorded (a version of the previous layout: ``0.412 (coverage
    not recorded)``)."""
    shown = "not computable" if value is None else f"{value:.{digits}f}"
    if not coverage:
        return shown if value is None else f"{shown} (coverage not recorded)"
    return f"{shown} ({coverage.get('scored', 0)}/{coverage.get('total', 0)} {coverage.get('unit', 'items')})"
