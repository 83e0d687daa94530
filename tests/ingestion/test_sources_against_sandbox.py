"""The four dlt sources against the sandbox's real HTTP server and files: complete, idempotent, incremental,
fault tolerant; bad rows quarantined with a reason while the good rows load."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import requests

from ingestion.errors import SourceAuthError, SourceConfigError
from ingestion.pipeline import ingest, run_source
from sandbox.generator.world import advance
from sandbox.manifest import Manifest
from sandbox.server.app import running_server
from tests.support import UNTHROTTLED_FAULTS, point_at_sandbox, stripe_deleted_unseen

WORLD_TABLES = {
    ("raw_hubspot", "companies"): "hubspot_companies",
    ("raw_hubspot", "contacts"): "hubspot_contacts",
    ("raw_hubspot", "deals"): "hubspot_deals",
    ("raw_hubspot", "tickets"): "hubspot_tickets",
    ("raw_hubspot", "owners"): "hubspot_owners",
    ("raw_stripe", "customers"): "stripe_customers",
    ("raw_stripe", "subscriptions"): "stripe_subscriptions",
    ("raw_stripe", "invoices"): "stripe_invoices",
    ("raw_stripe", "coupons"): "stripe_coupons",
    ("raw_stripe", "prices"): "stripe_prices",
    ("raw_surveys", "typeform_responses"): "typeform_responses",
}


def count(warehouse: Path, table: str, where: str = "true") -> int:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(f"select count(*) from {table} where {where}").fetchone()[0]


def world_rows(sandbox: Path, table: str) -> int:
    """Rows the vendor serves that load: every row of the world table, except Typeform responses not yet processed
    (their `visible_at` is not before the sandbox's today), companies without a product account id (set aside
    by their contract: `contract_set_aside`) and what Stripe deleted beyond reach (`stripe_deleted_unseen`)."""
    if table == "typeform_responses":
        today = Manifest.read(sandbox).today
        visible = pc.less(
            pq.read_table(sandbox / "world" / f"{table}.parquet")["visible_at"],
            pa.scalar(datetime(today.year, today.month, today.day, tzinfo=UTC), pa.timestamp("us", tz="UTC")),
        )
        return pc.sum(visible).as_py() or 0
    rows = pq.read_metadata(sandbox / "world" / f"{table}.parquet").num_rows
    return rows - contract_set_aside(sandbox, table) - stripe_deleted_unseen(sandbox, table)


def contract_set_aside(sandbox: Path, table: str) -> int:
    """Rows of a world table that the raw contract quarantines by design: companies without a product account id."""
    if table != "hubspot_companies":
        return 0
    return pq.read_table(sandbox / "world" / f"{table}.parquet", columns=["account_id"]).column("account_id").null_count


@pytest.fixture()
def served(fresh_sandbox: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    """A sandbox of this test's own, served, with the product's environment pointing at it. The vendors' standing
    rate limits are off here (and so is our client-side throttle) to keep these tests quick; the session sandbox
    keeps them on, and the faults below are explicit."""
    with running_server(fresh_sandbox, faults=UNTHROTTLED_FAULTS) as url:
        point_at_sandbox(monkeypatch, fresh_sandbox, url, throttled=False)
        yield fresh_sandbox, url


def set_faults(url: str, *specs: str) -> None:
    response = requests.post(f"{url}/_admin/faults", json={"faults": list(specs)}, timeout=10)
    response.raise_for_status()


def served_statuses(url: str) -> list[int]:
    counters = requests.get(f"{url}/_admin/requests", timeout=10).json()
    return [int(status) for status in _statuses(counters)]


def _statuses(node) -> Iterator[str]:
    """Every HTTP status the request counters mention, however they are nested."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str) and key.isdigit() and len(key) == 3 and isinstance(value, int):
                yield from [key] * value
            else:
                yield from _statuses(value)
    elif isinstance(node, list):
        for item in node:
            yield from _statuses(item)


def test_a_full_load_holds_exactly_what_the_vendors_serve(warehouse: Path, sandbox_dir: Path, sandbox_env) -> None:
    reports = {r.source: r for r in ingest(warehouse=warehouse)}
    assert set(reports) == {"hubspot", "stripe", "usage", "surveys"}
    set_aside = contract_set_aside(sandbox_dir, "hubspot_companies")
    assert {name: r.quarantined for name, r in reports.items()} == {
        "hubspot": set_aside,
        "stripe": 0,
        "usage": 0,
        "surveys": 0,
    }
    for (dataset, table), world_table in WORLD_TABLES.items():
        assert count(warehouse, f"{dataset}.{table}") == world_rows(sandbox_dir, world_table), table
    csv_rows = sum(len(p.read_text().splitlines()) - 1 for p in (sandbox_dir / "surveys_csv").glob("*.csv"))
    assert count(warehouse, "raw_surveys.csv_responses") == csv_rows


def test_a_second_run_with_no_change_at_the_source_changes_no_count(
    warehouse: Path, sandbox_env, tmp_path: Path
) -> None:
    ingest(warehouse=warehouse)
    before = {table: count(warehouse, f"{d}.{table}") for (d, table) in WORLD_TABLES}
    events_before = count(warehouse, "raw_usage.events")
    second = {r.source: r for r in ingest(warehouse=warehouse)}
    assert {table: count(warehouse, f"{d}.{table}") for (d, table) in WORLD_TABLES} == before
    assert count(warehouse, "raw_usage.events") == events_before
    assert second["usage"].loaded == 0  # no file changed
    # HubSpot re-reads only the look-back hour of each object's cursor, not the history: of the archived lists,
    # which it reads whole (no filter exists), it loads none again, since nothing was archived in between.
    assert second["hubspot"].loaded < 0.05 * sum(before[t] for t in ("companies", "contacts", "deals", "tickets"))
    with duckdb.connect(str(warehouse), read_only=True) as con:
        (latest,) = con.execute("select max(load_id) from raw_hubspot._dlt_loads").fetchone()
        for table in ("companies", "contacts", "deals", "tickets"):
            archived, reloaded = con.execute(
                f"select count(*), count(*) filter (_dlt_load_id = ?) from raw_hubspot.{table} where archived",
                [latest],
            ).fetchone()
            assert archived > 0 and reloaded == 0, (table, archived, reloaded)


def test_incremental_state_survives_losing_the_local_pipeline_folder(
    warehouse: Path, sandbox_env, tmp_path: Path
) -> None:
    ingest(["hubspot"], warehouse=warehouse)
    shutil.rmtree(warehouse.parent / "dlt_pipelines")  # a new container, a wiped disk
    again = run_source("hubspot", warehouse)
    # state came back from the warehouse: only the look-back hour and the archived lists travel again
    total = sum(count(warehouse, f"raw_hubspot.{t}") for t in ("companies", "contacts", "deals", "tickets"))
    assert again.loaded < 0.05 * total


def test_after_days_pass_only_the_changes_are_loaded(served: tuple[Path, str], warehouse: Path) -> None:
    sandbox, url = served
    ingest(warehouse=warehouse)
    first_events = count(warehouse, "raw_usage.events")
    advance(sandbox, 14)
    requests.post(f"{url}/_admin/reload", timeout=30)
    reports = {r.source: r for r in ingest(warehouse=warehouse)}
    merged_away = pq.read_table(sandbox / "truth" / "hubspot_merges.parquet").column("loser_id").to_pylist()
    gone = ", ".join(f"'{i}'" for i in merged_away) or "''"
    for (dataset, table), world_table in WORLD_TABLES.items():
        # A record loaded before it was merged away stays in raw (staging drops it): not among the world's rows.
        where = f"id not in ({gone})" if dataset == "raw_hubspot" else "true"
        assert count(warehouse, f"{dataset}.{table}", where) == world_rows(sandbox, world_table), table
    # Only the changed objects travelled: far fewer rows than the tables hold.
    total_hubspot = sum(count(warehouse, f"raw_hubspot.{t}") for t in ("companies", "contacts", "tickets"))
    assert 0 < reports["hubspot"].loaded < total_hubspot / 2
    assert count(warehouse, "raw_usage.events") > first_events
    assert 0 < reports["usage"].loaded < first_events / 5
    # Stripe objects that changed after their creation (invoices paid, subscriptions renewed) came via events.
    assert reports["stripe"].rows.get("events", 0) > 0


def test_retries_through_rate_limits_and_server_errors(served: tuple[Path, str], warehouse: Path) -> None:
    sandbox, url = served
    set_faults(url, "stripe:rate_limit:4", "hubspot:server_error:3:503:1", "typeform:server_error:2:502")
    reports = {r.source: r for r in ingest(["hubspot", "stripe", "surveys"], warehouse=warehouse)}
    statuses = served_statuses(url)
    assert statuses.count(429) >= 4 and statuses.count(503) >= 3 and statuses.count(502) >= 2
    assert reports["stripe"].quarantined == 0
    assert count(warehouse, "raw_stripe.invoices") == world_rows(sandbox, "stripe_invoices")
    assert count(warehouse, "raw_hubspot.companies") == world_rows(sandbox, "hubspot_companies")
    assert count(warehouse, "raw_surveys.typeform_responses") == world_rows(sandbox, "typeform_responses")


def test_hubspot_search_windows_never_lose_rows_past_the_result_cap(
    served: tuple[Path, str], warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox, url = served
    run_source("hubspot", warehouse)  # a first load lists everything; search serves the windows after it
    advance(sandbox, 30)
    requests.post(f"{url}/_admin/reload", timeout=30)
    cap = 20  # the real cap is 10,000; a small one makes the same point
    set_faults(url, f"hubspot:search_cap:{cap}")
    monkeypatch.setenv("SOURCES__HUBSPOT__SEARCH_RESULT_CAP", str(cap))
    report = run_source("hubspot", warehouse)
    assert max(report.rows.get("contacts", 0), report.rows.get("tickets", 0)) > cap  # more than one window's worth
    merged_away = pq.read_table(sandbox / "truth" / "hubspot_merges.parquet").column("loser_id").to_pylist()
    gone = ", ".join(f"'{i}'" for i in merged_away) or "''"
    for table in ("contacts", "tickets"):
        loaded = count(warehouse, f"raw_hubspot.{table}", f"id not in ({gone})")
        assert loaded == world_rows(sandbox, f"hubspot_{table}"), table


@pytest.mark.parametrize(
    ("fault", "source", "dataset", "table", "world_table", "reason"),
    [
        (
            "hubspot:malformed:0.05:numberofemployees",
            "hubspot",
            "raw_hubspot",
            "companies",
            "hubspot_companies",
            "is not a number",
        ),
        (
            "stripe:malformed:0.05:quantity",
            "stripe",
            "raw_stripe",
            "subscriptions",
            "stripe_subscriptions",
            "invalid quantity",
        ),
        (
            "typeform:malformed:0.05:score",
            "surveys",
            "raw_surveys",
            "typeform_responses",
            "typeform_responses",
            "outside 0-10",
        ),
    ],
)
def test_malformed_rows_are_quarantined_with_their_reason_and_the_rest_load(
    served: tuple[Path, str], warehouse: Path, fault, source, dataset, table, world_table, reason
) -> None:
    sandbox, url = served
    set_faults(url, fault)
    report = run_source(source, warehouse)
    quarantined = count(warehouse, f"{dataset}.quarantine", f"reason like '%{reason}%'")
    assert quarantined > 0
    assert report.quarantined == count(warehouse, f"{dataset}.quarantine")
    assert count(warehouse, f"{dataset}.{table}") + quarantined == world_rows(sandbox, world_table)


def test_a_renamed_field_is_caught_not_loaded_as_empty(served: tuple[Path, str], warehouse: Path) -> None:
    sandbox, url = served
    set_faults(url, "typeform:rename:account_id=accountid")
    report = run_source("surveys", warehouse)
    assert report.quarantined == world_rows(sandbox, "typeform_responses")
    assert count(warehouse, "raw_surveys.quarantine", "reason like 'missing account id%'") == report.quarantined


def test_a_wrong_key_fails_fast_naming_the_source_and_the_variable_and_keeps_what_was_loaded(
    warehouse: Path, sandbox_env, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_source("stripe", warehouse)
    loaded = count(warehouse, "raw_stripe.invoices")
    monkeypatch.setenv("SOURCES__STRIPE__API_KEY", "sk_test_wrong")
    with pytest.raises(SourceAuthError, match=r"stripe.*SOURCES__STRIPE__API_KEY"):
        run_source("stripe", warehouse)
    assert count(warehouse, "raw_stripe.invoices") == loaded


def test_a_missing_key_names_the_variable_to_set(warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCES__HUBSPOT__ACCESS_TOKEN", raising=False)
    with pytest.raises((SourceConfigError, SourceAuthError), match="SOURCES__HUBSPOT__ACCESS_TOKEN"):
        run_source("hubspot", warehouse)


def test_bad_event_files_quarantine_their_bad_rows(
    fresh_sandbox: Path, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = fresh_sandbox / "events"
    day = sorted(events.iterdir())[-1]
    good = pq.read_table(day / "events.parquet")
    (events / "received_date=9999-01-01").mkdir()
    # A key column whose type changed: messageId as a number.
    retyped = good.slice(0, 3).set_column(0, "messageId", pa.array([1, 2, 3], pa.int64()))
    pq.write_table(retyped, events / "received_date=9999-01-01" / "retyped.parquet")
    # A JSONL file with a broken line, an event without messageId and a good one.
    (events / "received_date=9999-01-01" / "mixed.jsonl").write_text(
        '{"messageId": "m-good", "type": "track", "event": "Report Created", "userId": "u1", "groupId": "acc_000001",'
        ' "timestamp": "2026-10-30T10:00:00Z", "properties": {"feature_area": "reports"}}\n'
        "{not json\n"
        '{"type": "track", "event": "Report Created", "groupId": "acc_000001", "timestamp": "2026-10-30T10:00:00Z"}\n'
    )
    monkeypatch.setenv("SOURCES__USAGE__BUCKET_URL", str(events))
    report = run_source("usage", warehouse)
    reasons = [
        r[0]
        for r in duckdb.connect(str(warehouse), read_only=True)
        .execute("select reason from raw_usage.quarantine order by reason")
        .fetchall()
    ]
    assert report.quarantined == 5
    assert sum("key column type changed" in r for r in reasons) == 3
    assert any("invalid JSON" in r for r in reasons)
    assert any("missing messageId" in r for r in reasons)
    assert count(warehouse, "raw_usage.events", "message_id = 'm-good'") == 1


def test_bad_survey_csv_rows_are_quarantined(
    fresh_sandbox: Path, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = fresh_sandbox / "surveys_csv"
    (folder / "responses_bad.csv").write_text(
        "response_id,submitted_at,account_id,email,score,comment\n"
        "ok-1,2026-10-01T10:00:00Z,acc_000001,a@example.com,9,Great\n"
        "bad-1,2026-10-01T10:00:00Z,acc_000001,a@example.com,11,\n"
        "bad-2,2026-10-01T10:00:00Z,acc_000001,a@example.com,nine,\n"
        "bad-3,2026-10-01T10:00:00Z,,a@example.com,5,\n"
    )
    monkeypatch.setenv("SOURCES__SURVEYS__CSV_URL", str(folder))
    monkeypatch.delenv("SOURCES__SURVEYS__TYPEFORM_FORM_ID", raising=False)
    report = run_source("surveys", warehouse)
    assert report.quarantined == 3
    assert count(warehouse, "raw_surveys.csv_responses", "response_id = 'ok-1'") == 1
    assert count(warehouse, "raw_surveys.quarantine", "reason like '%outside 0-10%'") == 1
    assert count(warehouse, "raw_surveys.quarantine", "reason like '%not a whole number%'") == 1
    assert count(warehouse, "raw_surveys.quarantine", "reason like 'missing account id%'") == 1


@pytest.mark.parametrize("kind", ["malformed_events", "renamed_column", "bad_survey_rows", "duplicate_events"])
def test_injected_file_faults_are_quarantined_exactly_as_the_sandbox_recorded(
    served: tuple[Path, str], warehouse: Path, kind: str
) -> None:
    """The sandbox writes what it broke (truth/injected_faults.json); the load must set aside exactly that."""
    from sandbox.generator.faults import inject

    sandbox, _ = served
    record = inject(sandbox, kind)
    sources = ["surveys"] if kind == "bad_survey_rows" else ["hubspot", "stripe", "usage"]  # CRM: known accounts
    reports = {r.source: r for r in ingest(sources, warehouse=warehouse)}
    quarantined = reports["surveys" if kind == "bad_survey_rows" else "usage"].quarantined
    assert quarantined == record["expected_quarantined"]
    if kind == "duplicate_events":
        events_dir = sandbox / "events"
        with duckdb.connect() as con:
            in_files, distinct = con.execute(
                f"select count(*), count(distinct messageId) from read_parquet('{events_dir}/*/*.parquet')"
            ).fetchone()
        assert in_files > distinct
        # Every row received is kept, copies included (dbt removes them: stg_usage__events), each once.
        with duckdb.connect(str(warehouse), read_only=True) as con:
            loaded = con.execute("select count(*), count(distinct message_id) from raw_usage.events").fetchone()
        assert loaded == (in_files - quarantined, distinct)
    if kind == "malformed_events":
        reasons = [
            r[0]
            for r in duckdb.connect(str(warehouse), read_only=True)
            .execute("select reason from raw_usage.quarantine")
            .fetchall()
        ]
        assert any("unknown account 'acc_999999'" in r for r in reasons)


def test_an_unknown_account_is_quarantined_alike_whether_the_warehouse_or_the_source_reads_the_file(
    served: tuple[Path, str], warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parquet files are copied by the warehouse, which checks the accounts after copying; JSONL lines are judged in
    the loading process with the accounts joined in. The same unknown-account event must land in the quarantine the
    same way from both (rule, reason, the record's fields), and nowhere in the events."""
    sandbox, _ = served
    ingest(["hubspot", "stripe"], warehouse=warehouse)  # the CRM and billing name the known accounts
    events = sandbox / "events"
    folder = events / "received_date=9999-01-02"
    folder.mkdir()
    good = pq.read_table(sorted(events.glob("received_date=*/events.parquet"))[-1]).slice(0, 2)
    stray = good.set_column(
        good.schema.get_field_index("messageId"), "messageId", pa.array(["m-stray-parquet", "m-known-parquet"])
    )
    stray = stray.set_column(
        stray.schema.get_field_index("groupId"), "groupId", pa.array(["acc_999998", good["groupId"][1].as_py()])
    )
    pq.write_table(stray, folder / "events.parquet")
    (folder / "lines.jsonl").write_text(
        '{"messageId": "m-stray-jsonl", "type": "track", "event": "Report Created", "userId": "u1",'
        ' "groupId": "acc_999998", "timestamp": "2026-10-30T10:00:00Z", "properties": {"feature_area": "reports"}}\n'
    )
    report = run_source("usage", warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select rule, reason, record from raw_usage.quarantine where reason like '%acc_999998%' order by record"
        ).fetchall()
        stray_events = con.execute(
            "select count(*) from raw_usage.events where group_id = 'acc_999998' or message_id like 'm-stray-%'"
        ).fetchone()[0]
    assert stray_events == 0
    assert count(warehouse, "raw_usage.events", "message_id = 'm-known-parquet'") == 1
    assert [(rule, reason) for rule, reason, _ in rows] == [("unknown account", "unknown account 'acc_999998'")] * 2
    records = [json.loads(record) for _, _, record in rows]
    assert {r["messageId"] for r in records} == {"m-stray-parquet", "m-stray-jsonl"}
    assert all(r["groupId"] == "acc_999998" and r["event"] for r in records)
    assert report.quarantined >= 2
