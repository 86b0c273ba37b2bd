"""Checks on a DAG run's configuration: its keys, each value against its Param's JSON schema (the
one :mod:`include.steps.run_params` declares for the DAG too), and the cross-field rules a schema
cannot express. Each raises :class:`include.errors.PipelineInputError` naming the Param."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from include.errors import PipelineInputError

if TYPE_CHECKING:
    from include.registry.contract import Contract


def check_conf_keys(conf: dict, known: Iterable[str]) -> None:
    """Refuse conf keys that are not Params (a typo such as ``epoch`` would otherwise be ignored)."""
    known_keys = sorted(known)
    unknown = sorted(key for key in conf if key not in known_keys)
    if unknown:
        raise PipelineInputError(
            f"unknown DAG run conf key(s) {', '.join(map(repr, unknown))}; known keys: {', '.join(known_keys)}"
        )


def check_param_values(params: Mapping) -> None:
    """Validate each value of ``params`` that is a Param against its JSON schema in
    :data:`include.steps.run_params.PARAMS` (the same validator the DAG's trigger form and REST API
    use); names that are not Params are left to :func:`check_conf_keys`. Raises
    :class:`PipelineInputError` naming the first Param at fault, e.g.
    ``Param 'window': 0 is less than the minimum of 1``."""
    from jsonschema import FormatChecker, validate
    from jsonschema.exceptions import ValidationError

    from include.steps.run_params import PARAMS

    for name, value in params.items():
        if name not in PARAMS:
            continue
        try:
            validate(value, PARAMS[name], format_checker=FormatChecker())
        except ValidationError as error:
            raise PipelineInputError(f"Param {name!r}: {error.message}") from None


def check_params(params: Mapping) -> None:
    """Refuse a combination of Params that each pass their JSON schema but cannot train together
    (``negative: 0`` with ``hs: 0``, ``min_alpha`` above ``alpha``, a ``phrases_threshold`` outside
    its ``phrases_scoring``'s range): builds :class:`include.steps.train_word2vec.Word2VecParams`
    and :class:`include.artifacts.phrases.PhraseParams` from ``params`` (Params they do not know
    are ignored), which raise :class:`PipelineInputError` naming the Param. The ``model`` Param
    must be a model name (:func:`include.registry.names.check_model_name`), and every Param must
    pass its schema (:func:`check_param_values`)."""
    from include.artifacts.phrases import PhraseParams
    from include.registry.names import DEFAULT_MODEL, check_model_name

    check_model_name(params.get("model", DEFAULT_MODEL), "Param 'model'")
    from include.steps.train_word2vec import Word2VecParams

    for settings in (Word2VecParams, PhraseParams):
        names = {field.name for field in dataclasses.fields(settings)}
        settings(**{name: value for name, value in params.items() if name in names})
    # after the settings' own checks, whose messages say more (e.g. "phrases=3 must be 0 (off), ...")
    check_param_values(params)


def check_run_contract(store, params: Mapping, tokenizer: str) -> tuple[Contract, dict[str, tuple]]:
    """The run's contract (``vector_size``, ``tokenizer``, ``phrases``) and how it differs from its
    model's champion: :class:`include.errors.ContractError` when it does and ``params`` do not set
    ``allow_contract_change`` (see :func:`include.registry.contract.check_contract`)."""
    from include.registry.contract import check_contract, make_contract
    from include.registry.names import DEFAULT_MODEL
    from include.registry.registry import ModelRegistry

    model = params.get("model", DEFAULT_MODEL)
    contract = make_contract(params.get("vector_size", 100), tokenizer, params.get("phrases", 0))
    champion = ModelRegistry(store).champion_manifest(model)
    allow = bool(params.get("allow_contract_change", False))
    return contract, check_contract(model, champion, contract, allow_change=allow)
