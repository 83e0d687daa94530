"""The simulated company's customers: who they are and what happens to them, month by month.

Each account's story is drawn from its own random stream (seed + account number), over the whole horizon,
without knowing "today": rendering cuts the story at today, so advancing time only reveals what was decided.

A latent health (0..1) drifts with shocks (a champion leaves, a ticket storm, slow product-fit erosion). It drives
what the platform can observe (usage, feature breadth, NPS, tickets, failed payments) and what it must predict
(churn, contraction, expansion), with noise and surprise churn so the signal is real but not trivial.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sandbox.generator.calendar import INTERVAL_MONTHS, add_months, month_start

SEGMENTS = ("enterprise", "mid_market", "smb")
SEGMENT_WEIGHTS = (0.12, 0.30, 0.58)
CURRENCIES = ("USD", "EUR", "GBP")
CURRENCY_WEIGHTS = (0.60, 0.25, 0.15)
COUNTRIES = {"USD": ("US", "US", "US", "CA"), "EUR": ("DE", "FR", "NL", "ES", "IE"), "GBP": ("GB",)}
PLANS = ("starter", "growth", "enterprise")
TRIAL_DAYS = 14

# Per segment: P(trial), interval mix, plan mix, median seats, CSM book size (accounts per CSM).
SEGMENT_PROFILE = {
    "enterprise": dict(
        trial=0.10,
        intervals=(("year", 0.85), ("quarter", 0.15)),
        plans=(("enterprise", 0.7), ("growth", 0.3)),
        seats=(250, 0.7, 80, 3000),
        book=12,
        touches_per_month=3.0,
        tickets_per_month=1.6,
        contacts=(6, 14),
    ),
    "mid_market": dict(
        trial=0.50,
        intervals=(("month", 0.40), ("quarter", 0.20), ("year", 0.40)),
        plans=(("growth", 0.6), ("starter", 0.2), ("enterprise", 0.2)),
        seats=(40, 0.6, 12, 400),
        book=35,
        touches_per_month=1.0,
        tickets_per_month=0.7,
        contacts=(3, 8),
    ),
    "smb": dict(
        trial=0.80,
        intervals=(("month", 0.70), ("year", 0.30)),
        plans=(("starter", 0.6), ("growth", 0.4)),
        seats=(5, 0.6, 1, 40),
        book=100,
        touches_per_month=0.3,
        tickets_per_month=0.25,
        contacts=(2, 5),
    ),
}

# Coupon catalogue: (key, percent_off, amount_off per currency (minor units), duration, duration_in_months).
COUPONS = (
    ("LAUNCH20", 20.0, None, "forever", None),
    ("PARTNER10", 10.0, None, "forever", None),
    ("NONPROFIT25", 25.0, None, "forever", None),
    ("QUARTER15", 15.0, None, "repeating", 3),
    ("HALFYEAR20", 20.0, None, "repeating", 6),
    ("FIRSTYEAR10", 10.0, None, "repeating", 12),
    ("LOYALTY_AMOUNT", None, {"USD": 5000, "EUR": 4500, "GBP": 4000}, "forever", None),
    ("WELCOME50", 50.0, None, "once", None),
    ("WINBACK30", 30.0, None, "repeating", 3),
)


@dataclass
class Discount:
    coupon: str
    start: datetime
    end: datetime | None  # repeating coupons end; forever and once never do (once applies to one invoice)


@dataclass
class Period:
    """One billing period of a subscription: what the invoice created at `start` bills."""

    start: datetime
    end: datetime
    seats: int
    plan: str
    is_trial: bool = False
    # Payment outcome of this period's invoice.
    failed_at: datetime | None = None  # first failed charge
    paid_at: datetime | None = None
    uncollectible_at: datetime | None = None
    attempts: int = 1
    voided_twin: bool = False  # a first invoice was voided and replaced (e.g. wrong billing address)
    onboarding_fee: bool = False  # a one-off line on this invoice
    overage_units: int = 0  # metered usage of the previous period, billed in arrears on this invoice


@dataclass
class Subscription:
    number: int  # account-local sequence (first, reactivation ...)
    interval: str
    created: datetime
    periods: list[Period] = field(default_factory=list)
    discount: Discount | None = None
    has_metered_item: bool = False
    trial_end: datetime | None = None
    cancel_requested_at: datetime | None = None
    cancel_at_period_end: bool = False
    ended_at: datetime | None = None
    end_reason: str | None = None  # cancellation_requested | payment_failed | trial_not_converted

    @property
    def interval_months(self) -> int:
        return INTERVAL_MONTHS[self.interval]


@dataclass
class Account:
    num: int
    segment: str
    currency: str
    country: str
    signup: datetime
    owner_index: int  # index within the segment's CSMs
    health: list[float]  # latent health per month index (months since the simulation start)
    subscriptions: list[Subscription] = field(default_factory=list)
    champion_left: list[tuple[datetime, datetime | None]] = field(default_factory=list)  # (left, replaced)
    storms: list[datetime] = field(default_factory=list)  # start of each high-priority ticket storm
    decay_windows: list[tuple[datetime, datetime]] = field(default_factory=list)  # usage fades before churn
    feature_adoption_days: list[int] = field(default_factory=list)  # days after signup, per feature index
    contacts: int = 3

    @property
    def account_id(self) -> str:
        return f"acc_{self.num:06d}"


@dataclass(frozen=True)
class Window:
    start: date
    end: date  # exclusive horizon end

    def month_index(self, moment: datetime | date) -> int:
        day = moment.date() if isinstance(moment, datetime) else moment
        return (day.year - self.start.year) * 12 + day.month - self.start.month

    @property
    def months(self) -> int:
        return self.month_index(self.end) + 1


def _choice(rng: random.Random, options: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


def _seats(rng: random.Random, segment: str) -> int:
    median, sigma, low, high = SEGMENT_PROFILE[segment]["seats"]
    return int(min(high, max(low, round(median * math.exp(rng.gauss(0, sigma))))))


def churn_hazard(health: float) -> float:
    """Monthly churn probability from latent health: low at good health, steep below 0.4."""
    return 0.003 + 0.32 * (1.0 - health) ** 3


def _signup_time(rng: random.Random, window: Window, history_days: int) -> datetime:
    horizon_days = (window.end - window.start).days
    u = rng.random()
    if u < 0.22:  # the launch cohort (customers migrated at launch)
        day = rng.uniform(0, 45)
    else:  # steady growth: density rising linearly over the horizon
        day = horizon_days * math.sqrt(rng.uniform(0.05, 1.0))
    start = datetime.combine(window.start, datetime.min.time(), tzinfo=UTC)
    return start + timedelta(days=min(day, horizon_days - 1), seconds=rng.randint(8 * 3600, 20 * 3600))


def simulate_health(rng: random.Random, window: Window, first_month: int) -> tuple[list[float], dict]:
    """Monthly latent health with shocks; also returns the shock months for other stories to use."""
    months = window.months
    mean = min(0.95, max(0.25, rng.betavariate(5, 2.3)))
    health = [0.0] * months
    h = min(0.98, max(0.1, mean + rng.gauss(0, 0.1)))
    champion_leaves = {m for m in range(first_month + 2, months) if rng.random() < 0.014}
    storms = {m for m in range(first_month, months) if rng.random() < 0.02}
    erosion_start = first_month + rng.randint(3, 30) if rng.random() < 0.18 else None
    champion_gap = 0
    for m in range(first_month, months):
        target = mean
        if erosion_start is not None and m >= erosion_start:
            target = max(0.05, mean - 0.05 * (m - erosion_start))
        if m in champion_leaves:
            h -= 0.22
            champion_gap = rng.randint(1, 5) if rng.random() < 0.6 else 99
        if champion_gap > 0:
            target -= 0.15
            champion_gap -= 1
        if m in storms:
            h -= 0.10
        h = h + 0.18 * (target - h) + rng.gauss(0, 0.06)
        health[m] = min(0.98, max(0.02, h))
    return health, {"champion_leaves": sorted(champion_leaves), "storms": sorted(storms)}


def _discount_for(rng: random.Random, interval: str, start: datetime, winback: bool) -> Discount | None:
    if winback:
        key = "WINBACK30"
    else:
        if rng.random() > 0.30:
            return None
        keys = ["LAUNCH20", "PARTNER10", "NONPROFIT25", "LOYALTY_AMOUNT", "WELCOME50"]
        keys += ["QUARTER15", "HALFYEAR20", "FIRSTYEAR10"] if interval == "month" else ["FIRSTYEAR10"]
        key = rng.choice(keys)
    coupon = next(c for c in COUPONS if c[0] == key)
    end = None
    if coupon[3] == "repeating":
        end = add_months(start, coupon[4], start.day)
    return Discount(coupon=key, start=start, end=end)


def _next_plan(plan: str, step: int) -> str:
    return PLANS[min(len(PLANS) - 1, max(0, PLANS.index(plan) + step))]


def simulate_account(num: int, seed: int, window: Window, history_days: int) -> Account:
    """One customer's whole story over the horizon, deterministic in (seed, num)."""
    rng = random.Random(f"csops-sandbox:{seed}:{num}")
    segment = rng.choices(SEGMENTS, weights=SEGMENT_WEIGHTS)[0]
    currency = rng.choices(CURRENCIES, weights=CURRENCY_WEIGHTS)[0]
    profile = SEGMENT_PROFILE[segment]
    signup = _signup_time(rng, window, history_days)
    first_month = window.month_index(signup)
    health, shocks = simulate_health(rng, window, first_month)
    account = Account(
        num=num,
        segment=segment,
        currency=currency,
        country=rng.choice(COUNTRIES[currency]),
        signup=signup,
        owner_index=rng.randint(0, 10**6),
        health=health,
        contacts=rng.randint(*profile["contacts"]),
    )
    month_starts = [add_months(datetime.combine(window.start, datetime.min.time(), tzinfo=UTC), m, 1)
                    for m in range(window.months)]
    for m in shocks["champion_leaves"]:
        left = month_starts[m] + timedelta(days=rng.randint(0, 27), hours=rng.randint(8, 18))
        replaced = None
        if rng.random() < 0.6:
            replaced = left + timedelta(days=rng.randint(20, 130))
        account.champion_left.append((left, replaced))
    for m in shocks["storms"]:
        account.storms.append(month_starts[m] + timedelta(days=rng.randint(0, 24), hours=rng.randint(7, 17)))
    # Feature adoption: core feature on day 0, the others over the first months; healthier accounts adopt more.
    breadth = 2 + round(8 * min(1.0, max(0.0, health[first_month] + rng.gauss(0, 0.15))))
    adoption = [0]
    for index in range(1, 10):
        if index < breadth:
            adoption.append(int(rng.expovariate(1 / 25)) + (0 if rng.random() > 0.1 else 100))
        else:
            adoption.append(10**6)  # never adopted
    account.feature_adoption_days = adoption

    horizon = datetime.combine(window.end, datetime.min.time(), tzinfo=UTC)

    def h_at(moment: datetime) -> float:
        return health[min(window.months - 1, max(0, window.month_index(moment)))]

    start = signup
    number = 0
    winback = False
    while start < horizon:
        number += 1
        sub = _simulate_subscription(rng, account, number, start, horizon, h_at, winback)
        account.subscriptions.append(sub)
        if sub.ended_at is None or sub.end_reason == "trial_not_converted":
            break
        # Reactivation: a churned customer may come back months later, if its health recovered.
        comeback = None
        probe = sub.ended_at
        for _ in range(24):
            probe = probe + timedelta(days=30)
            if probe >= horizon:
                break
            if rng.random() < 0.035 * (0.5 + h_at(probe)):
                comeback = probe + timedelta(days=rng.randint(0, 20), seconds=rng.randint(0, 36000))
                break
        if comeback is None or comeback >= horizon:
            break
        start, winback = comeback, True
    return account


def _simulate_subscription(
    rng: random.Random,
    account: Account,
    number: int,
    start: datetime,
    horizon: datetime,
    h_at,
    winback: bool,
) -> Subscription:
    profile = SEGMENT_PROFILE[account.segment]
    interval = "month" if winback and account.segment == "smb" else _choice(rng, profile["intervals"])
    sub = Subscription(number=number, interval=interval, created=start)
    sub.has_metered_item = account.segment == "enterprise" and rng.random() < 0.4
    seats = _seats(rng, account.segment)
    plan = _choice(rng, profile["plans"])
    anchor = start
    if number == 1 and rng.random() < profile["trial"]:
        trial_end = start + timedelta(days=TRIAL_DAYS)
        sub.trial_end = trial_end
        sub.periods.append(Period(start=start, end=trial_end, seats=seats, plan=plan, is_trial=True,
                                  paid_at=start))
        converts = rng.random() < 0.45 + 0.45 * h_at(start)
        if not converts or trial_end >= horizon:
            if not converts:
                sub.ended_at, sub.end_reason = trial_end, "trial_not_converted"
                sub.cancel_requested_at = trial_end
            return sub
        anchor = trial_end
    sub.discount = _discount_for(rng, interval, start, winback)
    months = INTERVAL_MONTHS[interval]
    period_index = 0
    period_start = anchor
    while period_start < horizon:
        period_end = add_months(anchor, months * (period_index + 1), anchor.day)
        period = Period(start=period_start, end=period_end, seats=seats, plan=plan)
        period.onboarding_fee = period_index == 0 and account.segment != "smb" and not winback
        if sub.has_metered_item and period_index > 0:
            period.overage_units = int(rng.expovariate(1 / 4000)) if rng.random() < 0.6 else 0
        if rng.random() < 0.006:
            period.voided_twin = True
        sub.periods.append(period)
        h = h_at(period_start)
        # Payment: most charges succeed; failures grow as health falls, and some never recover.
        if rng.random() < 0.012 + 0.05 * (1 - h):
            period.failed_at = period_start + timedelta(minutes=rng.randint(65, 150))
            if rng.random() < 0.55 + 0.3 * h:
                period.paid_at = period.failed_at + timedelta(days=rng.randint(2, 20), hours=rng.randint(0, 12))
                period.attempts = rng.randint(2, 4)
            else:
                period.attempts = 4
                # Dunning ends before the next period would start: the subscription is cancelled unpaid.
                cancel_at = period_start + min(timedelta(days=25), (period_end - period_start) - timedelta(days=2))
                period.uncollectible_at = cancel_at
                sub.ended_at, sub.end_reason = cancel_at, "payment_failed"
                sub.cancel_requested_at = cancel_at
                _add_decay(rng, account, cancel_at, strong=False)
                return sub
        else:
            period.paid_at = period_start + timedelta(minutes=rng.randint(61, 110))  # after finalization
        # Churn: decided some weeks before the period ends, at the health of that moment.
        decide_at = period_end - timedelta(days=rng.randint(5, 25) if months == 1 else rng.randint(20, 75))
        decide_at = max(decide_at, period_start + timedelta(hours=1))
        h_decide = h_at(decide_at)
        p_churn = 1 - (1 - churn_hazard(h_decide)) ** months
        p_churn += 0.002 * months  # budget cuts, acquisitions: churn no signal predicts
        if rng.random() < p_churn:
            sub.cancel_requested_at = decide_at
            sub.end_reason = "cancellation_requested"
            if months == 1 and h_decide < 0.3 and rng.random() < 0.25:
                sub.ended_at = decide_at  # cancelled immediately, no refund
            else:
                sub.cancel_at_period_end = True
                sub.ended_at = period_end
            _add_decay(rng, account, sub.ended_at, strong=h_decide < 0.5)
            return sub
        # Renewal: seats and plan move with health (changes apply from the next period, no proration).
        h_next = h_at(period_end)
        scale = math.sqrt(months)
        if h_next > 0.62 and rng.random() < 0.10 * scale:
            seats = max(seats + 1, round(seats * rng.uniform(1.1, 1.6)))
        elif h_next < 0.45 and rng.random() < 0.10 * scale:
            seats = max(1, min(seats - 1, round(seats * rng.uniform(0.55, 0.9))))
        if h_next > 0.72 and rng.random() < 0.025 * scale:
            plan = _next_plan(plan, +1)
        elif h_next < 0.38 and rng.random() < 0.04 * scale:
            plan = _next_plan(plan, -1)
        period_index += 1
        period_start = period_end
    return sub


def _add_decay(rng: random.Random, account: Account, ended_at: datetime, strong: bool) -> None:
    """Usage fades over the weeks before most churns (not all: some churn is a surprise)."""
    if rng.random() < (0.85 if strong else 0.55):
        account.decay_windows.append((ended_at - timedelta(days=rng.randint(35, 80)), ended_at))


def month_floor(moment: datetime) -> date:
    return month_start(moment.date())
