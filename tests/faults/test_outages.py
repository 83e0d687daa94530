"""Outages are waited out: a storm of 5xx and 429s within the retry budget loads everything; a longer one fails
naming the source, the endpoint and the variable to raise, keeps what earlier runs loaded, and the next run resumes."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import requests

from ingestion.pipeline import run_source
from ingestion.retry import SourceUnavailableError
from sandbox.generator.world import advance
from tests.ingestion.test_sources_against_sandbox import count, set_faults, world_rows


def statuses(url: str, vendor: str) -> dict[int, int]:
    """How many responses of each HTTP status the sandbox served for `vendor`."""
    summary = requests.get(f"{url}/_admin/requests", timeout=10).json()
    return {int(s): n for s, n in summary["vendors"].get(vendor, {}).get("statuses", {}).items()}


def test_a_storm_of_503s_and_429s_is_waited_out_and_the_load_completes(
    served: tuple[Path, str], warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox, url = served
    monkeypatch.setenv("RUNTIME__REQUEST_MAX_RETRY_DELAY", "0.5")  # small waits keep the test quick
    # Stripe: 12 consecutive 503s (Retry-After: 0), then 20 consecutive 429s. HubSpot: 12 mixed 5xx with
    # Retry-After: 1. dlt's default retries gave up after the fifth failure.
    set_faults(url, "stripe:server_error:12:503:0", "stripe:rate_limit:20", "hubspot:server_error:12:mixed:1")
    started = time.monotonic()
    stripe = run_source("stripe", warehouse)
    hubspot = run_source("hubspot", warehouse)
    print(
        f"storm waited out: stripe {stripe.seconds:.1f} s, hubspot {hubspot.seconds:.1f} s, "
        f"both {time.monotonic() - started:.1f} s"
    )
    served = {vendor: statuses(url, vendor) for vendor in ("stripe", "hubspot")}
    assert served["stripe"][503] == 12 and served["stripe"][429] == 20
    assert served["hubspot"][500] + served["hubspot"][502] + served["hubspot"][503] == 12
    # Nothing was lost to the storm: only the companies without a product account id are set aside, by contract.
    without_account = pq.read_table(sandbox / "world" / "hubspot_companies.parquet").column("account_id").null_count
    assert stripe.quarantined == 0
    assert hubspot.quarantine_reasons == (
        {"companies: missing required field account_id": without_account} if without_account else {}
    )
    for table in ("customers", "subscriptions", "invoices"):
        assert count(warehouse, f"raw_stripe.{table}") == world_rows(sandbox, f"stripe_{table}"), table
    for table in ("companies", "contacts", "tickets"):
        assert count(warehouse, f"raw_hubspot.{table}") == world_rows(sandbox, f"hubspot_{table}"), table


def test_an_outage_longer_than_the_budget_fails_clearly_keeps_what_was_loaded_and_the_next_run_resumes(
    served: tuple[Path, str], warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox, url = served
    run_source("stripe", warehouse)
    before = {t: count(warehouse, f"raw_stripe.{t}") for t in ("customers", "subscriptions", "invoices")}
    advance(sandbox, 14)
    requests.post(f"{url}/_admin/reload", timeout=30).raise_for_status()
    monkeypatch.setenv("CSOPS_RETRY_BUDGET_SECONDS", "2")
    set_faults(url, "stripe:server_error:100000:503")
    started = time.monotonic()
    with pytest.raises(SourceUnavailableError, match=r"stripe: GET /.*/v1/\w+.*CSOPS_RETRY_BUDGET_SECONDS") as failed:
        run_source("stripe", warehouse)
    print(f"gave up after {time.monotonic() - started:.1f} s: {failed.value}")
    assert {t: count(warehouse, f"raw_stripe.{t}") for t in before} == before
    requests.delete(f"{url}/_admin/faults", params={"vendor": "stripe"}, timeout=10).raise_for_status()
    run_source("stripe", warehouse)
    for table in before:
        assert count(warehouse, f"raw_stripe.{table}") == world_rows(sandbox, f"stripe_{table}"), table
    assert count(warehouse, "raw_stripe.invoices") > before["invoices"]


def test_hubspots_daily_limit_is_not_retried_and_says_when_it_resets(served: tuple[Path, str], warehouse: Path) -> None:
    _, url = served
    set_faults(url, "hubspot:rate_limit:50:daily")
    with pytest.raises(SourceUnavailableError, match=r"hubspot: .*daily request limit.*resets at midnight"):
        run_source("hubspot", warehouse)
    assert statuses(url, "hubspot")[429] == 1  # given up at once: the limit lifts at midnight, not in minutes
