"""The model registry on every backend (a local root and a real S3 server): models side by side,
aliases moved by compare-and-swap (forward only for the gate, any way for a person), the
history of every move, per-model retention that spares aliased versions, the contract, and a
root written by the layout before named models opening as model ``default``."""

import multiprocessing

import pytest

from include.errors import ContractError, NotInRegistryError, PipelineInputError
from include.registry.contract import check_contract, contract_of, make_contract
from include.registry.names import check_model_name
from include.registry.registry import AliasKept, ModelRegistry, alias_key
from include.storage.store import open_store


def publish(store, version, *, model=None, data_time="2026-11-01T00:00:00+00:00", vector_size=16, phrases=0):
    """A published version as far as the registry can tell: its manifest (and one file)."""
    manifest = {
        "version": version,
        "data_time": data_time,
        "params": {"vector_size": vector_size, "phrases": phrases},
        "training": {"vocab_size": 10, "corpus_words": 100},
        "gate": {"decision": "promoted"},
    }
    if model:
        manifest["model"] = model
        manifest["contract"] = make_contract(vector_size, "tok-1", phrases)
    store.put_bytes(f"models/{version}/embeddings.npy", b"x")
    store.put_json(f"models/{version}/manifest.json", manifest, create_only=True)
    return version


V1, V2, V3, V4 = (f"2026110{day}T000000Z-{str(day) * 8}" for day in range(1, 5))


def test_models_live_side_by_side_and_aliases_never_cross(store):
    registry = ModelRegistry(store)
    publish(store, V1, model="default", data_time="2026-11-01")
    publish(store, V2, model="scratch", data_time="2026-11-02")
    assert registry.models() == ["default", "scratch"]
    assert [m["version"] for m in registry.manifests("scratch")] == [V2]
    registry.move_alias("default", "champion", V1, actor="gate", reason="first", forward_only=True)
    registry.move_alias("scratch", "champion", V2, actor="gate", reason="first", forward_only=True)
    assert registry.resolve("default") == V1 and registry.resolve("scratch") == V2
    with pytest.raises(NotInRegistryError, match="model 'default' has no version .*its versions: " + V1):
        registry.move_alias("default", "champion", V2, actor="ana", reason="a scratch version into default")
    assert registry.resolve("default") == V1


def test_gate_moves_forward_only_a_person_may_roll_back_and_every_move_is_recorded(store):
    registry = ModelRegistry(store)
    for version, day in ((V1, "01"), (V2, "02"), (V3, "03")):
        publish(store, version, model="default", data_time=f"2026-11-{day}")
    registry.move_alias("default", "champion", V3, actor="gate", reason="better", run_id="r3", forward_only=True)
    kept = registry.move_alias("default", "champion", V2, actor="gate", reason="backfill", forward_only=True)
    assert isinstance(kept, AliasKept) and kept.version == V3 and "newer" in kept.reason
    assert registry.resolve("default") == V3
    move = registry.move_alias("default", "champion", V1, actor="ana", reason="roll back: V3 answers badly")
    assert move["from_version"] == V3 and move["to_version"] == V1
    registry.move_alias("default", "pinned-2026q4", V2, actor="bo", reason="pin for the quarter")
    assert registry.aliases("default") == {"champion": V1, "pinned-2026q4": V2}
    history = registry.history("default")
    assert [(m["alias"], m["from_version"], m["to_version"], m["actor"]) for m in history] == [
        ("champion", None, V3, "gate"),
        ("champion", V3, V1, "ana"),
        ("pinned-2026q4", None, V2, "bo"),
    ]
    assert history[0]["run_id"] == "r3" and history[1]["reason"] == "roll back: V3 answers badly"
    assert [m["to_version"] for m in registry.history("default", alias="pinned-2026q4")] == [V2]


def _race(root: str, version: str, barrier, results) -> None:
    from include.registry.registry import ModelRegistry

    store = open_store(root)
    barrier.wait()
    moved = ModelRegistry(store).move_alias(
        "default", "champion", version, actor="gate", reason="race", forward_only=True
    )
    results.put(type(moved).__name__)


def test_concurrent_gate_moves_end_at_the_newest_data(store):
    versions = [
        publish(store, v, model="default", data_time=f"2026-11-0{i + 1}") for i, v in enumerate((V1, V2, V3, V4))
    ]
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(len(versions)), context.Queue()
    workers = [context.Process(target=_race, args=(store.url, v, barrier, results)) for v in versions]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    assert ModelRegistry(store).resolve("default") == V4, "the champion holds the newest data"
    history = ModelRegistry(store).history("default")
    assert history and history[-1]["to_version"] == V4
    assert all(m["from_version"] != m["to_version"] for m in history)


def test_retention_is_per_model_and_spares_every_aliased_version(store):
    registry = ModelRegistry(store)
    for version, day in ((V1, "01"), (V2, "02"), (V3, "03"), (V4, "04")):
        publish(store, version, model="default", data_time=f"2026-11-{day}")
    other = publish(store, "20261030T000000Z-eeeeeeee", model="other", data_time="2026-10-30")
    registry.move_alias("default", "champion", V4, actor="gate", reason="x")
    registry.move_alias("default", "pinned", V1, actor="ana", reason="pin")
    assert registry.prune("default", 0) == []
    assert registry.prune("default", 1) == [V2, V3]
    assert [m["version"] for m in registry.manifests("default")] == [V1, V4]
    assert [m["version"] for m in registry.manifests("other")] == [other], "another model's versions stay"


def test_unknown_names_list_what_exists(store):
    registry = ModelRegistry(store)
    publish(store, V1, model="default")
    registry.move_alias("default", "champion", V1, actor="gate", reason="x")
    with pytest.raises(NotInRegistryError, match=r"no model 'nope' .*models: default"):
        registry.check_model("nope")
    with pytest.raises(NotInRegistryError, match=rf"no alias 'staging'; its aliases: champion -> {V1}"):
        registry.resolve("default", alias="staging")
    with pytest.raises(NotInRegistryError, match=rf"no version '{V2}'; its versions: {V1}"):
        registry.resolve("default", version=V2)
    with pytest.raises(NotInRegistryError, match="models: default"):
        registry.resolve("nope")
    for bad in ("", "UPPER", "a/b", "x" * 65, "-lead", "../x", 7):
        with pytest.raises(PipelineInputError, match="model"):
            check_model_name(bad)


def test_a_root_of_the_previous_layout_opens_as_model_default(store):
    """Versions without a model and models/LATEST, as the release before named models wrote them."""
    registry = ModelRegistry(store)
    publish(store, V1, data_time="2026-11-01")
    publish(store, V2, data_time="2026-11-02")
    store.swap("models/LATEST", f"{V1}\n".encode(), None)
    assert registry.models() == ["default"]
    assert registry.resolve("default") == V1 and registry.aliases("default") == {"champion": V1}
    assert contract_of(registry.champion_manifest("default")) == {
        "vector_size": 16,
        "tokenizer": None,
        "phrases": False,
    }
    # the first move writes the alias (create-only on an absent key); LATEST is no longer read after it
    registry.move_alias("default", "champion", V2, actor="gate", reason="newer", forward_only=True)
    assert store.read_bytes(alias_key("default", "champion")).decode().strip() == V2
    assert registry.resolve("default") == V2
    assert registry.history("default")[0]["from_version"] == V1


def test_contract_is_checked_against_the_champion(store):
    registry = ModelRegistry(store)
    publish(store, V1, model="default", vector_size=100)
    assert check_contract("default", None, make_contract(2, "tok-1", 0), allow_change=False) == {}
    registry.move_alias("default", "champion", V1, actor="gate", reason="first")
    champion = registry.champion_manifest("default")
    same = make_contract(100, "tok-1", 0)
    assert check_contract("default", champion, same, allow_change=False) == {}
    two = make_contract(2, "tok-1", 0)
    with pytest.raises(ContractError) as refused:
        check_contract("default", champion, two, allow_change=False)
    message = str(refused.value)
    assert "model 'default'" in message and "vector_size is 2" in message and "has 100" in message
    assert "allow_contract_change: true" in message and "another model name" in message
    assert check_contract("default", champion, two, allow_change=True) == {"vector_size": (100, 2)}
    phrased = make_contract(100, "tok-1", 1)
    assert set(check_contract("default", champion, phrased, allow_change=True)) == {"phrases"}
    retokenized = make_contract(100, "tok-2", 0)
    assert set(check_contract("default", champion, retokenized, allow_change=True)) == {"tokenizer"}
