"""A synthetic corpus of a requested size with a Zipf vocabulary (fixed seed): English-like word
frequencies, one sentence of 5 to 30 words per line written as English prose is (a capital first
word, commas, a full stop), ASCII only, split over several files."""

from __future__ import annotations

import string
from pathlib import Path

import numpy as np


def make_words(vocab: int, seed: int) -> list[str]:
    """``vocab`` distinct lowercase words of 2 to 12 letters (shorter words for frequent ranks)."""
    rng = np.random.default_rng(seed)
    letters = np.array(list(string.ascii_lowercase))
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < vocab:
        rank = len(words)
        length = int(np.clip(2 + np.log2(rank + 2) + rng.integers(0, 3), 2, 12))
        word = "".join(rng.choice(letters, size=length))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


#: With a floor, words come in groups of this many consecutive ranks that share their floor sentences.
GROUP = 11


def write_corpus(folder: Path, tokens: int, vocab: int, seed: int = 42, files: int = 8, floor: int = 0) -> dict:
    """Write about ``tokens`` tokens into ``files`` text files under ``folder``; returns the facts.

    ``floor`` > 0 puts every word in at least ``floor`` times, so ``min_count=floor`` keeps the
    whole vocabulary (a vocabulary of 1M words at 10M tokens, which a pure Zipf draw would need
    over 100M tokens for): ``vocab * floor`` tokens are sentences of ``GROUP`` words drawn from one
    group of ``GROUP`` consecutive ranks (so each word's nearest neighbours are its group, as
    related words are in real text; with words drawn independently every neighbour is a tie),
    the rest Zipf-drawn sentences, in random order. ``floor`` 0 gives the plain Zipf corpus.
    """
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    words = np.array(make_words(vocab, seed))
    ranks = np.arange(1, vocab + 1)
    probabilities = 1.0 / ranks**1.07
    probabilities /= probabilities.sum()
    per_file = tokens // files
    written = 0
    for number in range(files):
        each = np.empty(0, dtype=np.int64)
        if floor:
            groups = np.arange(number, -(-vocab // GROUP), files)  # this file's share of the groups
            members = (groups[:, None] * GROUP + np.arange(GROUP)).reshape(-1)
            each = np.repeat(members[members < vocab], floor)
            each = each[np.lexsort((rng.random(len(each)), each // GROUP))]  # group by group, shuffled within
            if len(each) > per_file:
                raise ValueError(f"floor={floor} x vocab={vocab:,} needs more than tokens={tokens:,}")
        zipf = per_file - len(each)
        drawn = rng.choice(vocab, size=zipf, p=probabilities)
        lengths = rng.integers(5, 31, size=zipf // 5 + 1)
        bounds = np.cumsum(lengths)
        bounds = bounds[bounds < zipf]
        if floor:
            drawn = np.concatenate([drawn, each])
            bounds = np.concatenate([bounds, zipf + np.arange(0, len(each), GROUP)])
            bounds = bounds[(bounds > 0) & (bounds < per_file)]
        commas = rng.random(per_file) < 0.08
        sentences, marks = np.split(words[drawn], bounds), np.split(commas, bounds)
        order = rng.permutation(len(sentences)) if floor else range(len(sentences))
        with open(folder / f"part-{number:02d}.txt", "w", encoding="utf-8") as handle:
            for position in order:
                sentence = [
                    word + "," if c else word for word, c in zip(sentences[position].tolist(), marks[position].tolist())
                ]
                sentence[0] = sentence[0].capitalize()
                handle.write(" ".join(sentence).rstrip(","))
                handle.write(".\n")
        written += per_file
    return {"tokens": written, "vocab": vocab, "files": files, "bytes": sum(p.stat().st_size for p in folder.iterdir())}


if __name__ == "__main__":  # corpus.py FOLDER TOKENS VOCAB [FILES [FLOOR]]: write it, print its facts as JSON
    import json
    import sys

    folder, tokens, vocab = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    files = int(sys.argv[4]) if len(sys.argv) > 4 else 8
    floor = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    print(json.dumps({**write_corpus(folder, tokens, vocab, files=files, floor=floor), "floor": floor}))
