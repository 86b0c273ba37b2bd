"""An optional mirror of a data root's models in MLflow: tracking runs and the Model Registry.

With ``MLFLOW_TRACKING_URI`` set, each published version of a model becomes one run of the MLflow
experiment named after the model (its params, metrics, tags, report and manifest) and one version of
the registered model of the same name, whose aliases follow the model's aliases in the data root.

The data root stays the source of truth: this package only reads what it holds (manifests, reports,
aliases, handed in by its callers or read through :mod:`include.storage`) and writes nothing there.
MLflow down or slow is a warning, never an error: every call is bounded
(:mod:`include.mlflow_mirror.settings`), and the next mirror adds what is missing
(:func:`include.mlflow_mirror.sync.mirror_model` compares the two sides each time).

- ``settings``: the tracking URI and the bounded HTTP timeouts and retries;
- ``records``: what a version's run holds (params, metrics, tags), from its manifest and report;
- ``sync``: the MLflow side, brought in line with the data root's (``mlflow`` imported only there,
  and only when a tracking URI is set).
"""
