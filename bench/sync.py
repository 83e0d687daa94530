"""The CRM sync benchmark: requests and wall time of the CRM sync for N changed accounts against the sandbox
under its default limits (HubSpot's 190 requests / 10 s and 5 searches / s).

    csops sandbox generate --scale large --events 100000 --out /tmp/sbx-large
    .venv/bin/python -m bench.sync /tmp/sbx-large --accounts 10000

Three runs on marts built over the sandbox's companies (every 5th account at risk):
1. first sync: every account's fields, the at-risk list, one periodic-review task per account plus one
   usage-drop check-in per at-risk account;
2. every account's score moves (no status flips, so the breaker stays quiet): N changed accounts;
3. the same night again: nothing to send.

The marts are written by the activation tests' builder (tests/activation/activation_support.py), so the benchmark
and the tests push the same shapes.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import requests

from activation import SyncConfig, run_sync
from sandbox.connect import environment
from sandbox.server.app import running_server
from tests.activation.activation_support import accounts_for, sandbox_companies, write_marts


def companies(directory: Path, n: int) -> list[tuple[str, str, str | None]]:
    chosen = sandbox_companies(directory)[:n]
    if len(chosen) < n:
        raise SystemExit(f"the sandbox has only {len(chosen)} companies with an account; generate a larger one")
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sandbox", type=Path)
    parser.add_argument("--accounts", type=int, default=10_000)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="csops-sync-bench-"))
    directory = work / "sandbox"  # a private copy: the CRM writes start empty
    directory.mkdir()
    shutil.copytree(args.sandbox / "world", directory / "world")
    shutil.copy2(args.sandbox / "manifest.json", directory / "manifest.json")
    accounts = accounts_for(companies(directory, args.accounts))
    warehouse = write_marts(work / "warehouse.duckdb", accounts)

    with running_server(directory) as base:
        # every task on the first night (no per-CSM cap, no spread of reviews): this measures the transport
        env = {**environment(directory, base), "CSOPS_DBT_TARGET_DIR": str(work / "no-dbt")}
        env |= {"CSOPS_SYNC_MAX_TASKS_PER_CSM": "0", "CSOPS_SYNC_SPREAD_REVIEWS": "false"}
        config = SyncConfig.from_env(env)
        print(f"{args.accounts:,} accounts, {sum(a.at_risk for a in accounts):,} at risk; {config!r}")
        http = requests.Session()
        scenarios = [
            ("first sync (fields, list, tasks)", accounts),
            (f"{args.accounts:,} changed accounts", [replace(a, score=(a.score or 50) + 0.5) for a in accounts]),
            ("same night again", None),
        ]
        for title, marts in scenarios:
            if marts is not None:
                write_marts(warehouse, marts)
            http.delete(f"{base}/_admin/requests")
            started = time.monotonic()
            report = run_sync(warehouse, config=config, log=lambda _: None)
            seconds = time.monotonic() - started
            counters = http.get(f"{base}/_admin/requests").json()
            print(f"\n== {title}: {report.status}, {report.requests} requests in {seconds:.1f}s")
            for key, entry in sorted(counters["paths"].items()):
                print(f"   {entry['count']:5d}  {key}  {entry['statuses']}")
            for line in report.summary_lines()[1:]:
                print(line)
        http.close()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
