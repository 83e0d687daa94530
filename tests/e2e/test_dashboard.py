"""The CS Ops dashboard in a real headless browser: `csops dashboard` (Streamlit) over the serving copy that the
session's pipeline run published, driven with Playwright through Debian's chromium — what CS Ops sees.

Every figure the test expects is read from the serving copy here, independently of the dashboard's own queries.
The server reads a path of the test's own, to which the test publishes as the pipeline does (a copy renamed into
place), so it can show the empty state, a publish being picked up, and a planning mart's page appearing.

Screenshots of every page go to CSOPS_DASHBOARD_SCREENSHOTS when set (how docs/screenshots/ is refreshed), else to
the test's temporary folder.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from tests.support import free_port, has_failed

pytestmark = [pytest.mark.browser, pytest.mark.slow]

UI_TIMEOUT_MS = 30_000  # a page of the dashboard renders well within this on 2 cores
START_TIMEOUT_S = 120


@dataclass(frozen=True)
class Dashboard:
    url: str
    serving: Path  # what the server reads (CSOPS_SERVING_WAREHOUSE)
    built: Path  # the serving copy the pipeline run published
    screenshots: Path
    log: Path


def core_marts_only(built: Path, copy: Path) -> Path:
    """The build's serving copy without its planning marts: the core pages are checked on what every build
    publishes, and a planning mart's page is then seen to appear when a later build publishes one."""
    from dashboard.views import CORE_MARTS

    shutil.copy(built, copy)
    with duckdb.connect(str(copy)) as con:
        rows = con.execute("select table_name from duckdb_tables() where schema_name = 'marts'").fetchall()
        marts = [row[0] for row in rows]
        for mart in sorted(set(marts) - CORE_MARTS):
            con.execute(f'drop table marts."{mart}"')
    return copy


def publish(source: Path, serving: Path) -> None:
    """Replace the serving copy as the pipeline does: write beside it, then rename over it."""
    upcoming = serving.with_name(serving.name + ".next")
    shutil.copy(source, upcoming)
    os.replace(upcoming, serving)


def children_of(pid: int) -> list[int]:
    """Processes whose parent is `pid` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_until_serving(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"csops dashboard exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(requests.ConnectionError, requests.Timeout):
            if requests.get(f"{url}/_stcore/health", timeout=5).text == "ok":
                return
        time.sleep(0.3)
    raise TimeoutError(f"csops dashboard at {url} not ready after {START_TIMEOUT_S}s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def dashboard(pipeline_run: dict, browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """`csops dashboard` on a free port, reading a serving path nothing has been published to yet. Stopped with
    SIGTERM at the end, which must stop its Streamlit server too."""
    root = tmp_path_factory.mktemp("dashboard")
    screenshots = Path(os.environ.get("CSOPS_DASHBOARD_SCREENSHOTS") or root / "screenshots")
    screenshots.mkdir(parents=True, exist_ok=True)
    serving = root / "bi" / "serving.duckdb"
    serving.parent.mkdir()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = root / "dashboard.log"
    csops = Path(sys.executable).with_name("csops")
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(csops), "dashboard", "--port", str(port)],
            env={**os.environ, "CSOPS_SERVING_WAREHOUSE": str(serving)},
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    servers = []
    try:
        wait_until_serving(url, process, log)
        servers = children_of(process.pid)
        yield Dashboard(url, serving, core_marts_only(pipeline_run["serving"], root / "core.duckdb"), screenshots, log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            code = None
            os.killpg(process.pid, signal.SIGKILL)
        left = [pid for pid in servers if alive(pid)]
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        print(f"dashboard screenshots: {screenshots}")
    assert code == 0, f"csops dashboard did not stop cleanly on SIGTERM (exit {code}):\n{log.read_text()[-2000:]}"
    assert servers and not left, f"csops dashboard left its Streamlit server running: {left} (started: {servers})"


@pytest.fixture()
def outside_requests() -> list[str]:
    """URLs the browser asked for beyond the dashboard's loopback address (there must be none)."""
    return []


@pytest.fixture()
def page(
    browser: Browser,
    dashboard: Dashboard,
    outside_requests: list[str],
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1300, "height": 1200})
    context.set_default_timeout(UI_TIMEOUT_MS)
    context.on(
        "request",
        lambda sent: (
            None if sent.url.startswith((dashboard.url, "data:", "blob:")) else outside_requests.append(sent.url)
        ),
    )
    page = context.new_page()
    yield page
    if has_failed(request.node):
        screenshot = tmp_path / "failure.png"
        page.screenshot(path=screenshot)
        print(f"screenshot of the page at failure ({page.url}): {screenshot}")
        print(f"csops dashboard log ({dashboard.log}):\n{dashboard.log.read_text()[-3000:]}")
    context.close()


@pytest.fixture()
def published(dashboard: Dashboard) -> Dashboard:
    """The pipeline's serving copy, published to the path the dashboard reads."""
    publish(dashboard.built, dashboard.serving)
    return dashboard


def read(serving: Path, sql: str) -> tuple:
    with duckdb.connect(str(serving), read_only=True) as con:
        return con.execute(sql).fetchone()


def usd(amount: Decimal | float) -> str:
    return f"${amount:,.0f}"


def pct(ratio: float) -> str:
    return f"{100 * ratio:.1f}%"


def open_page(page: Page, name: str, title: str) -> None:
    """Click `name` in the sidebar and wait until the page's script has run to its end."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=name, exact=False).click()
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()
    expect(page.locator("[data-testid=stApp][data-test-script-state=notRunning]")).to_be_attached()


def metric(page: Page, label: str):
    """The metric whose label starts with `label`."""
    starts = re.compile(f"^\\s*{re.escape(label)}")
    return page.get_by_test_id("stMetric").filter(has=page.get_by_test_id("stMetricLabel").filter(has_text=starts))


def expect_metric(page: Page, label: str, value: str) -> None:
    expect(metric(page, label).get_by_test_id("stMetricValue")).to_have_text(value)


def expect_no_exception(page: Page) -> None:
    expect(page.get_by_test_id("stException")).to_have_count(0)


def test_without_a_serving_copy_it_says_to_run_make_demo_and_shows_the_next_publish(
    page: Page, dashboard: Dashboard, outside_requests: list[str]
) -> None:
    dashboard.serving.unlink(missing_ok=True)
    page.goto(dashboard.url)
    expect(page.get_by_test_id("stAlert")).to_contain_text("run make demo first")
    expect(page.get_by_test_id("stAlert")).to_contain_text(str(dashboard.serving))
    expect_no_exception(page)
    page.screenshot(path=dashboard.screenshots / "empty-state.png")

    publish(dashboard.built, dashboard.serving)
    page.reload()
    expect(page.get_by_role("heading", name="MRR", exact=True)).to_be_visible()
    expect_no_exception(page)
    assert not outside_requests, f"the dashboard made the browser reach beyond 127.0.0.1: {outside_requests}"


def test_every_page_renders_the_figures_of_the_marts(
    page: Page, published: Dashboard, outside_requests: list[str]
) -> None:
    serving = published.serving
    page.goto(published.url)
    expect(page.get_by_test_id("stSidebarNav").get_by_role("link")).to_have_count(6)

    # MRR: the latest month's ending MRR and customers, and the bridge of the last complete month.
    month, ending, customers = read(
        serving, "select month, ending_mrr_usd, customers from marts.mrr_summary order by month desc limit 1"
    )
    open_page(page, "MRR", "MRR")
    expect_metric(page, "Ending MRR", usd(ending))
    expect(metric(page, "Ending MRR")).to_contain_text(month.strftime("%b %Y"))
    expect_metric(page, "Paying customers", f"{customers:,}")
    bridge_month, bridge_ending = read(
        serving,
        "select month, ending_mrr_usd from marts.mrr_summary where is_month_complete order by month desc limit 1",
    )
    expect(page.get_by_text(f"{bridge_month:%b %Y}: starting")).to_contain_text(f"ending {usd(bridge_ending)}")
    expect(page.get_by_test_id("stVegaLiteChart")).to_have_count(2)
    expect_no_exception(page)
    page.screenshot(path=published.screenshots / "mrr.png")

    # Retention: the last complete month's ratios.
    grr, nrr, quick = read(
        serving,
        "select gross_revenue_retention, net_revenue_retention, quick_ratio from marts.mrr_summary "
        "where is_month_complete and starting_mrr_usd > 0 order by month desc limit 1",
    )
    open_page(page, "Retention", "Retention")
    expect_metric(page, "Gross revenue retention", pct(grr))
    expect_metric(page, "Net revenue retention", pct(nrr))
    expect_metric(page, "Quick ratio", "–" if quick is None else f"{quick:.2f}")
    expect_no_exception(page)
    page.screenshot(path=published.screenshots / "retention.png")

    # Health: today's accounts per status.
    with duckdb.connect(str(serving), read_only=True) as con:
        statuses = dict(
            con.execute(
                "select health_status, count(*) from marts.customer_health_daily "
                "where health_date = (select max(health_date) from marts.customer_health_daily) group by 1"
            ).fetchall()
        )
    open_page(page, "Health", "Health")
    for status in ("green", "yellow", "red"):
        expect_metric(page, status.capitalize(), f"{statuses.get(status, 0):,}")
    expect(page.get_by_test_id("stVegaLiteChart")).to_have_count(1)
    expect_no_exception(page)
    page.screenshot(path=published.screenshots / "health.png")

    # At risk: how many accounts and how much ARR.
    at_risk, arr_at_stake = read(serving, "select count(*), sum(arr_at_stake_usd) from marts.at_risk_accounts")
    open_page(page, "At risk", "At-risk accounts")
    expect_metric(page, "At-risk accounts", f"{at_risk:,}")
    expect_metric(page, "ARR at stake", usd(arr_at_stake))
    expect(page.get_by_test_id("stDataFrame")).to_have_count(1)
    expect_no_exception(page)
    page.screenshot(path=published.screenshots / "at-risk.png")

    # Renewals in the next 90 days (the default window) of paying accounts.
    as_of = read(serving, "select max(as_of_date) from marts.customer_360")[0]
    renewals, renewing_arr = read(
        serving,
        "select count(*), sum(arr_usd) from marts.customer_360 where arr_usd > 0 "
        f"and renewal_date between date '{as_of}' and date '{as_of + timedelta(days=90)}'",
    )
    open_page(page, "Renewals", "Renewals coming up")
    expect_metric(page, "Renewals", f"{renewals:,}")
    expect_metric(page, "ARR up for renewal", usd(renewing_arr))
    expect_no_exception(page)
    page.screenshot(path=published.screenshots / "renewals.png")

    # CSM books: the CSMs owning paying accounts.
    csms, book_arr = read(
        serving, "select count(distinct owner_id), sum(arr_usd) from marts.customer_360 where arr_usd > 0"
    )
    open_page(page, "CSM books", "CSM books of business")
    expect_metric(page, "CSMs with paying accounts", f"{csms:,}")
    expect_metric(page, "ARR in their books", usd(book_arr))
    expect_no_exception(page)
    page.screenshot(path=published.screenshots / "csm-books.png")
    assert not outside_requests, f"the dashboard made the browser reach beyond 127.0.0.1: {outside_requests}"


def test_planning_marts_show_once_published_renewals_and_books_switch_to_theirs(
    page: Page, published: Dashboard, outside_requests: list[str], tmp_path: Path
) -> None:
    page.goto(published.url)
    expect(page.get_by_role("heading", name="MRR", exact=True)).to_be_visible()
    nav = page.get_by_test_id("stSidebarNav")
    expect(nav.get_by_role("link")).to_have_count(6)
    expect(nav.get_by_role("link", name="NPS")).to_have_count(0)

    # A build that also produced planning marts (shapes as in SPEC; the values are the test's own).
    planned = tmp_path / "serving.duckdb"
    shutil.copy(published.built, planned)
    with duckdb.connect(str(planned)) as con:
        con.execute(
            "create table marts.nps_summary as select * from (values "
            "(date '2026-09-01', 'smb', 40, 25.0), (date '2026-10-01', 'smb', 35, 31.4), "
            "(date '2026-10-01', 'enterprise', 12, 50.0)) as t(month, segment, responses, nps)"
        )
        con.execute("comment on table marts.nps_summary is 'Responses and NPS per month and segment.'")
        con.execute(
            "create table marts.renewal_forecast as select * from (values "
            "(date '2026-11-20', 19, 'Acme', 12000.00::decimal(18,2), 0.9, 10800.00::decimal(18,2), "
            "1200.00::decimal(18,2)), "
            "(date '2027-03-01', 120, 'Later', 50000.00::decimal(18,2), 0.5, 25000.00::decimal(18,2), "
            "25000.00::decimal(18,2))) "
            "as t(renewal_date, days_to_renewal, company_name, arr_usd, renewal_probability, expected_arr_usd, "
            "arr_at_risk_usd)"
        )
        con.execute(
            "create table marts.csm_book_of_business as select * from (values ('Ines Fischer', 9, 1000.00), "
            "('Jon Tanaka', 31, 500.00)) as t(owner_name, accounts, arr_usd)"
        )
    publish(planned, published.serving)
    page.reload()
    expect(nav.get_by_role("link")).to_have_count(7)  # NPS; the forecast and the books feed their core pages
    open_page(page, "NPS", "NPS")
    expect(page.get_by_text("Responses and NPS per month and segment.")).to_be_visible()
    expect_metric(page, "Rows", "3")
    expect(page.get_by_test_id("stVegaLiteChart")).to_have_count(1)
    expect_no_exception(page)
    page.screenshot(path=published.screenshots / "planning-nps.png")

    open_page(page, "Renewals", "Renewals coming up")
    expect(page.get_by_text("From renewal_forecast")).to_be_visible()
    expect_metric(page, "Renewals", "1")  # within the default 90 days
    expect_metric(page, "ARR up for renewal", "$12,000")
    expect_metric(page, "Expected ARR", "$10,800")
    expect_metric(page, "ARR at risk", "$1,200")
    expect_no_exception(page)

    open_page(page, "CSM books", "CSM books of business")
    expect(page.get_by_text("From csm_book_of_business.")).to_be_visible()
    expect_no_exception(page)
    assert not outside_requests, f"the dashboard made the browser reach beyond 127.0.0.1: {outside_requests}"
