"""Phrases (``new york`` -> ``new_york``): learned from the training partitions, stored as JSON,
trained on, reported, and applied the same way by the model store; plus the cross-field rules of
the new Params, each refused naming the Param."""

import hashlib
import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from include.artifacts.embeddings import load_embeddings
from include.artifacts.phrases import (
    PHRASES_FILE,
    PhraseApplier,
    PhraseParams,
    learn_phrases,
    most_frequent_phrases,
    phrase_report,
    read_phrases,
)
from include.errors import PipelineInputError
from include.registry.registry import ModelRegistry
from include.serving.model_store import ModelStore
from include.steps.detect_phrases import NothingToLearn, detect_phrases, staged_phrases_key
from include.steps.run_conf import check_params
from include.steps.train_word2vec import Word2VecParams, train_version
from include.steps.write_similarity_report import render_html
from include.storage.layout import data_store
from tests.conftest import PROJECT_ROOT, synthetic_sentences
from tests.unit.test_word2vec_params import GOLDEN_EMBEDDINGS_SHA256, GOLDEN_VOCAB_SHA256

GOLDEN_PARAMS = Word2VecParams(vector_size=16, window=3, min_count=2, epochs=3, workers=1, seed=1)
#: Phrases a tiny corpus can learn: its vocabulary is small, so the default score stays low.
SMALL = {"phrases_min_count": 3, "phrases_threshold": 0.5, "phrases_scoring": "npmi"}


def phrase_lines() -> list[str]:
    """The synthetic sentences with two phrases woven in: 'new york city' and 'children of israel'."""
    lines = []
    for number, line in enumerate(synthetic_sentences()):
        if number % 3 == 0:
            line = f"{line} in new york city"
        if number % 5 == 0:
            line = f"the children of israel {line}"
        lines.append(line)
    return lines


def _tokens(lines):
    from gensim.utils import simple_preprocess

    return [simple_preprocess(line) for line in lines]


def _commit(data_root: Path, tokens_dir: Path) -> Path:
    """``tokens_dir`` (a tokenized partition) committed as corpus ``c``'s snapshot under the data
    root: its ``_SUCCESS.json`` names its part files, as ``commit_tokens`` writes it."""
    corpus_tokens = data_root / "tokens" / "c"
    shutil.copytree(tokens_dir, corpus_tokens / "snapshot")
    summary_path = corpus_tokens / "snapshot" / "_SUCCESS.json"
    summary = json.loads(summary_path.read_text())
    summary["parts"] = sorted(p.name for p in (corpus_tokens / "snapshot").glob("*.parquet"))
    summary_path.write_text(json.dumps(summary))
    return corpus_tokens


def _publish_copy(source: Path, models: Path, name: str, champion: bool = False) -> Path:
    """A copy of a built version folder published under ``models/<name>`` (with a manifest); with
    ``champion``, ``default@champion`` moved to it."""
    folder = models / name
    shutil.copytree(source, folder)
    (folder / "manifest.json").write_text(json.dumps({"version": name}))
    if champion:
        ModelRegistry(data_store()).move_alias("default", "champion", name, actor="test", reason="setup")
    return folder


@pytest.fixture
def phrase_tokens(tmp_path) -> Path:
    from include.steps.ingest_text import ingest_corpus, read_manifest
    from include.text.tokens import tokenize_files

    corpus = tmp_path / "phrases.txt"
    corpus.write_text("\n".join(phrase_lines()) + "\n", encoding="utf-8")
    ingest_corpus(corpus, tmp_path / "manifest.json")
    return Path(tokenize_files(read_manifest(tmp_path / "manifest.json"), tmp_path / "tokens")["path"])


def _run(corpus_tokens: Path, run_id: str, settings: PhraseParams, params: Word2VecParams = GOLDEN_PARAMS):
    common = {"corpus_id": "c", "dated": False, "window_end": None, "history_days": 0}
    facts = detect_phrases(**common, settings=settings, run_id=run_id)
    trained = train_version(
        **common,
        params=params,
        run_id=run_id,
        data_time=datetime(2026, 11, 2, tzinfo=UTC),
        phrase_settings=settings,
    )
    return facts, trained


# --- the new Params' rules -------------------------------------------------------------------


@pytest.mark.parametrize(
    "params, name",
    [
        ({"negative": 0, "hs": 0}, "negative=0 with hs=0"),
        ({"alpha": 0.01, "min_alpha": 0.02}, "min_alpha=0.02 is larger than alpha=0.01"),
        ({"alpha": 0}, "alpha=0 is outside"),
        ({"hs": 2}, "hs=2 is outside"),
        ({"ns_exponent": 1.5}, "ns_exponent=1.5 is outside"),
        ({"cbow_mean": 3}, "cbow_mean=3 is outside"),
        ({"shrink_windows": 1}, "shrink_windows=1 must be a bool"),
        ({"max_final_vocab": -5}, "max_final_vocab=-5 is outside"),
        ({"phrases": 3}, "phrases=3 must be 0"),
        ({"phrases": 1, "phrases_threshold": 0}, "phrases_threshold=0 must be above 0 with phrases_scoring='default'"),
        ({"phrases": 1, "phrases_scoring": "npmi"}, r"phrases_threshold=10.0 is outside -1..1.*phrases_scoring='npmi'"),
        ({"phrases_scoring": "pmi"}, "phrases_scoring='pmi' must be"),
        ({"phrases_min_count": 0}, "phrases_min_count=0 must be"),
    ],
)
def test_bad_combinations_are_refused_naming_the_param(params, name):
    with pytest.raises(PipelineInputError, match=name):
        check_params({"corpus_path": "bundled:lee", "epochs": 5, **params})


def test_hierarchical_softmax_alone_and_every_new_knob_reach_gensim(trained_version, tmp_path):
    from gensim.models import Word2Vec

    from include.steps.train_word2vec import train_word2vec

    params = Word2VecParams(
        vector_size=8,
        min_count=1,
        epochs=1,
        workers=1,
        negative=0,
        hs=1,
        alpha=0.05,
        min_alpha=0.001,
        ns_exponent=0.5,
        cbow_mean=0,
        shrink_windows=False,
        max_final_vocab=10,
    )
    train_word2vec(trained_version["tokens_dir"], params, tmp_path / "w.model")
    model = Word2Vec.load(str(tmp_path / "w.model"))
    assert (model.hs, model.negative, model.alpha, model.min_alpha, model.ns_exponent, model.cbow_mean) == (
        1,
        0,
        0.05,
        0.001,
        0.5,
        0,
    )
    assert model.shrink_windows is False and model.max_final_vocab == 10 and len(model.wv) <= 10


# --- learning and applying -------------------------------------------------------------------


def test_learning_streams_once_per_pass_and_the_json_rebuilds_gensims_own_phraser():
    from gensim.models.phrases import ENGLISH_CONNECTOR_WORDS, Phrases

    rows = _tokens(phrase_lines())
    calls = []

    def stream():
        calls.append(1)
        return iter(rows)  # an iterator: it cannot be read twice, so each pass must ask again

    document = learn_phrases(stream, PhraseParams(phrases=2, **SMALL))
    assert len(calls) == 2
    document = json.loads(json.dumps(document, allow_nan=False))  # strict JSON round trip
    applier = PhraseApplier(document)
    gensim_model = Phrases(
        rows, min_count=3, threshold=0.5, scoring="npmi", connector_words=ENGLISH_CONNECTOR_WORDS
    ).freeze()
    first_pass = PhraseApplier({**document, "passes": document["passes"][:1]})
    assert all(first_pass(row) == gensim_model[row] for row in rows)
    assert applier(["the", "children", "of", "israel", "saw", "new", "york", "city"]) == [
        "the",
        "children_of_israel",
        "saw",
        "new_york_city",
    ]
    assert {"children_of_israel", "new_york"} <= {p["phrase"] for p in most_frequent_phrases(document, 5)}


def test_phrases_off_skip_the_step_and_reproduce_todays_vectors_byte_for_byte(trained_version, data_root):
    corpus_tokens = _commit(data_root, trained_version["tokens_dir"])
    facts, trained = _run(corpus_tokens, "run-off", PhraseParams(phrases=0, phrases_threshold=99))
    assert isinstance(facts, NothingToLearn) and not data_store().exists(staged_phrases_key("run-off"))
    version_dir = Path(trained["version_dir"])
    assert not (version_dir / PHRASES_FILE).exists()
    assert hashlib.sha256((version_dir / "vocab.json").read_bytes()).hexdigest() == GOLDEN_VOCAB_SHA256
    assert hashlib.sha256((version_dir / "embeddings.npy").read_bytes()).hexdigest() == GOLDEN_EMBEDDINGS_SHA256["cbow"]


def test_phrased_training_puts_the_phrases_in_vocab_and_the_version(phrase_tokens, data_root):
    corpus_tokens = _commit(data_root, phrase_tokens)
    settings = PhraseParams(phrases=2, **SMALL)
    facts, trained = _run(corpus_tokens, "run-on", settings)
    assert facts["phrases"] >= 3 and facts["partitions"] == ["snapshot"]
    version_dir = Path(trained["version_dir"])
    vocab = json.loads((version_dir / "vocab.json").read_text())
    assert {"children_of_israel", "new_york_city"} <= set(vocab)
    assert not {"york", "israel"} & set(vocab)  # every occurrence was joined
    stored = read_phrases(version_dir)
    assert stored["settings"] == settings.as_dict() and stored["inputs"]
    assert b"\x80" not in (version_dir / PHRASES_FILE).read_bytes()[:2]  # JSON, not a pickle

    report = phrase_report(stored, load_embeddings(version_dir).word_to_index)
    top = [p["phrase"] for p in report["most_frequent"]]
    assert "new_york" in top and report["in_vocab"] >= 2
    html = render_html({"phrases": report, **_minimal_report()}, b"png")
    assert "children_of_israel" in html and 'id="phrase-table"' in html

    # the content hash covers the phrase settings: other settings, another version
    _, other = _run(corpus_tokens, "run-other", PhraseParams(phrases=1, **SMALL))
    assert other["content_hash"] != trained["content_hash"]


def test_phrased_training_refuses_a_partition_holding_a_token_with_a_tab(phrase_tokens, data_root):
    """A part file not written by the tokenizer, one of whose tokens holds a tab: the phrased
    LineSentence file would split it, so training stops naming the part files and the token. (A
    plain space inside a token becomes ``_``: gensim's phrase analysis takes it for its separator.)"""
    import pyarrow as pa
    import pyarrow.parquet as pq

    part = next(phrase_tokens.glob("*.parquet"))
    table = pq.read_table(part)
    rows = table.column("tokens").to_pylist()
    rows[0] = [*rows[0], "new\tyork"]
    column = table.schema.get_field_index("tokens")
    pq.write_table(table.set_column(column, "tokens", pa.array(rows, table.schema.field("tokens").type)), part)
    corpus_tokens = _commit(data_root, phrase_tokens)
    with pytest.raises(PipelineInputError, match=r"token rows of \[.*\.parquet.*hold whitespace.*'new\\tyork'"):
        _run(corpus_tokens, "run-spaced", PhraseParams(phrases=1, **SMALL))


def test_training_learns_again_when_the_staged_phrases_belong_to_other_data(phrase_tokens, data_root, caplog):
    _commit(data_root, phrase_tokens)
    settings = PhraseParams(phrases=1, **SMALL)
    detect_phrases(
        corpus_id="c",
        dated=False,
        window_end=None,
        history_days=0,
        settings=settings,
        run_id="stale",
    )
    staged = data_store().key_url(staged_phrases_key("stale"))
    document = json.loads(Path(staged).read_text())
    Path(staged).write_text(
        json.dumps({**document, "inputs": ["snapshot:other"], "passes": [{"scores": {}, "counts": {}}]})
    )
    trained = train_version(
        corpus_id="c",
        dated=False,
        window_end=None,
        history_days=0,
        params=GOLDEN_PARAMS,
        run_id="stale",
        data_time=datetime(2026, 11, 2, tzinfo=UTC),
        phrase_settings=settings,
    )
    assert "learning them again" in caplog.text
    assert read_phrases(Path(trained["version_dir"]))["passes"][0]["scores"]


# --- serving ---------------------------------------------------------------------------------


def test_model_store_and_cli_turn_raw_text_into_the_models_tokens(phrase_tokens, data_root):
    corpus_tokens = _commit(data_root, phrase_tokens)
    _, trained = _run(corpus_tokens, "serve", PhraseParams(phrases=2, **SMALL))
    _publish_copy(Path(trained["version_dir"]), data_root / "models", "20261102T000000Z-bbbbbbbb", champion=True)

    model = ModelStore().load()
    assert model.tokens("The Children of Israel saw New York City!") == [
        "the",
        "children_of_israel",
        "saw",
        "new_york_city",
    ]
    assert "new_york_city" in model and model.neighbours(model.tokens("new york city")[0], k=2)

    result = subprocess.run(
        [sys.executable, "-m", "include.cli", "--json", "tokens", "children", "of", "Israel"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"EMBEDDINGS_DATA_DIR": str(data_root), "PATH": "/usr/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["tokens"] == ["children_of_israel"]


def test_a_version_without_phrases_tokenizes_like_simple_preprocess(trained_version, data_root):
    _publish_copy(trained_version["version_dir"], data_root / "models", "20261101T000000Z-11111111")
    assert ModelStore().load("20261101T000000Z-11111111").tokens("New York") == ["new", "york"]


def _minimal_report() -> dict:
    """The keys ``report.html.j2`` needs beside ``phrases``."""
    evaluation = {name: {"spearman": None, "oov_ratio": 1.0} for name in ("wordsim353", "simlex999")}
    evaluation["analogies"] = {"accuracy": None, "oov_ratio": 1.0}
    return {
        "version": "v",
        "params": {},
        "corpus": {"files": 1, "lines": 1, "tokens": 1},
        "vocab_size": 1,
        "vector_size": 2,
        "top_k": 1,
        "probe_words": [],
        "neighbours": {},
        "oov_probe_words": [],
        "evaluation": evaluation,
        "drift": None,
        "history": [],
        "parity": {
            "pairs": 0,
            "max_abs_diff": 0.0,
            "max_abs_diff_words": 0.0,
            "unknown_word_similarity": 0.0,
            "tolerance": 1e-5,
        },
    }


def test_a_rerun_of_a_published_version_learns_no_phrases(phrase_tokens, data_root):
    corpus_tokens = _commit(data_root, phrase_tokens)
    settings = PhraseParams(phrases=1, **SMALL)
    _, trained = _run(corpus_tokens, "first", settings)
    published = data_root / "models" / "20261102T000000Z-cccccccc"
    published.mkdir(parents=True)
    (published / "manifest.json").write_text(
        json.dumps({"version": published.name, "content_hash": trained["content_hash"], "corpus_id": "c"})
    )
    common = {"corpus_id": "c", "dated": False, "window_end": None, "history_days": 0}
    again = detect_phrases(**common, settings=settings, run_id="again", params=GOLDEN_PARAMS)
    assert isinstance(again, NothingToLearn) and published.name in again.reason
    assert not data_store().exists(staged_phrases_key("again"))
    other = detect_phrases(**common, settings=settings, run_id="other", params=Word2VecParams(epochs=2))
    assert not isinstance(other, NothingToLearn)  # other params: another version, its phrases are learned
