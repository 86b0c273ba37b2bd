"""A model's contract: what every version of one model shares, so a consumer that loads
``model@champion`` can rely on it across promotions (the vector size its Keras layers expect,
the tokenizer its queries go through, whether multi-word phrases are tokens).

The model's first version fixes it; a run whose contract differs from its model's champion fails
before training (:func:`check_contract`) unless ``allow_contract_change`` is on, and then the
gate never promotes it: only an explicit promote can.
"""

from __future__ import annotations

from typing import TypedDict

from include.errors import ContractError


class Contract(TypedDict):
    vector_size: int  #: dimensions of each word vector
    tokenizer: str | None  #: the tokenizer's version (``None``: not recorded by the previous layout)
    phrases: bool  #: whether multi-word phrases (``new_york``) are tokens


CONTRACT_FIELDS = ("vector_size", "tokenizer", "phrases")


def make_contract(vector_size: int, tokenizer: str | None, phrases: int | bool) -> Contract:
    """A :class:`Contract` from the run's ``vector_size``, tokenizer version and ``phrases`` Param."""
    return Contract(vector_size=int(vector_size), tokenizer=tokenizer, phrases=bool(int(phrases)))


def contract_of(manifest: dict) -> Contract:
    """The contract a version manifest records; for a version of the previous layout (no
    ``"contract"``), derived from its params and its partitions' tokenizer version."""
    if isinstance(manifest.get("contract"), dict):
        return manifest["contract"]
    params = manifest.get("params") or {}
    tokenizers = {summary.get("tokenizer") for summary in (manifest.get("partitions") or {}).values()}
    return make_contract(
        params.get("vector_size", 100),
        tokenizers.pop() if len(tokenizers) == 1 else None,
        params.get("phrases", 0),
    )


def contract_differences(expected: Contract, actual: Contract) -> dict[str, tuple]:
    """``field -> (expected, actual)`` for each field that differs; a tokenizer version the
    previous layout did not record (``None``) matches any."""
    differences = {}
    for field in CONTRACT_FIELDS:
        before, after = expected.get(field), actual.get(field)
        if field == "tokenizer" and before is None:
            continue
        if before != after:
            differences[field] = (before, after)
    return differences


def check_contract(model: str, champion: dict | None, contract: Contract, *, allow_change: bool) -> dict[str, tuple]:
    """Refuse a run of ``model`` whose ``contract`` differs from the champion's manifest's (none
    before the model's first promotion) with :class:`ContractError` naming the model, each field,
    both values and the fix. With ``allow_change``, returns the differences instead (the gate
    then holds the version for an explicit promote)."""
    if champion is None:
        return {}
    differences = contract_differences(contract_of(champion), contract)
    if differences and not allow_change:
        listed = "; ".join(
            f"{field} is {actual!r} but the model's champion {champion.get('version')} has {expected!r}"
            for field, (expected, actual) in differences.items()
        )
        raise ContractError(
            f"model {model!r}: {listed}. Every version of a model shares its vector_size, tokenizer and "
            f"phrases. Train under another model name (the 'model' Param, e.g. \"{model}-{_suffix(differences)}\"), "
            "or set allow_contract_change: true (the version is then published but only an explicit "
            "promote can make it the champion)."
        )
    return differences


def _suffix(differences: dict[str, tuple]) -> str:
    if "vector_size" in differences:
        return f"{differences['vector_size'][1]}d"
    if "phrases" in differences:
        return "phrases" if differences["phrases"][1] else "words"
    return "new-tokenizer"
