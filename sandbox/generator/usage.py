"""Product usage: Segment-spec `track` events, vectorised per day and streamed to one file per received day.

Daily active users follow seats, latent health, weekdays and the fade before churn; feature breadth follows each
account's adoption of features. Every day draws from its own random stream (seed + day), so a day's events never
depend on the cut-off: advancing only writes the new days' files. A few events arrive late (received 1–3 days
after they happened) and a few are sent twice, as real pipelines see.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sandbox.generator.company import Account, Window

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
LATE_SHARE = 0.01
DUPLICATE_SHARE = 0.003
EVENT_SCHEMA = pa.schema([
    ("messageId", pa.string()),
    ("type", pa.string()),
    ("event", pa.string()),
    ("userId", pa.string()),
    ("groupId", pa.string()),
    ("timestamp", pa.timestamp("us", tz="UTC")),
    ("receivedAt", pa.timestamp("us", tz="UTC")),
    ("properties", pa.string()),
])
TRUTH_SCHEMA = pa.schema([
    ("account_id", pa.string()), ("date", pa.date32()), ("events", pa.int64()), ("active_users", pa.int64()),
])


class UsageModel:
    """Per account × day inputs of the event simulation (seats, utilisation, feature order)."""

    def __init__(self, accounts: Sequence[Account], window: Window, seed: int, events_target: int,
                 history_days: int):
        self.accounts, self.window, self.seed = accounts, window, seed
        days = (window.end - window.start).days
        n = len(accounts)
        self.days = days
        self.seats = np.zeros((n, days), dtype=np.int32)
        self.util = np.zeros((n, days), dtype=np.float32)
        self.signup_day = np.zeros(n, dtype=np.int32)
        self.adoption = np.full((n, len(FEATURES)), 10**6, dtype=np.int32)
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
                        self.seats[i, a:b] = period.seats
            health = np.asarray(account.health, dtype=np.float32)[np.minimum(month_of_day, len(account.health) - 1)]
            util = np.clip(0.12 + 0.8 * health, 0.05, 0.95)
            for begin, end in account.decay_windows:
                a, b = (begin.date() - start).days, (end.date() - start).days
                a, b = max(0, a), min(days, b)
                if b > a:
                    util[a:b] *= np.linspace(1.0, 0.2, b - a, dtype=np.float32)
            self.util[i] = util
        weekday = np.array([0.3 if (start + timedelta(days=d)).weekday() >= 5 else 1.0 for d in range(days)],
                           dtype=np.float32)
        self.weekday = weekday
        expected_active = float((self.seats[:, :history_days] * self.util[:, :history_days]
                                 * weekday[:history_days]).sum())
        self.events_per_active_user = events_target / max(expected_active, 1.0)
        self.account_ids = pa.array([a.account_id for a in accounts], pa.string())
        self.account_nums = pa.array([str(a.num) for a in accounts], pa.string())
        # Feature order per account: features sorted by the day the account adopted them.
        self.order = np.argsort(self.adoption, axis=1, kind="stable").astype(np.int8)
        self.event_names = pa.array([name for name, _ in FEATURES], pa.string())
        self.properties = pa.array(
            [f'{{"feature_area": "{area}", "source": "web-app"}}' for _, area in FEATURES], pa.string())

    def day(self, d: int) -> tuple[pa.Table, pa.Table]:
        """Events that happened on day `d` (sorted by time) with their received times, and that day's truth."""
        rng = np.random.default_rng([self.seed, 7, d])
        seats = self.seats[:, d]
        noise = rng.lognormal(0.0, 0.18, size=seats.shape[0]).astype(np.float32)
        p = np.clip(self.util[:, d] * self.weekday[d] * noise, 0.0, 1.0)
        active = rng.binomial(seats, p)
        counts = rng.poisson(self.events_per_active_user * active)
        total = int(counts.sum())
        acct = np.repeat(np.arange(seats.shape[0], dtype=np.int32), counts)
        user = (rng.random(total) * active[acct]).astype(np.int32)
        adopted = (self.adoption <= (d - self.signup_day)[:, None]).sum(axis=1)
        adopted = np.maximum(adopted, 1)
        pick = np.where(rng.random(total) < 0.4, 0, (rng.random(total) * adopted[acct]).astype(np.int32))
        feature = self.order[acct, pick]
        seconds = np.clip(rng.normal(14 * 3600, 3.2 * 3600, total), 0, 86399.999)
        day_start = np.datetime64(self.window.start + timedelta(days=d), "us")
        ts = day_start + (seconds * 1e6).astype("timedelta64[us]")
        late = rng.random(total) < LATE_SHARE
        late_days = rng.integers(1, 4, total)
        received = ts + (rng.integers(50_000, 5_000_000, total)).astype("timedelta64[us]")
        late_received = (day_start + (late_days * 86_400_000_000 + rng.integers(0, 86_400_000_000, total))
                         .astype("timedelta64[us]"))
        received = np.where(late, late_received, received)
        order = np.argsort(ts, kind="stable")
        acct, user, feature, ts, received = acct[order], user[order], feature[order], ts[order], received[order]
        ids = pc.binary_join_element_wise(
            pa.scalar(f"msg-{d:05d}-"), pc.cast(pa.array(np.arange(total, dtype=np.int64)), pa.string()), "")
        users = pc.binary_join_element_wise(
            "usr_", pc.take(self.account_nums, pa.array(acct)), "_",
            pc.cast(pa.array(user), pa.string()), "")
        table = pa.table({
            "messageId": ids,
            "type": pa.array(["track"] * total, pa.string()) if total else pa.array([], pa.string()),
            "event": pc.take(self.event_names, pa.array(feature.astype(np.int32))),
            "userId": users,
            "groupId": pc.take(self.account_ids, pa.array(acct)),
            "timestamp": pa.array(ts, pa.timestamp("us", tz="UTC")),
            "receivedAt": pa.array(received, pa.timestamp("us", tz="UTC")),
            "properties": pc.take(self.properties, pa.array(feature.astype(np.int32))),
        }, schema=EVENT_SCHEMA)
        # Truth: distinct events and distinct users per account that day.
        per_account_events = np.bincount(acct, minlength=seats.shape[0])
        pairs = np.unique(acct.astype(np.int64) * 1_000_000 + user)
        per_account_users = np.bincount((pairs // 1_000_000).astype(np.int64), minlength=seats.shape[0])
        has = per_account_events > 0
        truth = pa.table({
            "account_id": pc.filter(self.account_ids, pa.array(has)),
            "date": pa.array([self.window.start + timedelta(days=d)] * int(has.sum()), pa.date32()),
            "events": pa.array(per_account_events[has].astype(np.int64)),
            "active_users": pa.array(per_account_users[has].astype(np.int64)),
        }, schema=TRUTH_SCHEMA)
        return table, truth


def write_events(model: UsageModel, out: Path, truth_dir: Path, first_day: int, cutoff_day: int, fmt: str,
                 progress=None) -> int:
    """Write the files of received days [first_day, cutoff_day). Returns the number of event rows written."""
    events_dir = out
    events_dir.mkdir(parents=True, exist_ok=True)
    truth_dir.mkdir(parents=True, exist_ok=True)
    pending: dict[int, list[pa.Table]] = defaultdict(list)
    written = 0
    dup_rng_base = model.seed
    for d in range(max(0, first_day - 3), cutoff_day):
        events, truth = model.day(d)
        pq.write_table(truth, truth_dir / f"{(model.window.start + timedelta(days=d)).isoformat()}.parquet")
        received_day = pc.cast(pc.divide(pc.subtract(
            pc.cast(events["receivedAt"], pa.int64()),
            int(np.datetime64(model.window.start, "us").astype(np.int64))), 86_400_000_000), pa.int64())
        for r in np.unique(received_day.to_numpy()) if events.num_rows else []:
            pending[int(r)].append(events.filter(pc.equal(received_day, int(r))))
        if d < first_day:
            pending.pop(d, None)
            continue
        day_table = pa.concat_tables(pending.pop(d, [])) if d in pending else events.slice(0, 0)
        # Duplicates: a few events re-sent by the client, same messageId, received a little later.
        rng = np.random.default_rng([dup_rng_base, 11, d])
        dup_mask = rng.random(day_table.num_rows) < DUPLICATE_SHARE
        if dup_mask.any():
            dups = day_table.filter(pa.array(dup_mask))
            later = pc.add(dups["receivedAt"], pa.scalar(np.timedelta64(2_000_000, "us"), pa.duration("us")))
            later = pc.cast(later, pa.timestamp("us", tz="UTC"))
            dups = dups.set_column(dups.schema.get_field_index("receivedAt"), "receivedAt", later)
            day_table = pa.concat_tables([day_table, dups])
        day_table = day_table.sort_by("receivedAt")
        written += day_table.num_rows
        _write_day(day_table, events_dir, model.window.start + timedelta(days=d), fmt)
        if progress:
            progress(d, cutoff_day)
    return written


def _write_day(table: pa.Table, events_dir: Path, day: date, fmt: str) -> None:
    folder = events_dir / f"received_date={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        pq.write_table(table, folder / "events.parquet", compression="zstd")
        return
    con = duckdb.connect()
    try:
        con.register("day_events", table)
        target = str(folder / "events.jsonl").replace("'", "''")
        con.execute(
            "copy (select messageId, type, event, userId, groupId, "
            "strftime(timestamp at time zone 'UTC', '%Y-%m-%dT%H:%M:%S.%gZ') as timestamp, "
            "strftime(receivedAt at time zone 'UTC', '%Y-%m-%dT%H:%M:%S.%gZ') as receivedAt, "
            f"json(properties) as properties from day_events) to '{target}' (format json)"
        )
    finally:
        con.close()


