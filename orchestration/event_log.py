"""Dagster's local event log (SQLite, one database per run and an index), without the default's cost per event.

dagster.yaml configures it for the embedded instance; the Postgres storage documented there replaces it.

Dagster's `SqliteEventLogStorage` builds a new SQLAlchemy engine and opens a new SQLite connection for every write,
and closing the last connection to a WAL database checkpoints it, with an fsync. A csops night stores about 1,150
events: one or two per dbt model and test, most of them written to the run's database and to the index. That cost
7.4 ms per event here; this storage costs 1.6 ms (`csops bench` reports the night it is part of).

What changes:
- One engine per database, whose connection stays open: no new engine, no reconnection, no checkpoint per write.
  SQLite checkpoints the WAL itself when it grows (1,000 pages), and when the last connection closes.
- `synchronous=NORMAL`, SQLite's recommended setting for WAL: a commit survives the process being killed; only an
  operating-system crash or power loss can lose the last commits, and never corrupts the database.
- Only the newest few run databases keep an engine (the webserver reads many runs; each open one holds files).
- Watchers (the UI's live view of a run) follow the run database's file, which a WAL commit no longer modifies:
  after a write to a run's database, its modification time is updated. Reads never do, so a watcher's own read does
  not wake it again.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as db
from dagster import Field, StringSource
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME, SqliteEventLogStorage
from dagster._core.storage.sqlite import create_db_conn_string
from dagster._serdes import ConfigurableClassData
from sqlalchemy.engine import Connection, Engine

BUSY_TIMEOUT_SECONDS = 30  # Dagster's own SQLite busy timeout: another process writing the same database
RUN_ENGINES_KEPT = 4  # run databases with an open connection; the index always has one


def default_base_dir() -> str:
    """Where Dagster's default SQLite storage keeps the event log: $DAGSTER_HOME/history/runs."""
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        raise ValueError(
            "DAGSTER_HOME is not set: the local event log lives under it (or set event_log_storage's base_dir)"
        )
    return str(Path(home) / "history" / "runs")


class LocalEventLogStorage(SqliteEventLogStorage):
    """SQLite event log with one kept connection per database (see the module docstring)."""

    def __init__(self, base_dir: str | None = None, inst_data: ConfigurableClassData | None = None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        super().__init__(base_dir or default_base_dir(), inst_data)

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(  # ty: ignore[invalid-method-override]
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> LocalEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        engine = self._engines.get(shard)
        if engine is not None:
            self._engines.move_to_end(shard)
            return engine
        engine = db.create_engine(
            create_db_conn_string(self._base_dir, shard),
            pool_size=1,
            max_overflow=2,
            connect_args={"timeout": BUSY_TIMEOUT_SECONDS},
        )
        db.event.listen(engine, "connect", _wal_normal_sync)
        self._engines[shard] = engine
        self._close_run_engines(keep=RUN_ENGINES_KEPT)
        return engine

    def _close_run_engines(self, keep: int) -> None:
        """Close all but the newest `keep` run databases' connections (the index's stays)."""
        run_shards = [name for name in self._engines if name != INDEX_SHARD_NAME]
        for oldest in run_shards[: max(0, len(run_shards) - keep)]:
            self._engines.pop(oldest).dispose()

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn:
                sqlite = conn.connection.dbapi_connection
                changes = sqlite.total_changes if sqlite is not None else 0
                with conn.begin():
                    yield conn
                wrote = sqlite is not None and sqlite.total_changes != changes
            if wrote and shard != INDEX_SHARD_NAME:
                os.utime(self.path_for_shard(shard))  # wakes the run's watchers (see the module docstring)

    def wipe(self) -> None:
        """Dagster's wipe deletes the run databases' files: their connections close first, or later writes would go
        to the deleted files."""
        with self._db_lock:
            self._close_run_engines(keep=0)
        super().wipe()

    def dispose(self) -> None:
        with self._db_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()
        super().dispose()


def _wal_normal_sync(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")
