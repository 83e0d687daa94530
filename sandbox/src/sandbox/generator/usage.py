"""Product usage: Segment-spec `track` events, vectorised per day and streamed to one file per received day.

Daily active users follow seats, latent health, weekdays and the fade before churn; feature breadth follows
each account's adoption of features. Accounts are drawn in fixed blocks, each (day, block) from its own random
stream, so a day's events never depend on the cut-off nor on how many accounts signed up later: advancing only
writes the new days' files. A few events arrive late (received 1–3 days after they happened) and a few are
sent twice.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sandbox.generator.company import FEATURE_COUNT, NEVER, Account, Window

FEATURES = (
    ("Dashboard Viewed", "dashboards"),
    ("Report Created", "reports"),
    ("Integration Connected", "integrations"),
    ("Teammate Invited", "collaboration"),
    ("Report Exported", "reports"),
    ("Alert Configured", "alerts"),
    ("Dashboard Shared", "collaboration"),
    ("Workflow Run", "automation"),
    ("API Key Created", "developer"),
    ("Comment Added", "collaboration"),
)
assert len(FEATURES) == FEATURE_COUNT
LATE_SHARE = 0.01
DUPLICATE_SHARE = 0.003
CORE_SHARE = 0.4  # share of events on the account's first feature (dashboards), the rest spread over adopted ones
BLOCK = 1024  # accounts per random stream: fixed, so later sign-ups never shift earlier accounts' draws
DAY_US = 86_400_000_000
# Parquet: dictionaries where values repeat (not messageId), min/max statistics where readers filter.
DICTIONARY_COLUMNS = ["type", "event", "userId", "groupId", "properties"]
STATISTICS_COLUMNS = ["timestamp", "receivedAt", "groupId"]
EVENT_SCHEMA = pa.schema(
    [
        ("messageId", pa.string()),
        ("type", pa.string()),
        ("event", pa.string()),
        ("userId", pa.string()),
        ("groupId", pa.string()),
        ("timestamp", pa.timestamp("us", tz="UTC")),
        ("receivedAt", pa.timestamp("us", tz="UTC")),
        ("properties", pa.string()),
    ]
)
TRUTH_SCHEMA = pa.schema(
    [
        ("account_id", pa.string()),
        ("date", pa.date32()),
        ("events", pa.int64()),
        ("active_users", pa.int64()),
    ]
)
FIRST_USE_SCHEMA = pa.schema([("account_id", pa.string()), ("event", pa.string()), ("first_date", pa.date32())])


@dataclass
class DayEvents:
    """What happened on one day: the events, their received day (0..3 days later), the per-account truth, and
    which features each account used."""

    events: pa.Table
    received_after_days: np.ndarray
    truth: pa.Table
    used: np.ndarray  # bool, accounts × features


FADE_STEP = 0.35  # share of usage gone as soon as a fade before churn starts (the main users moved on)
FADE_END = 0.15  # share of usage left on the last day


def user_weight(seats: np.ndarray) -> np.ndarray:
    """Events per active user relative to a 10-seat team: members of small teams are power users, big seat
    counts include many occasional viewers (so small accounts' usage stays observable at any event budget)."""
    return np.clip((np.maximum(seats, 1) / 10.0) ** -0.5, 0.15, 2.0).astype(np.float32)


def fade(days: int) -> np.ndarray:
    """Usage multiplier over the days of a fade before churn: a step down once the team has given up, then a
    decline that is quick at first and slow at the end."""
    progress = np.arange(days, dtype=np.float32) / max(days - 1, 1)
    start = 1.0 - FADE_STEP
    return (start - (start - FADE_END) * np.sqrt(progress)).astype(np.float32)


class UsageModel:
    """Per day × account inputs of the event simulation (seats, utilisation) and the event-rate calibration.

    `days` covers every day to render and the scale's reference history; the rate per active user is
    calibrated so that the reference history holds about `events_target` events, from accounts that signed up
    in it only (a fixed set), so the rate never depends on the cut-off.
    """

    def __init__(
        self,
        accounts: Sequence[Account],
        window: Window,
        seed: int,
        days: int,
        reference_days: int,
        events_target: int,
    ):
        if [a.num for a in accounts] != list(range(1, len(accounts) + 1)):
            raise ValueError("usage needs the accounts numbered 1..n in order")
        self.window, self.seed, self.days = window, seed, days
        n = len(accounts)
        self.blocks = max(1, math.ceil(n / BLOCK))
        padded = self.blocks * BLOCK
        self.seats = np.zeros((days, padded), dtype=np.int32)
        self.util = np.zeros((days, padded), dtype=np.float32)
        self.signup_day = np.full(padded, days, dtype=np.int32)
        self.adoption = np.full((padded, FEATURE_COUNT), NEVER, dtype=np.int32)
        start = window.start
        month_of_day = np.array([window.month_index(start + timedelta(days=d)) for d in range(days)])
        for i, account in enumerate(accounts):
            self.signup_day[i] = (account.signup.date() - start).days
            self.adoption[i] = account.feature_adoption_days
            for sub in account.subscriptions:
                ended = (sub.ended_at.date() - start).days if sub.ended_at else days
                for period in sub.periods:
                    a = max(0, (period.start.date() - start).days)
                    b = min(days, (period.end.date() - start).days, ended)
                    if b > a:
                        self.seats[a:b, i] = period.seats
                    if period.mid_term_seats is not None:
                        c = max(a, (period.mid_term_seats[0].date() - start).days)
                        if b > c:
                            self.seats[c:b, i] = period.mid_term_seats[1]
            health = np.asarray(account.health, dtype=np.float32)[np.minimum(month_of_day, len(account.health) - 1)]
            util = np.clip((0.12 + 0.8 * health) * account.usage_intensity, 0.03, 0.97)
            for begin, end in account.decay_windows:
                a, b = (begin.date() - start).days, (end.date() - start).days
                lo, hi = max(0, a), min(days, b)
                if hi > lo:
                    util[lo:hi] *= fade(b - a)[lo - a : hi - a]
            self.util[:, i] = np.where(self.seats[:, i] > 0, util, 0.0)
        self.weekday = np.array(
            [0.3 if (start + timedelta(days=d)).weekday() >= 5 else 1.0 for d in range(days)],
            dtype=np.float32,
        )
        reference = sum(1 for a in accounts if (a.signup.date() - start).days < reference_days)
        expected_active = math.fsum(
            float(self.weekday[d])
            * float(
                np.dot(
                    (self.seats[d, :reference] * user_weight(self.seats[d, :reference])).astype(np.float64),
                    self.util[d, :reference].astype(np.float64),
                )
            )
            for d in range(min(days, reference_days))
        )
        self.events_per_active_user = events_target / max(expected_active, 1.0)
        self.accounts = n
        self.account_ids = pa.array([a.account_id for a in accounts], pa.string())
        # Every user id an account can have ("usr_<num>_<k>", k below its most seats), taken per event by
        # offset.
        most_seats = self.seats.max(axis=0)[:n].astype(np.int64)
        self.user_offset = np.concatenate([[0], np.cumsum(most_seats)[:-1]]).astype(np.int64)
        self.user_ids = pa.array(
            [f"usr_{a.num}_{k}" for a, m in zip(accounts, most_seats, strict=True) for k in range(m)],
            pa.string(),
        )
        self._serials = pa.array([], pa.string())
        # Feature order per account: features sorted by the day the account adopted them.
        self.order = np.argsort(self.adoption, axis=1, kind="stable").astype(np.int8)
        self.event_names = pa.array([name for name, _ in FEATURES], pa.string())
        self.properties = pa.array(
            [f'{{"feature_area": "{area}", "source": "web-app"}}' for _, area in FEATURES], pa.string()
        )
        self.track = pa.array(["track"], pa.string())

    def serials(self, count: int) -> pa.Array:
        """The strings "0".."count-1", kept and grown as days get busier (messageId suffixes)."""
        if len(self._serials) < count:
            self._serials = pa.array([str(i) for i in range(max(count, 2 * len(self._serials)))], pa.string())
        return self._serials.slice(0, count)

    def _block(self, d: int, block: int) -> tuple[np.ndarray, ...] | None:
        """One block of accounts on day d: (active users per account; then per event: account, user, feature,
        event µs and received µs after the day's start)."""
        cols = slice(block * BLOCK, (block + 1) * BLOCK)
        seats = self.seats[d, cols]
        if not seats.any():
            return None
        rng = np.random.default_rng([self.seed, 7, d, block])
        noise = rng.lognormal(0.0, 0.18, size=BLOCK).astype(np.float32)
        p = np.clip(self.util[d, cols] * self.weekday[d] * noise, 0.0, 1.0)
        active = rng.binomial(seats, p)
        counts = rng.poisson(self.events_per_active_user * active * user_weight(seats))
        total = int(counts.sum())
        local = np.repeat(np.arange(BLOCK, dtype=np.int32), counts)
        user = (rng.random(total) * active[local]).astype(np.int32)
        acct = local + block * BLOCK
        adopted = np.maximum((self.adoption[cols] <= (d - self.signup_day[cols])[:, None]).sum(axis=1), 1)
        pick = np.where(rng.random(total) < CORE_SHARE, 0, (rng.random(total) * adopted[local]).astype(np.int32))
        feature = self.order[acct, pick]
        event_us = (np.clip(rng.normal(14 * 3600, 3.2 * 3600, total), 0, 86399.999) * 1e6).astype(np.int64)
        late = rng.random(total) < LATE_SHARE
        late_days = rng.integers(1, 4, total)
        received_us = event_us + rng.integers(50_000, 5_000_000, total)
        late_us = late_days * DAY_US + rng.integers(0, DAY_US, total)
        received_us = np.where(late, late_us, received_us)
        return active, acct, user, feature, event_us, received_us

    def day(self, d: int) -> DayEvents:
        """Events that happened on day `d`, with their received times, and that day's truth."""
        blocks = [(block, part) for block in range(self.blocks) if (part := self._block(d, block)) is not None]
        active = np.zeros(self.blocks * BLOCK, dtype=np.int64)
        for block, part in blocks:
            active[block * BLOCK : (block + 1) * BLOCK] = part[0]
        if blocks:
            acct, user, feature, event_us, received_us = (
                np.concatenate(column) for column in list(zip(*(part for _, part in blocks), strict=True))[1:]
            )
        else:
            acct, user, feature = np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.int8)
            event_us, received_us = np.zeros(0, np.int64), np.zeros(0, np.int64)
        total = len(acct)
        day_start = np.datetime64(self.window.start + timedelta(days=d), "us")
        accounts, features = pa.array(acct), pa.array(feature.astype(np.int32))
        events = pa.table(
            {
                "messageId": pc.binary_join_element_wise(pa.scalar(f"msg-{d:05d}-"), self.serials(total), ""),
                "type": pc.take(self.track, pa.array(np.zeros(total, dtype=np.int32))),
                "event": pc.take(self.event_names, features),
                "userId": pc.take(self.user_ids, pa.array(self.user_offset[acct] + user)),
                "groupId": pc.take(self.account_ids, accounts),
                "timestamp": pa.array(day_start + event_us.astype("timedelta64[us]"), pa.timestamp("us", tz="UTC")),
                "receivedAt": pa.array(day_start + received_us.astype("timedelta64[us]"), pa.timestamp("us", tz="UTC")),
                "properties": pc.take(self.properties, features),
            },
            schema=EVENT_SCHEMA,
        )
        # Truth: distinct events and distinct users per account that day (a slot per active user, marked when
        # it sent an event); which features each account used.
        n = self.accounts
        per_account_events = np.bincount(acct, minlength=n)[:n]
        active = active[:n]
        slot_start = np.cumsum(active) - active
        seen = np.bincount(slot_start[acct] + user, minlength=int(active.sum())) > 0
        per_account_users = np.bincount(np.repeat(np.arange(n), active), weights=seen, minlength=n).astype(np.int64)
        has = per_account_events > 0
        truth = pa.table(
            {
                "account_id": pc.filter(self.account_ids, pa.array(has)),
                "date": pa.array([self.window.start + timedelta(days=d)] * int(has.sum()), pa.date32()),
                "events": pa.array(per_account_events[has].astype(np.int64)),
                "active_users": pa.array(per_account_users[has]),
            },
            schema=TRUTH_SCHEMA,
        )
        used = (
            np.bincount(acct.astype(np.int64) * FEATURE_COUNT + feature, minlength=n * FEATURE_COUNT)[
                : n * FEATURE_COUNT
            ]
            > 0
        )
        return DayEvents(events, received_us // DAY_US, truth, used.reshape(n, FEATURE_COUNT))


class FirstUse:
    """The day each account first used each feature (by event time): onboarding milestones and breadth truth.

    Kept in `truth/feature_first_used.parquet` and updated by `advance` with the new days only.
    """

    def __init__(self, model: UsageModel, path: Path):
        self.model, self.path = model, path
        self.first = np.full((model.accounts, FEATURE_COUNT), NEVER, dtype=np.int32)
        if path.exists():
            index = {name: k for k, (name, _) in enumerate(FEATURES)}
            for row in pq.read_table(path).to_pylist():
                num = int(row["account_id"].removeprefix("acc_"))
                self.first[num - 1, index[row["event"]]] = (row["first_date"] - model.window.start).days

    def update(self, d: int, used: np.ndarray) -> None:
        np.minimum(self.first, np.where(used, d, NEVER), out=self.first)

    def write(self) -> None:
        accounts, features = np.nonzero(self.first < NEVER)
        days = self.first[accounts, features]
        start = np.datetime64(self.model.window.start, "D")
        table = pa.table(
            {
                "account_id": pc.take(self.model.account_ids, pa.array(accounts)),
                "event": pc.take(self.model.event_names, pa.array(features.astype(np.int32))),
                "first_date": pa.array(start + days.astype("timedelta64[D]"), pa.date32()),
            },
            schema=FIRST_USE_SCHEMA,
        )
        pq.write_table(table, self.path)


def write_events(
    model: UsageModel,
    out: Path,
    truth_dir: Path,
    first_day: int,
    cutoff_day: int,
    fmt: str,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Write the files of received days [first_day, cutoff_day). Returns the number of event rows written.

    Days from first_day - 3 are simulated again (identically) to collect their late events; their truth files
    are rewritten with the same content. Files are written by one background thread (Parquet and DuckDB
    release the GIL) while the next day is simulated, with at most one day in flight to keep memory flat.
    """
    out.mkdir(parents=True, exist_ok=True)
    daily_dir = truth_dir / "usage_daily"
    daily_dir.mkdir(parents=True, exist_ok=True)
    first_use = FirstUse(model, truth_dir / "feature_first_used.parquet")
    pending: dict[int, list[pa.Table]] = defaultdict(list)
    written = 0
    in_flight: Future | None = None
    files = DayFileWriter(out, fmt)
    with ThreadPoolExecutor(max_workers=1) as writer:
        for d in range(max(0, first_day - 3), cutoff_day):
            day = model.day(d)
            first_use.update(d, day.used)
            for after in np.flatnonzero(np.bincount(day.received_after_days)):
                pending[d + int(after)].append(day.events.filter(pa.array(day.received_after_days == after)))
            received = pending.pop(d, []) if d >= first_day else None
            pending.pop(d, None)
            day_table = None if received is None else with_duplicates(model.seed, d, received, day.events.schema)
            if in_flight is not None:
                in_flight.result()
            in_flight = writer.submit(
                _write_files, files, model.window.start + timedelta(days=d), day.truth, day_table, daily_dir
            )
            if day_table is not None:
                written += day_table.num_rows
                if progress:
                    progress(d + 1, cutoff_day)
        if in_flight is not None:
            in_flight.result()
        writer.submit(files.close).result()
    first_use.write()
    return written


def with_duplicates(seed: int, d: int, received: list[pa.Table], schema: pa.Schema) -> pa.Table:
    """A received day's events plus a few re-sent by the client (same messageId, a little later), by
    arrival."""
    day_table = pa.concat_tables(received) if received else schema.empty_table()
    rng = np.random.default_rng([seed, 11, d])
    dup_mask = rng.random(day_table.num_rows) < DUPLICATE_SHARE
    if dup_mask.any():
        dups = day_table.filter(pa.array(dup_mask))
        later = pc.add(dups["receivedAt"], pa.scalar(np.timedelta64(2_000_000, "us"), pa.duration("us")))
        dups = dups.set_column(
            dups.schema.get_field_index("receivedAt"),
            "receivedAt",
            pc.cast(later, pa.timestamp("us", tz="UTC")),
        )
        day_table = pa.concat_tables([day_table, dups])
    return day_table.sort_by("receivedAt")


def _write_files(files: DayFileWriter, day: date, truth: pa.Table, events: pa.Table | None, daily_dir: Path) -> None:
    pq.write_table(truth, daily_dir / f"{day.isoformat()}.parquet")
    if events is not None:
        files.write(events, day)


def day_folder(events_dir: Path, day: date) -> Path:
    return events_dir / f"received_date={day.isoformat()}"


class DayFileWriter:
    """Writes received days' files as Segment's S3 destination lays them out: Parquet, or JSON lines (through
    one DuckDB connection, which renders timestamps as ISO strings and properties as JSON objects)."""

    def __init__(self, events_dir: Path, fmt: str):
        if fmt not in ("parquet", "jsonl"):
            raise ValueError(f"events format must be parquet or jsonl, not {fmt!r}")
        self.events_dir, self.fmt = events_dir, fmt
        self._con: duckdb.DuckDBPyConnection | None = None

    def write(self, table: pa.Table, day: date, name: str = "events") -> Path:
        folder = day_folder(self.events_dir, day)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.{self.fmt}"
        if self.fmt == "parquet":
            pq.write_table(
                table,
                path,
                compression="zstd",
                use_dictionary=DICTIONARY_COLUMNS,
                write_statistics=STATISTICS_COLUMNS,
            )
            return path
        if self._con is None:
            self._con = duckdb.connect(config={"threads": 1})
        columns = ", ".join(
            f"strftime({c} at time zone 'UTC', '%Y-%m-%dT%H:%M:%S.%gZ') as {c}"
            if c in ("timestamp", "receivedAt")
            else "json(properties) as properties"
            if c == "properties"
            else f'"{c}"'
            for c in table.column_names
        )
        self._con.register("day_events", table)
        try:
            target = str(path).replace("'", "''")
            self._con.execute(f"copy (select {columns} from day_events) to '{target}' (format json)")
        finally:
            self._con.unregister("day_events")
        return path

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None
