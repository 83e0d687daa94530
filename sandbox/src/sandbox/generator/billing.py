"""The simulated company's price book (plans, seat prices, coupons, Stripe-looking ids) and Stripe catalogue rows.

Customers, subscriptions, invoices and events are rendered as rows by stripe_rows.py. Also the MRR ground truth,
computed from the simulated subscription state (periods, seats, plans, coupons), not from the rendered invoices,
with the metric rules of dbt_project/DECISIONLOG.md.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from sandbox.generator.calendar import INTERVAL_MONTHS, at_midnight, months_between, next_month_start, unix
from sandbox.generator.company import COUPONS, PLANS, Account, Period, Subscription

# Monthly list price per seat, minor units, per currency (set per market, not converted).
SEAT_PRICE_MONTH = {
    "starter": {"USD": 2500, "EUR": 2300, "GBP": 2000},
    "growth": {"USD": 4900, "EUR": 4500, "GBP": 3900},
    "enterprise": {"USD": 9900, "EUR": 9200, "GBP": 7900},
}
OVERAGE_UNIT_PRICE = {"USD": 2, "EUR": 2, "GBP": 2}  # per API call beyond the plan, billed in arrears
ONBOARDING_FEE = {"USD": 250000, "EUR": 230000, "GBP": 200000}
TAX_RATE = {"USD": 0.0, "EUR": 0.20, "GBP": 0.20}
CATALOGUE_CREATED = 1_600_000_000  # 2020-09-13: the catalogue predates every simulation


_ID_CHARS = bytes.maketrans(b"+/", b"xQ")


def stripe_id(prefix: str, *parts: object) -> str:
    """A Stripe-looking id (prefix and 16 alphanumerics), stable for the same parts."""
    digest = hashlib.sha1(":".join(map(str, parts)).encode()).digest()
    return f"{prefix}_{base64.b64encode(digest[:12]).translate(_ID_CHARS).decode()}"


def unit_amount(plan: str, interval: str, currency: str) -> int:
    """Per-seat price for one billing interval: quarterly 5% off, annual two months free."""
    month = SEAT_PRICE_MONTH[plan][currency]
    return {"month": month, "quarter": round(month * 3 * 0.95), "year": month * 10}[interval]


# Stripe prices are immutable: to change anything but their metadata the company creates new ones and archives the
# old (`active: false`). On this day every per-seat price was re-created with the same amount (the lookup keys
# moved to the new ones): subscriptions already on a plan keep its archived price, as Stripe keeps them; whoever
# moves onto a plan after it gets the new price.
PRICE_BOOK_CHANGED = datetime(2025, 10, 1, tzinfo=UTC)
# Coupons deleted (`DELETE /v1/coupons/{id}`) and re-created under a new id the same moment: discounts redeemed
# before keep applying the deleted coupon (Stripe keeps it embedded in them), later ones redeem the successor.
COUPONS_DELETED = {
    "LAUNCH20": datetime(2025, 5, 1, tzinfo=UTC),
    "QUARTER15": datetime(2025, 12, 1, tzinfo=UTC),
    "LOYALTY_AMOUNT": datetime(2026, 4, 1, tzinfo=UTC),
}


def price_id(seed: int, plan: str, interval: str, currency: str, since: datetime | None = None) -> str:
    """The per-seat price a subscription that moved onto `plan` at `since` bills (None: the first price book)."""
    if since is not None and since >= PRICE_BOOK_CHANGED:
        return stripe_id("price", seed, plan, interval, currency, "2025-10")
    return stripe_id("price", seed, plan, interval, currency)


def coupon_id(seed: int, key: str, currency: str | None = None, redeemed: datetime | None = None) -> str:
    """The coupon a discount redeemed at `redeemed` names: the successor once the original was deleted."""
    base = key if currency is None else f"{key}_{currency}"
    deleted = COUPONS_DELETED.get(key)
    if redeemed is not None and deleted is not None and redeemed >= deleted:
        return f"{base}_V2"
    return base


def coupon_spec(key: str):
    return next(c for c in COUPONS if c[0] == key)


def discount_amount(key: str, amount: int, currency: str) -> int:
    """Discount on one invoice line, minor units (Stripe rounds percentages to the nearest minor unit)."""
    _, percent, amount_off, _, _ = coupon_spec(key)
    if percent is not None:
        return int(amount * percent / 100 + 0.5)
    return min(amount, amount_off[currency])


def discount_applies(sub: Subscription, invoice_created: datetime, first_paid: bool) -> bool:
    if sub.discount is None:
        return False
    duration = coupon_spec(sub.discount.coupon)[3]
    if duration == "once":
        return first_paid
    if duration == "repeating":
        return invoice_created < sub.discount.end
    return True


def is_recurring_coupon(key: str) -> bool:
    return coupon_spec(key)[3] in ("forever", "repeating")


# ------------------------------------------------------------------------------------------------------------
# Ground truth


class FxTable:
    """Monthly rates to USD; a month after the last row uses the last row's rate (the dbt rule too), a month
    before the first row the first row's."""

    def __init__(self, rates: dict[tuple[date, str], float]):
        self._months: dict[str, list[date]] = {}
        self._rates: dict[str, list[float]] = {}
        for (month, currency), rate in sorted(rates.items()):
            self._months.setdefault(currency, []).append(month)
            self._rates.setdefault(currency, []).append(rate)

    def rate(self, currency: str, on: date) -> float:
        if currency == "USD":
            return 1.0
        index = bisect.bisect_right(self._months[currency], on.replace(day=1)) - 1
        return self._rates[currency][max(index, 0)]


def period_mrr_local(account: Account, sub: Subscription, period: Period, first_paid: bool) -> float:
    """Monthly recurring revenue of one period, in the account's currency (major units)."""
    if period.is_trial:
        return 0.0
    gross = unit_amount(period.plan, sub.interval, account.currency) * period.seats
    discount = 0
    if discount_applies(sub, period.start, first_paid) and is_recurring_coupon(sub.discount.coupon):
        discount = discount_amount(sub.discount.coupon, gross, account.currency)
    return (gross - discount) / 100.0 / INTERVAL_MONTHS[sub.interval]


def mrr_at(account: Account, instant: datetime, fx: FxTable) -> tuple[float, float]:
    """(local, usd) MRR at an instant: periods covering it, of subscriptions not yet ended."""
    local = usd = 0.0
    for sub in account.subscriptions:
        if sub.ended_at is not None and sub.ended_at < instant:
            continue
        rate = fx.rate(account.currency, sub.created.date())
        first_paid_seen = False
        for period in sub.periods:
            first_paid = not period.is_trial and not first_paid_seen
            first_paid_seen = first_paid_seen or not period.is_trial
            if period.start < instant <= period.end:
                value = period_mrr_local(account, sub, period, first_paid)
                local += value
                usd += value * rate
    return local, usd


def mrr_truth_rows(accounts: Iterable[Account], start: date, cutoff: datetime, fx: FxTable) -> list[dict]:
    """Month-end MRR and movement per account and month, for months up to the cut-off's month."""
    rows = []
    months = months_between(start, cutoff.date() - timedelta(days=1))
    for account in accounts:
        previous_usd, ever = 0.0, False
        for month in months:
            instant = min(at_midnight(next_month_start(month)), cutoff)
            local, usd = mrr_at(account, instant, fx)
            local, usd = round(local, 6), round(usd, 6)
            if previous_usd == 0 and usd == 0:
                continue
            if previous_usd == 0:
                movement = "reactivation" if ever else "new"
            elif usd == 0:
                movement = "churn"
            elif usd > previous_usd:
                movement = "expansion"
            elif usd < previous_usd:
                movement = "contraction"
            else:
                movement = "none"
            rows.append(
                {
                    "account_id": account.account_id,
                    "month": month,
                    "currency": account.currency,
                    "mrr_local": local,
                    "mrr_usd": usd,
                    "movement_type": movement,
                    "movement_usd": round(abs(usd - previous_usd), 6),
                }
            )
            ever = ever or usd > 0
            previous_usd = usd
    return rows


# ------------------------------------------------------------------------------------------------------------
# The catalogue: Stripe's product, price and coupon rows


def catalogue(seed: int, cutoff: datetime) -> dict[str, list[dict]]:
    """The catalogue as of `cutoff`: prices archived and coupons deleted before it are marked (`archived_at`,
    `deleted_at`), their successors present once created."""
    products, prices, coupons = [], [], []
    book_changed = cutoff > PRICE_BOOK_CHANGED
    for plan in PLANS:
        product = stripe_id("prod", seed, plan)
        products.append(
            {
                "id": product,
                "name": f"Acme Analytics {plan.title()}",
                "active": True,
                "created": CATALOGUE_CREATED,
            }
        )
        for interval in INTERVAL_MONTHS:
            for currency in SEAT_PRICE_MONTH[plan]:
                first = {
                    "id": price_id(seed, plan, interval, currency),
                    "product": product,
                    "currency": currency.lower(),
                    "unit_amount": unit_amount(plan, interval, currency),
                    "type": "recurring",
                    "recurring_interval": "year" if interval == "year" else "month",
                    "recurring_interval_count": 3 if interval == "quarter" else 1,
                    "recurring_usage_type": "licensed",
                    "nickname": f"{plan.title()} per seat ({interval}ly)",
                    "lookup_key": f"{plan}_{interval}_{currency.lower()}",
                    "active": True,
                    "created": CATALOGUE_CREATED,
                    "archived_at": None,
                }
                prices.append(first)
                if book_changed:  # the old price archived (its lookup key moved), the new one created
                    prices.append(
                        first
                        | {
                            "id": price_id(seed, plan, interval, currency, PRICE_BOOK_CHANGED),
                            "created": unix(PRICE_BOOK_CHANGED),
                        }
                    )
                    first |= {"active": False, "lookup_key": None, "archived_at": unix(PRICE_BOOK_CHANGED)}
    overage = stripe_id("prod", seed, "overage")
    onboarding = stripe_id("prod", seed, "onboarding")
    products.append({"id": overage, "name": "API overage", "active": True, "created": CATALOGUE_CREATED})
    products.append({"id": onboarding, "name": "Onboarding package", "active": True, "created": CATALOGUE_CREATED})
    for currency in OVERAGE_UNIT_PRICE:
        prices.append(
            {
                "id": stripe_id("price", seed, "overage", currency),
                "product": overage,
                "currency": currency.lower(),
                "unit_amount": OVERAGE_UNIT_PRICE[currency],
                "type": "recurring",
                "recurring_interval": "month",
                "recurring_interval_count": 1,
                "recurring_usage_type": "metered",
                "nickname": "API calls over plan",
                "lookup_key": f"overage_{currency.lower()}",
                "active": True,
                "created": CATALOGUE_CREATED,
                "archived_at": None,
            }
        )
        prices.append(
            {
                "id": stripe_id("price", seed, "onboarding", currency),
                "product": onboarding,
                "currency": currency.lower(),
                "unit_amount": ONBOARDING_FEE[currency],
                "type": "one_time",
                "recurring_interval": None,
                "recurring_interval_count": None,
                "recurring_usage_type": None,
                "nickname": "Onboarding package",
                "lookup_key": f"onboarding_{currency.lower()}",
                "active": True,
                "created": CATALOGUE_CREATED,
                "archived_at": None,
            }
        )
    for key, percent, amount_off, duration, months in COUPONS:
        deleted = COUPONS_DELETED.get(key)
        for currency in amount_off or {None: None}:
            first = {
                "id": coupon_id(seed, key, currency),
                "name": key.replace("_", " ").title(),
                "percent_off": percent,
                "amount_off": None if currency is None else amount_off[currency],
                "currency": None if currency is None else currency.lower(),
                "duration": duration,
                "duration_in_months": months,
                "valid": True,
                "created": CATALOGUE_CREATED,
                "deleted_at": None,
            }
            coupons.append(first)
            if deleted is not None and deleted < cutoff:
                coupons.append(first | {"id": coupon_id(seed, key, currency, deleted), "created": unix(deleted)})
                first |= {"valid": False, "deleted_at": unix(deleted)}
    return {"stripe_products": products, "stripe_prices": prices, "stripe_coupons": coupons}
