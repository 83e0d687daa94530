"""Removing the copies of a message after a usage load (ingestion/event_copy.py) groups the messages by a cheap key
first (DuckDB's 64-bit hash of the id): a key shared by different messages must only add candidates, never remove a
message that has no copy. Here the key is made to collide on purpose, on a real dlt DuckDB client; and the load's
days are searched in several spans, on DuckDB and on Postgres (where rows are told apart by `ctid`)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dlt
import pytest

from ingestion import event_copy
from ingestion.event_copy import _day_spans, _remove_copies, row_identity
from ingestion.pipeline import destination
from tests.support import postgres_available, require_service

LOAD = "1800000000.1"
SENT = datetime(2026, 10, 30, 9, 0, tzinfo=UTC)


def _events_client(destination, dataset: str, pipelines: Path):
    """A real dlt SQL client over a fresh dataset holding an `events` table with the six rows below."""
    pipeline = dlt.pipeline(
        pipeline_name="event_copies", destination=destination, dataset_name=dataset, pipelines_dir=str(pipelines)
    )
    with pipeline.sql_client() as sql:
        sql.create_dataset()
        events = sql.make_qualified_table_name("events")
        sql.execute_sql(
            f'create table {events} (message_id varchar, "timestamp" timestamptz, received_at timestamptz, '
            "file_name varchar, _dlt_load_id varchar)"
        )
        rows = [  # four messages with ids of one length; m-02 arrived three times (a retry, a re-delivered file)
            ("m-01", SENT, SENT, "d1/events.parquet"),
            ("m-02", SENT, SENT + timedelta(seconds=5), "d1/events.parquet"),
            ("m-02", SENT, SENT + timedelta(seconds=1), "d1/events.parquet"),
            ("m-02", SENT, SENT + timedelta(days=1), "d2/events.parquet"),
            ("m-03", SENT + timedelta(days=1), SENT + timedelta(days=1), "d2/events.parquet"),
            ("m-04", SENT - timedelta(days=2), SENT, "d1/events.parquet"),
        ]
        for message_id, sent, received, file_name in rows:
            sql.execute_sql(
                f"insert into {events} values (%s, %s, %s, %s, %s)", message_id, sent, received, file_name, LOAD
            )
        try:
            yield sql
        finally:
            sql.drop_dataset()


@pytest.fixture()
def client(tmp_path: Path):
    yield from _events_client(dlt.destinations.duckdb(str(tmp_path / "w.duckdb")), "raw_usage", tmp_path / "pipelines")


@pytest.fixture()
def postgres_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The warehouse's own Postgres destination (CSOPS_PG_*; by default the local server's `test` database)."""
    require_service(postgres_available(), "PostgreSQL on 127.0.0.1:5432")
    monkeypatch.setenv("CSOPS_TARGET", "postgres")
    dataset = f"raw_usage_copies_{uuid.uuid4().hex[:8]}"
    yield from _events_client(destination(tmp_path / "w.duckdb"), dataset, tmp_path / "pipelines")


def remaining(client) -> list[tuple[str, datetime]]:
    events = client.make_qualified_table_name("events")
    return sorted((row[0], row[1]) for row in client.execute_sql(f"select message_id, received_at from {events}"))


@pytest.mark.parametrize("key", ["hash(message_id)", "length(message_id)", "message_id"])
def test_only_the_later_copies_go_whatever_the_grouping_key(client, key: str) -> None:
    days, statements, removed = _remove_copies(client, LOAD, "rowid", key)
    # length() puts all four messages in one group: the three without copies must stay.
    assert removed == 2 and statements == 1
    assert days == 4  # 2026-10-28 to 2026-10-31
    kept = remaining(client)
    assert [message_id for message_id, _ in kept] == ["m-01", "m-02", "m-03", "m-04"]
    assert dict(kept)["m-02"] == SENT + timedelta(seconds=1)  # the first copy received is kept


def test_the_days_are_cut_into_equal_runs_of_whole_days() -> None:
    first = date(2026, 10, 1)
    day = [first + timedelta(days=n) for n in range(11)]
    assert _day_spans(first, day[10], 3) == [(day[0], day[3]), (day[3], day[6]), (day[6], day[10])]
    assert _day_spans(first, day[2], 5) == [(day[0], day[1]), (day[1], day[2])]  # never less than a day
    assert _day_spans(first, day[10], 1) == [(day[0], day[10])]


@pytest.mark.parametrize("database", ["duckdb", "postgres"])
def test_copies_found_span_by_span_are_removed_together(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, database: str
) -> None:
    """Six rows at two rows per span: the four days are searched in three spans; a message's copies share an event
    day, so they always fall in one span, and the later ones go in one delete."""
    sql = request.getfixturevalue("client" if database == "duckdb" else "postgres_client")
    monkeypatch.setattr(event_copy, "CHUNK_ROWS", 2)
    days, statements, removed = _remove_copies(sql, LOAD, *row_identity(database))
    assert (days, statements, removed) == (4, 3, 2)
    kept = remaining(sql)
    assert [message_id for message_id, _ in kept] == ["m-01", "m-02", "m-03", "m-04"]
    assert dict(kept)["m-02"] == SENT + timedelta(seconds=1)
