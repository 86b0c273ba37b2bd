"""The version's vector index (include/quality/vector_index.py): its kind by size, its recall@10
measured against exact search (computed here again independently), the file read once per process,
and the readers that answer through it (ModelStore, the CLI, the UI's catalog) with versions
published before indexes still answered by the old path."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from include.artifacts.embeddings import load_embeddings
from include.quality.neighbour_table import write_neighbour_table
from include.quality.similarity import nearest_neighbours, unit_rows
from include.quality.vector_index import (
    INDEX_FILE,
    RECALL_SAMPLE,
    RECALL_SEED,
    _search_rows,
    choose_kind,
    open_vector_index,
    write_vector_index,
)
from include.registry.registry import ModelRegistry
from include.serving.artifact_source import StoreArtifactSource
from include.serving.catalog import Catalog
from include.serving.model_store import ModelStore
from include.storage.publish import file_sha256
from include.storage.store import open_store
from tests.conftest import PROJECT_ROOT

VERSION = "20261101T000000Z-aaaaaaaa"


def clustered(n: int, dims: int = 16, centres: int = 40, seed: int = 3) -> np.ndarray:
    """Unit rows around random centres: vectors with neighbourhoods, as trained ones have."""
    rng = np.random.default_rng(seed)
    middle = rng.standard_normal((centres, dims)).astype(np.float32)
    vectors = middle[rng.integers(0, centres, n)] + 0.5 * rng.standard_normal((n, dims)).astype(np.float32)
    return np.ascontiguousarray(unit_rows(vectors))


def brute_force_recall(unit: np.ndarray, path, sample_size: int = RECALL_SAMPLE, k: int = 10) -> float:
    """recall@k of the index at ``path`` on the pipeline's sample, by numpy alone."""
    index = open_vector_index(path)
    n = len(unit)
    sample = np.random.default_rng(RECALL_SEED).choice(n, size=min(sample_size, n), replace=False)
    hits = 0
    for row in sample:
        cosines = unit @ unit[row]
        cosines[row] = -np.inf
        exact = set(np.argsort(-cosines, kind="stable")[:k].tolist())
        found, _ = index.neighbours(int(row), k)
        hits += len(exact & set(found.tolist()))
    return hits / (len(sample) * k)


def test_the_kind_follows_the_size():
    assert choose_kind(50_000, 50_000) == "flat" and choose_kind(50_001, 50_000) == "ivf"


def test_ivf_raises_nprobe_until_the_measured_recall_reaches_the_goal(tmp_path):
    unit = clustered(6000)
    facts = write_vector_index(unit, tmp_path / INDEX_FILE, exact_max=1000)
    assert facts["kind"] == "ivf" and facts["words"] == 6000 and facts["nlist"] == 155
    assert facts["recall_sample"] == 1000 and facts["recall_k"] == 10
    assert facts["recall_at_10"] >= 0.95 and 1 <= facts["nprobe"] <= facts["nlist"]
    assert facts["build_seconds"] > 0 and facts["bytes"] == (tmp_path / INDEX_FILE).stat().st_size
    # the recorded recall is the index's: numpy's exact neighbours of the same sample agree
    assert brute_force_recall(unit, tmp_path / INDEX_FILE) == pytest.approx(facts["recall_at_10"], abs=1e-3)


def test_the_recall_is_measured_not_assumed(tmp_path):
    """With the goal at 0 one list is probed: the recall then measured is below 1, and it is what
    numpy finds for the same index."""
    unit = clustered(6000)
    facts = write_vector_index(unit, tmp_path / INDEX_FILE, exact_max=1000, min_recall=0.0)
    assert facts["nprobe"] == 1 and facts["recall_at_10"] < 0.99
    assert brute_force_recall(unit, tmp_path / INDEX_FILE) == pytest.approx(facts["recall_at_10"], abs=1e-3)


def test_a_flat_index_is_exact(tmp_path):
    unit = clustered(800)
    facts = write_vector_index(unit, tmp_path / INDEX_FILE, exact_max=1000)
    assert facts["kind"] == "flat" and "nprobe" not in facts and facts["recall_sample"] == 800
    assert facts["recall_at_10"] == 1.0 == brute_force_recall(unit, tmp_path / INDEX_FILE)
    rows, cosines = open_vector_index(tmp_path / INDEX_FILE).neighbours(5, 4)
    expected = unit @ unit[5]
    expected[5] = -np.inf
    assert rows.tolist() == np.argsort(-expected)[:4].tolist()
    assert np.allclose(cosines, expected[rows], atol=1e-6)


def test_the_index_is_read_once_per_process_and_again_when_the_file_changes(tmp_path, monkeypatch):
    import faiss

    unit = clustered(300)
    path = tmp_path / INDEX_FILE
    write_vector_index(unit, path)
    reads = []
    real = faiss.read_index
    monkeypatch.setattr(faiss, "read_index", lambda *args: reads.append(args) or real(*args))
    first = open_vector_index(path)
    assert all(open_vector_index(path) is first for _ in range(5)) and len(reads) == 1
    write_vector_index(unit[:200], path)  # a new file at the same path
    assert open_vector_index(path).size == 200 and len(reads) == 2


@pytest.fixture
def roots(trained_version, tmp_path, monkeypatch):
    """Two data roots holding the same trained version, published with the step's files: one with
    its vector index (listed in the manifest), one as published before indexes (no index)."""
    made = {}
    for name, indexed in (("indexed", True), ("before", False)):
        root = tmp_path / name
        folder = root / "models" / VERSION
        shutil.copytree(trained_version["version_dir"], folder)
        embeddings = load_embeddings(folder)
        write_neighbour_table(embeddings, 3, folder / "neighbours.parquet")
        if indexed:
            write_vector_index(unit_rows(embeddings.vectors), folder / INDEX_FILE)
        files = {
            p.relative_to(folder).as_posix(): {"bytes": p.stat().st_size, "sha256": file_sha256(p)}
            for p in folder.rglob("*")
            if p.is_file()
        }
        (folder / "manifest.json").write_text(json.dumps({"version": VERSION, "files": files}))
        ModelRegistry(open_store(root)).move_alias("default", "champion", VERSION, actor="test", reason="setup")
        made[name] = root
    return made


def test_model_store_answers_any_word_through_the_index_like_the_old_path(roots, monkeypatch):
    answers = {}
    for name, root in roots.items():
        monkeypatch.setenv("EMBEDDINGS_DATA_DIR", str(root))
        model = ModelStore().load()
        assert (model.index is not None) == (name == "indexed")
        words = model.embeddings.index_to_word
        answers[name] = {word: model.neighbours(word, 6) for word in words[:5] + words[-5:]}
    for word, found in answers["indexed"].items():
        old = answers["before"][word]  # the table or the exact scan: the same words, cosines to 1e-5
        assert [w for w, _ in found] == [w for w, _ in old], word
        assert np.allclose([c for _, c in found], [c for _, c in old], atol=1e-5)
    embeddings = load_embeddings(roots["indexed"] / "models" / VERSION)
    expected = nearest_neighbours(embeddings, [embeddings.index_to_word[-1]], 6)[embeddings.index_to_word[-1]]
    assert [w for w, _ in answers["indexed"][embeddings.index_to_word[-1]]] == [w for w, _ in expected]


def test_model_store_checks_the_index_against_the_manifest(roots, monkeypatch):
    from include.serving.model_store import DamagedVersionError

    index = roots["indexed"] / "models" / VERSION / INDEX_FILE
    data = bytearray(index.read_bytes())
    data[-1] ^= 0xFF
    index.write_bytes(bytes(data))
    monkeypatch.setenv("EMBEDDINGS_DATA_DIR", str(roots["indexed"]))
    with pytest.raises(DamagedVersionError, match=INDEX_FILE):
        ModelStore().load()


def test_the_cli_answers_through_the_index(roots):
    result = subprocess.run(
        [sys.executable, "-m", "include.cli", "--json", "neighbours", "king", "-k", "3"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"EMBEDDINGS_DATA_DIR": str(roots["indexed"]), "PATH": "/usr/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["neighbours"]) == 3


def test_the_catalog_answers_through_the_index_and_without_one(roots):
    found = {}
    for name, root in roots.items():
        catalog = Catalog(StoreArtifactSource(open_store(root)))
        loaded = catalog.load(VERSION)
        assert (loaded.index is not None) == (name == "indexed")
        assert catalog.load(VERSION) is loaded  # read once, then from the catalog's cache
        found[name] = catalog.neighbours_at("default", "king", 5)["neighbours"]
    assert [w for w, _ in found["indexed"]] == [w for w, _ in found["before"]]
    assert np.allclose([c for _, c in found["indexed"]], [c for _, c in found["before"]], atol=1e-5)


def test_concurrent_first_requests_read_the_version_once(roots, monkeypatch):
    import threading

    import include.serving.catalog as catalog_module

    catalog = Catalog(StoreArtifactSource(open_store(roots["indexed"])))
    reads = []
    real = catalog_module.load_version
    monkeypatch.setattr(catalog_module, "load_version", lambda *args: reads.append(args) or real(*args))
    threads = [threading.Thread(target=catalog.neighbours, args=(VERSION, "king", 3)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(reads) == 1


def test_a_word_in_a_small_ivf_list_still_gets_k_neighbours(tmp_path):
    """One list probed (the goal at 0): a word whose list holds fewer than k others is searched
    again with more lists, so every word gets its k neighbours."""
    unit = clustered(6000, centres=400)
    write_vector_index(unit, tmp_path / INDEX_FILE, exact_max=1000, min_recall=0.0)
    index = open_vector_index(tmp_path / INDEX_FILE)
    assert all(len(index.neighbours(row, 10)[0]) == 10 for row in range(0, 6000, 7))


@pytest.mark.parametrize("lists", [1, 4, 64])
def test_the_recall_search_finds_what_a_readers_one_word_search_finds(tmp_path, lists):
    """The recall is measured on batches of words; each word's neighbours are the ones
    VectorIndex.neighbours gives a reader searching it alone, words in lists too small for k
    included (400 centres, few lists probed), and on more than 20 words at once, where FAISS's
    batched kernels would take over."""
    unit = clustered(6000, centres=400)
    write_vector_index(unit, tmp_path / INDEX_FILE, exact_max=1000, min_recall=0.0)
    reader = open_vector_index(tmp_path / INDEX_FILE)
    reader.index.nprobe = lists
    rows = np.arange(0, 6000, 13)
    found = _search_rows(reader.index, unit, rows, 10)
    alone = [reader.neighbours(int(row), 10)[0].tolist() for row in rows]
    assert [hits[hits >= 0].tolist() for hits in found] == alone
