"""`csops bench` at the tiny scale with few events, through the command line: every stage is reported with a positive
wall time, its row counts are what the warehouse holds (read back here), and the plain-SQL transformations give
dbt's numbers. Benchmarks never assert a time: nothing here compares a duration with a threshold."""

from __future__ import annotations

import json
import re
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from bench.config import CRM_PUSH, NIGHTLY_RUN, BenchConfig
from bench.harness import run_bench
from bench.plain_sql import TRANSFORMATIONS, compare
from bench.stages import WARM_UP_RUN
from bench.warehouse import count_events
from csops.cli import main
from ingestion.registry import SOURCE_NAMES
from orchestration.raw_checks import VolumeRule
from sandbox.manifest import Manifest

pytestmark = pytest.mark.slow

EVENTS = 20_000
TODAY = date(2026, 11, 1)
# Nights before the measured one after the full load, so its raw volume check is judged.
WARM_UPS = VolumeRule().min_loads - 1
MEASURED = 2  # measured nights: the report judges their median
NIGHTS = [
    *(["advance 1 day (warm-up night)"] * WARM_UPS),
    *(["advance 1 day (for the nightly run)"] * MEASURED),
    "advance 1 day",
]


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("bench")
    out, work = root / "results", root / "work"
    args = ["bench", "--scales", "tiny", "--events", str(EVENTS), "--out", str(out), "--work-dir", str(work)]
    args += ["--nights", str(MEASURED)]
    result = CliRunner().invoke(main, [*args, "--keep", "--today", TODAY.isoformat()], catch_exceptions=False)
    files = sorted(out.glob("tiny-*.json"))
    assert len(files) == 1, result.output
    report = json.loads(files[0].read_text())
    return {"result": result, "report": report, "root": work / "tiny"}


def stage(report: dict, name: str) -> dict:
    return next(s for s in report["stages"] if s["name"] == name)


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_the_command_succeeds_and_prints_the_table(bench: dict) -> None:
    result = bench["result"]
    assert result.exit_code == 0, result.output
    assert "stage" in result.output and "rows/s" in result.output and "peak MB" in result.output
    assert "dbt vs plain DuckDB SQL" in result.output


def test_every_stage_is_reported_with_a_positive_wall_time(bench: dict) -> None:
    report = bench["report"]
    expected = (
        ["generate sandbox"]
        + [f"ingest full: {s}" for s in SOURCE_NAMES]
        + ["raw checks (GX) full", "plain load: usage events (DuckDB)", "dbt build full", "publish serving copy full"]
        + [f"plain SQL: {t.title}" for t in TRANSFORMATIONS]
        + ["advance 1 day (warm-up night)", WARM_UP_RUN] * WARM_UPS
        + ["advance 1 day (for the nightly run)", NIGHTLY_RUN] * MEASURED
        + ["advance 1 day"]
        + [f"ingest incremental: {s}" for s in SOURCE_NAMES]
        + ["raw checks (GX)", "dbt build incremental", "publish serving copy", "CRM sync dry run"]
    )
    assert [s["name"] for s in report["stages"]] == expected
    for s in report["stages"]:
        assert s["status"] == "ok", s["error"]
        assert s["wall_s"] > 0 and s["peak_mb"] > 0 and s["cpu_s"] > 0, s["name"]
        assert s["rows"] is not None and s["rows"] >= 0 and s["rows_per_s"] is not None, s["name"]
    # The nightly publish starts from the first night's copy: the daily mart is rewritten by the days that changed.
    (nightly_publish,) = [s for s in report["stages"] if s["name"] == "publish serving copy"]
    assert nightly_publish["details"]["how"]["customer_health_daily"].endswith(" days")
    # ... and its Parquet by the months those days fall in (a 1-day night: not the two years of months).
    assert 0 < nightly_publish["details"]["parquet_months"]["customer_health_daily"] <= 3
    # Time waiting for the vendors' answers is told apart: the HTTP sources waited some of their own work time for
    # it; the usage source reads files and sent no request.
    for source in SOURCE_NAMES:
        details = stage(report, f"ingest incremental: {source}")["details"]
        if source == "usage":
            assert details["requests"] == 0 and details["response_wait_s"] == 0
        else:
            assert details["requests"] > 0, source
            assert 0 < details["response_wait_s"] < details["work_s"], source
    assert "of which waiting for the vendors' (sandbox's) answers" in bench["result"].output
    machine = report["machine"]
    assert machine["cores"] >= 1 and machine["memory_gib"] > 0 and len(machine["load_avg_start"]) == 3
    assert all(machine["versions"][p] for p in ("duckdb", "dbt-core", "dlt", "dagster"))
    assert report["scale"] == report["scale"] | {"name": "tiny", "events": EVENTS, "today": TODAY.isoformat()}


def test_ingested_rows_are_what_the_warehouse_holds(bench: dict) -> None:
    report, root = bench["report"], bench["root"]
    warehouse = root / "warehouse.duckdb"
    for source in SOURCE_NAMES:
        reported = stage(report, f"ingest incremental: {source}")["details"]["warehouse_tables"]
        tables = query(
            warehouse,
            f"select table_name from information_schema.tables where table_schema = 'raw_{source}' "
            "and table_name not like '\\_%' escape '\\' and table_name != 'quarantine'",  # no bookkeeping
        )
        held = {t: query(warehouse, f'select count(*) from raw_{source}."{t}"')[0][0] for (t,) in tables}
        assert reported == held, source
        full, staged = stage(report, f"ingest full: {source}"), stage(report, f"ingest incremental: {source}")
        runs = [s for s in report["stages"] if s["name"] in (WARM_UP_RUN, NIGHTLY_RUN)]
        nights = sum(run["details"]["new_rows"][source] for run in runs)
        assert full["details"]["new_rows"] + nights + staged["details"]["new_rows"] == sum(held.values())
        assert full["rows"] >= full["details"]["new_rows"] > 0  # a full load lands rows (duplicates merged)


def test_event_counts_are_the_files_and_the_loaded_events(bench: dict) -> None:
    report, root = bench["report"], bench["root"]
    events = root / "sandbox" / "events"
    assert Manifest.read(root / "sandbox").today == date.fromordinal(TODAY.toordinal() + len(NIGHTS))
    advanced = [s["rows"] for s in report["stages"] if s["step"] == "advance"]
    assert [s["name"] for s in report["stages"] if s["step"] == "advance"] == NIGHTS
    assert stage(report, "generate sandbox")["rows"] + sum(advanced) == count_events(events)
    assert sum(advanced) == count_events(events, since=TODAY)
    assert advanced[-1] == count_events(events, since=date.fromordinal(TODAY.toordinal() + len(NIGHTS) - 1))
    with duckdb.connect() as con:
        received_before_advance = con.execute(
            f"select count(*) from read_parquet('{events}/*/*.parquet', hive_partitioning = true) "
            f"where received_date < '{TODAY.isoformat()}'"
        ).fetchone()[0]
    full_usage = stage(report, "ingest full: usage")
    # The raw table keeps every row received, copies of an event included (dbt removes them), bad rows apart.
    assert full_usage["details"]["warehouse_rows"] == received_before_advance - full_usage["details"]["quarantined"]
    assert full_usage["rows"] + full_usage["details"]["quarantined"] == stage(report, "generate sandbox")["rows"]


def test_the_nightly_run_is_one_dagster_run_of_the_whole_graph_but_the_crm_push(bench: dict) -> None:
    """The night as the product runs it: every asset of the definitions materialized in one run but the CRM push
    (measured apart as the sync dry run), its dbt build reusing the parse, the day's events loaded, its rate-limit
    waits reported apart."""
    from orchestration.definitions import defs

    report, root = bench["report"], bench["root"]
    run = stage(report, NIGHTLY_RUN)
    graph = {key.to_user_string() for key in defs().resolve_asset_graph().get_all_asset_keys()}
    assert CRM_PUSH in graph
    assert set(run["details"]["materialized"]) == graph - {CRM_PUSH}
    assert run["details"]["success"] and not run["details"]["failed_checks"]
    assert {"dbt_models", "gx_raw_tables", "serving__marts"} <= set(run["details"]["step_seconds"])
    assert run["details"]["requests"] > 0 and 0 <= run["details"]["throttle_wait_s"] < run["wall_s"]
    # Its dbt build reused the parse of the bench's builds (same project, same profile): no whole-project parse.
    # The build's file log is at info (orchestration/resources.py), where dbt reports a whole-project parse ("Unable
    # to do partial parsing because ...") but not a partial one.
    logs = list((root / "dbt_target").glob("dbt_models-*/dbt.log"))
    assert len(logs) == MEASURED + WARM_UPS
    for log in logs:
        text = log.read_text()
        assert "Finished running" in text and "Unable to do partial parsing" not in text
    # The staged dbt builds log at the same level as the product's, so the two compare.
    staged = (root / "dbt_logs" / "dbt.log").read_text()
    assert "Finished running" in staged and "[debug]" not in staged
    # It is a night on which the raw volume check judges the loads (a GX validation per table): the warm-up nights
    # before it had too few earlier loads.
    assert run["details"]["raw_tables_checked"] > 0
    judged = run["details"]["volume_judged"]
    assert judged and all(name.endswith(":gx_raw_contract") for name in judged)
    for warm_up in [s for s in report["stages"] if s["name"] == WARM_UP_RUN]:
        assert warm_up["details"]["volume_judged"] == []
    # It loaded the events of the day advanced for it (what every raw table holds is checked below, all nights summed).
    advanced = stage(report, "advance 1 day (for the nightly run)")["rows"]
    assert 0 < run["details"]["new_rows"]["usage"] <= advanced
    assert "nightly as the product runs it" in bench["result"].output


def test_the_night_goal_is_judged_on_the_median_of_the_measured_nights(bench: dict) -> None:
    """One night's wall time moves with the host: the report gives every measured night and judges their median."""
    report, output = bench["report"], bench["result"].output
    assert report["scale"]["measured_nights"] == MEASURED
    sync = stage(report, "CRM sync dry run")
    runs = [s for s in report["stages"] if s["name"] == NIGHTLY_RUN]
    ours = [run["wall_s"] + sync["wall_s"] - run["details"]["throttle_wait_s"] for run in runs]
    assert len(ours) == MEASURED
    (line,) = [line for line in output.splitlines() if line.startswith("nightly as the product runs it")]
    assert f"the median of {MEASURED} nights" in line
    assert f"ours {max(ours):.1f}s (goal <= 60)" in line  # of two, the upper one
    (every,) = [line for line in output.splitlines() if "every night, ours / CPU-s:" in line]
    assert all(f"{night:.1f}s" in every for night in ours)


def test_dbt_rows_are_what_the_warehouse_holds(bench: dict) -> None:
    report, root = bench["report"], bench["root"]
    warehouse = root / "warehouse.duckdb"
    nodes = stage(report, "dbt build incremental")["details"]["nodes"]
    counted = [n for n in nodes if n["rows_after"] is not None]
    assert {n["name"] for n in counted} >= {"int_usage__account_daily", "customer_health_daily", "customer_360"}
    for node in counted:
        schema, table = [p.strip('"') for p in node["relation"].split(".")][-2:]
        assert query(warehouse, f'select count(*) from {schema}."{table}"')[0][0] == node["rows_after"], node["name"]
    table_models = [n for n in counted if n["materialized"] == "table"]
    incremental_models = [n for n in counted if n["materialized"] == "incremental"]
    assert incremental_models and table_models
    assert all(0 <= n["rows"] <= n["rows_after"] for n in incremental_models)  # only what the run wrote
    assert stage(report, "dbt build incremental")["rows"] == sum(n["rows"] for n in counted)
    full = stage(report, "dbt build full")
    assert len(full["details"]["slowest_models"]) == 5
    assert report["incremental_vs_full"]["dbt"]["time_ratio"] > 0


def test_plain_sql_gives_the_same_numbers_as_dbt(bench: dict) -> None:
    report = bench["report"]
    full_rows = {n["name"]: n.get("rows") for n in stage(report, "dbt build full")["details"]["nodes"]}
    assert [e["transformation"] for e in report["plain_sql"]] == [t.name for t in TRANSFORMATIONS]
    for entry, transformation in zip(report["plain_sql"], TRANSFORMATIONS, strict=True):
        check = entry["check"]
        assert check["match"], check
        assert check["plain_rows"] == check["dbt_rows"] == full_rows[transformation.models[-1]] > 0
        assert check["plain_sums"] == pytest.approx(check["dbt_sums"], rel=1e-9)
        assert entry["dbt_s"] > 0 and entry["plain_s"] > 0 and entry["ratio"] > 0


def test_a_difference_between_plain_sql_and_dbt_is_caught(bench: dict, tmp_path: Path) -> None:
    usage = next(t for t in TRANSFORMATIONS if t.name == "usage_account_daily")
    plain = tmp_path / "plain.duckdb"
    shutil.copyfile(bench["root"] / f"plain-{usage.name}.duckdb", plain)
    warehouse = tmp_path / "warehouse.duckdb"  # dbt's table as it was when the plain SQL ran: the plain result
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"attach '{plain}' as plain (read_only)")
        con.execute(f"create schema intermediate; create table {usage.dbt_table} as select * from plain.{usage.name}")
    assert compare(usage, warehouse, plain)["match"]
    with duckdb.connect(str(plain)) as con:
        con.execute(f"update {usage.name} set events = events + 1 where rowid = 0")
    check = compare(usage, warehouse, plain)
    assert not check["match"]
    assert check["rows_different"] == 1 and check["plain_sums"]["events"] == check["dbt_sums"]["events"] + 1


def test_a_scale_the_disk_cannot_hold_is_skipped_with_its_estimate_by_event_format(tmp_path: Path) -> None:
    """The disk guard: a scale whose estimate exceeds the free space is skipped, naming the estimate and the free
    space, before anything is generated; Parquet event files are estimated smaller than JSONL ones (at one figure for
    both, the large company with twice the history asked for 93 GiB and was skipped on a disk that held it)."""
    needs = {}
    for events_format in ("parquet", "jsonl"):
        lines: list[str] = []
        work, out = tmp_path / events_format / "work", tmp_path / events_format / "out"
        config = BenchConfig(scales=["tiny"], out=out, events_format=events_format, events=10**13, work_dir=work)
        run = run_bench(config, progress=lines.append)
        assert run.reports == [] and run.files == []
        assert not (work / "tiny").exists() and not list(out.glob("*.json"))
        (skipped,) = [line for line in lines if "SKIPPED" in line]
        found = re.search(r"needs about ([\d.]+) GiB in .*, ([\d.]+) GiB free", skipped)
        assert found, skipped
        needs[events_format] = float(found.group(1))
        assert needs[events_format] > float(found.group(2))
    assert needs["parquet"] < needs["jsonl"]
