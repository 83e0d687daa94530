"""Fixtures for the activation tests: a generated sandbox world (once per session), a private copy of it served on
a free loopback port per test (its CRM writes start empty), marts built over its companies, and the sync's
configuration pointing at it exactly as a user's environment would (sandbox.connect)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import requests
from activation_support import accounts_for, write_marts

from activation import SyncConfig
from sandbox.connect import environment
from sandbox.generator.world import generate
from sandbox.manifest import resolve_scale
from sandbox.server.app import running_server

TODAY = date(2026, 11, 1)
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("activation-world")
    generate(out, 7, resolve_scale("tiny", accounts=300, events=3_000), TODAY)
    return out


@pytest.fixture(scope="session")
def companies(world: Path) -> list[tuple[str, str, str | None]]:
    """(company id, account id, owner id), one company per account, as the marts would map them."""
    rows = pq.read_table(world / "world" / "hubspot_companies.parquet").to_pylist()
    seen: dict[str, tuple[str, str, str | None]] = {}
    for row in sorted(rows, key=lambda r: int(r["id"])):
        if row["account_id"] and not row["archived"] and row["account_id"] not in seen:
            seen[row["account_id"]] = (row["id"], row["account_id"], row["hubspot_owner_id"])
    return sorted(seen.values(), key=lambda c: c[1])


@dataclass
class Sandbox:
    directory: Path
    base: str
    token: str
    http: requests.Session

    def hubspot(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return self.http.request(method, f"{self.base}/hubspot{path}", headers=headers, timeout=30, **kwargs)

    def faults(self, *specs: str, reset: bool = False) -> None:
        response = self.http.post(f"{self.base}/_admin/faults", json={"faults": list(specs), "reset": reset})
        assert response.status_code == 200, response.text

    def requests(self) -> dict[str, Any]:
        return self.http.get(f"{self.base}/_admin/requests").json()

    def reset_requests(self) -> None:
        self.http.delete(f"{self.base}/_admin/requests")

    def count(self, method: str, suffix: str, status: int | None = None) -> int:
        """Requests seen for `method` on paths ending with `suffix` (optionally of one status)."""
        total = 0
        for key, entry in self.requests()["paths"].items():
            verb, path = key.split(" ", 1)
            if verb == method and path.endswith(suffix):
                total += entry["count"] if status is None else entry["statuses"].get(str(status), 0)
        return total

    def writes(self) -> int:
        """Write requests to HubSpot (searches are POSTs that read: not counted)."""
        return sum(
            entry["count"]
            for key, entry in self.requests()["paths"].items()
            if entry["vendor"] == "hubspot" and key.split(" ", 1)[0] in WRITE_METHODS and not key.endswith("/search")
        )

    def search_all(self, object_type: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        results, after = [], None
        while True:
            query = {**body, "limit": 200, **({"after": after} if after else {})}
            page = self.hubspot("POST", f"/crm/v3/objects/{object_type}/search", json=query)
            if page.status_code == 429:  # HubSpot's 5 searches / s, shared with the sync under test
                time.sleep(1)
                continue
            assert page.status_code == 200, page.text
            results += page.json()["results"]
            after = page.json().get("paging", {}).get("next", {}).get("after")
            if not after:
                return results

    def tasks(self) -> list[dict[str, Any]]:
        return self.search_all(
            "tasks",
            {
                "filterGroups": [{"filters": [{"propertyName": "csops_task_key", "operator": "HAS_PROPERTY"}]}],
                "properties": [
                    "csops_task_key",
                    "hs_task_subject",
                    "hs_task_status",
                    "hubspot_owner_id",
                    "hs_timestamp",
                    "hs_task_priority",
                    "hs_task_body",
                ],
            },
        )

    def list_members(self, name: str = "At-risk accounts (nightly)") -> set[str]:
        found = self.hubspot("GET", f"/crm/v3/lists/object-type-id/0-2/name/{name}")
        if found.status_code == 404:
            return set()
        list_id = found.json()["list"]["listId"]
        members, after = set(), None
        while True:
            page = self.hubspot("GET", f"/crm/v3/lists/{list_id}/memberships", params={"limit": 250, "after": after})
            members |= {r["recordId"] for r in page.json()["results"]}
            after = page.json().get("paging", {}).get("next", {}).get("after")
            if not after:
                return members

    def company(self, company_id: str, properties: list[str]) -> dict[str, Any]:
        response = self.hubspot("GET", f"/crm/v3/objects/companies/{company_id}", params={"properties": properties})
        assert response.status_code == 200, response.text
        return response.json()["properties"]


@pytest.fixture
def sandbox(world: Path, tmp_path: Path) -> Iterator[Sandbox]:
    """A private copy of the world (its CRM writes start empty) served with the default faults: HubSpot's
    190 requests / 10 s and 5 searches / s are on, as on the real service."""
    directory = tmp_path / "sandbox"
    directory.mkdir()
    shutil.copytree(world / "world", directory / "world")
    shutil.copy2(world / "manifest.json", directory / "manifest.json")
    with running_server(directory) as base:
        env = environment(directory, base)
        http = requests.Session()
        yield Sandbox(directory, base, env["ACTIVATION__HUBSPOT__ACCESS_TOKEN"], http)
        http.close()


@pytest.fixture
def sandbox_env(sandbox: Sandbox, tmp_path: Path) -> dict[str, str]:
    env = environment(sandbox.directory, sandbox.base)
    env["CSOPS_DBT_TARGET_DIR"] = str(tmp_path / "no-dbt")
    return env


@pytest.fixture
def config(sandbox_env: dict[str, str]) -> SyncConfig:
    """From the environment a user would set; backoff shortened so that fault tests wait only what faults need."""
    return SyncConfig.from_env(sandbox_env).with_(
        backoff_initial_seconds=0.05, backoff_max_seconds=0.2, max_retry_seconds=30, ambiguous_write_pause_seconds=0
    )


@pytest.fixture
def warehouse(tmp_path: Path, companies: list[tuple[str, str, str | None]]) -> Path:
    return write_marts(tmp_path / "warehouse.duckdb", accounts_for(companies[:250]))
