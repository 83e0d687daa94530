"""The whole graph on the sandbox, end to end: a real Dagster run (dlt loads from the sandbox's HTTP APIs and files,
dbt builds and tests, GX checks, the serving copy, the CRM push), checked against the sandbox's ground truth and
read back through the CRM's API. The run is the session's `pipeline_run` (tests/e2e/conftest.py), which the
dashboard's browser test reads too."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
import requests
from dagster import AssetKey

from sandbox.manifest import Manifest
from tests.support import stripe_deleted_unseen

pytestmark = pytest.mark.slow


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_the_whole_graph_materializes_with_every_check_passing(pipeline_run: dict) -> None:
    outcome = pipeline_run["outcome"]
    assert outcome.success, outcome.failed_steps
    assert not outcome.failed_checks
    for key in (
        "dlt/hubspot/companies",
        "dlt/stripe/invoices",
        "dlt/usage/events",
        "marts/customer_360",
        "marts/at_risk_accounts",
        "serving/marts",
        "activation/crm_sync",
    ):
        assert key in outcome.materialized


@pytest.mark.parametrize(
    ("raw_table", "world_table"),
    [
        ("raw_hubspot.companies", "hubspot_companies"),
        ("raw_hubspot.contacts", "hubspot_contacts"),
        ("raw_hubspot.deals", "hubspot_deals"),
        ("raw_hubspot.tickets", "hubspot_tickets"),
        ("raw_stripe.customers", "stripe_customers"),
        ("raw_stripe.subscriptions", "stripe_subscriptions"),
        ("raw_stripe.invoices", "stripe_invoices"),
        ("raw_stripe.invoices__lines__data", "stripe_invoice_lines"),
        ("raw_surveys.typeform_responses", "typeform_responses"),
    ],
)
def test_every_object_the_vendors_serve_is_loaded_once(pipeline_run: dict, raw_table: str, world_table: str) -> None:
    world = pq.read_table(pipeline_run["sandbox"] / "world" / f"{world_table}.parquet")
    expected = world.num_rows
    if world_table == "hubspot_companies":  # a company without a product account id is quarantined by contract
        expected -= world.column("account_id").null_count
    expected -= stripe_deleted_unseen(pipeline_run["sandbox"], world_table)  # deleted beyond Stripe's memory
    assert query(pipeline_run["warehouse"], f"select count(*) from {raw_table}")[0][0] == expected


def test_usage_events_count_once_each_despite_duplicates_in_the_files(pipeline_run: dict) -> None:
    """The raw table keeps every row received; stg_usage__events keeps one per message, the first copy received."""
    files = f"read_parquet('{pipeline_run['sandbox'] / 'events'}/*/*.parquet')"
    with duckdb.connect() as con:
        in_files, distinct = con.execute(f"select count(*), count(distinct messageId) from {files}").fetchone()
    assert in_files > distinct  # the sandbox really sent duplicates
    raw = query(pipeline_run["warehouse"], "select count(*), count(distinct message_id) from raw_usage.events")[0]
    assert raw == (in_files, distinct)
    staged = query(
        pipeline_run["warehouse"],
        f"""
        with first_received as (
            select messageId as message_id, min(receivedAt) at time zone 'UTC' as received_at
            from {files} group by messageId
        )
        select
            count(*),
            count(distinct events.message_id),
            count(*) filter (where events.received_at is distinct from first_received.received_at)
        from staging.stg_usage__events as events
        left join first_received using (message_id)
        """,
    )[0]
    assert staged == (distinct, distinct, 0)


def test_mrr_and_every_movement_equal_the_simulated_truth(pipeline_run: dict) -> None:
    truth = pipeline_run["sandbox"] / "truth" / "mrr_monthly.parquet"
    rows = query(
        pipeline_run["warehouse"],
        f"""
        select
            count(*),
            count(*) filter (where m.account_id is null or t.account_id is null),
            count(*) filter (where abs(m.ending_mrr_usd - t.mrr_usd) >= 0.005),
            count(*) filter (where m.movement_type is distinct from t.movement_type),
            count(*) filter (where abs(m.movement_mrr_usd - t.movement_usd) >= 0.005)
        from marts.mrr_movements as m
        full outer join read_parquet('{truth}') as t
            on m.account_id = t.account_id and m.month = t.month
        """,
    )[0]
    total, unmatched, mrr_diff, type_diff, amount_diff = rows
    assert total > 500
    assert (unmatched, mrr_diff, type_diff, amount_diff) == (0, 0, 0, 0)


def test_the_mrr_bridge_balances_in_every_month(pipeline_run: dict) -> None:
    broken = query(
        pipeline_run["warehouse"],
        """select month from marts.mrr_summary
           where abs(starting_mrr_usd + new_mrr_usd + reactivation_mrr_usd + expansion_mrr_usd
                     - contraction_mrr_usd - churned_mrr_usd - ending_mrr_usd) >= 0.01""",
    )
    assert broken == []


def test_customer_360_has_every_account_the_sandbox_knows(pipeline_run: dict) -> None:
    truth = pipeline_run["sandbox"] / "truth" / "accounts.parquet"
    missing = query(
        pipeline_run["warehouse"],
        f"select t.account_id from read_parquet('{truth}') t "
        "left join marts.customer_360 c using (account_id) where c.account_id is null",
    )
    assert missing == []


def test_materializations_carry_row_counts_and_key_figures_equal_to_the_truth(pipeline_run: dict) -> None:
    def metadata(key: str) -> dict:
        event = pipeline_run["instance"].get_latest_materialization_event(AssetKey.from_user_string(key))
        assert event is not None, key
        return {name: value.value for name, value in event.asset_materialization.metadata.items()}

    truth = pipeline_run["sandbox"] / "truth"
    with duckdb.connect() as con:
        (mrr_today,) = con.execute(
            f"select sum(mrr_usd) from read_parquet('{truth}/mrr_monthly.parquet') "
            f"where month = (select max(month) from read_parquet('{truth}/mrr_monthly.parquet'))"
        ).fetchone()
    assert metadata("marts/mrr_summary")["total_mrr_usd"] == pytest.approx(mrr_today, abs=0.01)
    assert metadata("marts/customer_360")["total_mrr_usd"] == pytest.approx(mrr_today, abs=0.01)
    at_risk, arr_at_risk = query(
        pipeline_run["warehouse"], "select count(*), sum(arr_at_stake_usd) from marts.at_risk_accounts"
    )[0]
    figures = metadata("marts/at_risk_accounts")
    assert figures["dagster/row_count"] == figures["at_risk_accounts"] == at_risk > 0
    assert figures["arr_at_risk_usd"] == pytest.approx(float(arr_at_risk))
    world_companies = pq.read_table(pipeline_run["sandbox"] / "world" / "hubspot_companies.parquet").to_pylist()
    # Companies without a product account id are quarantined by contract; the rest load.
    loadable = [c for c in world_companies if c["account_id"] is not None]
    live = sum(1 for c in loadable if not c["archived"])
    # The deleted companies load too (from the archived list, marked archived); staging keeps the live ones.
    assert metadata("dlt/hubspot/companies")["rows_loaded"] == len(loadable)
    # Staging is views: their rows are counted in the warehouse, not at materialization (a view's count runs its query).
    assert query(pipeline_run["warehouse"], "select count(*) from staging.stg_hubspot__companies")[0][0] == live
    assert "dagster/row_count" not in metadata("staging/stg_hubspot__companies")
    assert (
        metadata("intermediate/int_accounts")["dagster/row_count"]
        == query(pipeline_run["warehouse"], "select count(*) from intermediate.int_accounts")[0][0]
        > 0
    )
    assert metadata("seeds/playbooks")["dagster/row_count"] > 0
    # Usage events are copied by the warehouse from the files the load named; the asset still counts every row.
    with duckdb.connect() as con:
        (events,) = con.execute(
            f"select count(*) from read_parquet('{pipeline_run['sandbox'] / 'events'}/**/*.parquet')"
        ).fetchone()
    assert metadata("dlt/usage/events")["rows_loaded"] == events


def test_the_serving_copy_holds_the_marts_for_bi_readers(pipeline_run: dict) -> None:
    serving = pipeline_run["warehouse"].with_name("serving.duckdb")
    with duckdb.connect(str(serving), read_only=True) as con:
        served = con.execute("select count(*) from marts.at_risk_accounts").fetchone()[0]
    assert served == query(pipeline_run["warehouse"], "select count(*) from marts.at_risk_accounts")[0][0]


def test_the_crm_shows_the_health_scores_and_the_at_risk_list(pipeline_run: dict) -> None:
    manifest: Manifest = pipeline_run["manifest"]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {manifest.tokens['hubspot']}"
    base = pipeline_run["url"] + "/hubspot"
    scores: dict[str, str] = {}
    after = None
    while True:
        params = {"limit": 100, "properties": "cs_health_score,cs_at_risk,account_id"}
        if after:
            params["after"] = after
        page = session.get(f"{base}/crm/v3/objects/companies", params=params, timeout=30).json()
        for company in page["results"]:
            scores[company["id"]] = company["properties"].get("cs_health_score")
        after = (page.get("paging") or {}).get("next", {}).get("after")
        if not after:
            break
    expected = dict(
        query(
            pipeline_run["warehouse"],
            "select company_id, health_score from marts.customer_360 "
            "where company_id is not null and health_score is not null",
        )
    )
    assert expected
    assert {cid: float(scores[cid]) for cid in expected} == pytest.approx(expected, abs=0.05)
    at_risk = {row[0] for row in query(pipeline_run["warehouse"], "select company_id from marts.at_risk_accounts")}
    lists = session.get(f"{base}/crm/v3/lists/object-type-id/0-2/name/At-risk accounts (nightly)", timeout=30).json()
    list_id = lists["list"]["listId"]
    members = session.get(f"{base}/crm/v3/lists/{list_id}/memberships", params={"limit": 250}, timeout=30).json()
    assert {str(m["recordId"]) for m in members["results"]} == at_risk
