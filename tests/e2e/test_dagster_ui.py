"""The Dagster UI in a real headless browser: `dagster dev` on the sandbox (a temporary DAGSTER_HOME and warehouse),
driven with Playwright through Debian's chromium — what a data engineer sees and clicks.

`dagster dev` runs in its own session (process group): in the background it ignores SIGTERM otherwise, and its
code server, daemon, webserver and run workers are stopped together by signalling the group.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import requests
from playwright.sync_api import Browser, Locator, Page, expect

from sandbox.connect import environment
from tests.support import free_port, has_failed

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]
GROUPS = {"ingestion", "staging", "intermediate", "marts", "activation"}
UI_TIMEOUT_MS = 30_000  # any page of a loaded UI renders well within this on 2 cores
RUN_TIMEOUT_MS = 240_000  # queue + run worker + two step processes + dlt + dbt: about a minute here
expect.set_options(timeout=UI_TIMEOUT_MS)  # expect()'s own default (5 s) is too short for a busy 2-core machine
# The HubSpot raw tables and the staging models one layer downstream of them (14 assets in two steps, dlt and dbt,
# with the staging models' dbt tests as checks). Nothing past staging, so the CRM sync is never part of it.
SELECTION = 'key:"dlt/hubspot/*"+1'


@dataclass(frozen=True)
class DagsterUI:
    url: str
    home: Path
    warehouse: Path
    log: Path
    sandbox: Path

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


# `dagster dev` stops on SIGINT (it turns SIGTERM into SIGINT). A shell running pytest in the background without job
# control leaves SIGINT ignored, and an ignored signal stays ignored across exec: reset it, then exec dagster.
RESET_SIGINT_THEN_EXEC = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])"
)
LOCATION_STATUS = """{ workspaceOrError { __typename ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }"""


def wait_until_loaded(url: str, process: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    """Until the webserver answers and the code location is loaded; a load error fails with Dagster's message."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dagster dev exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            reply = requests.post(f"{url}/graphql", json={"query": LOCATION_STATUS}, timeout=5).json()
        except (requests.ConnectionError, requests.Timeout, ValueError):
            time.sleep(0.5)
            continue
        entries = (reply.get("data") or {}).get("workspaceOrError", {}).get("locationEntries") or []
        for entry in entries:
            loaded = entry.get("locationOrLoadError") or {}
            if loaded.get("__typename") == "PythonError":
                raise RuntimeError(f"code location {entry['name']} failed to load: {loaded['message']}")
        if entries and all(entry["loadStatus"] == "LOADED" for entry in entries):
            return
        time.sleep(0.5)
    raise TimeoutError(f"dagster dev at {url} not ready after {timeout:.0f}s:\n{log.read_text()[-3000:]}")


def stop_process_group(process: subprocess.Popen, grace: float = 30) -> None:
    """SIGTERM to dagster dev's own process group (webserver, daemon, code server, run workers), then SIGKILL."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # children the parent did not wait for
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    process.wait(timeout=10)


def dismiss_community_popup(browser: Browser, url: str, home: Path) -> None:
    """A new instance greets its first visitor with "Join the Dagster community"; "Skip" records it as seen in
    DAGSTER_HOME (.nux/nux.yaml), so later pages open without it."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(url)
        page.get_by_role("button", name="Skip").click(timeout=UI_TIMEOUT_MS)
        deadline = time.monotonic() + UI_TIMEOUT_MS / 1000
        while not (home / ".nux" / "nux.yaml").exists():
            assert time.monotonic() < deadline, "the UI did not record the dismissed pop-up"
            time.sleep(0.1)
    finally:
        context.close()


@pytest.fixture(scope="module")
def dagster_ui(
    browser: Browser, sandbox_dir: Path, sandbox_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DagsterUI]:
    """`dagster dev` on a free port with the project's dagster.yaml in a fresh DAGSTER_HOME, an empty warehouse and
    the sources pointed at the session's sandbox server."""
    root = tmp_path_factory.mktemp("dagster_ui")
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    warehouse = root / "warehouse" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    env = {
        **os.environ,
        **environment(sandbox_dir, sandbox_url),
        "DAGSTER_HOME": str(home),
        "CSOPS_WAREHOUSE": str(warehouse),
        "CSOPS_DLT_PIPELINES_DIR": str(root / "warehouse" / "dlt_pipelines"),
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = root / "dagster_dev.log"
    dagster = Path(sys.executable).with_name("dagster")
    command = [str(dagster), "dev", "-w", str(REPO_ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)]
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-c", RESET_SIGINT_THEN_EXEC, *command],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, stopped as one
        )
    try:
        wait_until_loaded(url, process, log)
        dismiss_community_popup(browser, url, home)
        yield DagsterUI(url=url, home=home, warehouse=warehouse, log=log, sandbox=sandbox_dir)
    finally:
        stop_process_group(process)


@pytest.fixture()
def page(browser: Browser, dagster_ui: DagsterUI, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Page]:
    """A fresh browser context on the UI; on failure a full-page screenshot lands in the test's tmp dir."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()
    # Dismissed once per instance (above); should it come back, dismiss it before any action or assertion.
    page.add_locator_handler(page.get_by_role("button", name="Skip"), lambda skip: skip.click())
    yield page
    if has_failed(request.node):
        screenshot = tmp_path / "failure.png"
        page.screenshot(path=screenshot, full_page=True)
        print(f"screenshot of the page at failure ({page.url}): {screenshot}")
        print(f"dagster dev log ({dagster_ui.log}), last lines:\n{dagster_ui.log_tail()}")
    context.close()


def group_buttons(page: Page) -> Locator:
    """The asset groups listed beside the lineage graph."""
    return page.get_by_role("button").filter(has=page.get_by_role("img", name="asset_group"))


def group_names(page: Page) -> set[str]:
    return {text.split("\n")[0].strip() for text in group_buttons(page).all_inner_texts()}


def hubspot_selection() -> tuple[int, int]:
    """Assets and checks SELECTION covers, counted from what they are built from: the HubSpot dlt source's
    resources, the staging models reading its tables (dbt's manifest), those models' dbt tests, and one Great
    Expectations contract check per raw table the registry declares."""
    from ingestion.hubspot import hubspot_source
    from ingestion.registry import BY_NAME

    manifest = json.loads((REPO_ROOT / "dbt_project" / "target" / "manifest.json").read_text())
    models = {
        uid
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "model"
        and any(parent.startswith("source.csops.hubspot.") for parent in node["depends_on"]["nodes"])
    }
    tests = [node for node in manifest["nodes"].values() if node.get("attached_node") in models]
    raw_checks = len(BY_NAME["hubspot"].tables)
    return len(hubspot_source(access_token="unused").selected_resources) + len(models), len(tests) + raw_checks


def field(page: Page, label: str) -> Locator:
    """The value beside a label in an asset page's Definition section ("Group", "Owners", ...)."""
    return page.locator(f"xpath=//span[normalize-space(.)='{label}']/following-sibling::span[1]")


def metadata_value(page: Page, key: str) -> Locator:
    """The value cell of a metadata entry (an asset's latest materialization, a check's latest evaluation)."""
    row = page.get_by_role("row").filter(has=page.get_by_role("cell", name=key, exact=True)).last
    return row.get_by_role("cell").last


def test_the_lineage_shows_every_group_and_the_key_assets_with_descriptions_and_owners(
    page: Page, dagster_ui: DagsterUI
) -> None:
    page.goto(dagster_ui.url)
    page.get_by_role("link", name=re.compile(r"Lineage$")).click()
    expect(page).to_have_url(re.compile(r"/asset-groups"))
    expect(group_buttons(page)).to_have_count(len(GROUPS))  # "default" would mean an asset without a group
    assert group_names(page) == GROUPS

    expected = {
        "dlt/hubspot/companies": ("ingestion", "data-engineering", "Raw table raw_hubspot.companies."),
        "marts/customer_360": ("marts", "analytics-engineering", "One row per account known to the CRM or billing"),
        "marts/at_risk_accounts": ("marts", "analytics-engineering", "ranked by ARR at stake"),
        "activation/crm_sync": ("activation", "cs-ops", "Pushes health fields, the at-risk list and CSM tasks"),
    }
    for key, (group, owner, description) in expected.items():
        page.goto(f"{dagster_ui.url}/assets/{key}")
        expect(page.get_by_text(description).first).to_be_visible()
        expect(field(page, "Group")).to_have_text(group)
        expect(field(page, "Owners")).to_contain_text(owner)


def test_a_materialization_launched_from_the_ui_succeeds_and_shows_its_metadata_and_checks(
    page: Page, dagster_ui: DagsterUI
) -> None:
    # Select the HubSpot raw tables and their staging models in the lineage view and materialize them.
    page.goto(f"{dagster_ui.url}/asset-groups")
    page.locator(".CodeMirror").first.click()
    page.keyboard.type(SELECTION)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/asset-groups~key"))
    expect(group_buttons(page)).to_have_count(2)
    assert group_names(page) == {"ingestion", "staging"}  # nothing downstream of staging: no CRM sync
    page.get_by_role("button", name="Materialize all").click()
    launched = page.get_by_text(re.compile(r"Launched run [0-9a-f]{8}"))
    expect(launched).to_be_visible()
    page.get_by_role("link", name="View").or_(page.get_by_role("button", name="View")).first.click()

    # The run page: the selected assets and their dbt tests as checks, then Success.
    assets, checks = hubspot_selection()
    expect(page).to_have_url(re.compile(r"/runs/[0-9a-f-]{36}"))
    expect(page.get_by_text(f"{assets} assets", exact=True).first).to_be_visible()
    expect(page.get_by_text(f"{checks} checks", exact=True).first).to_be_visible()
    status = page.get_by_text(re.compile(r"^(Success|Failure|Canceled)$")).first
    expect(status).to_be_visible(timeout=RUN_TIMEOUT_MS)
    expect(status).to_have_text("Success")

    # The raw table: dlt's load figures, quarantined rows, and the row count equal to what the sandbox serves.
    # A company without a product account id breaks its contract and is quarantined, not loaded.
    world_file = dagster_ui.sandbox / "world" / "hubspot_companies.parquet"
    world = pq.read_table(world_file, columns=["account_id", "archived"])
    without_account = world.column("account_id").null_count
    companies = world.num_rows - without_account
    page.goto(f"{dagster_ui.url}/assets/dlt/hubspot/companies")
    expect(page.get_by_text("Latest materialization")).to_be_visible()
    expect(metadata_value(page, "rows_loaded")).to_have_text(str(companies))
    expect(metadata_value(page, "quarantined_rows")).to_have_text(str(without_account))
    expect(metadata_value(page, "dataset_name")).to_have_text("raw_hubspot")

    # Its staging model, a view: materialized, with no row count (as dagster-dbt's own: a view's count runs its
    # query; tables carry theirs), and its dbt tests as passed, blocking asset checks.
    page.goto(f"{dagster_ui.url}/assets/staging/stg_hubspot__companies")
    expect(page.get_by_text("Latest materialization")).to_be_visible()
    expect(page.get_by_text("Row count", exact=True)).to_have_count(0)
    page.get_by_role("tab", name="Checks", exact=True).click()
    expect(page.get_by_text("Checks (2)", exact=True)).to_be_visible()
    for check in ("not_null_stg_hubspot__companies_company_id", "unique_stg_hubspot__companies_company_id"):
        expect(page.get_by_title(check, exact=True).first).to_be_visible()
    expect(page.get_by_text("Succeeded", exact=True)).to_have_count(2)
    # The selected check's latest evaluation: blocking, passed, no failing rows.
    expect(page.get_by_text(re.compile(r"^This is a\s*blocking\s*asset check"))).to_be_visible()
    expect(page.get_by_text("Passed", exact=True)).to_be_visible()
    expect(metadata_value(page, "dagster_dbt/failed_row_count")).to_have_text("0")
