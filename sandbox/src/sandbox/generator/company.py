"""The simulated company's customers: who they are and what happens to them, month by month.

Time starts at the company's launch (a fixed day), never at `today`: rendering cuts the stories at today, so
advancing time only reveals what was decided. Each account draws from its own random streams (one per concern:
profile, health, billing), and every stream is consumed in time order. Simulating further (a later horizon)
then only appends draws, so everything before a cut-off is identical whatever the horizon: that is what makes
a sandbox generated at T and advanced N days byte-identical to one generated at T+N.

A latent health (0..1) drifts with shocks (a champion leaves, a ticket storm, slow product-fit erosion). It
drives what the platform can observe (usage, feature breadth, NPS, tickets, failed payments) and what it must
predict (churn, contraction, expansion), with noise and surprise churn so the signal is real but not trivial.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sandbox.generator.calendar import INTERVAL_MONTHS, add_months, at_midnight, month_start

SEGMENTS = ("enterprise", "mid_market", "smb")
SEGMENT_WEIGHTS = (0.12, 0.30, 0.58)
CURRENCIES = ("USD", "EUR", "GBP")
CURRENCY_WEIGHTS = (0.60, 0.25, 0.15)
COUNTRIES = {"USD": ("US", "US", "US", "CA"), "EUR": ("DE", "FR", "NL", "ES", "IE"), "GBP": ("GB",)}
PLANS = ("starter", "growth", "enterprise")
TRIAL_DAYS = 14

# Per segment: P(trial), interval mix, plan mix, seats (median, log-sigma, min, max), CSM book size (accounts
# per CSM), CSM touches and tickets per month, contacts (min, max).
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

# Product features, by index (usage.py names them). Onboarding milestones, in the order customers usually
# reach them: Integration Connected, Teammate Invited, Report Created, Dashboard Shared.
FEATURE_COUNT = 10
MILESTONE_FEATURES = (2, 3, 1, 6)
NEVER = 10**6  # adoption day of a feature never adopted

# Sign-ups: a launch cohort (customers migrated at launch), then steady growth with a density rising linearly.
LAUNCH_COHORT_SHARE = 0.22
LAUNCH_COHORT_DAYS = 45
GROWTH_OFFSET_DAYS = 120

# Churn: a monthly hazard from latent health, multiplied while the champion is gone and after a ticket storm
# (so those signals carry information of their own, beyond what usage shows), plus surprise churn no signal
# predicts (budget cuts, acquisitions). Usage fades before most churns, over weeks.
HAZARD_BASE, HAZARD_SCALE, HAZARD_POWER = 0.001, 0.9, 5
CHAMPION_GONE_HAZARD = 2.5
STORM_HAZARD, STORM_HAZARD_DAYS = 2.0, 90
SURPRISE_CHURN_MONTHLY = 0.002
DECAY_SHARE_STRONG, DECAY_SHARE_WEAK = (
    0.9,
    0.7,
)  # share of churns preceded by fading usage (health < 0.5, other)
DECAY_DAYS = (45, 110)
MID_TERM_ADD_SHARE = 0.15  # of quarterly / annual periods of healthy accounts: seats added mid-term
IMMEDIATE_CANCEL_SHARE = 0.2  # of monthly cancellations: effective at once instead of at period end
PAYMENT_FAILURE = (0.04, 0.08)  # P(first charge fails) = a + b * (1 - health)
PAYMENT_RECOVERY = (0.7, 0.25)  # P(recovered by a retry) = a + b * health
DUNNING_DAYS = 28  # retries until the invoice is marked uncollectible and the subscription cancelled
USAGE_INTENSITY_SIGMA = 0.7  # log-sd of team-to-team usage intensity at the same health
SENTIMENT_SIGMA = 0.15  # sd of the per-account sentiment offset (see Account.outlook_at)

# Monthly shocks to the latent health.
CHAMPION_LEAVES_MONTHLY = 0.014
CHAMPION_REPLACED_SHARE = 0.6
STORM_MONTHLY = 0.02
EROSION_SHARE = 0.18


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
    # Seats added during the period (when, new quantity): prorated on the next invoice, billed in full from
    # the next period (which starts with them).
    mid_term_seats: tuple[datetime, int] | None = None


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
    owner_index: int  # position within the segment's CSM team, as a fraction of 10**6 of the team's weight
    health: list[float]  # latent health per month index (months since launch); 0 before the signup month
    subscriptions: list[Subscription] = field(default_factory=list)
    champion_left: list[tuple[datetime, datetime | None]] = field(default_factory=list)  # (left, replaced)
    storms: list[datetime] = field(default_factory=list)  # start of each high-priority ticket storm
    decay_windows: list[tuple[datetime, datetime]] = field(default_factory=list)  # usage fades before churn
    feature_adoption_days: list[int] = field(default_factory=list)  # days after signup, per feature index
    onboarding_stalled: bool = False  # never reaches every onboarding milestone
    usage_intensity: float = 1.0  # how heavily this team uses the product at a given health (team culture)
    sentiment: float = 0.0  # how the customer feels beyond what usage shows (price, support, roadmap)
    contacts: int = 3
    treatments: tuple[Treatment, ...] = ()  # playbooks CSMs completed on the account (csm_work.py)

    @property
    def account_id(self) -> str:
        return f"acc_{self.num:06d}"

    def is_customer_at(self, moment: datetime) -> bool:
        """A subscription past its trial and not ended covers `moment` (what "still a customer" means for the
        playbook outcomes: Stripe shows the same through start, trial end and ended_at)."""
        return any(
            max(sub.created, sub.trial_end or sub.created) <= moment and (sub.ended_at is None or moment < sub.ended_at)
            for sub in self.subscriptions
        )

    def health_at(self, moment: datetime, window: Window) -> float:
        return self.health[min(len(self.health) - 1, max(0, window.month_index(moment)))]

    def outlook_at(self, moment: datetime, window: Window) -> float:
        """Health as the customer experiences it (health plus sentiment): drives churn, NPS and tickets, while
        usage follows health alone, so each signal carries information of its own."""
        return min(0.98, max(0.02, self.health_at(moment, window) + self.sentiment))

    def churn_factor_at(self, moment: datetime) -> float:
        """How completed playbooks scale a churn decision taken at `moment` (1 without any)."""
        return math.prod(t.churn_factor_at(moment) for t in self.treatments)

    def champion_gone(self, moment: datetime) -> bool:
        return any(left <= moment and (replaced is None or moment < replaced) for left, replaced in self.champion_left)

    def storm_within(self, moment: datetime, days: int) -> bool:
        return any(moment - timedelta(days=days) <= storm < moment for storm in self.storms)


@dataclass(frozen=True)
class Window:
    """The simulated time: from the launch day to `end` (exclusive), up to which every story is decided."""

    start: date
    end: date

    def month_index(self, moment: datetime | date) -> int:
        day = moment.date() if isinstance(moment, datetime) else moment
        return (day.year - self.start.year) * 12 + day.month - self.start.month

    @property
    def months(self) -> int:
        return self.month_index(self.end) + 1

    def month_start(self, index: int) -> datetime:
        return add_months(at_midnight(month_start(self.start)), index, 1)


@dataclass(frozen=True)
class Treatment:
    """A CSM completed a playbook task on this account (csm_work.py): the sandbox's true effect of the playbook.

    From the month after `completed_at` (never earlier, so nothing the platform already saw changes) the latent
    health jumps by `lift` and its target stays `lift` higher for `months` months: usage, NPS, tickets, churn and
    renewals then follow the healthier account as they follow any other. And for `months` months from the
    completion, every churn decision's hazard is multiplied by `churn_factor` (the conversation itself keeps some
    customers who were about to leave)."""

    completed_at: datetime
    lift: float
    churn_factor: float = 1.0
    months: int = 6

    def churn_factor_at(self, moment: datetime) -> float:
        active = self.completed_at <= moment < self.completed_at + timedelta(days=30 * self.months)
        return self.churn_factor if active else 1.0


# How far beyond the story horizon the latent health is simulated: decisions made in a period that starts
# before the horizon look at the health up to a year later (annual renewals).
HEALTH_LOOKAHEAD_MONTHS = 14


@dataclass(frozen=True)
class Arrivals:
    """When account number k signs up: `accounts` sign-ups during the first `reference_days` after launch.

    The cumulative sign-up intensity is inverted at k - 1 + u (u uniform per account), so sign-up days
    increase with k, exactly `accounts` fall within the reference history, and sign-ups keep coming after it
    at the same growth rate. The count before any cut-off is therefore fixed, whatever horizon is simulated.
    """

    accounts: int
    reference_days: int

    def _growth(self, days: float) -> float:
        return days * days / 2 + GROWTH_OFFSET_DAYS * days

    def day_of(self, position: float) -> float:
        """Days after launch at which the cumulative intensity reaches `position` (accounts)."""
        n, share, cohort = self.accounts, LAUNCH_COHORT_SHARE, LAUNCH_COHORT_DAYS
        reference = self._growth(self.reference_days)
        at_cohort_end = n * share + n * (1 - share) * self._growth(cohort) / reference
        if position >= at_cohort_end:
            growth = (position / n - share) * reference / (1 - share)
            return -GROWTH_OFFSET_DAYS + math.sqrt(GROWTH_OFFSET_DAYS**2 + 2 * growth)
        a = n * (1 - share) / (2 * reference)
        b = n * (1 - share) * GROWTH_OFFSET_DAYS / reference + n * share / cohort
        return (-b + math.sqrt(b * b + 4 * a * position)) / (2 * a)


def _choice(rng: random.Random, options: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


def _seats(rng: random.Random, segment: str) -> int:
    median, sigma, low, high = SEGMENT_PROFILE[segment]["seats"]
    return int(min(high, max(low, round(median * math.exp(rng.gauss(0, sigma))))))


def churn_hazard(health: float) -> float:
    """Monthly churn probability from latent health: low at good health, steep below 0.5."""
    return HAZARD_BASE + HAZARD_SCALE * (1.0 - health) ** HAZARD_POWER


def _stream(seed: int, num: int, kind: str) -> random.Random:
    return random.Random(f"csops-sandbox:{seed}:{num}:{kind}")


def simulate_health(
    rng: random.Random,
    account: Account,
    window: Window,
    first_month: int,
    months: int,
    treatments: tuple[Treatment, ...] = (),
) -> None:
    """Monthly latent health with shocks (champion leaves, ticket storms, erosion) and the effect of completed
    playbooks, in time order. Treatments never change which random numbers are drawn, only the health they act
    on."""
    starts = [(window.month_index(t.completed_at) + 1, t) for t in treatments]
    mean = min(0.95, max(0.25, rng.betavariate(5, 2.3)))
    h = min(0.98, max(0.1, mean + rng.gauss(0, 0.1)))
    erosion_start = first_month + rng.randint(3, 30) if rng.random() < EROSION_SHARE else None
    health = [0.0] * months
    champion_present, replaced_at = True, None
    for m in range(first_month, months):
        begins = window.month_start(m)
        u_leave, u_storm, noise = rng.random(), rng.random(), rng.gauss(0, 0.06)
        target = mean
        if erosion_start is not None and m >= erosion_start:
            target = max(0.05, mean - 0.05 * (m - erosion_start))
        if not champion_present and replaced_at is not None and replaced_at < begins:
            champion_present = True
        if champion_present and m >= first_month + 2 and u_leave < CHAMPION_LEAVES_MONTHLY:
            left = begins + timedelta(days=rng.randint(0, 27), hours=rng.randint(8, 18))
            replaced_at = None
            if rng.random() < CHAMPION_REPLACED_SHARE:
                replaced_at = left + timedelta(days=rng.randint(20, 130))
            account.champion_left.append((left, replaced_at))
            champion_present = False
            h -= 0.22
        if not champion_present:
            target -= 0.15
        for start, treatment in starts:
            if start <= m < start + treatment.months:
                target += treatment.lift
            if m == start:
                h += treatment.lift
        if u_storm < STORM_MONTHLY:
            account.storms.append(begins + timedelta(days=rng.randint(0, 24), hours=rng.randint(7, 17)))
            h -= 0.10
        h = h + 0.18 * (target - h) + noise
        health[m] = min(0.98, max(0.02, h))
    account.health = health


def _adoption(rng: random.Random, account: Account, first_health: float) -> None:
    """Feature adoption days after signup: the core feature at once, onboarding milestones in the first weeks
    (stalled accounts stop part-way and never finish), other features by breadth, which follows health."""
    days = [NEVER] * FEATURE_COUNT
    days[0] = 0
    stalled = rng.random() < 0.06 + 0.4 * (1 - first_health)
    reached = rng.randint(0, 2) if stalled else len(MILESTONE_FEATURES)
    day = 0.0
    for index, feature in enumerate(MILESTONE_FEATURES):
        day += rng.expovariate(1 / (12 if stalled else 8))
        if index < reached:
            days[feature] = min(85, int(day))
    extras = [f for f in range(1, FEATURE_COUNT) if f not in MILESTONE_FEATURES]
    breadth = round(len(extras) * min(1.0, max(0.0, first_health + rng.gauss(0, 0.15))))
    if stalled:
        breadth //= 2
    for rank, feature in enumerate(extras):
        later = rng.expovariate(1 / 40) + (100 if rng.random() < 0.1 else 20)
        if rank < breadth:
            days[feature] = int(later)
    account.feature_adoption_days = days
    account.onboarding_stalled = stalled


def simulate_account(
    num: int, seed: int, window: Window, arrivals: Arrivals, treatments: tuple[Treatment, ...] = ()
) -> Account:
    """One customer's whole story up to the window's end, deterministic in (seed, num, arrivals) and the
    playbooks CSMs completed on it (`treatments`)."""
    profile_rng = _stream(seed, num, "profile")
    segment = profile_rng.choices(SEGMENTS, weights=SEGMENT_WEIGHTS)[0]
    currency = profile_rng.choices(CURRENCIES, weights=CURRENCY_WEIGHTS)[0]
    profile = SEGMENT_PROFILE[segment]
    signup_day = arrivals.day_of(num - 1 + profile_rng.random())
    signup = at_midnight(window.start) + timedelta(
        days=int(signup_day), seconds=profile_rng.randint(8 * 3600, 20 * 3600)
    )
    account = Account(
        num=num,
        segment=segment,
        currency=currency,
        country=profile_rng.choice(COUNTRIES[currency]),
        signup=signup,
        owner_index=profile_rng.randint(0, 10**6),
        health=[],
        contacts=profile_rng.randint(*profile["contacts"]),
        usage_intensity=min(2.5, max(0.3, profile_rng.lognormvariate(0, USAGE_INTENSITY_SIGMA))),
        sentiment=min(0.3, max(-0.3, profile_rng.gauss(0, SENTIMENT_SIGMA))),
        treatments=treatments,
    )
    first_month = window.month_index(signup)
    simulate_health(
        _stream(seed, num, "health"), account, window, first_month, window.months + HEALTH_LOOKAHEAD_MONTHS, treatments
    )
    _adoption(profile_rng, account, account.health[first_month])
    _simulate_billing(_stream(seed, num, "billing"), account, window)
    return account


def _simulate_billing(rng: random.Random, account: Account, window: Window) -> None:
    """Subscriptions in time order: the first one, then reactivations after churn (if health recovered)."""
    horizon = at_midnight(window.end)
    start = account.signup
    number = 0
    winback = False
    while start < horizon:
        number += 1
        sub = _simulate_subscription(rng, account, window, number, start, horizon, winback)
        account.subscriptions.append(sub)
        if sub.ended_at is None or sub.end_reason == "trial_not_converted":
            break
        comeback = None
        probe = sub.ended_at
        for _ in range(24):
            probe = probe + timedelta(days=30)
            if probe >= horizon:
                break
            if rng.random() < 0.035 * (0.5 + account.health_at(probe, window)):
                comeback = probe + timedelta(days=rng.randint(0, 20), seconds=rng.randint(0, 36000))
                break
        if comeback is None:
            break
        start, winback = comeback, True


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


def _simulate_subscription(
    rng: random.Random,
    account: Account,
    window: Window,
    number: int,
    start: datetime,
    horizon: datetime,
    winback: bool,
) -> Subscription:
    """One subscription, period by period until it ends or a period would start at the horizon."""
    profile = SEGMENT_PROFILE[account.segment]

    def h_at(moment: datetime) -> float:
        return account.health_at(moment, window)

    interval = "month" if winback and account.segment == "smb" else _choice(rng, profile["intervals"])
    sub = Subscription(number=number, interval=interval, created=start)
    sub.has_metered_item = account.segment == "enterprise" and rng.random() < 0.4
    seats = _seats(rng, account.segment)
    plan = _choice(rng, profile["plans"])
    sub.discount = _discount_for(rng, interval, start, winback)
    anchor = start
    if number == 1 and rng.random() < profile["trial"]:
        trial_end = start + timedelta(days=TRIAL_DAYS)
        sub.trial_end = trial_end
        sub.periods.append(Period(start=start, end=trial_end, seats=seats, plan=plan, is_trial=True, paid_at=start))
        if rng.random() >= 0.45 + 0.45 * h_at(start):
            sub.ended_at, sub.end_reason = trial_end, "trial_not_converted"
            sub.cancel_requested_at = trial_end
            return sub
        anchor = trial_end
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
        # Payment: most charges succeed; failures grow as health falls; smart retries recover most within the
        # dunning window, the rest are marked uncollectible and the subscription is cancelled.
        if rng.random() < PAYMENT_FAILURE[0] + PAYMENT_FAILURE[1] * (1 - h):
            period.failed_at = period_start + timedelta(minutes=rng.randint(65, 150))
            dunning = min(timedelta(days=DUNNING_DAYS), (period_end - period_start) - timedelta(days=2))
            if rng.random() < PAYMENT_RECOVERY[0] + PAYMENT_RECOVERY[1] * h:
                delay = timedelta(days=rng.randint(1, dunning.days - 1), hours=rng.randint(0, 12))
                period.paid_at = period.failed_at + delay
                period.attempts = rng.randint(2, 4)
            else:
                period.attempts = 4
                cancel_at = period_start + dunning
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
        h_decide = account.outlook_at(decide_at, window)
        hazard = churn_hazard(h_decide)
        if account.champion_gone(decide_at):
            hazard *= CHAMPION_GONE_HAZARD
        if account.storm_within(decide_at, STORM_HAZARD_DAYS):
            hazard *= STORM_HAZARD
        hazard *= account.churn_factor_at(decide_at)
        p_churn = 1 - (1 - min(hazard, 0.9)) ** months + SURPRISE_CHURN_MONTHLY * months
        if rng.random() < p_churn:
            sub.cancel_requested_at = decide_at
            sub.end_reason = "cancellation_requested"
            if months == 1 and rng.random() < IMMEDIATE_CANCEL_SHARE:
                sub.ended_at = decide_at  # cancelled immediately, no refund
            else:
                sub.cancel_at_period_end = True
                sub.ended_at = period_end
            _add_decay(rng, account, sub.ended_at, strong=h_decide < 0.5)
            return sub
        # Mid-term: a growing customer on a quarterly or annual plan adds seats before renewal (prorated).
        if months > 1 and h_at(period_start) > 0.6 and rng.random() < MID_TERM_ADD_SHARE:
            changed_at = period_start + (period_end - period_start) * rng.uniform(0.2, 0.8)
            seats += max(1, round(seats * rng.uniform(0.05, 0.3)))
            period.mid_term_seats = (changed_at.replace(microsecond=0), seats)
        # Renewal: seats and plan move with health (changes apply from the next period).
        h_next = h_at(period_end)
        scale = math.sqrt(months)
        if h_next > 0.62 and rng.random() < 0.10 * scale:
            seats = max(seats + 1, round(seats * rng.uniform(1.1, 1.6)))
        elif h_next < 0.45 and rng.random() < 0.10 * scale:
            seats = max(1, min(seats - 1, round(seats * rng.uniform(0.55, 0.9))))
        if h_next > 0.72 and rng.random() < 0.025 * scale:
            plan = _next_plan(plan, +1)
        elif plan != PLANS[0] and rng.random() < (0.15 if h_next < 0.55 else 0.01) * scale:
            plan = _next_plan(plan, -1)  # struggling, or a budget cut
        period_index += 1
        period_start = period_end
    return sub


def _add_decay(rng: random.Random, account: Account, ended_at: datetime, strong: bool) -> None:
    """Usage fades over the weeks before most churns (not all: some churn is a surprise)."""
    if rng.random() < (DECAY_SHARE_STRONG if strong else DECAY_SHARE_WEAK):
        account.decay_windows.append((ended_at - timedelta(days=rng.randint(*DECAY_DAYS)), ended_at))
