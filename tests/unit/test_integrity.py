"""Integrity on read (issue 25, item 5) and names refused before storage is touched (item 6).

A version's files are checked against its manifest (size and sha256) when ModelStore or the UI's
catalog first loads it; ``python -m include.cli verify`` checks every file and names the damaged
ones. A flipped byte in ``embeddings.npy`` is the test case."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from include.errors import PipelineInputError
from include.registry.registry import ModelRegistry
from include.serving import integrity
from include.serving.artifact_source import LocalArtifactSource, StoreArtifactSource
from include.serving.catalog import Catalog
from include.serving.cli import main
from include.serving.model_store import ModelStore
from include.serving.request_checks import CatalogError, DamagedVersionError, InvalidRequestError
from include.storage.store import LocalStore, sha256_file
from tests.unit.test_catalog import NEW, OLD, make_version


def publish(root: Path, name: str, *, champion: bool = True) -> Path:
    """A version as publish writes it: every file in the manifest with its sha256 and size."""
    folder = make_version(root / "models", name)
    manifest = json.loads((folder / "manifest.json").read_text())
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != "manifest.json":
            digest, size = sha256_file(path)
            files[str(path.relative_to(folder))] = {"sha256": digest, "bytes": size}
    (folder / "manifest.json").write_text(json.dumps({**manifest, "files": files}))
    if champion:
        ModelRegistry(LocalStore(root)).move_alias("default", "champion", name, actor="t", reason="setup")
    return folder


def flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.fixture(autouse=True)
def _fresh_hash_memo(monkeypatch):
    monkeypatch.setattr(integrity, "_hashes", type(integrity._hashes)())


def test_a_whole_version_is_served_and_verified(data_root, capsys):
    publish(data_root, OLD)
    assert ModelStore().load().version == OLD
    assert Catalog(LocalArtifactSource(data_root / "models")).neighbours(OLD, "king", 2)["version"] == OLD
    assert main(["verify"]) == 0
    assert capsys.readouterr().out.startswith(f"ok default {OLD}: 5 files (")


def test_a_flipped_byte_in_embeddings_is_refused_everywhere(data_root, capsys):
    folder = publish(data_root, OLD)
    expected = json.loads((folder / "manifest.json").read_text())["files"]["embeddings.npy"]["sha256"]
    flip_last_byte(folder / "embeddings.npy")
    actual = sha256_file(folder / "embeddings.npy")[0]

    with pytest.raises(DamagedVersionError) as raised:
        ModelStore().load()
    assert raised.value.status == 503 and "embeddings.npy" in str(raised.value) and expected in str(raised.value)
    with pytest.raises(DamagedVersionError, match=f"embeddings.npy: sha256 expected {expected}, actual {actual}"):
        Catalog(LocalArtifactSource(data_root / "models")).similarity(OLD, "king", "queen")

    assert main(["verify"]) == 1
    size = (folder / "embeddings.npy").stat().st_size
    assert capsys.readouterr().out.splitlines() == [
        f"DAMAGED default {OLD} embeddings.npy: sha256 expected {expected}, actual {actual}; "
        f"size {size} bytes as expected"
    ]
    assert main(["neighbours", "king"]) == 1  # the query commands refuse it too
    assert "is damaged" in capsys.readouterr().err


def test_verify_names_a_truncated_and_a_missing_file_and_all_checks_every_version(data_root, capsys):
    publish(data_root, OLD)
    newer = publish(data_root, NEW)
    (newer / "vocab.json").write_text("{}")
    (newer / "report" / "report.json").unlink()
    assert main(["--version", OLD, "verify"]) == 0
    capsys.readouterr()
    assert main(["verify", "--all"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"ok default {OLD}: 5 files")
    assert any(line.startswith(f"DAMAGED default {NEW} vocab.json: size expected ") for line in lines)
    assert any(line.startswith(f"DAMAGED default {NEW} report/report.json: missing (expected ") for line in lines)
    assert main(["--json", "verify", "--all"]) == 1
    checks = json.loads(capsys.readouterr().out)
    assert [c["ok"] for c in checks] == [True, False]
    assert {d["file"] for d in checks[1]["damaged"]} == {"vocab.json", "report/report.json"}


@pytest.mark.parametrize(
    "argv",
    [["--model", "nope", "verify"], ["--version", "20991231T000000Z-00000000", "verify"], ["--alias", "x", "verify"]],
)
def test_verify_of_an_unknown_name_exits_2(data_root, argv, capsys):
    publish(data_root, OLD)
    assert main(argv) == 2
    assert capsys.readouterr().err


def test_a_file_is_hashed_once_per_process_not_per_request(data_root, monkeypatch):
    publish(data_root, OLD)
    publish(data_root, NEW, champion=False)
    hashed: list[str] = []
    original = integrity.sha256_file

    def counting(path):
        hashed.append(Path(path).name)
        return original(path)

    monkeypatch.setattr(integrity, "sha256_file", counting)
    catalog = Catalog(LocalArtifactSource(data_root / "models"), max_loaded=1)
    for version in (OLD, OLD, NEW, OLD):  # OLD is evicted by NEW and loaded again
        catalog.neighbours(version, "king", 2)
    assert sorted(hashed) == ["embeddings.npy", "embeddings.npy", "vocab.json", "vocab.json"]
    store = ModelStore()
    store.load()
    store.load()
    assert len(hashed) == 4  # the same files: remembered


def test_a_manifest_entry_without_a_hash_is_not_checked(data_root):
    """Versions listed with sizes only (not as publish writes them) are served as before."""
    folder = make_version(data_root / "models", OLD)
    vocab = folder / "vocab.json"
    vocab.write_text(json.dumps(json.loads(vocab.read_text()), indent=2))  # another size than listed
    ModelRegistry(LocalStore(data_root)).move_alias("default", "champion", OLD, actor="t", reason="setup")
    assert "king" in ModelStore().load()


class TouchNothingStore(LocalStore):
    """A data root that fails the test when read: names must be refused before storage is touched."""

    def _touched(self, *args, **kwargs):
        raise AssertionError(f"storage touched with {args}")

    exists = read_bytes = read_versioned = fetch = download = children = files = _touched


HOSTILE = ["../x", "..", "%2e%2e", "%2e%2e%2fetc", "/etc/passwd", "a\x00b", f"{OLD}/../x", "C:\\x", "", "x" * 301]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_are_refused_before_storage_is_touched(tmp_path, name):
    store = TouchNothingStore(tmp_path)
    with pytest.raises(PipelineInputError):
        ModelStore(store=store, model=name)
    with pytest.raises(PipelineInputError):
        ModelStore(store=store, alias=name or "-")
    with pytest.raises(PipelineInputError):
        ModelStore(store=store, version=name).load()
    with pytest.raises(PipelineInputError):
        ModelStore(store=store, version=name).verify()
    catalog = Catalog(StoreArtifactSource(store))
    for call in (
        lambda: catalog.neighbours(name, "king"),
        lambda: catalog.summary(name),
        lambda: catalog.file(name, "embeddings.npy"),
        lambda: catalog.report_file(name),
        lambda: catalog.neighbours_at(name, "king"),
        lambda: catalog.aliases(name),
    ):
        with pytest.raises(InvalidRequestError):
            call()
    with pytest.raises(CatalogError):
        catalog.file(OLD, name)  # a hostile path inside a version: refused before the manifest is read


@pytest.mark.parametrize("name", ["../x", "%2e%2e", "/etc/passwd", "a\x00b"])
def test_the_cli_refuses_hostile_names_with_exit_2(data_root, name, capsys):
    assert main(["--version", name, "verify"]) == 2
    assert main(["--model", name, "verify"]) == 2
    assert "not a" in capsys.readouterr().err


def test_a_damaged_cached_copy_of_an_object_store_file_is_fetched_again(s3_bucket, tmp_path):
    """A cached copy that went bad is downloaded again and checked once more; the version is refused
    only when the object store's own bytes do not match."""
    from include.serving.file_cache import BoundedFileCache
    from include.storage.store import open_store

    folder = publish(tmp_path / "local", OLD, champion=False)
    store = open_store(f"{s3_bucket}/root")
    with store.writer(f"models/{OLD}") as out:
        for path in folder.rglob("*"):
            if path.is_file():
                (out.folder / path.relative_to(folder)).parent.mkdir(parents=True, exist_ok=True)
                (out.folder / path.relative_to(folder)).write_bytes(path.read_bytes())
    cache = tmp_path / "model-store-cache"
    assert "king" in ModelStore(store=store, cache=cache, version=OLD).load()
    flip_last_byte(cache / "models" / OLD / "embeddings.npy")
    assert "king" in ModelStore(store=store, cache=cache, version=OLD).load()  # fetched again: whole

    files = BoundedFileCache(tmp_path / "serving-cache", 10 * 1024 * 1024)
    assert Catalog(StoreArtifactSource(store, files)).neighbours(OLD, "king", 2)["version"] == OLD
    flip_last_byte(tmp_path / "serving-cache" / OLD / "embeddings.npy")
    assert Catalog(StoreArtifactSource(store, files)).neighbours(OLD, "king", 2)["version"] == OLD

    damaged = tmp_path / "damaged.npy"
    damaged.write_bytes((folder / "embeddings.npy").read_bytes())
    flip_last_byte(damaged)
    store.put_bytes(f"models/{OLD}/embeddings.npy", damaged.read_bytes())
    # the whole copies already cached stay whole (a version's files never change); new caches see the damage
    assert "king" in ModelStore(store=store, cache=cache, version=OLD).load()
    with pytest.raises(DamagedVersionError, match="embeddings.npy: sha256 expected"):
        ModelStore(store=store, cache=tmp_path / "new-cache", version=OLD).load()
    fresh = BoundedFileCache(tmp_path / "new-serving-cache", 10 * 1024 * 1024)
    with pytest.raises(DamagedVersionError, match="embeddings.npy: sha256 expected"):
        Catalog(StoreArtifactSource(store, fresh)).neighbours(OLD, "king", 2)
