"""Versions by declaration: editing a comment or a docstring of the tokenizer or of training
retokenizes and retrains nothing (include/versions.py). The edit is made in a copy of the code, run
in a process of its own against the data root the unedited code wrote."""

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime

from include.steps.train_word2vec import Unchanged
from tests.conftest import PROJECT_ROOT
from tests.unit.test_step_decisions import _committed_tokens, _train, _version

AGAIN = """
import json
from datetime import UTC, datetime
from include.steps.ingest_text import ingest_text
from include.steps.train_word2vec import Unchanged, Word2VecParams, train_version
facts = ingest_text("corpus", run_id="edited", conf={}, declared_params=[])
result = train_version(corpus_id=facts["corpus_id"], dated=False, window_end=None, history_days=0,
    params=Word2VecParams(vector_size=8, window=2, min_count=1, epochs=1, workers=1, seed=1),
    run_id="edited", data_time=datetime(2026, 11, 3, tzinfo=UTC))
print(json.dumps({"reused": facts["reused_partitions"], "shards": facts["shards"],
                  "unchanged": isinstance(result, Unchanged), "version": getattr(result, "version", None)}))
"""


def test_a_comment_or_docstring_edit_retokenizes_and_retrains_nothing(small_corpus, tmp_path):
    facts = _committed_tokens("first")
    trained = _train("first", facts)
    assert not isinstance(trained, Unchanged)
    _version(trained["version"], trained["data_time"], content_hash=trained["content_hash"])

    copy = tmp_path / "project"
    shutil.copytree(PROJECT_ROOT / "include", copy / "include", ignore=shutil.ignore_patterns("__pycache__"))
    training = ("steps/train_word2vec.py", "steps/training/plan.py", "steps/training/gensim_word2vec.py")
    for module in ("text/tokens.py", "text/fast_tokens.py", "text/files.py", *training, "storage/publish.py"):
        path = copy / "include" / module
        source = path.read_text(encoding="utf-8")
        path.write_text(source.replace('"""', '"""An edited docstring. ', 1) + "\n# a comment\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(copy)}
    done = subprocess.run([sys.executable, "-c", AGAIN], cwd=copy, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "An edited docstring" in (copy / "include/text/tokens.py").read_text()
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome == {"reused": 1, "shards": 0, "unchanged": True, "version": trained["version"]}
    assert datetime(2026, 11, 3, tzinfo=UTC) > datetime.fromisoformat(trained["data_time"])
