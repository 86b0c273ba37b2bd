"""OpenLineage datasets and facets of the pipeline's steps, from what each step was given and returned.

``naming``: a location (a local path or an object-store URL) as an OpenLineage dataset's namespace and
name; ``facets``: the project's own facets (a model version, token counts, the gate's decision);
``steps``: one function per task, ``(arguments, result) -> StepLineage``. Nothing here does I/O or
knows Airflow: ``plugins/word2vec_lineage.py`` wraps a :class:`~include.lineage.steps.StepLineage`
into the provider's ``OperatorLineage``. Imported only when Airflow's OpenLineage provider asks an
operator for its lineage, so a deployment without a transport never loads it.
"""
