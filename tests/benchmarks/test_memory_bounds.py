"""Memory stays bounded however long a line is: measured in a child process (peak RSS)."""

import json
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow

_PROBE = textwrap.dedent("""
    import json, resource, sys
    from pathlib import Path
    sys.path.insert(0, {root!r})
    import pyarrow.parquet as pq
    import gensim.utils  # imported before the baseline: its own footprint is not the tokenizer's
    from include.steps.ingest_text import ingest_corpus, read_manifest
    from include.text.tokens import tokenize_files
    base = Path(sys.argv[1])
    corpus = base / "corpus"
    corpus.mkdir()
    words = b"alpha beta gamma delta epsilon zeta eta theta iota kappa "
    with open(corpus / "one-line.txt", "wb") as handle:   # one line, no newline at all
        for _ in range({repeats}):
            handle.write(words * 1000)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    ingest_corpus(corpus, base / "manifest.json")
    result = tokenize_files(read_manifest(base / "manifest.json"), base / "tokens")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rows = pq.read_table(base / "tokens", columns=["line", "chunk"]).to_pydict()
    print(json.dumps({{"before_kib": before, "peak_kib": peak, "tokens": result["tokens"], "rows": result["rows"],
                      "lines": sorted(set(rows["line"])), "chunks": rows["chunk"][:3] + rows["chunk"][-1:]}}))
""")


def _tokenize_one_line(tmp_path, repeats: int) -> dict:
    base = tmp_path / str(repeats)
    base.mkdir()
    script = base / "probe.py"
    script.write_text(_PROBE.format(root=str(PROJECT_ROOT), repeats=repeats))
    result = subprocess.run(
        [sys.executable, str(script), str(base)], capture_output=True, text=True, timeout=600, check=True
    )
    facts = json.loads(result.stdout.strip().splitlines()[-1])
    assert facts["tokens"] == repeats * 1000 * 10
    assert facts["lines"] == [1] and facts["rows"] == facts["tokens"] // 10_000
    assert facts["chunks"][:3] == [0, 1, 2] and facts["chunks"][-1] == facts["rows"] - 1
    return facts


def test_one_huge_line_is_chunked_and_memory_does_not_grow_with_it(tmp_path):
    """A line of 10 MB and one of 100 MB (no newline at all; 1.75 and 17.5 million tokens): the
    second costs no more memory than the first, so a line of any length fits."""
    small = _tokenize_one_line(tmp_path, 175)
    large = _tokenize_one_line(tmp_path, 1750)
    growth = [(facts["peak_kib"] - facts["before_kib"]) / 1024 for facts in (small, large)]
    assert growth[1] < growth[0] + 64, f"peak RSS growth {growth[0]:.0f} MiB for 10 MB, {growth[1]:.0f} MiB for 100 MB"
    assert growth[1] < 300, f"tokenizing one 100 MB line grew the process by {growth[1]:.0f} MiB"


_TOKENIZE_ONE_LINE = textwrap.dedent("""
    import sys
    from pathlib import Path
    sys.path.insert(0, {root!r})
    from include.steps.ingest_text import ingest_corpus, read_manifest
    from include.text.tokens import tokenize_files
    base = Path(sys.argv[1])
    corpus = base / "corpus"
    corpus.mkdir()
    words = b"alpha beta gamma delta epsilon zeta eta theta iota kappa "
    with open(corpus / "one-line.txt", "wb") as handle:   # one line, no newline at all
        for _ in range({repeats}):
            handle.write(words * 1000)
    ingest_corpus(corpus, base / "manifest.json")
    tokenize_files(read_manifest(base / "manifest.json"), base / "tokens")
""")

_TRAIN = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    sys.path.insert(0, {root!r})
    from include.steps.train_word2vec import Word2VecParams, train_word2vec
    base = Path(sys.argv[1])
    stats = train_word2vec(base / "tokens", Word2VecParams(vector_size=8, min_count=1, epochs=1, workers=1),
                           base / "model" / "word2vec.model")
    print(json.dumps(stats))
""")


def _train_on_one_line(tmp_path, repeats: int) -> tuple[dict, float]:
    """Tokenize a one-line corpus of ``repeats`` x 57 kB in one child, train on it in another;
    return the training's stats and the training child's peak RSS in MiB (from ``wait4``)."""
    import os

    base = tmp_path / f"train-{repeats}"
    base.mkdir()
    (base / "make_tokens.py").write_text(_TOKENIZE_ONE_LINE.format(root=str(PROJECT_ROOT), repeats=repeats))
    subprocess.run([sys.executable, str(base / "make_tokens.py"), str(base)], check=True, timeout=600)
    (base / "train.py").write_text(_TRAIN.format(root=str(PROJECT_ROOT)))
    with open(base / "stats.json", "wb") as out:
        child = subprocess.Popen([sys.executable, str(base / "train.py"), str(base)], stdout=out)
        _, status, usage = os.wait4(child.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return json.loads((base / "stats.json").read_text().strip().splitlines()[-1]), usage.ru_maxrss / 1024


def test_training_on_one_huge_line_does_not_grow_with_it(tmp_path):
    """The training step (LineSentence file, vocabulary, training, save) on a one-line corpus of
    10 MB and of 100 MB (1.75 and 17.5 million tokens, rows of 10,000): peak RSS of its process
    within 100 MiB of each other (main's writer joined whole 65,536-row batches in Python strings
    and peaked at 925 MiB on the 100 MB line)."""
    small_stats, small_peak = _train_on_one_line(tmp_path, 175)
    large_stats, large_peak = _train_on_one_line(tmp_path, 1750)
    assert (small_stats["corpus_words"], large_stats["corpus_words"]) == (1_750_000, 17_500_000)
    assert large_stats["sentences"] == 1750
    assert large_peak < small_peak + 100, f"peak RSS {small_peak:.0f} MiB for 10 MB, {large_peak:.0f} MiB for 100 MB"


_KERAS_PROBE = textwrap.dedent("""
    import json, resource, sys
    from pathlib import Path
    sys.path.insert(0, {root!r})
    import numpy as np
    from include.artifacts.embeddings import Embeddings
    from include.artifacts.keras_models import _keras, write_keras_models
    from include.quality.parity import check_parity
    _keras(); import tensorflow, gensim.models  # imported before the baseline: their footprint is not the step's
    base = Path(sys.argv[1])
    rows, dimensions = {rows}, 100
    np.save(base / "embeddings.npy", np.random.default_rng(0).standard_normal((rows, dimensions), dtype=np.float32))
    words = [f"w{{i}}" for i in range(rows)]
    embeddings = Embeddings(np.load(base / "embeddings.npy", mmap_mode="r"), dict(zip(words, range(rows))), words)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    write_keras_models(embeddings.vectors, embeddings.index_to_word, base / "keras")
    written = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    parity = check_parity(embeddings, base / "keras")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({{"before_kib": before, "written_kib": written, "peak_kib": peak,
                      "matrix_kib": rows * dimensions * 4 / 1024, "parity": parity["max_abs_diff_words"]}}))
""")


def test_keras_models_and_parity_hold_few_copies_of_the_matrix(tmp_path):
    """The Keras step on a 250,000 x 100 matrix (95 MiB): the four models share one layer and the
    parity check loads one model at a time, so its peak stays within a few copies of the matrix
    (at 1M words that is what keeps ``make run`` under 4 GiB). Four models each holding their own
    copy, or both parity models loaded at once, pass 8 copies."""
    script = tmp_path / "probe.py"
    script.write_text(_KERAS_PROBE.format(root=str(PROJECT_ROOT), rows=250_000))
    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=600, check=True
    )
    facts = json.loads(result.stdout.strip().splitlines()[-1])
    assert facts["parity"] < 1e-5
    copies = (facts["peak_kib"] - facts["before_kib"]) / facts["matrix_kib"]
    assert copies < 8, f"the Keras step grew by {copies:.1f} copies of the matrix: {facts}"
