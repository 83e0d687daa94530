"""The local event log (orchestration/event_log.py) that the repository's dagster.yaml configures: what one process
writes is what another reads, watched, after a kill -9, and reading never wakes the watchers."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import AssetKey, AssetMaterialization, DagsterInstance
from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
from dagster._core.events.log import EventLogEntry

from orchestration.event_log import RUN_ENGINES_KEPT, LocalEventLogStorage
from orchestration.run import instance_for

ASSET = AssetKey(["csops_test", "health"])


def materialization(run_id: str, n: int) -> EventLogEntry:
    """An asset materialization as a step reports one: it goes to the run's database and to the index."""
    event = DagsterEvent(
        DagsterEventType.ASSET_MATERIALIZATION.value,
        "nightly_refresh",
        event_specific_data=StepMaterializationData(AssetMaterialization(ASSET, metadata={"n": n})),
    )
    return EventLogEntry(
        error_info=None,
        level=20,
        user_message="",
        run_id=run_id,
        timestamp=time.time(),
        dagster_event=event,
        job_name="nightly_refresh",
    )


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A DAGSTER_HOME holding the repository's dagster.yaml (instance_for copies it)."""
    folder = tmp_path / "dagster_home"
    folder.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(folder))
    return folder


@pytest.fixture()
def writer(home: Path) -> Iterator[DagsterInstance]:
    instance = instance_for(home)
    yield instance
    instance.dispose()


def open_run_databases(base_dir: str) -> set[str]:
    """The run databases this process holds open (from /proc: what the kernel says, not what the storage thinks)."""
    fds = Path("/proc/self/fd")
    paths = set()
    for fd in fds.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith(base_dir) and target.endswith(".db") and not target.endswith("index.db"):
            paths.add(target)
    return paths


def test_the_repository_instance_keeps_its_events_under_dagster_home(writer: DagsterInstance, home: Path) -> None:
    storage = writer.event_log_storage
    assert isinstance(storage, LocalEventLogStorage)
    run_id = str(uuid.uuid4())
    writer.handle_new_event(materialization(run_id, 0))
    assert (home / "history" / "runs" / f"{run_id}.db").is_file()
    assert (home / "history" / "runs" / "index.db").is_file()


def test_what_one_instance_writes_another_reads_while_the_writer_is_open(writer: DagsterInstance, home: Path) -> None:
    run_id = str(uuid.uuid4())
    for n in range(25):
        writer.handle_new_event(materialization(run_id, n))
    reader = DagsterInstance.from_config(str(home))  # another instance on the same home, like the webserver
    try:
        assert len(reader.all_logs(run_id)) == 25
        latest = reader.get_latest_materialization_event(ASSET)  # from the index database
        assert latest is not None and latest.asset_materialization is not None
        assert latest.asset_materialization.metadata["n"].value == 24
    finally:
        reader.dispose()


def test_a_watcher_in_another_instance_sees_each_write(writer: DagsterInstance, home: Path) -> None:
    """The UI's live view of a run: a WAL commit leaves the run's database file as it was, so the storage touches it
    after a write; without that the watcher would hear nothing until a checkpoint."""
    run_id = str(uuid.uuid4())
    writer.handle_new_event(materialization(run_id, 0))  # the run's database exists before anyone watches it
    reader = DagsterInstance.from_config(str(home))
    seen: list[int] = []
    done = threading.Event()

    def callback(entry: EventLogEntry, _cursor: str) -> None:
        seen.append(entry.asset_materialization.metadata["n"].value)  # type: ignore[union-attr]
        if len(seen) == 6:
            done.set()

    try:
        reader.event_log_storage.watch(run_id, None, callback)
        for n in range(1, 6):
            writer.handle_new_event(materialization(run_id, n))
            time.sleep(0.2)  # one write at a time, as a run's steps report them
        assert done.wait(timeout=20), f"the watcher saw {seen} of 6 events"
        assert seen == [0, 1, 2, 3, 4, 5]  # from the start of the run (no cursor), each once
    finally:
        reader.event_log_storage.end_watch(run_id, callback)
        reader.dispose()


def test_reading_a_run_leaves_its_database_file_alone(writer: DagsterInstance, home: Path) -> None:
    """A watcher reads the run when its file changes: if reading changed the file, it would wake itself forever."""
    run_id = str(uuid.uuid4())
    writer.handle_new_event(materialization(run_id, 0))
    database = home / "history" / "runs" / f"{run_id}.db"
    os.utime(database, (1_000_000, 1_000_000))
    assert len(writer.all_logs(run_id)) == 1
    assert database.stat().st_mtime == 1_000_000
    writer.handle_new_event(materialization(run_id, 1))
    assert database.stat().st_mtime > 1_000_000


def test_events_committed_before_a_kill_9_are_kept(home: Path) -> None:
    run_id = str(uuid.uuid4())
    script = f"""
import os, signal, sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from test_event_log import materialization
from orchestration.run import instance_for
instance = instance_for()
for n in range(40):
    instance.handle_new_event(materialization({run_id!r}, n))
os.kill(os.getpid(), signal.SIGKILL)
"""
    killed = subprocess.run([sys.executable, "-c", script], env=os.environ.copy(), check=False)
    assert killed.returncode == -9
    reader = DagsterInstance.from_config(str(home))
    try:
        assert len(reader.all_logs(run_id)) == 40
        latest = reader.get_latest_materialization_event(ASSET)
        assert latest is not None and latest.asset_materialization is not None
        assert latest.asset_materialization.metadata["n"].value == 39
    finally:
        reader.dispose()


def test_only_the_newest_run_databases_stay_open(writer: DagsterInstance) -> None:
    """The webserver reads many runs: only the newest few keep an open connection."""
    storage = writer.event_log_storage
    assert isinstance(storage, LocalEventLogStorage)
    base_dir = storage._base_dir
    runs = [str(uuid.uuid4()) for _ in range(RUN_ENGINES_KEPT + 4)]
    for run_id in runs:
        writer.handle_new_event(materialization(run_id, 0))
        assert len(writer.all_logs(run_id)) == 1
    still_open = open_run_databases(base_dir)
    assert still_open == {str(Path(base_dir) / f"{run_id}.db") for run_id in runs[-RUN_ENGINES_KEPT:]}
    writer.dispose()
    assert open_run_databases(base_dir) == set()


def test_after_a_wipe_a_run_is_written_to_a_new_database(writer: DagsterInstance, home: Path) -> None:
    """`dagster instance wipe` deletes the run databases' files; a kept connection must not write to a deleted one."""
    run_id = str(uuid.uuid4())
    writer.handle_new_event(materialization(run_id, 0))
    writer.wipe()
    writer.handle_new_event(materialization(run_id, 1))
    reader = DagsterInstance.from_config(str(home))
    try:
        logs = reader.all_logs(run_id)
        assert [entry.asset_materialization.metadata["n"].value for entry in logs] == [1]  # type: ignore[union-attr]
    finally:
        reader.dispose()
