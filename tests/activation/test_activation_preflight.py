"""The preflight: failed dbt checks upstream of the marts the sync reads, and the marts' own invariants."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import duckdb
from activation_support import AS_OF, Account, write_marts, write_run_results

from activation.preflight import dbt_problems, mart_problems

MANIFEST = {
    "nodes": {
        "model.csops.customer_360": {"resource_type": "model", "name": "customer_360"},
        "model.csops.at_risk_accounts": {"resource_type": "model", "name": "at_risk_accounts"},
        "model.csops.stg_hubspot__companies": {"resource_type": "model", "name": "stg_hubspot__companies"},
        "model.csops.mrr_summary": {"resource_type": "model", "name": "mrr_summary"},
        "test.csops.unique_stg_hubspot__companies_company_id.1": {
            "resource_type": "test",
            "depends_on": {"nodes": ["model.csops.stg_hubspot__companies"]},
            "attached_node": "model.csops.stg_hubspot__companies",
        },
        "test.csops.not_null_mrr_summary_month.2": {
            "resource_type": "test",
            "depends_on": {"nodes": ["model.csops.mrr_summary"]},
        },
    },
    "sources": {"source.csops.hubspot.companies": {"resource_type": "source"}},
    "parent_map": {
        "model.csops.at_risk_accounts": ["model.csops.customer_360"],
        "model.csops.customer_360": ["model.csops.stg_hubspot__companies"],
        "model.csops.stg_hubspot__companies": ["source.csops.hubspot.companies"],
        "model.csops.mrr_summary": [],
    },
}


def result(unique_id: str, status: str, message: str = "Got 3 results, configured to fail if != 0") -> dict:
    return {"unique_id": unique_id, "status": status, "message": message}


def test_a_failed_test_upstream_of_the_marts_blocks(tmp_path: Path) -> None:
    target = write_run_results(
        tmp_path / "target", [result("test.csops.unique_stg_hubspot__companies_company_id.1", "fail")], MANIFEST
    )
    found = dbt_problems(target)
    assert not found.ok
    assert "unique_stg_hubspot__companies_company_id" in found.problems[0] and "fail" in found.problems[0]


def test_a_failed_test_elsewhere_or_a_warning_does_not_block(tmp_path: Path) -> None:
    target = write_run_results(
        tmp_path / "target",
        [
            result("test.csops.not_null_mrr_summary_month.2", "fail"),
            result("test.csops.unique_stg_hubspot__companies_company_id.1", "warn"),
            result("model.csops.customer_360", "success", ""),
        ],
        MANIFEST,
    )
    assert dbt_problems(target).ok


def test_an_upstream_model_error_blocks(tmp_path: Path) -> None:
    target = write_run_results(
        tmp_path / "target", [result("model.csops.stg_hubspot__companies", "error", "Catalog Error")], MANIFEST
    )
    assert "stg_hubspot__companies error: Catalog Error" in dbt_problems(target).problems[0]


def test_without_a_manifest_every_failure_blocks(tmp_path: Path) -> None:
    target = write_run_results(tmp_path / "target", [result("test.csops.not_null_mrr_summary_month.2", "fail")])
    found = dbt_problems(target)
    assert not found.ok and "manifest" in found.notes[0]


def test_no_run_results_is_a_note_not_a_block(tmp_path: Path) -> None:
    found = dbt_problems(tmp_path / "target")
    assert found.ok and "run_results.json" in found.notes[0]


def test_the_newest_run_results_wins(tmp_path: Path) -> None:
    """dbt build writes target/run_results.json, Dagster's dbt runs target/<invocation>/run_results.json."""
    target = tmp_path / "target"
    write_run_results(target, [result("test.csops.unique_stg_hubspot__companies_company_id.1", "fail")], MANIFEST)
    old = time.time() - 60
    os.utime(target / "run_results.json", (old, old))
    write_run_results(target / "dbt_models-abc", [result("model.csops.customer_360", "success", "")], MANIFEST)
    assert dbt_problems(target).ok


def problems(path: Path) -> list[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return mart_problems(con).problems
    finally:
        con.close()


ACCOUNTS = [Account(f"acc_{i}", f"9{i}") for i in range(5)]


def test_sound_marts_pass(tmp_path: Path) -> None:
    assert problems(write_marts(tmp_path / "wh.duckdb", [ACCOUNTS[0].risky(), *ACCOUNTS[1:]])) == []


def test_missing_marts_or_columns_block(tmp_path: Path) -> None:
    path = tmp_path / "wh.duckdb"
    duckdb.connect(str(path)).close()
    assert any("does not exist" in p for p in problems(path))
    write_marts(path, ACCOUNTS)
    con = duckdb.connect(str(path))
    con.execute("alter table marts.at_risk_accounts drop column risk_reasons")
    con.close()
    assert problems(path) == ["marts.at_risk_accounts lacks column(s) risk_reasons that the sync reads"]


def test_broken_invariants_block(tmp_path: Path) -> None:
    path = write_marts(tmp_path / "wh.duckdb", [ACCOUNTS[0].risky(), *ACCOUNTS[1:]])
    con = duckdb.connect(str(path))
    con.execute("insert into marts.at_risk_accounts select * from marts.at_risk_accounts")
    con.execute("update marts.customer_health_daily set health_score = 140 where account_id = 'acc_1'")
    con.execute("update marts.customer_360 set company_id = '90' where account_id = 'acc_2'")
    con.close()
    found = problems(path)
    assert any("at_risk_accounts: account_id null or duplicated" in p for p in found)
    assert any("health_score outside 0-100" in p for p in found)
    assert any("company_id) belongs to more than one account" in p for p in found)


def test_stale_health_blocks(tmp_path: Path) -> None:
    path = write_marts(tmp_path / "wh.duckdb", ACCOUNTS, health_date=AS_OF - timedelta(days=5))
    assert any("stale" in p for p in problems(path))


def test_empty_customer_360_blocks(tmp_path: Path) -> None:
    assert any("customer_360 is empty" in p for p in problems(write_marts(tmp_path / "wh.duckdb", [])))
