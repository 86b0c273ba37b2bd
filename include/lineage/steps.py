"""What each step read and wrote, as OpenLineage datasets with their facets.

One function per task of ``word2vec_embeddings`` (the keys of :data:`STEPS`, named like
``include/steps/<task_id>.py``), each ``(args, result, place) -> StepLineage``: ``args`` are the
operator's rendered arguments, ``result`` what the step returned (``None`` when it failed: then only
what it was given to read is reported), ``place`` the data root and the host local paths are named
under. The graph they draw, run after run::

    corpus (file, folder or prefix)
      -> tokenize_to_parquet, commit_tokens -> tokens/<corpus_id>/<partition>      (schema, rows, tokens)
      -> detect_phrases, train_word2vec     -> models/<version>                    (content hash, data time, vocabulary)
      -> export_embeddings                  -> models/<version>/exports
      -> build_keras_model                  -> models/<version>/keras
      -> build_neighbour_table              -> models/<version>/neighbours.parquet, vector_index.faiss
      -> evaluate_embeddings                   (reads the version and the model's champion)
      -> write_similarity_report            -> models/<version>/report              (the gate's decision)
      -> publish                            -> models/<version>/manifest.json
      -> promote                            -> registry/<model>/aliases/champion    (the gate's decision)

No I/O: every location comes from the arguments, the result or the data root's layout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from openlineage.client.event_v2 import InputDataset, OutputDataset
from openlineage.client.facet_v2 import (
    DatasetFacet,
    RunFacet,
    dataset_version_dataset,
    input_statistics_input_dataset,
    lifecycle_state_change_dataset,
    output_statistics_output_dataset,
    schema_dataset,
)

from include.lineage.facets import (
    ALIAS_FACET,
    GATE_FACET,
    MODEL_VERSION_FACET,
    TOKENS_FACET,
    AliasDatasetFacet,
    GateRunFacet,
    ModelVersionDatasetFacet,
    TokensDatasetFacet,
)
from include.lineage.naming import DatasetName, dataset_name
from include.registry.registry import alias_key
from include.storage.layout import MANIFEST_FILE, partition_key, version_key

CHAMPION = "champion"


@dataclass(frozen=True)
class Place:
    """Where the run's data lives: the data root (a local path or a URL) and the host that local
    paths are named under (:mod:`include.lineage.naming`)."""

    data_root: str
    host: str

    def url(self, key: str) -> str:
        """The location of ``key`` under the data root (as the store's ``key_url`` gives it)."""
        return self.data_root.rstrip("/") + "/" + key.strip("/")

    def name(self, location: str) -> DatasetName:
        return dataset_name(location, self.host)


@dataclass(frozen=True)
class StepLineage:
    inputs: list[InputDataset] = field(default_factory=list)
    outputs: list[OutputDataset] = field(default_factory=list)
    run_facets: dict[str, RunFacet] = field(default_factory=dict)


def _input(place: Place, location: str, facets: Mapping[str, DatasetFacet] | None = None, **statistics) -> InputDataset:
    namespace, name = place.name(location)
    input_facets: dict = {}
    if any(value is not None for value in statistics.values()):
        input_facets["inputStatistics"] = input_statistics_input_dataset.InputStatisticsInputDatasetFacet(**statistics)
    return InputDataset(namespace, name, facets=dict(facets or {}), inputFacets=input_facets)


def _output(
    place: Place, location: str, facets: Mapping[str, DatasetFacet] | None = None, **statistics
) -> OutputDataset:
    namespace, name = place.name(location)
    output_facets: dict = {}
    if any(value is not None for value in statistics.values()):
        output_facets["outputStatistics"] = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
            **statistics
        )
    return OutputDataset(namespace, name, facets=dict(facets or {}), outputFacets=output_facets)


def _dropped(place: Place, location: str) -> OutputDataset:
    """A dataset the step deleted (a pruned partition or version): the spec's ``DROP`` lifecycle change."""
    change = lifecycle_state_change_dataset.LifecycleStateChange.DROP
    facet = lifecycle_state_change_dataset.LifecycleStateChangeDatasetFacet(lifecycleStateChange=change)
    return _output(place, location, {"lifecycleStateChange": facet})


def _count(value: Any) -> int | None:
    """A count from a step's facts, or ``None`` when it has none (statistics fields are optional)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _parent(location: str) -> str:
    return str(location).rstrip("/").rpartition("/")[0]


def token_schema_facet() -> schema_dataset.SchemaDatasetFacet:
    """The token Parquet files' columns (:func:`include.text.tokens.token_schema`)."""
    from include.text.tokens import token_schema

    return schema_dataset.SchemaDatasetFacet(
        fields=[schema_dataset.SchemaDatasetFacetFields(name=col.name, type=str(col.type)) for col in token_schema()]
    )


def _partitions(place: Place, corpus_id: str, names: Iterable[str]) -> list[InputDataset]:
    return [_input(place, place.url(partition_key(corpus_id, name))) for name in names]


def _version(place: Place, version_dir: Any) -> list[InputDataset]:
    """The version a step read, when its argument is known (a task that failed before rendering it has none)."""
    return [_input(place, str(version_dir))] if version_dir else []


def _gate(decision: Any, reason: Any, model: Any = None, version: Any = None) -> dict[str, RunFacet]:
    if not decision:
        return {}
    return {
        GATE_FACET: GateRunFacet(
            decision=str(decision),
            reason=str(reason or ""),
            model=None if model is None else str(model),
            version=None if version is None else str(version),
        )
    }


# --- one function per task ------------------------------------------------------------------------


def ingest_text(args: Mapping[str, Any], result: Mapping[str, Any] | None, place: Place) -> StepLineage:
    """Reads the corpus (the resolved file, folder or prefix): its files, lines and bytes."""
    if result is None:  # the corpus_path Param is not resolved yet: nothing certain to name
        return StepLineage()
    corpus = _input(
        place,
        result["corpus_path"],
        rowCount=result.get("lines"),
        size=result.get("bytes"),
        fileCount=result.get("files"),
    )
    return StepLineage(inputs=[corpus])


def tokenize_to_parquet(args: Mapping[str, Any], result: Mapping[str, Any] | None, place: Place) -> StepLineage:
    """Reads the corpus; writes one part file into its token partition."""
    inputs = [_input(place, args["corpus_path"])] if args.get("corpus_path") else []
    if result is None:
        return StepLineage(inputs=inputs)
    facets = {
        "schema": token_schema_facet(),
        TOKENS_FACET: TokensDatasetFacet(partition=result["partition"], rows=result["rows"], tokens=result["tokens"]),
    }
    partition = _output(place, _parent(result["path"]), facets, rowCount=result["rows"], fileCount=1)
    return StepLineage(inputs=inputs, outputs=[partition])


def commit_tokens(args: Mapping[str, Any], result: Mapping[str, Any] | None, place: Place) -> StepLineage:
    """Publishes the run's partitions (their ``_SUCCESS.json``) and drops partitions past retention."""
    if result is None:
        return StepLineage()
    tokens = result["corpus_tokens"].rstrip("/")
    committed = [_output(place, f"{tokens}/{name}", {"schema": token_schema_facet()}) for name in result["committed"]]
    pruned = [_dropped(place, f"{tokens}/{name}") for name in result.get("pruned", [])]
    return StepLineage(outputs=committed + pruned)


def detect_phrases(args: Mapping[str, Any], result: Mapping[str, Any] | None, place: Place) -> StepLineage:
    """Reads the token partitions of the run's window (the phrases it learns stay in the run's staging)."""
    if result is None:
        return StepLineage()
    return StepLineage(inputs=_partitions(place, args.get("corpus_id") or "", result["partitions"]))


def train_word2vec(args: Mapping[str, Any], result: Mapping[str, Any] | None, place: Place) -> StepLineage:
    """Reads the token partitions of the run's window; writes the model version (gensim model,
    ``embeddings.npy``, ``vocab.json``), named by its data time and content hash."""
    if result is None:
        return StepLineage()
    contract = result.get("contract") or {}
    version = ModelVersionDatasetFacet(
        model=result["model"],
        version=result["version"],
        contentHash=result["content_hash"],
        dataTime=result["data_time"],
        vocabSize=result["vocab_size"],
        corpusTokens=result["corpus_words"],
        sentences=result["sentences"],
        epochs=result["epochs"],
        vectorSize=contract.get("vector_size"),
        partitions=list(result["partitions"]),
    )
    facets = {
        MODEL_VERSION_FACET: version,
        "version": dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=result["content_hash"]),
    }
    return StepLineage(
        inputs=_partitions(place, args.get("corpus_id") or "", result["partitions"]),
        outputs=[_output(place, result["version_dir"], facets, rowCount=result["vocab_size"])],
    )


def export_embeddings(args: Mapping[str, Any], result: Mapping[str, Any] | None, place: Place) -> StepLineage:
    """Reads the version's vectors; writes ``exports/`` (word2vec text and binary, projector TSVs)."""
    inputs = _version(place, args.get("version_dir"))
    if result is None:
        return StepLineage(inputs=inputs)
    exports = _output(place, _parent(result["word2vec_text"]), rowCount=result["vocab_size"], fileCount=4)
    return StepLineage(inputs=inputs, outputs=[exports])


def build_keras_model(args: Mapping[str, Any], result: Mapping[str, Any] | None, place: Place) -> StepLineage:
    """Reads the version's vectors; writes ``keras/`` (the models and their vocabulary)."""
    inputs = _version(place, args.get("version_dir"))
    if result is None:
        return StepLineage(inputs=inputs)
    keras = _output(place, result["keras_dir"], rowCount=result["rows"], fileCount=len(result["files"]))
    return StepLineage(inputs=inputs, outputs=[keras])


def build_neighbour_table(args: Mapping[str, Any], result: Mapping[str, Any] | None, place: Place) -> StepLineage:
    """Reads the version's vectors; writes ``neighbours.parquet`` and the vector index serving searches."""
    inputs = _version(place, args.get("version_dir"))
    if result is None:
        return StepLineage(inputs=inputs)
    facts = result.get("neighbour_table") or {}
    outputs = [_output(place, result["path"], rowCount=_count(facts.get("rows")), fileCount=1)]
    index = facts.get("vector_index") or {}
    if index.get("path"):
        outputs.append(
            _output(
                place, index["path"], rowCount=_count(index.get("words")), size=_count(index.get("bytes")), fileCount=1
            )
        )
    return StepLineage(inputs=inputs, outputs=outputs)


def evaluate_embeddings(args: Mapping[str, Any], result: Mapping[str, Any] | None, place: Place) -> StepLineage:
    """Reads the version and, when the model has one, its champion (the reference of drift and the gate)."""
    inputs = _version(place, args.get("version_dir"))
    reference = (result or {}).get("reference")
    if reference:
        inputs.append(_input(place, place.url(version_key(reference))))
    return StepLineage(inputs=inputs)


def write_similarity_report(args: Mapping[str, Any], result: Mapping[str, Any] | None, place: Place) -> StepLineage:
    """Reads the version; writes ``report/`` stating the gate's decision (a run facet)."""
    inputs = _version(place, args.get("version_dir"))
    if result is None:
        return StepLineage(inputs=inputs)
    report = _output(place, _parent(result["report_json"]))
    gate = _gate(result["decision"], result.get("reason"), args.get("model"), args.get("version"))
    return StepLineage(inputs=inputs, outputs=[report], run_facets=gate)


def publish(args: Mapping[str, Any], result: Mapping[str, Any] | None, place: Place) -> StepLineage:
    """Reads the version whole; writes its ``manifest.json``, after which the version exists."""
    version = args.get("version")
    inputs = _version(place, version and place.url(version_key(version)))
    if result is None:
        return StepLineage(inputs=inputs)
    facts = args.get("facts") or {}
    facets: dict[str, DatasetFacet] = {}
    if facts.get("content_hash"):
        facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=facts["content_hash"])
    manifest = _output(place, f"{result['version_path'].rstrip('/')}/{MANIFEST_FILE}", facets, fileCount=1)
    gate = _gate(result.get("decision"), None, facts.get("model"), result["version"])
    return StepLineage(inputs=inputs, outputs=[manifest], run_facets=gate)


def promote(args: Mapping[str, Any], result: Mapping[str, Any] | None, place: Place) -> StepLineage:
    """Reads the published version's manifest; moves ``<model>@champion`` to it (the gate's decision
    as a run facet) and drops the model's versions past retention."""
    version = args.get("version")
    inputs = [_input(place, place.url(f"{version_key(version)}/{MANIFEST_FILE}"))] if version else []
    gate = _gate(args.get("decision"), args.get("reason"), args.get("model"), version)
    if result is None:
        return StepLineage(inputs=inputs, run_facets=gate)
    model = result["model"]
    alias = AliasDatasetFacet(model=model, alias=CHAMPION, version=result["champion"])
    outputs = [_output(place, place.url(alias_key(model, CHAMPION)), {ALIAS_FACET: alias})]
    outputs += [_dropped(place, place.url(version_key(pruned))) for pruned in result.get("pruned", [])]
    return StepLineage(inputs=inputs, outputs=outputs, run_facets=gate)


STEPS: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any] | None, Place], StepLineage]] = {
    step.__name__: step
    for step in (
        ingest_text,
        tokenize_to_parquet,
        commit_tokens,
        detect_phrases,
        train_word2vec,
        export_embeddings,
        build_keras_model,
        build_neighbour_table,
        evaluate_embeddings,
        write_similarity_report,
        publish,
        promote,
    )
}


def step_lineage(step: str, args: Mapping[str, Any], result: Mapping[str, Any] | None, place: Place) -> StepLineage:
    """The lineage of task ``step`` (a key of :data:`STEPS`; none for another) given its arguments and result."""
    lineage = STEPS.get(step)
    return lineage(args, result, place) if lineage else StepLineage()
