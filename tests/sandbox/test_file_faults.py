"""File faults: each corrupts exactly what its record in truth/injected_faults.json says, deterministically
and reversibly, and survives `advance`."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from csops.cli import main
from sandbox.generator.faults import FAULTS, FaultError, inject, revert
from sandbox.generator.world import advance, generate
from sandbox.manifest import resolve_scale

TODAY = date(2025, 3, 1)  # four months of history are plenty to corrupt


@pytest.fixture(scope="module", params=["parquet", "jsonl"])
def pristine(request, tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp(f"faults-{request.param}")
    generate(directory, 7, resolve_scale("tiny", accounts=40, events=20_000), TODAY, request.param)
    return directory


@pytest.fixture
def sandbox_copy(pristine, tmp_path) -> Path:
    return Path(shutil.copytree(pristine, tmp_path / "sandbox"))


def hashes(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def event_rows(path: Path) -> tuple[list[dict], int]:
    """(parsed rows, unparseable lines) of an event file."""
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist(), 0
    rows, broken = [], 0
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            broken += 1
    return rows, broken


def known_accounts(directory: Path) -> set[str]:
    return set(pq.read_table(directory / "truth" / "accounts.parquet")["account_id"].to_pylist())


def test_malformed_events_are_exactly_the_recorded_rows(sandbox_copy):
    record = inject(sandbox_copy, "malformed_events")
    rows, broken = event_rows(sandbox_copy / record["file"])
    accounts = known_accounts(sandbox_copy)
    missing_id = sum(1 for row in rows if not row.get("messageId"))
    unknown = sum(1 for row in rows if row.get("messageId") and row["groupId"] not in accounts)
    assert (broken, missing_id, unknown) == ((1 if record["file"].endswith(".jsonl") else 0), 1, 1)
    assert broken + missing_id + unknown == record["expected_quarantined"] == len(record["injected"])
    assert len(rows) + broken == record["rows_in_file"]
    assert record["rows_in_file"] - record["expected_quarantined"] == record["valid_rows_in_file"]


def test_renamed_column_leaves_no_group_id_in_that_day(sandbox_copy):
    record = inject(sandbox_copy, "renamed_column")
    rows, broken = event_rows(sandbox_copy / record["file"])
    assert broken == 0 and len(rows) == record["rows_in_file"] == record["expected_quarantined"] > 0
    assert all("group_id" in row and "groupId" not in row for row in rows)


def test_duplicate_events_redeliver_a_whole_day(sandbox_copy):
    record = inject(sandbox_copy, "duplicate_events")
    copy, original = sandbox_copy / record["file"], sandbox_copy / record["duplicate_of"]
    assert copy.read_bytes() == original.read_bytes() and copy.parent == original.parent
    rows, _ = event_rows(copy)
    assert len(rows) == record["expected_duplicates"] > 0 and record["expected_quarantined"] == 0


def test_bad_survey_rows_are_the_three_unloadable_ones(sandbox_copy):
    record = inject(sandbox_copy, "bad_survey_rows")
    with (sandbox_copy / record["file"]).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    unloadable = [
        row for row in rows if not row["account_id"] or not row["score"].isdigit() or not 0 <= int(row["score"]) <= 10
    ]
    assert len(unloadable) == len(rows) == record["expected_quarantined"] == 3
    assert {i["problem"] for i in record["injected"]} == {
        "score_out_of_range",
        "score_not_numeric",
        "missing_account_id",
    }


def test_injection_is_deterministic_and_revert_restores_every_file(pristine, tmp_path):
    first = Path(shutil.copytree(pristine, tmp_path / "first"))
    second = Path(shutil.copytree(pristine, tmp_path / "second"))
    for directory in (first, second):
        for kind in FAULTS:
            inject(directory, kind)
    assert hashes(first) == hashes(second)
    recorded = json.loads((first / "truth" / "injected_faults.json").read_text())["faults"]
    assert [r["kind"] for r in recorded] == list(FAULTS)
    assert sorted(revert(first)) == sorted(FAULTS)
    assert hashes(first) == hashes(pristine)


def test_a_fault_is_injected_once_and_survives_advance(sandbox_copy):
    files = [inject(sandbox_copy, kind)["file"] for kind in FAULTS]
    with pytest.raises(FaultError, match="already injected"):
        inject(sandbox_copy, "malformed_events")
    before = hashes(sandbox_copy)
    advance(sandbox_copy, 2)
    after = hashes(sandbox_copy)
    assert {name: after[name] for name in files} == {name: before[name] for name in files}
    assert after["truth/injected_faults.json"] == before["truth/injected_faults.json"]


def test_inject_command(sandbox_copy):
    runner = CliRunner()
    result = runner.invoke(main, ["sandbox", "inject", "--dir", str(sandbox_copy), "--fault", "renamed_column"])
    assert result.exit_code == 0 and "renamed_column" in result.output
    result = runner.invoke(main, ["sandbox", "inject", "--dir", str(sandbox_copy), "--fault", "no_such_fault"])
    assert result.exit_code != 0 and "unknown file fault" in result.output
    result = runner.invoke(main, ["sandbox", "inject", "--dir", str(sandbox_copy), "--revert"])
    assert result.exit_code == 0 and "reverted: renamed_column" in result.output
