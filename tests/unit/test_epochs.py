"""``epochs: auto``: the passes fit the corpus size, an explicit number is used as given, and the
version's content hash covers the passes actually trained."""

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from include.errors import PipelineInputError
from include.steps.commit_tokens import commit_tokens
from include.steps.ingest_text import ingest_text
from include.steps.tokenize_to_parquet import tokenize_to_parquet
from include.steps.train_word2vec import Unchanged, Word2VecParams, train_version, train_word2vec
from include.steps.training.epochs import AUTO_EPOCHS_MAX, AUTO_EPOCHS_MIN, resolve_epochs

SMALL = {"vector_size": 8, "window": 2, "min_count": 1, "workers": 1, "seed": 1}


def test_auto_gives_small_corpora_more_passes_and_large_ones_gensims_five():
    lee = resolve_epochs("auto", 58_152)
    assert lee["epochs"] == 35 and lee["requested"] == "auto" and lee["corpus_words"] == 58_152
    assert "35 passes over 58,152 tokens" in lee["reason"] and "2,000,000 tokens" in lee["reason"]
    assert resolve_epochs("auto", 400_000)["epochs"] == AUTO_EPOCHS_MIN == 5
    big = resolve_epochs("auto", 5_000_000)
    assert big["epochs"] == 5 and "at least gensim's 5" in big["reason"]
    tiny = resolve_epochs("auto", 1_000)
    assert tiny["epochs"] == AUTO_EPOCHS_MAX == 50 and "capped at 50" in tiny["reason"]
    assert resolve_epochs("auto", 0)["epochs"] == 50  # an empty corpus fails later, naming min_count


def test_an_explicit_number_is_used_as_given_and_bad_values_name_the_param():
    assert resolve_epochs(7, 58_152) == {
        "epochs": 7,
        "requested": 7,
        "corpus_words": 58_152,
        "reason": "epochs 7: as requested (58,152 tokens per pass)",
    }
    for bad in (0, 201, "ten", "30", 2.5, True, None):
        with pytest.raises(PipelineInputError, match="epochs must be a whole number from 1 to 200 or 'auto'"):
            resolve_epochs(bad, 1000)


def _vectors_digest(model_path: Path) -> str:
    from gensim.models import Word2Vec

    return hashlib.sha256(Word2Vec.load(str(model_path)).wv.vectors.tobytes()).hexdigest()


def test_auto_trains_byte_identically_to_the_number_it_resolves_to(trained_version, tmp_path):
    tokens = trained_version["tokens_dir"]
    auto = train_word2vec(tokens, Word2VecParams(**SMALL, epochs="auto"), tmp_path / "auto" / "w2v.model")
    passes = resolve_epochs("auto", auto["corpus_words"])["epochs"]
    assert auto["epochs"] == passes > AUTO_EPOCHS_MIN  # the synthetic corpus is small
    explicit = train_word2vec(tokens, Word2VecParams(**SMALL, epochs=passes), tmp_path / "n" / "w2v.model")
    assert explicit["epochs"] == passes
    assert _vectors_digest(tmp_path / "auto" / "w2v.model") == _vectors_digest(tmp_path / "n" / "w2v.model")


def _train(run_id: str, facts: dict, epochs):
    return train_version(
        corpus_id=facts["corpus_id"],
        dated=False,
        window_end=None,
        history_days=0,
        params=Word2VecParams(**SMALL, epochs=epochs),
        run_id=run_id,
        data_time=datetime(2026, 11, 2, tzinfo=UTC),
    )


def test_the_content_hash_covers_the_resolved_passes(small_corpus):
    facts = ingest_text("corpus", run_id="r", conf={}, declared_params=[])
    for shard in range(facts["shards"]):
        tokenize_to_parquet(facts["manifest_path"], shard, "r")
    facts = {**facts, **commit_tokens(facts["manifest_path"], facts["corpus_id"], "r", datetime.now(UTC).date())}

    auto = _train("auto", facts, "auto")
    choice = auto["epochs_choice"]
    # chosen from the partitions' _SUCCESS.json before hashing: the same tokens gensim counts
    assert choice["corpus_words"] == auto["corpus_words"] and choice["requested"] == "auto"
    assert choice["epochs"] == resolve_epochs("auto", auto["corpus_words"])["epochs"] == auto["epochs"]
    same = _train("same", facts, choice["epochs"])
    assert isinstance(same, Unchanged) and same.version == auto["version"]  # the same passes, the same version
    other = _train("other", facts, choice["epochs"] - 1)
    assert other["content_hash"] != auto["content_hash"] and other["epochs_choice"]["requested"] == choice["epochs"] - 1


def test_training_refuses_a_bad_epochs_value_naming_it(trained_version, tmp_path):
    with pytest.raises(PipelineInputError, match="epochs must be a whole number"):
        train_word2vec(trained_version["tokens_dir"], Word2VecParams(**SMALL, epochs=0), tmp_path / "w2v.model")
    assert list(tmp_path.iterdir()) == []  # its LineSentence file removed, nothing saved
