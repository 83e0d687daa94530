"""Removing the copies of a message after a usage load (ingestion/event_copy.py) groups the messages by a cheap key
first (DuckDB's 64-bit hash of the id): a key shared by different messages must only add candidates, never remove a
message that has no copy. Here the key is made to collide on purpose, on a real dlt DuckDB client."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dlt
import pytest

from ingestion.event_copy import _remove_copies

LOAD = "1800000000.1"
SENT = datetime(2026, 10, 30, 9, 0, tzinfo=UTC)


@pytest.fixture()
def client(tmp_path: Path):
    pipeline = dlt.pipeline(
        pipeline_name="event_copies",
        destination=dlt.destinations.duckdb(str(tmp_path / "w.duckdb")),
        dataset_name="raw_usage",
        pipelines_dir=str(tmp_path / "pipelines"),
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
        yield sql


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
