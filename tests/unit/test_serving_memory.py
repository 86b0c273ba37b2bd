"""The api-server's memory and its answers under alias moves (issue 25, item 6): a version is read
once per process and shared by requests, the loaded versions are held in a cache bounded by bytes
(``EMBEDDINGS_SERVING_MEMORY_MB``) whose evicted versions are unmapped, the matrix's pages are not
faulted in to compute row lengths, and a search at ``model@alias`` answers from the one version it
names, however the alias moves meanwhile. The load test over a real api-server is
``tests/benchmarks/test_hostile_load.py``."""

from __future__ import annotations

import gc
import json
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from include.artifacts.embeddings import load_embeddings
from include.errors import PipelineInputError
from include.quality.similarity import unit_rows
from include.quality.vector_index import INDEX_FILE, write_vector_index
from include.registry.registry import ModelRegistry
from include.serving.artifact_source import LocalArtifactSource
from include.serving.catalog import Catalog
from include.serving.neighbour_search import footprint_bytes, load_version, vocabulary_bytes
from include.settings import DEFAULT_SERVING_MEMORY_MB, serving_memory_bytes
from include.storage.store import LocalStore, sha256_file

A = "20261101T000000Z-aaaaaaaa"
B = "20261102T000000Z-bbbbbbbb"
C = "20261103T000000Z-cccccccc"


def words(n: int) -> list[str]:
    return [f"w{i:05d}" for i in range(n)]


def vectors(n: int, dims: int = 16, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((20, dims)).astype(np.float32)
    return centres[rng.integers(0, 20, n)] + 0.3 * rng.standard_normal((n, dims)).astype(np.float32)


def publish(root: Path, name: str, matrix: np.ndarray, vocab: list[str], *, champion: bool = False) -> Path:
    """A version as publish writes it, with an exact vector index; every file in the manifest."""
    folder = root / "models" / name
    folder.mkdir(parents=True)
    np.save(folder / "embeddings.npy", matrix, allow_pickle=False)
    (folder / "vocab.json").write_text(json.dumps({w: i for i, w in enumerate(vocab)}))
    write_vector_index(np.ascontiguousarray(unit_rows(matrix)), folder / INDEX_FILE, exact_max=10**9)
    files = {}
    for path in sorted(folder.iterdir()):
        digest, size = sha256_file(path)
        files[path.name] = {"sha256": digest, "bytes": size}
    manifest = {"version": name, "model": "default", "data_time": "2026-11-01T00:00:00+00:00", "files": files}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    if champion:
        ModelRegistry(LocalStore(root)).move_alias("default", "champion", name, actor="t", reason="setup")
    return folder


def mapped(path: Path) -> bool:
    """Whether this process maps ``path`` (``/proc/self/maps``)."""
    return str(path) in Path("/proc/self/maps").read_text()


def resident_kib(path: Path) -> int:
    """KiB of ``path``'s mappings resident in this process (``/proc/self/smaps`` ``Rss``)."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and len(head) >= 5:  # a mapping's first line: range perms offset dev inode [path]
            inside = line.endswith(str(path))
        elif inside and line.startswith("Rss:"):
            total += int(head[1])
    return total


def test_the_memory_setting_defaults_to_2048_mb_and_refuses_zero_and_words(monkeypatch):
    monkeypatch.delenv("EMBEDDINGS_SERVING_MEMORY_MB", raising=False)
    assert serving_memory_bytes() == DEFAULT_SERVING_MEMORY_MB * 2**20 == 2048 * 2**20
    monkeypatch.setenv("EMBEDDINGS_SERVING_MEMORY_MB", "300")
    assert serving_memory_bytes() == 300 * 2**20
    assert Catalog(LocalArtifactSource(Path("/nonexistent/models"))).max_bytes == 300 * 2**20
    for bad in ("0", "-5", "lots"):
        monkeypatch.setenv("EMBEDDINGS_SERVING_MEMORY_MB", bad)
        with pytest.raises(PipelineInputError, match="EMBEDDINGS_SERVING_MEMORY_MB"):
            serving_memory_bytes()


def test_a_version_is_charged_its_mapped_files_row_lengths_and_vocabulary(data_root):
    folder = publish(data_root, A, vectors(3000), words(3000))
    loaded = load_version(A, folder, folder / INDEX_FILE)
    files = (folder / "embeddings.npy").stat().st_size + (folder / INDEX_FILE).stat().st_size
    vocabulary = vocabulary_bytes(loaded.embeddings)
    assert loaded.footprint == files + 3000 * 4 + vocabulary
    without_index = footprint_bytes(loaded.embeddings, loaded.norms, None)
    assert without_index == loaded.footprint - (folder / INDEX_FILE).stat().st_size
    # the vocabulary's charge is what building it allocates (tracemalloc), within a fifth
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        embeddings = load_embeddings(folder, mmap=True)
        allocated = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert 0.8 < vocabulary_bytes(embeddings) / allocated < 1.2, (vocabulary_bytes(embeddings), allocated)


def test_row_lengths_are_computed_without_faulting_in_the_matrix(data_root):
    matrix = vectors(60_000, dims=32)  # 7.3 MiB
    folder = publish(data_root, A, matrix, words(60_000))
    loaded = load_version(A, folder, folder / INDEX_FILE)
    assert np.allclose(loaded.norms, np.linalg.norm(matrix, axis=1))
    assert mapped(folder / "embeddings.npy")
    assert resident_kib(folder / "embeddings.npy") <= 64, "computing row lengths faulted the matrix in"
    assert loaded.cosine(0, 1) == pytest.approx(float(unit_rows(matrix[:2])[0] @ unit_rows(matrix[:2])[1]), abs=1e-6)


def test_the_cache_evicts_by_bytes_least_recently_used_first_and_unmaps_what_it_evicts(data_root, monkeypatch):
    import include.serving.catalog as catalog_module

    trims = []
    real_trim = catalog_module.give_back_freed_memory
    monkeypatch.setattr(catalog_module, "give_back_freed_memory", lambda: trims.append(1) or real_trim())
    folders = {name: publish(data_root, name, vectors(4000, seed=i), words(4000)) for i, name in enumerate((A, B, C))}
    probe = Catalog(LocalArtifactSource(data_root / "models"))
    charge = probe.load(A).footprint
    del probe
    catalog = Catalog(LocalArtifactSource(data_root / "models"), max_bytes=int(2.5 * charge))  # room for two
    first = catalog.load(A)
    assert catalog.load(A) is first  # read once, then shared
    catalog.load(B)
    catalog.load(A)  # A is now the most recently used
    catalog.load(C)  # three do not fit: B, the least recently used, goes
    assert list(catalog.loaded_versions()) == [A, C]
    assert catalog.loaded_bytes <= catalog.max_bytes
    assert len(trims) == 1  # the allocator's free memory given back once something was evicted
    gc.collect()
    assert not mapped(folders[B] / "embeddings.npy") and not mapped(folders[B] / INDEX_FILE)
    assert mapped(folders[A] / INDEX_FILE) and mapped(folders[C] / INDEX_FILE)
    # a request still holding an evicted version keeps it mapped until it is done with it
    holding = catalog.load(B)
    assert list(catalog.loaded_versions()) == [C, B]
    gc.collect()
    assert mapped(folders[A] / INDEX_FILE)  # evicted, but `first` still holds it
    del first
    gc.collect()
    assert not mapped(folders[A] / INDEX_FILE)
    assert holding.version == B


def test_a_version_larger_than_the_budget_is_served_alone(data_root):
    for i, name in enumerate((A, B)):
        publish(data_root, name, vectors(2000, seed=i), words(2000))
    catalog = Catalog(LocalArtifactSource(data_root / "models"), max_bytes=1)
    assert catalog.neighbours(A, "w00001", 3)["version"] == A
    assert list(catalog.loaded_versions()) == [A]
    assert catalog.neighbours(B, "w00001", 3)["version"] == B
    assert list(catalog.loaded_versions()) == [B]


def expected(folder: Path, word: str, k: int) -> list[list]:
    """``word``'s k neighbours in the version at ``folder``, by numpy alone."""
    embeddings = load_embeddings(folder)
    unit = unit_rows(np.asarray(embeddings.vectors))
    row = embeddings.word_to_index[word]
    cosines = unit @ unit[row]
    cosines[row] = -np.inf
    order = np.argsort(-cosines, kind="stable")[:k]
    return [embeddings.index_to_word[i] for i in order]


def test_an_alias_moved_between_resolving_and_loading_does_not_mix_versions(data_root):
    """The alias moves right after the search read it: the answer is the old version's, named."""
    matrix = vectors(500)
    old = publish(data_root, A, matrix, words(500), champion=True)
    shuffled = list(np.random.default_rng(5).permutation(words(500)))  # same rows, other words
    new = publish(data_root, B, matrix, shuffled)
    catalog = Catalog(LocalArtifactSource(data_root / "models"))
    registry = catalog.registry
    real = registry.resolve

    def resolve_then_move(model, *, alias=None, version=None):
        named = real(model, alias=alias, version=version)
        if version is None:
            registry.move_alias("default", "champion", B, actor="t", reason="moved mid-request")
        return named

    registry.resolve = resolve_then_move  # type: ignore[method-assign]
    answer = catalog.neighbours_at("default", "w00007", 5)
    assert answer["version"] == A and answer["alias"] == "champion"
    assert [w for w, _ in answer["neighbours"]] == expected(old, "w00007", 5)
    assert expected(new, "w00007", 5) != expected(old, "w00007", 5)
    registry.resolve = real  # type: ignore[method-assign]
    moved = catalog.neighbours_at("default", "w00007", 5)
    assert moved["version"] == B and [w for w, _ in moved["neighbours"]] == expected(new, "w00007", 5)
    similarity = catalog.similarity_at("default", "w00007", "w00008")
    assert similarity["version"] == B


def test_concurrent_searches_while_the_alias_moves_each_answer_from_the_version_they_name(data_root):
    matrix = vectors(800)
    folders = {A: publish(data_root, A, matrix, words(800), champion=True)}
    folders[B] = publish(data_root, B, matrix, list(np.random.default_rng(6).permutation(words(800))))
    asked = words(800)[:40]
    truth = {(v, w): expected(folder, w, 5) for v, folder in folders.items() for w in asked}
    catalog = Catalog(LocalArtifactSource(data_root / "models"), max_loaded=1)  # each move evicts too
    answers: list[dict] = []
    failures: list[BaseException] = []
    stop = threading.Event()

    def search(seed: int) -> None:
        rng = np.random.default_rng(seed)
        try:
            while not stop.is_set():
                answers.append(catalog.neighbours_at("default", asked[int(rng.integers(0, len(asked)))], 5))
        except BaseException as error:  # pragma: no cover - reported below
            failures.append(error)

    threads = [threading.Thread(target=search, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    registry = ModelRegistry(LocalStore(data_root))
    for move in range(10):
        time.sleep(0.05)
        registry.move_alias("default", "champion", (B, A)[move % 2], actor="t", reason=f"move {move}")
    stop.set()
    for thread in threads:
        thread.join()
    assert not failures, failures[:1]
    assert {a["version"] for a in answers} == {A, B}
    wrong = [a for a in answers if [w for w, _ in a["neighbours"]] != truth[(a["version"], a["word"])]]
    assert not wrong, wrong[:2]
