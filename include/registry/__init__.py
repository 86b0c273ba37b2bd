"""Named models, their aliases and the alias history: a small registry above :mod:`include.storage`.

A data root holds many models side by side (one per corpus, language or experiment). Each
published version belongs to one model (its manifest's ``"model"``); each model has aliases
(``champion``: what consumers load by default; any other name a user sets, such as ``staging``)
moved by compare-and-swap, every move appended to the model's history. ``steps/promote``,
``serving/`` and the UI call this package; nothing else writes an alias.

```
models/<version>/...                           one version (unchanged): manifest.json names its model
registry/<model>/aliases/<alias>               one line: the version the alias names (compare-and-swap)
registry/<model>/history/<UTC stamp>-<hex>.json  one alias move each (create-only), oldest first by name
models/LATEST                                  the previous layout's pointer: read as default@champion
                                               until that alias is first moved
```
"""
