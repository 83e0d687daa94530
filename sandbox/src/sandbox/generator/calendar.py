"""Billing-calendar arithmetic shared by the simulation and the ground truth (Stripe's anchor-day rules)."""

from __future__ import annotations

import calendar as _calendar
from datetime import UTC, date, datetime, time, timedelta

INTERVAL_MONTHS = {"month": 1, "quarter": 3, "year": 12}


def add_months(moment: datetime, months: int, anchor_day: int) -> datetime:
    """`moment` moved by whole months, keeping the billing anchor day (clamped to short months, as Stripe
    does)."""
    month_index = moment.month - 1 + months
    year = moment.year + month_index // 12
    month = month_index % 12 + 1
    day = min(anchor_day, _calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month_start(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def months_between(first: date, last: date) -> list[date]:
    """First days of every month from the month of `first` to the month of `last`, inclusive."""
    months, current = [], month_start(first)
    while current <= last:
        months.append(current)
        current = next_month_start(current)
    return months


def at_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def unix(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())
