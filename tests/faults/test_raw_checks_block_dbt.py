"""A bad night at the raw level never reaches the marts, the serving copy or the CRM: after a good run, most
companies lose their account id in the raw table (what a renamed HubSpot property once did); the next real run of the
whole graph fails the Great Expectations check on dlt/hubspot/companies, dbt, the serving copy and the CRM sync do not
run, BI readers see the same file and the CRM no new sync, and the Data Docs name the failed expectation."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.slow

DOWNSTREAM = ("staging/", "intermediate/", "marts/", "serving/", "activation/")


def scalar(database: Path, sql: str) -> int:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(sql).fetchone()[0]


def test_null_account_ids_in_raw_companies_stop_the_run_before_dbt_and_everything_keeps_the_last_good_state(
    served: tuple[Path, str], warehouse: Path, tmp_path: Path
) -> None:
    from orchestration.run import instance_for, run_graph

    instance = instance_for(tmp_path / "dagster_home")
    good = run_graph(instance=instance, quiet=True)
    assert good.success, good.failed_steps
    assert not good.failed_checks
    serving = warehouse.with_name("serving.duckdb")
    served_before = serving.read_bytes()
    at_risk_before = scalar(serving, "select count(*) from marts.at_risk_accounts")
    sync_runs_before = scalar(warehouse, "select count(*) from activation.sync_runs")
    companies = scalar(warehouse, "select count(*) from raw_hubspot.companies")
    assert at_risk_before > 0 and sync_runs_before == 1

    with duckdb.connect(str(warehouse)) as con:  # the bad night: two companies in three lose their account id
        con.execute("update raw_hubspot.companies set account_id = null where hash(id) % 3 <> 0")
    nulled = scalar(warehouse, "select count(*) from raw_hubspot.companies where account_id is null")
    print(f"account_id nulled in {nulled} of {companies} companies; at-risk accounts served before: {at_risk_before}")
    assert nulled > companies / 2

    bad = run_graph(instance=instance, quiet=True)
    print("step seconds:", {k: round(v, 1) for k, v in bad.step_seconds.items() if "gx_raw" in k})
    assert not bad.success
    assert bad.failed_checks == ["dlt/hubspot/companies:gx_raw_contract"]  # the other raw tables pass
    assert "dlt/hubspot/companies" in bad.materialized  # the load itself ran ...
    assert not [key for key in bad.materialized if key.startswith(DOWNSTREAM)]  # ... nothing after it did
    assert serving.read_bytes() == served_before
    assert scalar(serving, "select count(*) from marts.at_risk_accounts") == at_risk_before
    assert scalar(warehouse, "select count(*) from activation.sync_runs") == sync_runs_before

    # The check's result names the failure and links the Data Docs, whose page for the table names it too.
    (evaluation,) = [
        event.dagster_event.event_specific_data
        for event in instance.all_logs(bad.run_id)
        if event.dagster_event
        and event.dagster_event.event_type_value == "ASSET_CHECK_EVALUATION"
        and not event.dagster_event.event_specific_data.passed
    ]
    failures = evaluation.metadata["failures"].value
    assert any("expect_column_values_to_not_be_null(account_id)" in line for line in failures), failures
    docs = Path(evaluation.metadata["data_docs_path"].value)
    assert evaluation.metadata["data_docs"].value == docs.as_uri()
    assert docs.exists() and docs.is_relative_to(warehouse.parent)
    pages = sorted(docs.parent.glob("validations/raw_hubspot/companies/fields/**/*.html"))
    assert len(pages) == 2  # the good night and the bad one
    html = pages[-1].read_text()
    assert "account_id" in html and "never be null" in html
