"""The usage loader screens every line against the Segment spec for track calls: each broken rule sends the line to
quarantine with that rule named (and counted in the run report); a byte-order mark or CRLF line ends are framing,
not faults."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingestion.pipeline import run_source

GOOD = {
    "type": "track",
    "event": "Report Created",
    "userId": "usr_1_0",
    "groupId": "acc_000001",
    "timestamp": "2026-10-30T10:00:00.000Z",
    "receivedAt": "2026-10-30T10:00:01.000Z",
    "properties": {"feature_area": "reports"},
}
# One line per rule of the spec, each breaking exactly that rule (and what the run report must count it as).
BROKEN = {
    "m-event-null": ({"event": None}, "event not a non-empty string"),
    "m-event-empty": ({"event": ""}, "event not a non-empty string"),
    "m-event-number": ({"event": 7}, "event not a string"),
    "m-properties-string": ({"properties": "feature_area=reports"}, "properties not an object"),
    "m-properties-list": ({"properties": ["reports"]}, "properties not an object"),
    "m-no-user": ({"userId": None}, "neither userId nor anonymousId"),
    "m-group-number": ({"groupId": 1}, "key field not a string"),
    "m-no-group": ({"groupId": None}, "missing groupId"),
    "m-bad-time": ({"timestamp": "yesterday"}, "timestamp not ISO-8601"),
    "m-no-time": ({"timestamp": None}, "missing timestamp"),
    "m-identify": ({"type": "identify"}, "not a track call"),
    "": ({}, "missing messageId"),
}


def event(message_id: str, **changes) -> dict:
    row = {"messageId": message_id, **GOOD, **changes}
    return {key: value for key, value in row.items() if not (key == "messageId" and not value)}


def quarantine(warehouse: Path) -> list[tuple[str, str]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("select rule, reason from raw_usage.quarantine order by rule").fetchall()


def loaded_ids(warehouse: Path) -> set[str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {row[0] for row in con.execute("select message_id from raw_usage.events").fetchall()}


@pytest.fixture()
def drop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "events" / "received_date=2026-10-30"
    folder.mkdir(parents=True)
    monkeypatch.setenv("SOURCES__USAGE__BUCKET_URL", str(folder.parent))
    return folder


def test_every_segment_rule_is_enforced_per_line_and_counted_by_reason(drop: Path, warehouse: Path) -> None:
    lines = [json.dumps(event("m-good-1"))]
    lines += [json.dumps(event(message_id, **changes)) for message_id, (changes, _) in BROKEN.items()]
    lines.append(json.dumps(event("m-anonymous", userId=None, anonymousId="anon-1")))  # the spec allows either
    (drop / "events.jsonl").write_text("\n".join(lines) + "\n")
    report = run_source("usage", warehouse)
    expected: dict[str, int] = {}
    for _, rule in BROKEN.values():
        expected[f"events: {rule}"] = expected.get(f"events: {rule}", 0) + 1
    print("quarantined by reason:", report.quarantine_reasons)
    assert report.quarantine_reasons == expected
    assert report.quarantined == len(BROKEN)
    assert loaded_ids(warehouse) == {"m-good-1", "m-anonymous"}
    assert len(quarantine(warehouse)) == len(BROKEN)


def test_a_byte_order_mark_and_crlf_line_ends_are_tolerated(drop: Path, warehouse: Path) -> None:
    lines = [json.dumps(event(f"m-crlf-{n}")) for n in range(3)]
    (drop / "events.jsonl").write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8"))
    report = run_source("usage", warehouse)
    assert report.quarantined == 0, quarantine(warehouse)
    assert loaded_ids(warehouse) == {"m-crlf-0", "m-crlf-1", "m-crlf-2"}


def test_parquet_rows_meet_the_same_rules(drop: Path, warehouse: Path) -> None:
    rows = [
        event("p-good"),
        event("p-event-null", event=None),
        event("p-properties-text", properties="feature_area=reports"),
        event("p-page", type="page"),
        event("p-no-user", userId=None),
    ]
    for row in rows:
        row["properties"] = row["properties"] if isinstance(row["properties"], str) else json.dumps(row["properties"])
        for key in ("timestamp", "receivedAt"):
            row[key] = pa.scalar(row[key].replace("Z", "+00:00")).cast(pa.timestamp("us", tz="UTC")).as_py()
    pq.write_table(pa.Table.from_pylist(rows), drop / "events.parquet")
    report = run_source("usage", warehouse)
    assert report.quarantine_reasons == {
        "events: event not a non-empty string": 1,
        "events: properties not an object": 1,
        "events: not a track call": 1,
        "events: neither userId nor anonymousId": 1,
    }
    assert loaded_ids(warehouse) == {"p-good"}
