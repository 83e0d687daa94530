"""Stripe deletes customers for good: they leave the list and a retrieve answers a bare stub. Against the sandbox's
truth (`stripe_deletions`), a customer deleted between two nightly loads is marked deleted at the right time with
its account kept, never left looking live, and a first load finds the deletions Stripe still keeps (30 days)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
import requests

from ingestion.pipeline import run_source
from sandbox.generator.calendar import at_midnight
from sandbox.generator.world import advance, generate
from sandbox.manifest import Manifest, resolve_scale
from sandbox.server.app import running_server
from tests.support import SANDBOX_SEED, SANDBOX_TODAY, UNTHROTTLED_FAULTS, point_at_sandbox

NIGHTS = 14  # between the two loads: shorter than Stripe's 30 days of events
EVENT_DAYS = 30  # Stripe keeps events 30 days


def deleted_customers(sandbox: Path) -> dict[str, dict]:
    rows = pq.read_table(sandbox / "truth" / "stripe_deletions.parquet").to_pylist()
    return {r["object_id"]: r for r in rows if r["object_type"] == "customer"}


def loaded_customers(warehouse: Path) -> dict[str, tuple]:
    """id -> (deleted, deleted_at, account id) of raw_stripe.customers."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        columns = {c for (c,) in con.execute("select column_name from (describe raw_stripe.customers)").fetchall()}
        deleted = "deleted, deleted_at" if "deleted" in columns else "null, null"
        rows = con.execute(f"select id, {deleted}, metadata__account_id from raw_stripe.customers").fetchall()
    return {i: (bool(d), at, account) for i, d, at, account in rows}


@pytest.fixture()
def first_night(tmp_path: Path) -> Path:
    """A sandbox whose today is a week before the last deletion of a billed customer in the session's world, so the
    nights that follow delete it (the day is read from the truth, not written here)."""
    probe = tmp_path / "probe"
    generate(probe, SANDBOX_SEED, resolve_scale("tiny"), SANDBOX_TODAY)
    billed = [r["deleted_at"] for r in deleted_customers(probe).values() if r["story"] != "duplicate"]
    assert billed, "the sandbox deleted no billed customer"
    sandbox = tmp_path / "sandbox"
    generate(sandbox, SANDBOX_SEED, resolve_scale("tiny"), max(billed).date() - timedelta(days=7))
    return sandbox


def retained(truth: dict[str, dict], sandbox: Path) -> dict[str, tuple]:
    """What raw_stripe.customers must say of the deletions Stripe still keeps events of at the sandbox's today."""
    since = at_midnight(Manifest.read(sandbox).today) - timedelta(days=EVENT_DAYS)
    return {
        c: (True, int(r["deleted_at"].timestamp()), r["account_id"])
        for c, r in truth.items()
        if r["deleted_at"] >= since
    }


def test_a_customer_deleted_between_nights_is_marked_deleted_with_its_account_never_left_live(
    first_night: Path, warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = first_night
    with running_server(sandbox, faults=UNTHROTTLED_FAULTS) as url:
        point_at_sandbox(monkeypatch, sandbox, url, throttled=False)
        run_source("stripe", warehouse)
        before = loaded_customers(warehouse)
        first_cutoff = at_midnight(Manifest.read(sandbox).today)
        advance(sandbox, NIGHTS)
        requests.post(f"{url}/_admin/reload", timeout=30).raise_for_status()
        run_source("stripe", warehouse)
        after = loaded_customers(warehouse)
        truth = deleted_customers(sandbox)

        meanwhile = {c for c, r in truth.items() if r["deleted_at"] >= first_cutoff and c in before}
        assert meanwhile and not any(before[c][0] for c in meanwhile), "no live customer was deleted meanwhile"
        # Every deletion of the two nights' reach (the events of the first night's last 30 days, then the new
        # ones) is marked at its time with its account; nothing else is; no stub ever replaced a customer.
        since = first_cutoff - timedelta(days=EVENT_DAYS)
        expected = {
            c: (True, int(r["deleted_at"].timestamp()), r["account_id"])
            for c, r in truth.items()
            if r["deleted_at"] >= since
        }
        assert {c: row for c, row in after.items() if row[0]} == expected
        assert all(account for _, _, account in after.values())

        # A first load on the later day finds the deletions Stripe still keeps events of.
        second = tmp_path / "second"
        second.mkdir()
        monkeypatch.setenv("CSOPS_WAREHOUSE", str(second / "warehouse.duckdb"))
        monkeypatch.setenv("CSOPS_DLT_PIPELINES_DIR", str(second / "dlt"))
        run_source("stripe", second / "warehouse.duckdb")
    fresh = loaded_customers(second / "warehouse.duckdb")
    assert {c: row for c, row in fresh.items() if row[0]} == retained(truth, sandbox)
