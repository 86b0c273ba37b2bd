"""Corpora the tests generate: deterministic, small, and shaped to make a test's point."""

from __future__ import annotations

import random
from pathlib import Path

FILLERS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
]


def wordsim_corpus(path: Path, seed: int = 3) -> Path:
    """A corpus where WordSim-353 pairs rated 6 or more co-occur and the others never do, so a
    well-trained model scores a clearly positive Spearman (about 0.58 with 10 epochs, 32 dims) and a
    barely trained one (1 epoch, 2 dims) a clearly lower one (about 0.41)."""
    from gensim.test.utils import datapath

    rng = random.Random(seed)
    lines = []
    for row in open(datapath("wordsim353.tsv"), encoding="utf-8"):
        if row.startswith("#"):
            continue
        first, second, score = row.strip().split("\t")
        first, second, score = first.lower(), second.lower(), float(score)
        if score >= 6:
            for _ in range(int(score * 3)):
                lines.append(" ".join([first, second] + [rng.choice([first, second]) for _ in range(4)]))
        else:
            for word in (first, second):
                lines += [" ".join([word] + rng.sample(FILLERS, 4)) for _ in range(10)]
    rng.shuffle(lines)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def dated_corpus(root: Path, days: list[str], lines_per_day: int = 60) -> Path:
    """``root/<day>/news.txt`` for each day, each day with its own words (``topic<n>``) beside shared ones."""
    rng = random.Random(5)
    shared = ["market", "city", "river", "people", "school", "report", "weather", "train"]
    for number, day in enumerate(days):
        own = [f"topic{number}word{k}" for k in range(5)]
        lines = [" ".join(rng.choice(shared + own) for _ in range(10)) for _ in range(lines_per_day)]
        (root / day).mkdir(parents=True, exist_ok=True)
        (root / day / "news.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def random_word_corpus(path: Path, seed: int, lines: int = 20_000, words: int = 400) -> Path:
    """One file of ``lines`` lines of 12 words each, drawn from ``words`` random 6-letter words:
    no structure to learn, but enough text that each training epoch takes a moment (the fault
    tests catch a task mid-epoch). Deterministic for a ``seed``; returns ``path``."""
    rng = random.Random(seed)
    vocabulary = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(6)) for _ in range(words)]
    text = [" ".join(rng.choice(vocabulary) for _ in range(12)) for _ in range(lines)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    return path
