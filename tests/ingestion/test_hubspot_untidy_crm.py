"""HubSpot as it really is, against the sandbox's ground truth: records with several labelled companies are
attributed to their primary one, deleted and merged records are recognised, and writes the search index shows
late are still loaded, once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
import requests

from ingestion.pipeline import run_source
from sandbox.generator.world import advance
from sandbox.manifest import Manifest
from sandbox.server.app import running_server
from sandbox.server.hubspot.model import index_delay
from tests.support import UNTHROTTLED_FAULTS, dbt, point_at_sandbox


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def truth(sandbox: Path, name: str) -> list[dict]:
    return pq.read_table(sandbox / "truth" / f"{name}.parquet").to_pylist()


@pytest.fixture()
def served(fresh_sandbox: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    with running_server(fresh_sandbox, faults=UNTHROTTLED_FAULTS) as url:
        point_at_sandbox(monkeypatch, fresh_sandbox, url, throttled=False)
        monkeypatch.setenv("SOURCES__HUBSPOT__OBJECTS", '["companies", "contacts", "deals", "tickets"]')
        yield fresh_sandbox, url


def test_every_record_is_attributed_to_its_primary_company_never_the_first_listed(
    served: tuple[Path, str], warehouse: Path
) -> None:
    sandbox, _ = served
    run_source("hubspot", warehouse)
    expected = {(r["object_type"], r["object_id"]): r for r in truth(sandbox, "hubspot_company_attribution")}
    loaded = {
        (object_type, object_id): company_id
        for object_type in ("contacts", "deals", "tickets")
        for object_id, company_id in query(
            warehouse, f"select id, company_id from raw_hubspot.{object_type} where not archived"
        )
    }
    assert set(expected) <= set(loaded)  # (a record whose company is not in the CRM yet has no attribution)
    wrong = {key: (loaded[key], truth_row["company_id"]) for key, truth_row in expected.items()}
    wrong = {key: pair for key, pair in wrong.items() if pair[0] != pair[1]}
    assert not wrong, (
        f"{len(wrong)} records attributed to another company than the truth's, e.g. {list(wrong.items())[:3]}"
    )
    multi = [r for r in expected.values() if r["companies"] > 1]
    assert len(multi) > 50 and any(not r["has_primary_label"] for r in multi)
    # The bridge keeps every company of every record, labels included.
    bridge = query(
        warehouse,
        " union all ".join(
            f"select '{t}' as object_type, r.id, count(distinct a.company_id), bool_or(a.is_primary), count(a.label)"
            f" from raw_hubspot.{t}__company_associations as a"
            f" join raw_hubspot.{t} as r on a._dlt_parent_id = r._dlt_id"
            " group by all"
            for t in ("contacts", "deals", "tickets")
        ),
    )
    companies = {(t, i): n for t, i, n, _, _ in bridge}
    assert all(companies[(r["object_type"], r["object_id"])] == r["companies"] for r in expected.values())
    assert sum(1 for *_, labels in bridge if labels > 1) > 0  # user-defined labels beside Primary


def test_deleted_records_are_marked_and_merged_ids_lead_to_their_survivor(
    served: tuple[Path, str], warehouse: Path, tmp_path: Path
) -> None:
    sandbox, url = served
    run_source("hubspot", warehouse)
    before = {r["object_id"] for r in truth(sandbox, "hubspot_deletions")}
    on_duplicates = dict(query(warehouse, "select id, company_id from raw_hubspot.tickets where company_id like '98%'"))
    assert on_duplicates, "the sandbox has no duplicate company with a ticket waiting to be merged"
    advance(sandbox, 120)
    requests.post(f"{url}/_admin/reload", timeout=30).raise_for_status()
    run_source("hubspot", warehouse)
    deletions = truth(sandbox, "hubspot_deletions")
    merges = truth(sandbox, "hubspot_merges")
    assert len({d["object_id"] for d in deletions} - before) > 0, "no record was deleted while the pipeline ran"
    for object_type in ("companies", "contacts", "deals", "tickets"):
        archived = {i for (i,) in query(warehouse, f"select id from raw_hubspot.{object_type} where archived")}
        assert archived == {d["object_id"] for d in deletions if d["object_type"] == object_type}, object_type
        merged = dict(
            query(
                warehouse,
                f"select id, hs_merged_object_ids from raw_hubspot.{object_type}"
                " where hs_merged_object_ids is not null",
            )
        )
        expected = {}
        for m in merges:
            if m["object_type"] == object_type:
                expected.setdefault(m["survivor_id"], []).append(m["loser_id"])
        assert {k: sorted(v.split(";")) for k, v in merged.items()} == {k: sorted(v) for k, v in expected.items()}

    # The tickets loaded on a duplicate company were not modified by its merge: raw still names the duplicate.
    survivors = {m["loser_id"]: m["survivor_id"] for m in merges if m["object_type"] == "companies"}
    assert set(on_duplicates.values()) <= set(survivors)
    models = "stg_hubspot__merged_records stg_hubspot__companies stg_hubspot__owners stg_hubspot__tickets"
    models += " stg_stripe__customers int_accounts"
    result = dbt(["run", "--select", *models.split()], tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    staged = dict(query(warehouse, "select ticket_id, company_id from staging.stg_hubspot__tickets"))
    assert {t: staged[t] for t in on_duplicates} == {t: survivors[c] for t, c in on_duplicates.items()}
    # An account's company is never a deleted or merged-away one: it is the company the simulation made.
    accounts = dict(query(warehouse, "select account_id, company_id from intermediate.int_accounts"))
    expected_companies = {r["account_id"]: r["hubspot_company_id"] for r in truth(sandbox, "accounts")}
    gone = {d["object_id"] for d in deletions} | set(survivors)
    assert not gone & set(accounts.values())
    assert {a: accounts.get(a) for a in expected_companies} == expected_companies


def test_writes_the_search_index_shows_late_are_loaded_once(served: tuple[Path, str], warehouse: Path) -> None:
    """Company A is written before company B but the index shows B first: a cursor without a look-back would
    move past A for ever. Several rounds; the index catching up is forced by lowering the lag, not by waiting."""
    sandbox, url = served
    manifest = Manifest.read(sandbox)
    token = {"Authorization": f"Bearer {manifest.tokens['hubspot']}"}
    lag = 60.0
    requests.post(f"{url}/_admin/faults", json={"faults": [f"hubspot:search_lag:{lag}"]}, timeout=10)
    run_source("hubspot", warehouse)
    companies = [i for (i,) in query(warehouse, "select id from raw_hubspot.companies where not archived order by id")]
    slow = [c for c in companies if index_delay(manifest.seed, int(c), lag) > 0.8 * lag]
    quick = [c for c in companies if index_delay(manifest.seed, int(c), lag) < 0.02 * lag]
    late_caught = 0
    for round_number in range(3):
        a, b = slow[round_number], quick[round_number]
        for company in (a, b):
            response = requests.patch(
                f"{url}/hubspot/crm/v3/objects/companies/{company}",
                headers=token,
                json={"properties": {"industry": "RETAIL" if round_number % 2 else "INSURANCE"}},
                timeout=10,
            )
            response.raise_for_status()
            time.sleep(0.01)  # A's modification time strictly before B's
        deadline = time.monotonic() + 30
        while b not in search_ids(url, token, b):  # wait until the index shows B (not A: its delay is long)
            assert time.monotonic() < deadline, "the sandbox's index never showed the quickly indexed company"
            time.sleep(0.2)
        run_source("hubspot", warehouse)
        requests.post(f"{url}/_admin/faults", json={"faults": ["hubspot:search_lag:0"]}, timeout=10)
        run_source("hubspot", warehouse)  # the index has caught up: A shows now, with a modification before B's
        requests.post(f"{url}/_admin/faults", json={"faults": [f"hubspot:search_lag:{lag}"]}, timeout=10)
        industry = dict(query(warehouse, f"select id, industry from raw_hubspot.companies where id in ('{a}', '{b}')"))
        assert industry[a] == industry[b] == ("RETAIL" if round_number % 2 else "INSURANCE"), round_number
        late_caught += 1
    assert late_caught == 3
    rows, ids = query(warehouse, "select count(*), count(distinct id) from raw_hubspot.companies")[0]
    assert rows == ids
    served_ids = set(list_ids(url, token, archived=False)) | set(list_ids(url, token, archived=True))
    # Every company served is loaded, except those without a product account id, which the contract sets aside.
    set_aside = {
        i
        for (i,) in query(
            warehouse,
            "select json_extract_string(record, '$.id') from raw_hubspot.quarantine "
            "where resource = 'companies' and rule = 'missing required field account_id'",
        )
    }
    assert {i for (i,) in query(warehouse, "select id from raw_hubspot.companies")} == served_ids - set_aside


def search_ids(url: str, token: dict[str, str], company: str) -> set[str]:
    body = {"filterGroups": [{"filters": [{"propertyName": "hs_object_id", "operator": "EQ", "value": company}]}]}
    response = requests.post(f"{url}/hubspot/crm/v3/objects/companies/search", headers=token, json=body, timeout=10)
    response.raise_for_status()
    return {r["id"] for r in response.json()["results"]}


def list_ids(url: str, token: dict[str, str], archived: bool) -> list[str]:
    ids, after = [], None
    while True:
        params = {"limit": 100, "archived": str(archived).lower(), **({"after": after} if after else {})}
        page = requests.get(f"{url}/hubspot/crm/v3/objects/companies", headers=token, params=params, timeout=10).json()
        ids += [r["id"] for r in page["results"]]
        after = ((page.get("paging") or {}).get("next") or {}).get("after")
        if not after:
            return ids
