"""A load that fails after its data was extracted (DuckDB out of memory, here forced with a 1 MB memory limit)
leaves a load package pending. The next night must not wedge silently: the package loads first and tonight's data
still comes in the same run, or, if it fails again, the run stops at once naming the package and the fix, and
nothing extracted is lost."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from ingestion.errors import PendingPackageError
from ingestion.pipeline import loader_file_format, make_pipeline, make_source, run_source

STARVED = "1MB"  # too little for DuckDB to insert the events: the load step fails, the package stays


@pytest.fixture()
def events(sandbox_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[Path]]:
    """An empty usage bucket and the session sandbox's received-day folders, to drop into it night by night."""
    bucket = tmp_path / "bucket"
    bucket.mkdir()
    monkeypatch.setenv("SOURCES__USAGE__BUCKET_URL", str(bucket))
    return bucket, sorted((sandbox_dir / "events").iterdir())[-3:]


def deliver(bucket: Path, day: Path) -> None:
    shutil.copytree(day, bucket / day.name)


def received(folders: list[Path]) -> tuple[int, int]:
    """(rows, distinct messageIds) in these folders' files: the raw table keeps every row received, copies of an
    event included (dbt removes those), and must hold each exactly once."""
    files = ", ".join(f"'{f}'" for folder in folders for f in folder.glob("*.parquet"))
    with duckdb.connect() as con:
        return con.execute(f"select count(*), count(distinct messageId) from read_parquet([{files}])").fetchone()


def loaded(warehouse: Path) -> tuple[int, int]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("select count(*), count(distinct message_id) from raw_usage.events").fetchone()


def fail_a_load(warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CSOPS_DUCKDB_MEMORY_LIMIT", STARVED)
    with pytest.raises(PipelineStepFailed):
        run_source("usage", warehouse)
    pending = make_pipeline("usage", warehouse).list_normalized_load_packages()
    assert len(pending) == 1  # extracted and normalized, not loaded
    return pending[0]


def test_a_package_left_pending_loads_first_and_the_new_night_still_comes_in(
    events: tuple[Path, list[Path]], warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket, days = events
    deliver(bucket, days[0])
    package = fail_a_load(warehouse, monkeypatch)
    deliver(bucket, days[1])
    monkeypatch.delenv("CSOPS_DUCKDB_MEMORY_LIMIT")
    report = run_source("usage", warehouse)
    assert report.pending_loaded == [package]
    assert loaded(warehouse) == received(days[:2])  # both nights, each row once
    assert make_pipeline("usage", warehouse).list_normalized_load_packages() == []


def test_a_pending_package_that_fails_again_stops_the_run_naming_it_and_the_fix(
    events: tuple[Path, list[Path]], warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket, days = events
    deliver(bucket, days[0])
    package = fail_a_load(warehouse, monkeypatch)
    deliver(bucket, days[1])
    with pytest.raises(PendingPackageError) as failure:
        run_source("usage", warehouse)
    message = str(failure.value)
    assert package in message and "abort-packages" in message and "CSOPS_DUCKDB_MEMORY_LIMIT" in message
    assert make_pipeline("usage", warehouse).list_normalized_load_packages() == [package]  # kept, not lost
    # The fix the message names, as a user would type it (and confirm): the package is aborted, the state rewound ...
    dlt_cli, *arguments = re.search(r"`(dlt pipeline --pipelines-dir [^`]+)`", message).group(1).split()
    env = {**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false"}
    subprocess.run([str(Path(sys.executable).with_name(dlt_cli)), "--yes", *arguments], check=True, env=env)
    assert make_pipeline("usage", warehouse).list_normalized_load_packages() == []
    # ... so the next run extracts that night's files again, with the new one: nothing extracted was lost.
    monkeypatch.delenv("CSOPS_DUCKDB_MEMORY_LIMIT")
    run_source("usage", warehouse)
    assert loaded(warehouse) == received(days[:2])


def test_a_re_delivered_file_is_read_again_and_its_rows_kept_as_copies(
    events: tuple[Path, list[Path]], warehouse: Path, tmp_path: Path
) -> None:
    """A re-delivered file (new modification time) is read again: its events land a second time, as copies that dbt
    removes (stg_usage__events), and the load copies each file of the night once."""
    bucket, days = events
    deliver(bucket, days[0])
    run_source("usage", warehouse)
    again = bucket / days[0].name
    for file in again.glob("*.parquet"):
        file.touch()
        os.utime(file, (file.stat().st_mtime + 60, file.stat().st_mtime + 60))
    deliver(bucket, days[1])
    report = run_source("usage", warehouse)
    (first_rows, _), (both_rows, both_ids) = received(days[:1]), received(days[:2])
    assert report.after_load["copied"] == both_rows  # tonight: the re-delivered file and the new night
    assert loaded(warehouse) == (first_rows + both_rows, both_ids)


def test_a_warehouse_deduplicated_at_load_by_an_earlier_version_copies_no_load_again(
    events: tuple[Path, list[Path]], warehouse: Path
) -> None:
    """Loads an earlier version marked done (in `_csops_events_deduplicated_loads`) stay done."""
    bucket, days = events
    deliver(bucket, days[0])
    run_source("usage", warehouse)
    with duckdb.connect(str(warehouse)) as con:  # the earlier marker, as that version left it
        con.execute(
            "create table raw_usage._csops_events_deduplicated_loads as select load_id, 0 as removed_rows, "
            "copied_at as deduplicated_at from raw_usage._csops_event_copied_loads"
        )
        con.execute("drop table raw_usage._csops_event_copied_loads")
    deliver(bucket, days[1])
    report = run_source("usage", warehouse)
    assert report.after_load["copied"] == received(days[1:2])[0]
    assert loaded(warehouse) == received(days[:2])


def load_without_the_copy(warehouse: Path) -> str:
    """dlt's load alone, as a run that died right after it leaves things: the files are named in the warehouse
    (`_csops_event_files`) and the incremental state has moved past them, but not one of their rows is copied."""
    pipeline = make_pipeline("usage", warehouse)
    info = pipeline.run(make_source("usage", warehouse), loader_file_format=loader_file_format())
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(*) from raw_usage.events").fetchone()[0] == 0
        assert con.execute("select count(*) from raw_usage._csops_event_files").fetchone()[0] > 0
    return info.loads_ids[-1]


def test_files_a_dead_run_named_but_never_copied_are_copied_by_the_next_run_before_new_ones(
    events: tuple[Path, list[Path]], warehouse: Path
) -> None:
    bucket, days = events
    deliver(bucket, days[0])
    dead = load_without_the_copy(warehouse)
    deliver(bucket, days[1])
    report = run_source("usage", warehouse)
    assert report.after_load["caught_up"]["loads"] == [dead]
    assert loaded(warehouse) == received(days[:2])
    with duckdb.connect(str(warehouse), read_only=True) as con:
        stamped = con.execute("select count(*) from raw_usage.events where _dlt_load_id = ?", [dead]).fetchone()[0]
    assert stamped == received(days[:1])[0]  # the dead run's rows carry its load id


def test_a_copy_that_fails_again_stops_the_run_naming_the_file_and_the_fix_and_nothing_is_lost(
    events: tuple[Path, list[Path]], warehouse: Path, tmp_path: Path
) -> None:
    bucket, days = events
    deliver(bucket, days[0])
    load_without_the_copy(warehouse)
    moved = tmp_path / "moved"
    shutil.move(bucket / days[0].name, moved)  # the vendor's file is gone before it was copied
    deliver(bucket, days[1])
    with pytest.raises(PendingPackageError) as failure:
        run_source("usage", warehouse)
    message = str(failure.value)
    assert "events.parquet" in message and "CSOPS_DUCKDB_MEMORY_LIMIT" in message and "--full-refresh" in message
    assert loaded(warehouse) == (0, 0)  # stopped before anything new was extracted
    shutil.move(moved, bucket / days[0].name)  # put back, as the message says
    run_source("usage", warehouse)
    assert loaded(warehouse) == received(days[:2])


def test_the_rows_of_a_vanished_file_are_given_up_only_by_a_full_refresh_which_reads_what_is_left(
    events: tuple[Path, list[Path]], warehouse: Path
) -> None:
    bucket, days = events
    deliver(bucket, days[0])
    load_without_the_copy(warehouse)
    shutil.rmtree(bucket / days[0].name)  # deleted by the vendor before it was copied: those rows are gone
    deliver(bucket, days[1])
    with pytest.raises(PendingPackageError, match="--full-refresh usage"):
        run_source("usage", warehouse)
    run_source("usage", warehouse, full_refresh=True)
    assert loaded(warehouse) == received(days[1:2])
    run_source("usage", warehouse)  # and later nights run again
