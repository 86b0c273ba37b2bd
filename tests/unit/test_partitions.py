from datetime import UTC, date, datetime

import pytest

from include.errors import PipelineInputError
from include.storage.corpus_location import CorpusLocation
from include.storage.partitions import (
    SNAPSHOT,
    day_folders,
    partition_day,
    plan_partitions,
    prune_partitions,
    training_partitions,
)
from include.storage.store import open_store


def utc(*args):
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def dated(tmp_path):
    corpus = tmp_path / "news"
    for day in ("2026-11-01", "2026-11-02", "2026-11-03"):
        (corpus / day).mkdir(parents=True)
        (corpus / day / "a.txt").write_text(f"text of {day}\n")
    (corpus / "notes").mkdir()  # not a day: ignored
    return corpus


def test_flat_folder_and_file_are_one_snapshot(tmp_path):
    (tmp_path / "a.txt").write_text("x\n")
    for corpus in (tmp_path, tmp_path / "a.txt"):
        plan = plan_partitions(corpus, utc(2026, 11, 2), utc(2026, 11, 3))
        assert plan.sources == [(SNAPSHOT, CorpusLocation.of(corpus))] and plan.dated is False


def test_interval_selects_its_days(dated):
    plan = plan_partitions(dated, utc(2026, 11, 2), utc(2026, 11, 3))
    assert plan.dated and [(name, source.path) for name, source in plan.sources] == [
        ("dt=2026-11-02", str(dated / "2026-11-02"))
    ]
    two_days = plan_partitions(dated, utc(2026, 11, 1), utc(2026, 11, 3))
    assert [name for name, _ in two_days.sources] == ["dt=2026-11-01", "dt=2026-11-02"]
    hourly = plan_partitions(dated, utc(2026, 11, 3, 5), utc(2026, 11, 3, 6))
    assert [name for name, _ in hourly.sources] == ["dt=2026-11-03"]


def test_snapshot_of_a_dated_folder_is_all_days(dated):
    plan = plan_partitions(dated, None, None)
    assert [name for name, _ in plan.sources] == ["dt=2026-11-01", "dt=2026-11-02", "dt=2026-11-03"]
    assert sorted(day_folders(dated)) == [date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)]


def test_interval_without_its_day_folder_is_refused(dated):
    with pytest.raises(PipelineInputError, match="no day folder in the data interval 2026-11-20"):
        plan_partitions(dated, utc(2026, 11, 20), utc(2026, 11, 21))


def test_folder_named_like_an_impossible_day_is_refused(tmp_path):
    (tmp_path / "2026-02-30").mkdir()
    with pytest.raises(PipelineInputError, match="2026-02-30"):
        day_folders(tmp_path)


def _partitions(root, names, committed=True):
    """``tokens/c/<name>/`` for each name under the store ``root``, committed (with _SUCCESS.json) or not."""
    store = open_store(root)
    for name in names:
        store.put_bytes(f"tokens/c/{name}/part-r-00000.parquet", b"rows")
        if committed:
            store.put_json(f"tokens/c/{name}/_SUCCESS.json", {"parts": ["part-r-00000.parquet"]})
    return store


def test_training_window(tmp_path):
    root = _partitions(tmp_path, ["dt=2026-11-01", "dt=2026-11-02", "dt=2026-11-03", "dt=2026-11-04", "snapshot"])
    _partitions(tmp_path, ["dt=2026-11-02T"], committed=False)  # not a day
    _partitions(tmp_path, ["dt=2026-10-31"], committed=False)  # being written: no _SUCCESS.json yet
    names = list
    assert names(training_partitions(root, "c", True, date(2026, 11, 4), 0)) == [
        "dt=2026-11-01",
        "dt=2026-11-02",
        "dt=2026-11-03",
    ]
    assert names(training_partitions(root, "c", True, date(2026, 11, 4), 2)) == ["dt=2026-11-02", "dt=2026-11-03"]
    assert names(training_partitions(root, "c", True, None, 0)) == [
        "dt=2026-11-01",
        "dt=2026-11-02",
        "dt=2026-11-03",
        "dt=2026-11-04",
    ]
    assert names(training_partitions(root, "c", False, date(2026, 11, 4), 0)) == ["snapshot"]
    with pytest.raises(PipelineInputError, match="no token partition"):
        training_partitions(root, "c", True, date(2026, 10, 1), 0)


def test_pruning_keeps_recent_partitions_and_snapshots(tmp_path):
    root = _partitions(tmp_path, ["dt=2026-08-01", "dt=2026-11-01", "snapshot"])
    assert prune_partitions(root, "c", date(2026, 11, 5), 0) == []
    assert prune_partitions(root, "c", date(2026, 11, 5), 30) == ["dt=2026-08-01"]
    assert sorted(p.name for p in (tmp_path / "tokens" / "c").iterdir()) == ["dt=2026-11-01", "snapshot"]
    assert partition_day("dt=2026-11-01") == date(2026, 11, 1) and partition_day("snapshot") is None


def test_a_partition_of_an_earlier_release_is_read_whole(tmp_path):
    """Committed before _SUCCESS.json named its parts (the folder was replaced by a rename then)."""
    from include.storage.partitions import partition_parts

    store = _partitions(tmp_path, ["dt=2026-11-01"])
    store.put_bytes("tokens/c/dt=2026-11-01/part-00001.parquet", b"rows")
    assert partition_parts(store, "c", "dt=2026-11-01", {"parts": ["part-r-00000.parquet"]}) == ["part-r-00000.parquet"]
    assert partition_parts(store, "c", "dt=2026-11-01", {"rows": 1}) == ["part-00001.parquet", "part-r-00000.parquet"]
