"""include/lineage: OpenLineage namespaces and names per the naming spec, and each step's datasets
and facets from its arguments and result (no I/O, no Airflow)."""

import pytest
from openlineage.client.serde import Serde

from include.lineage.naming import DatasetName, dataset_name
from include.lineage.steps import STEPS, Place, step_lineage, token_schema_facet

LOCAL = Place("/srv/data", "worker-1")
S3 = Place("s3://bucket/embeddings", "worker-1")
VERSION = "20261125T203000Z-0123abcd"


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("s3://bucket/embeddings/models/v1", ("s3://bucket", "embeddings/models/v1")),
        ("s3://bucket/texts/", ("s3://bucket", "texts")),
        ("gs://other/x/y.txt", ("gs://other", "x/y.txt")),
        ("/srv/data/tokens/lee/snapshot", ("file://worker-1", "/srv/data/tokens/lee/snapshot")),
        ("/srv/data/corpus/", ("file://worker-1", "/srv/data/corpus")),
        ("file:///srv/data/x", ("file://worker-1", "/srv/data/x")),
        ("file://nas/srv/data/x", ("file://nas", "/srv/data/x")),
    ],
)
def test_namespaces_and_names_follow_the_naming_spec(location, expected):
    """Objects: ``s3://{bucket}`` and the key; paths: ``file://{host}`` and the absolute path."""
    assert dataset_name(location, "worker-1") == DatasetName(*expected)


def test_the_file_host_is_the_setting_or_this_machine(monkeypatch):
    import socket

    from include.settings import lineage_file_host

    monkeypatch.delenv("EMBEDDINGS_LINEAGE_FILE_HOST", raising=False)
    assert lineage_file_host() == socket.gethostname()
    monkeypatch.setenv("EMBEDDINGS_LINEAGE_FILE_HOST", "nas.example")
    assert lineage_file_host() == "nas.example"


def _ids(datasets):
    return [(d.namespace, d.name) for d in datasets]


def test_the_token_schema_facet_lists_the_parquet_columns():
    from include.text.tokens import token_schema

    fields = token_schema_facet().fields
    assert [(f.name, f.type) for f in fields] == [(c.name, str(c.type)) for c in token_schema()]
    assert [f.name for f in fields] == ["source", "line", "chunk", "tokens"]


def test_ingest_reads_the_resolved_corpus_with_its_counts():
    result = {"corpus_path": "s3://corpora/texts", "lines": 40, "bytes": 1234, "files": 3}
    lineage = step_lineage("ingest_text", {"corpus_path": "s3://corpora/texts/"}, result, S3)
    [corpus] = lineage.inputs
    assert (corpus.namespace, corpus.name) == ("s3://corpora", "texts")
    stats = corpus.inputFacets["inputStatistics"]
    assert (stats.rowCount, stats.size, stats.fileCount) == (40, 1234, 3)
    assert not lineage.outputs
    assert step_lineage("ingest_text", {"corpus_path": "bundled:lee"}, None, S3).inputs == []


def test_tokenize_reads_the_corpus_and_writes_its_partition_with_schema_and_counts():
    args = {"manifest_path": "/srv/data/staging/r/ingest.json", "shard": 0, "corpus_path": "/srv/corpus"}
    result = {
        "partition": "dt=2026-11-25",
        "shard": 0,
        "path": "/srv/data/tokens/c1/dt=2026-11-25/part-r-00000.parquet",
        "rows": 12,
        "tokens": 99,
        "files": 2,
    }
    lineage = step_lineage("tokenize_to_parquet", args, result, LOCAL)
    assert _ids(lineage.inputs) == [("file://worker-1", "/srv/corpus")]
    [partition] = lineage.outputs
    assert (partition.namespace, partition.name) == ("file://worker-1", "/srv/data/tokens/c1/dt=2026-11-25")
    assert partition.outputFacets["outputStatistics"].rowCount == 12
    assert partition.facets["word2vec_tokens"].tokens == 99
    assert [f.name for f in partition.facets["schema"].fields] == ["source", "line", "chunk", "tokens"]
    failed = step_lineage("tokenize_to_parquet", args, None, LOCAL)
    assert _ids(failed.inputs) == [("file://worker-1", "/srv/corpus")] and not failed.outputs


def test_commit_writes_the_committed_partitions_and_drops_the_pruned_ones():
    result = {
        "corpus_tokens": "s3://bucket/embeddings/tokens/c1",
        "committed": ["dt=2026-11-25"],
        "reused": ["dt=2026-11-24"],
        "tokens": 10,
        "rows": 2,
        "pruned": ["dt=2026-08-01"],
    }
    lineage = step_lineage("commit_tokens", {"corpus_id": "c1"}, result, S3)
    committed, pruned = lineage.outputs
    assert committed.name == "embeddings/tokens/c1/dt=2026-11-25" and "schema" in committed.facets
    assert pruned.name == "embeddings/tokens/c1/dt=2026-08-01"
    assert pruned.facets["lifecycleStateChange"].lifecycleStateChange.value == "DROP"


def _trained():
    return {
        "version": VERSION,
        "model": "news",
        "contract": {"vector_size": 16, "tokenizer_version": "1", "phrases": False},
        "contract_changes": {},
        "content_hash": "0123abcd" + "0" * 56,
        "data_time": "2026-11-25T20:30:00+00:00",
        "version_dir": f"s3://bucket/embeddings/models/{VERSION}",
        "model_path": f"s3://bucket/embeddings/models/{VERSION}/word2vec.model",
        "partitions": ["dt=2026-11-24", "dt=2026-11-25"],
        "vocab_size": 321,
        "corpus_words": 4567,
        "sentences": 89,
        "epochs": 5,
        "train_seconds": 1.5,
        "epochs_choice": {},
    }


def test_training_reads_the_partitions_and_writes_the_version_with_hash_time_and_counts():
    lineage = step_lineage("train_word2vec", {"corpus_id": "c1"}, _trained(), S3)
    assert _ids(lineage.inputs) == [
        ("s3://bucket", "embeddings/tokens/c1/dt=2026-11-24"),
        ("s3://bucket", "embeddings/tokens/c1/dt=2026-11-25"),
    ]
    [version] = lineage.outputs
    assert (version.namespace, version.name) == ("s3://bucket", f"embeddings/models/{VERSION}")
    facet = version.facets["word2vec_modelVersion"]
    assert (facet.model, facet.version, facet.contentHash) == ("news", VERSION, _trained()["content_hash"])
    assert (facet.dataTime, facet.vocabSize, facet.corpusTokens, facet.vectorSize) == (
        "2026-11-25T20:30:00+00:00",
        321,
        4567,
        16,
    )
    assert version.facets["version"].datasetVersion == _trained()["content_hash"]
    assert version.outputFacets["outputStatistics"].rowCount == 321
    as_json = Serde.to_dict(version)  # what the transport sends: the custom facet with the spec's base fields
    assert as_json["facets"]["word2vec_modelVersion"]["contentHash"] == _trained()["content_hash"]
    assert as_json["facets"]["word2vec_modelVersion"]["_schemaURL"].startswith("https://openlineage.io/spec/")


def test_the_steps_after_training_read_the_version_and_write_inside_it():
    version_dir = f"/srv/data/models/{VERSION}"
    args = {"version_dir": version_dir}
    exported = {
        "word2vec_text": f"{version_dir}/exports/vectors.txt",
        "word2vec_binary": f"{version_dir}/exports/vectors.bin",
        "projector_vectors": f"{version_dir}/exports/vectors.tsv",
        "projector_metadata": f"{version_dir}/exports/metadata.tsv",
        "vocab_size": 10,
        "vector_size": 4,
    }
    keras = {"keras_dir": f"{version_dir}/keras", "files": ["a.keras", "keras_vocab.json"], "rows": 12, "parity": {}}
    index = {"kind": "flat", "words": 10, "bytes": 200, "path": f"{version_dir}/vector_index.faiss"}
    table = {
        "path": f"{version_dir}/neighbours.parquet",
        "neighbour_table": {"rows": 50, "method": "exact", "vector_index": index},
    }
    written = {
        "export_embeddings": (exported, f"{version_dir}/exports"),
        "build_keras_model": (keras, f"{version_dir}/keras"),
        "build_neighbour_table": (table, f"{version_dir}/neighbours.parquet", f"{version_dir}/vector_index.faiss"),
    }
    for step, (result, *locations) in written.items():
        lineage = step_lineage(step, args, result, LOCAL)
        assert _ids(lineage.inputs) == [("file://worker-1", version_dir)], step
        assert _ids(lineage.outputs) == [("file://worker-1", location) for location in locations], step
    written_table, written_index = step_lineage("build_neighbour_table", args, table, LOCAL).outputs
    assert written_table.outputFacets["outputStatistics"].rowCount == 50
    stats = written_index.outputFacets["outputStatistics"]
    assert (stats.rowCount, stats.size) == (10, 200)

    evaluated = step_lineage("evaluate_embeddings", args, {"reference": "20261101T000000Z-ffffffff"}, LOCAL)
    assert _ids(evaluated.inputs) == [
        ("file://worker-1", version_dir),
        ("file://worker-1", "/srv/data/models/20261101T000000Z-ffffffff"),
    ]
    assert len(step_lineage("evaluate_embeddings", args, {"reference": None}, LOCAL).inputs) == 1


def test_report_publish_and_promote_carry_the_gate_decision_to_the_alias():
    version_dir = f"/srv/data/models/{VERSION}"
    report = step_lineage(
        "write_similarity_report",
        {"version_dir": version_dir, "version": VERSION, "model": "news"},
        {"report_json": f"{version_dir}/report/report.json", "decision": "promoted", "reason": "first version"},
        LOCAL,
    )
    assert _ids(report.outputs) == [("file://worker-1", f"{version_dir}/report")]
    gate = report.run_facets["word2vec_gate"]
    assert (gate.decision, gate.reason, gate.model, gate.version) == ("promoted", "first version", "news", VERSION)

    published = step_lineage(
        "publish",
        {"version": VERSION, "facts": {"model": "news", "content_hash": "abc"}},
        {"version": VERSION, "version_path": version_dir, "decision": "promoted", "report_html": "x"},
        LOCAL,
    )
    assert _ids(published.inputs) == [("file://worker-1", version_dir)]
    assert _ids(published.outputs) == [("file://worker-1", f"{version_dir}/manifest.json")]

    args = {"version": VERSION, "decision": "promoted", "reason": "first version", "model": "news"}
    promoted = step_lineage("promote", args, {"champion": VERSION, "model": "news", "pruned": ["old"]}, LOCAL)
    assert _ids(promoted.inputs) == [("file://worker-1", f"{version_dir}/manifest.json")]
    alias, dropped = promoted.outputs
    assert (alias.name, alias.facets["word2vec_alias"].version) == ("/srv/data/registry/news/aliases/champion", VERSION)
    assert dropped.name == "/srv/data/models/old"
    assert promoted.run_facets["word2vec_gate"].decision == "promoted"


def test_an_unknown_step_has_no_lineage():
    assert step_lineage("not_a_step", {}, None, LOCAL) == step_lineage("not_a_step", {"x": 1}, {"y": 2}, S3)
    assert not step_lineage("not_a_step", {}, None, LOCAL).inputs
    assert "promote" in STEPS
