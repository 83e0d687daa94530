"""File faults on demand: corrupt a rendered sandbox's files the way real drops go wrong, and say exactly how.

The HTTP faults (rate limits, 5xx, slow responses) belong to the server; these are the file-based sources'
faults. Each injection is deterministic (same sandbox, same fault: same bytes), keeps a backup of every file
it changes, and records what it did in `truth/injected_faults.json`, so tests can check quarantine and dedupe
counts and `revert` can undo it. `advance` never rewrites the files these faults touch (past received days, a
separate CSV).
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from sandbox.generator.usage import DayFileWriter, day_folder
from sandbox.manifest import Manifest

FAULTS_FILE = "injected_faults.json"
BACKUP_DIR = "fault_backups"
UNKNOWN_ACCOUNT = "acc_999999"  # never an account: ids are numbered from 1 and scales stay below 10**6
# Which received day each event fault hits, counted back from today: one day per kind, so they can be
# combined.
DAYS_BEFORE_TODAY = {"malformed_events": 1, "renamed_column": 2, "duplicate_events": 3}


class FaultError(ValueError):
    """A fault that cannot be injected (unknown kind, already injected, nothing to corrupt)."""


def _records(directory: Path) -> dict:
    path = directory / "truth" / FAULTS_FILE
    return json.loads(path.read_text()) if path.exists() else {"faults": []}


def _save(directory: Path, records: dict) -> None:
    path = directory / "truth" / FAULTS_FILE
    if records["faults"]:
        path.write_text(json.dumps(records, indent=2, sort_keys=True) + "\n")
    else:
        path.unlink(missing_ok=True)


def _backup(directory: Path, path: Path) -> str:
    """Copy a file about to change under truth/fault_backups/ (once: the first copy is the original)."""
    relative = path.relative_to(directory)
    target = directory / "truth" / BACKUP_DIR / relative
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return str(target.relative_to(directory))


def _day_file(directory: Path, manifest: Manifest, kind: str) -> tuple[date, Path]:
    day = manifest.today - timedelta(days=DAYS_BEFORE_TODAY[kind])
    path = day_folder(directory / "events", day) / f"events.{manifest.events_format}"
    if not path.exists():
        raise FaultError(f"{kind}: no event file for {day} in {directory} (generate the sandbox first)")
    return day, path


def _read_events(path: Path) -> pa.Table:
    if path.suffix == ".parquet":
        return pq.read_table(path)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return pa.Table.from_pylist(rows)


def _jsonl(row: dict) -> str:
    return json.dumps(row, separators=(",", ":"), ensure_ascii=False)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def malformed_events(directory: Path, manifest: Manifest) -> dict:
    """Rows appended to one day's file: an unparseable line (JSONL only), an event without messageId, and an
    event whose groupId is no known account. The rest of the file stays valid."""
    day, path = _day_file(directory, manifest, "malformed_events")
    existing = _read_events(path)
    template = existing.slice(0, 1).to_pylist()[0]
    at = datetime.combine(day, time(12), tzinfo=UTC)
    no_id = {**template, "messageId": None, "timestamp": at, "receivedAt": at + timedelta(seconds=1)}
    unknown = {
        **template,
        "messageId": f"msg-fault-{day.isoformat()}-unknown-account",
        "groupId": UNKNOWN_ACCOUNT,
        "userId": "usr_999999_0",
        "timestamp": at,
        "receivedAt": at + timedelta(seconds=2),
    }
    injected = []
    backup = _backup(directory, path)
    if path.suffix == ".parquet":
        table = pa.concat_tables([existing, pa.Table.from_pylist([no_id, unknown], schema=existing.schema)])
        DayFileWriter(directory / "events", "parquet").write(table, day)
        first = existing.num_rows
        injected = [
            {"row": first, "problem": "missing_message_id", "messageId": None},
            {
                "row": first + 1,
                "problem": "unknown_account",
                "messageId": unknown["messageId"],
                "groupId": UNKNOWN_ACCOUNT,
            },
        ]
    else:
        lines = path.read_text().splitlines()
        broken = _jsonl({**template, "messageId": f"msg-fault-{day.isoformat()}-truncated"})[:57]
        appended = [broken]
        for row in (no_id, unknown):
            event = {key: value for key, value in row.items() if not (key == "messageId" and value is None)}
            event["timestamp"], event["receivedAt"] = _iso(row["timestamp"]), _iso(row["receivedAt"])
            appended.append(_jsonl(event))
        path.write_text("\n".join([*lines, *appended]) + "\n")
        first = len(lines) + 1
        injected = [
            {"line": first, "problem": "unparseable_json", "messageId": None},
            {"line": first + 1, "problem": "missing_message_id", "messageId": None},
            {
                "line": first + 2,
                "problem": "unknown_account",
                "messageId": unknown["messageId"],
                "groupId": UNKNOWN_ACCOUNT,
            },
        ]
    return {
        "file": str(path.relative_to(directory)),
        "backup": backup,
        "created": [],
        "injected": injected,
        "rows_in_file": existing.num_rows + len(injected),
        "valid_rows_in_file": existing.num_rows,
        "expected_quarantined": len(injected),
        "undo": "restore the backup over the file",
    }


def renamed_column(directory: Path, manifest: Manifest) -> dict:
    """One day's file has `groupId` renamed to `group_id` (an upstream schema change): every row of it lacks
    the account key a loader requires."""
    day, path = _day_file(directory, manifest, "renamed_column")
    backup = _backup(directory, path)
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        table = table.rename_columns(["group_id" if name == "groupId" else name for name in table.column_names])
        DayFileWriter(directory / "events", "parquet").write(table, day)
        rows = table.num_rows
    else:
        lines = path.read_text().splitlines()
        path.write_text("".join(line.replace('"groupId":', '"group_id":', 1) + "\n" for line in lines))
        rows = len(lines)
    return {
        "file": str(path.relative_to(directory)),
        "backup": backup,
        "created": [],
        "renamed": {"from": "groupId", "to": "group_id"},
        "rows_in_file": rows,
        "valid_rows_in_file": 0,
        "expected_quarantined": rows,
        "undo": "restore the backup over the file",
    }


def duplicate_events(directory: Path, manifest: Manifest) -> dict:
    """A whole day's file delivered again under a second name in the same folder: every row a duplicate of a
    messageId already received (dedupe must remove them all, quarantine none)."""
    _, path = _day_file(directory, manifest, "duplicate_events")
    copy = path.with_name(f"events-redelivered{path.suffix}")
    shutil.copyfile(path, copy)
    rows = _read_events(path).num_rows
    return {
        "file": str(copy.relative_to(directory)),
        "duplicate_of": str(path.relative_to(directory)),
        "backup": None,
        "created": [str(copy.relative_to(directory))],
        "rows_in_file": rows,
        "valid_rows_in_file": rows,
        "expected_duplicates": rows,
        "expected_quarantined": 0,
        "undo": "delete the created file",
    }


def bad_survey_rows(directory: Path, manifest: Manifest) -> dict:
    """A manual CSV upload (beside the tool's monthly exports) with three unloadable rows: score 11, a score
    that is not a number, and no account_id. Kept apart from the monthly files so `advance` never rewrites
    it."""
    folder = directory / "surveys_csv"
    exports = sorted(folder.glob("responses_????_??.csv"))
    if not exports:
        raise FaultError(f"bad_survey_rows: no survey CSV in {folder} (generate the sandbox first)")
    with exports[-1].open(newline="") as handle:
        reader = csv.DictReader(handle)
        columns, template = list(reader.fieldnames or []), next(reader)
    submitted = datetime.combine(manifest.today - timedelta(days=1), time(10), tzinfo=UTC)
    bad = [
        ("score_out_of_range", {"score": "11"}),
        ("score_not_numeric", {"score": "ten"}),
        ("missing_account_id", {"account_id": ""}),
    ]
    path = folder / f"responses_{manifest.today - timedelta(days=1):%Y_%m}_manual_upload.csv"
    injected = []
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        for k, (problem, change) in enumerate(bad, start=1):
            row = {
                **template,
                "response_id": f"ext-fault-{k}",
                "submitted_at": f"{submitted:%Y-%m-%dT%H:%M:%SZ}",
                "comment": "",
                **change,
            }
            writer.writerow(row)
            injected.append({"line": k + 1, "problem": problem, "response_id": row["response_id"]})
    return {
        "file": str(path.relative_to(directory)),
        "backup": None,
        "created": [str(path.relative_to(directory))],
        "injected": injected,
        "rows_in_file": len(bad),
        "valid_rows_in_file": 0,
        "expected_quarantined": len(bad),
        "undo": "delete the created file",
    }


FAULTS: dict[str, Callable[[Path, Manifest], dict]] = {
    "malformed_events": malformed_events,
    "renamed_column": renamed_column,
    "bad_survey_rows": bad_survey_rows,
    "duplicate_events": duplicate_events,
}


def inject(directory: Path, kind: str) -> dict:
    """Inject one fault into the sandbox in `directory` and record it; returns the record."""
    if kind not in FAULTS:
        raise FaultError(f"unknown file fault {kind!r}; choose one of {', '.join(FAULTS)}")
    manifest = Manifest.read(directory)
    records = _records(directory)
    if any(record["kind"] == kind for record in records["faults"]):
        raise FaultError(f"{kind} is already injected in {directory}; `csops sandbox inject --revert` first")
    record = {"kind": kind, "today": manifest.today.isoformat(), **FAULTS[kind](directory, manifest)}
    records["faults"].append(record)
    _save(directory, records)
    return record


def revert(directory: Path) -> list[str]:
    """Undo every recorded fault (restore backups, delete created files); returns the kinds reverted."""
    records = _records(directory)
    for record in records["faults"]:
        if record["backup"]:
            shutil.copy2(directory / record["backup"], directory / record["file"])
        for created in record["created"]:
            (directory / created).unlink(missing_ok=True)
    shutil.rmtree(directory / "truth" / BACKUP_DIR, ignore_errors=True)
    _save(directory, {"faults": []})
    return [record["kind"] for record in records["faults"]]
