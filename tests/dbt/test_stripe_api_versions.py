"""Stripe API versions: the same company loaded in the pinned version and in an old one (the shapes before
2025-03-31, which an account's default or a warehouse's history may hold) builds to the same MRR, equal to the
sandbox's truth; a line in a shape the models do not know stops the build with the version named."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from ingestion.pipeline import ingest
from ingestion.stripe import STRIPE_API_VERSION
from sandbox.server.app import running_server
from tests.support import UNTHROTTLED_FAULTS, dbt, point_at_sandbox

pytestmark = pytest.mark.slow
OLD_VERSION = "2024-06-20"


def load_and_build(sandbox: Path, url: str, root: Path, patch: pytest.MonkeyPatch, version: str) -> Path:
    """Every source into a warehouse of its own, Stripe in `version`, then dbt."""
    warehouse = root / "warehouse.duckdb"
    patch.setenv("CSOPS_WAREHOUSE", str(warehouse))
    patch.setenv("CSOPS_DLT_PIPELINES_DIR", str(root / "dlt"))
    point_at_sandbox(patch, sandbox, url, throttled=False)
    patch.setenv("SOURCES__STRIPE__API_VERSION", version)
    ingest(warehouse=warehouse)
    build = dbt(["build"], root)
    assert build.returncode == 0, build.stdout[-3000:]
    return warehouse


def mrr_against_truth(warehouse: Path, truth: Path) -> tuple[int, int, int, float]:
    """(account-months, unmatched, month-end MRR differences, total MRR) of marts.mrr_movements vs the truth."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            f"""
            select
                count(*),
                count(*) filter (where m.account_id is null or t.account_id is null),
                count(*) filter (where abs(m.ending_mrr_usd - t.mrr_usd) >= 0.005),
                round(sum(m.ending_mrr_usd), 2)
            from marts.mrr_movements as m
            full outer join read_parquet('{truth}') as t
                on m.account_id = t.account_id and m.month = t.month
            """
        ).fetchone()


def test_an_old_api_version_and_the_pinned_one_build_the_same_mrr_as_the_truth(
    pipeline_run: dict, sandbox_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    truth = sandbox_dir / "truth" / "mrr_monthly.parquet"
    # The pinned version: the session's complete run of the graph loaded the same company with the product's
    # settings (read only here); the old version: a load and build of this test's own.
    pinned = pipeline_run["warehouse"]
    with running_server(sandbox_dir, faults=UNTHROTTLED_FAULTS) as url:
        old = load_and_build(sandbox_dir, url, tmp_path / "old", monkeypatch, OLD_VERSION)

    for warehouse, version in ((pinned, STRIPE_API_VERSION), (old, OLD_VERSION)):
        with duckdb.connect(str(warehouse), read_only=True) as con:
            loaded = con.execute("select distinct _stripe_api_version from raw_stripe.invoices").fetchall()
        assert loaded == [(version,)]  # the sandbox really answered in that version
    months, unmatched, differences, total = mrr_against_truth(pinned, truth)
    assert months > 500 and total > 0
    assert (unmatched, differences) == (0, 0)
    assert mrr_against_truth(old, truth) == (months, 0, 0, total)

    # A line in neither shape (here: the old shape with its price gone) fails the build, naming the version.
    with duckdb.connect(str(old)) as con:
        con.execute("update raw_stripe.invoices__lines__data set price__id = null")
    monkeypatch.setenv("CSOPS_WAREHOUSE", str(old))
    broken = dbt(["build", "--select", "stg_stripe__invoice_lines+"], tmp_path / "broken")
    assert broken.returncode != 0
    assert f"subscription lines loaded under Stripe API version {OLD_VERSION}" in broken.stdout
    assert "mrr_movements" in broken.stdout and "SKIP" in broken.stdout  # no MRR built from them
