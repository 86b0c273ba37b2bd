import json

import pytest

from include.artifacts.embeddings import load_embeddings
from include.quality.drift import compare_versions
from include.quality.evaluation import evaluate_keyed_vectors
from include.quality.parity import check_parity
from include.steps.write_similarity_report import build_report, history_png, pca_map_png, render_html, write_report


def measured(emb, keras_dir, pairs):
    """What the steps before the report measure: parity (build_keras_model), evaluation (evaluate_embeddings)."""
    return {
        "parity": check_parity(emb, keras_dir, pairs=pairs, seed=0),
        "evaluation": evaluate_keyed_vectors(emb.to_keyed_vectors()),
    }


@pytest.fixture(scope="module")
def report(trained_version):
    emb = load_embeddings(trained_version["version_dir"])
    return build_report(
        emb,
        version="20260101T000000Z-abcdef12",
        params={"corpus_path": "/x/<i>corpus</i>", "epochs": 3},
        corpus={"files": 1, "lines": 2, "tokens": 3},
        probe_words=["king", "<script>alert(1)</script>", "", "nope"],
        top_k=4,
        **measured(emb, trained_version["version_dir"] / "keras", 30),
    )


def test_report_has_the_contract_keys(report):
    for key in (
        "schema_version",
        "version",
        "params",
        "corpus",
        "vocab_size",
        "neighbours",
        "oov_probe_words",
        "parity",
        "evaluation",
    ):
        assert key in report
    assert report["schema_version"] == 1
    assert list(report["neighbours"]) == ["king"]
    assert len(report["neighbours"]["king"]) == 4
    assert all(word != "king" for word, _ in report["neighbours"]["king"])
    assert report["oov_probe_words"] == ["<script>alert(1)</script>", "", "nope"]
    assert report["parity"]["pairs"] == 30


def test_default_probe_words_when_none_given(trained_version):
    emb = load_embeddings(trained_version["version_dir"])
    result = build_report(
        emb,
        version="v",
        params={},
        corpus={},
        probe_words=[],
        top_k=2,
        **measured(emb, trained_version["version_dir"] / "keras", 5),
    )
    assert 0 < len(result["neighbours"]) <= 20
    assert "the" not in result["neighbours"] and "and" not in result["neighbours"]
    assert result["oov_probe_words"] == []


def test_html_escapes_corpus_and_conf_text(report, trained_version):
    emb = load_embeddings(trained_version["version_dir"])
    html = render_html(report, pca_map_png(emb))
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "<i>corpus</i>" not in html
    assert 'src="data:image/png;base64,' in html
    assert html.count('class="neighbour-table"') == 1


def test_write_report_outputs_valid_json_and_png(report, trained_version, tmp_path):
    emb = load_embeddings(trained_version["version_dir"])
    paths = write_report(report, emb, tmp_path / "report")
    assert json.loads(open(paths["report_json"], encoding="utf-8").read()) == report
    assert pca_map_png(emb).startswith(b"\x89PNG")
    assert sorted(p.name for p in (tmp_path / "report").iterdir()) == ["report.html", "report.json"]


def test_drift_and_history_sections(trained_version, tmp_path):
    emb = load_embeddings(trained_version["version_dir"])
    history = [{"version": "v0", "data_time": "2026-11-01", "evaluation": {"wordsim353": {"spearman": 0.1}}}]
    result = build_report(
        emb,
        version="v1",
        params={},
        corpus={"data_time": "2026-11-02"},
        probe_words=["king"],
        top_k=3,
        drift=compare_versions(emb, emb, ["king"], 3, "v0"),
        history=history,
        **measured(emb, trained_version["version_dir"] / "keras", 5),
    )
    assert result["drift"]["previous_version"] == "v0"
    assert result["drift"]["probe_jaccard"] == {"king": 1.0}, "identical embeddings do not drift"
    assert [entry["version"] for entry in result["history"]] == ["v0", "v1"]
    html = render_html(result, pca_map_png(emb), history_png(result["history"]))
    assert 'id="drift-probes"' in html and 'id="history-plot"' in html
    assert history_png(result["history"][:1]) is None


def _neighbours(top1: list[float]) -> dict:
    return {f"w{i}": [["x", cosine], ["y", cosine - 0.1]] for i, cosine in enumerate(top1)}


def test_undertraining_is_flagged_when_most_probe_words_have_a_neighbour_at_cosine_099():
    from include.quality.similarity import undertraining

    flagged = undertraining(_neighbours([1.0] * 14 + [0.95] * 6))  # Lee at 10 epochs: 14 of 20
    assert flagged["undertrained"] and flagged["top1_at_or_above"] == 14 and flagged["probe_words"] == 20
    assert flagged["share"] == 0.7 and flagged["mean_top1_cosine"] == pytest.approx(0.985)
    assert not undertraining(_neighbours([0.999] * 2 + [0.8] * 18))["undertrained"]  # Lee at 15 epochs
    assert not undertraining({})["undertrained"] and undertraining({"w": []})["share"] is None


def test_the_report_warns_in_words_with_the_likely_cause_and_report_json_carries_the_flag(report, trained_version):
    from include.quality.similarity import undertraining
    from include.steps.write_similarity_report import training_warning

    assert report["training"]["undertrained"] in (True, False) and "warning" in report["training"]
    signs = undertraining(_neighbours([1.0] * 20))
    explicit = training_warning(signs, {"epochs": 5, "epochs_requested": 5}, {"tokens": 58152})
    assert explicit["undertrained"] and explicit["warning"].startswith("Undertrained: 20 of 20 probe words")
    assert "too few epochs for a corpus this small (5 epochs over 58,152 tokens)" in explicit["warning"]
    auto = training_warning(signs, {"epochs": 50, "epochs_requested": "auto"}, {"tokens": 900})
    assert "too small a corpus (50 epochs over 900 tokens, as epochs auto chose)" in auto["warning"]
    fine = training_warning(undertraining(_neighbours([0.8] * 20)), {"epochs": 35}, {"tokens": 58152})
    assert not fine["undertrained"] and fine["warning"] is None

    emb = load_embeddings(trained_version["version_dir"])
    html = render_html({**report, "training": explicit}, pca_map_png(emb))
    assert 'id="undertrained-warning"' in html and "too few epochs for a corpus this small" in html
    assert 'id="undertrained-warning"' not in render_html({**report, "training": fine}, pca_map_png(emb))
    chosen = {"epochs": 35, "requested": "auto", "corpus_words": 58152, "reason": "epochs auto: 35 passes over …"}
    assert "epochs auto: 35 passes over" in render_html({**report, "epochs_choice": chosen}, pca_map_png(emb))


def test_report_html_shows_the_neighbour_table_method_and_what_each_part_covers(report, trained_version):
    assert report["bounds"]["parity"] == "30 random word pairs"
    with_table = {
        **report,
        "neighbour_table": {
            "words": 1_000_000,
            "k": 10,
            "method": "hnsw",
            "recall_at_k": 0.97,
            "recall_sample": 1000,
            "exact_max": 100_000,
        },
    }
    html = render_html(with_table, pca_map_png(load_embeddings(trained_version["version_dir"])))
    assert "<b>hnsw</b>, recall@10 0.97" in html and "on 1000 random words" in html
    assert "30 random word pairs" in html and "most frequent words (gensim&#39;s restrict_vocab)" in html


def test_html_shows_the_gate_table_and_every_score_with_its_coverage(report, trained_version):
    from include.quality.gate import decide

    emb = load_embeddings(trained_version["version_dir"])
    paired = {
        "wordsim353": {
            "value": 0.41,
            "reference": 0.45,
            "delta": -0.04,
            "delta_se": 0.02,
            "coverage": {"scored": 212, "total": 353, "unit": "pairs"},
        }
    }
    facts = {"vocab_size": 900, "degenerate": {"value": 0.7, "words": 100}, "paired": paired}
    champion = {"version": "20260101T000000Z-c0ffee00", "training": {"vocab_size": 1000, "corpus_words": 5000}}
    gate = decide(facts, champion, 0.05, corpus_tokens=1000)
    html = render_html({**report, "gate": gate}, pca_map_png(emb))
    assert 'id="gate-table"' in html and "Quality gate" in html
    assert "0.410 (212/353 pairs)" in html and "0.450 (212/353 pairs)" in html
    assert "&gt;= 0.5 x champion" in html and "failed" in html and "not computable" in html
    assert "corpus tokens failed" in gate["reason"]
    evaluation = report["evaluation"]["wordsim353"]
    shown = f"({evaluation['scored']}/353 pairs)"
    assert shown in html, "the evaluation table shows each score's coverage"
    assert "-1.000" not in html
