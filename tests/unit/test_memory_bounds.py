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
