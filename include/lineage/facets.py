"""The project's own OpenLineage facets, beside the standard ones (schema, statistics, version, lifecycle).

Each is an ``attrs`` class on the client's base facet, so the provider serialises it like any other;
its keys in an event are the ``*_FACET`` names below (prefixed ``word2vec_``, as the spec asks of
custom facets). Their ``_schemaURL`` stays the base facet's: the fields are documented in
docs/lineage.md, not published as a schema of their own.
"""

from __future__ import annotations

import attr
from openlineage.client.facet_v2 import DatasetFacet, RunFacet

MODEL_VERSION_FACET = "word2vec_modelVersion"
TOKENS_FACET = "word2vec_tokens"
GATE_FACET = "word2vec_gate"
ALIAS_FACET = "word2vec_alias"


@attr.define
class ModelVersionDatasetFacet(DatasetFacet):
    """A model version (``models/<version>/``): what names it and what it was trained on."""

    model: str
    version: str
    contentHash: str  # OpenLineage's fields are camelCase
    dataTime: str
    vocabSize: int  # rows of embeddings.npy
    corpusTokens: int  # tokens read per epoch
    sentences: int
    epochs: int
    vectorSize: int | None = None
    partitions: list[str] = attr.field(factory=list)


@attr.define
class TokensDatasetFacet(DatasetFacet):
    """Token rows and tokens written into a token partition (``tokens/<corpus_id>/<partition>/``)."""

    partition: str
    rows: int
    tokens: int


@attr.define
class GateRunFacet(RunFacet):
    """The quality gate's decision on a version (``promoted`` or ``rejected``) and why."""

    decision: str
    reason: str
    model: str | None = None
    version: str | None = None


@attr.define
class AliasDatasetFacet(DatasetFacet):
    """A model's alias (``registry/<model>/aliases/<alias>``) and the version it now names."""

    model: str
    alias: str
    version: str
