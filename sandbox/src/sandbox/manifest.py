"""The sandbox manifest: what was generated (seed, scale, time window) and how to reach it (tokens)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path

MANIFEST_FILE = "manifest.json"

# Fixed, documented sandbox credentials: the server accepts exactly these (like a real vendor's test keys).
SANDBOX_TOKENS = {
    "hubspot": "pat-sandbox-csops-0000",
    "stripe": "sk_test_csops_sandbox_0000",
    "typeform": "tfp_csops_sandbox_0000",
}
TYPEFORM_FORM_ID = "NpsQ3x7k"
# The Stripe account's default API version, used when a request sends no `Stripe-Version` header: an account opened
# years ago keeps the version of its day until someone upgrades it, so the default is an old one (the shapes before
# 2025-03-31; see sandbox/server/stripe/versions.py).
STRIPE_ACCOUNT_API_VERSION = "2024-06-20"


@dataclass(frozen=True)
class Scale:
    """How big the simulated company is: `accounts` sign up and about `events` usage events happen during the
    first `history_days` days after launch (the reference history; a later `today` shows a bigger company)."""

    name: str
    accounts: int
    events: int
    history_days: int = 730


SCALES: dict[str, Scale] = {
    "tiny": Scale("tiny", accounts=200, events=150_000),
    "small": Scale("small", accounts=1_000, events=1_500_000),
    "medium": Scale("medium", accounts=5_000, events=15_000_000),
    "large": Scale("large", accounts=20_000, events=100_000_000),
}

# The simulated company launched on this day, whatever `today` is: the simulation's clock never depends on the
# cut-off, so a sandbox generated at T and advanced N days equals one generated at T+N (history never
# changes). With the default reference history (730 days), `--today 2026-11-01` shows exactly the scale's
# accounts.
LAUNCH_DATE = date(2024, 11, 1)
# The simulation is defined up to this day (the latest `today`); `today` needs some history after the launch.
HORIZON_END = date(2034, 11, 1)
MIN_HISTORY_DAYS = 60


def check_today(today: date) -> None:
    """Refuse a cut-off outside the simulated horizon, saying which dates work."""
    earliest = LAUNCH_DATE + timedelta(days=MIN_HISTORY_DAYS)
    if not earliest <= today <= HORIZON_END:
        raise ValueError(
            f"today must be between {earliest} and {HORIZON_END} (the simulated company launched on "
            f"{LAUNCH_DATE}), not {today}"
        )


def resolve_scale(
    name: str, accounts: int | None = None, events: int | None = None, history_days: int | None = None
) -> Scale:
    """A named scale, optionally with its account or event count overridden. `history_days`: the company reaches
    its accounts that many days after launch instead of the scale's 730, with its events in proportion (unless
    given), so it has the same size and daily volume then, with a longer history behind it."""
    if name not in SCALES:
        raise ValueError(f"unknown sandbox scale {name!r}; choose one of {', '.join(SCALES)}")
    base = SCALES[name]
    history = history_days if history_days is not None else base.history_days
    if history < MIN_HISTORY_DAYS:
        raise ValueError(f"history must be at least {MIN_HISTORY_DAYS} days, not {history}")
    return Scale(
        name=base.name,
        accounts=accounts if accounts is not None else base.accounts,
        events=events if events is not None else round(base.events * history / base.history_days),
        history_days=history,
    )


@dataclass
class Manifest:
    seed: int
    scale: str
    accounts: int
    events: int
    start_date: date
    today: date
    horizon_end: date
    events_format: str = "parquet"
    reporting_currency: str = "USD"
    typeform_form_id: str = TYPEFORM_FORM_ID
    stripe_api_version: str = STRIPE_ACCOUNT_API_VERSION
    tokens: dict[str, str] = field(default_factory=lambda: dict(SANDBOX_TOKENS))
    history_days: int = 730  # days from launch until the company has `accounts` (Scale.history_days)

    @property
    def hubspot_portal_id(self) -> int:
        """The simulated company's HubSpot portal (account) id: one per seed, as one per real company."""
        return 40_000_000 + int(hashlib.sha1(f"portal:{self.seed}".encode()).hexdigest()[:6], 16)

    @property
    def stripe_account_id(self) -> str:
        """The simulated company's Stripe account id (`GET /v1/account`): one per seed."""
        return "acct_1Csops" + hashlib.sha1(f"account:{self.seed}".encode()).hexdigest()[:9].upper()

    @property
    def scale_spec(self) -> Scale:
        return Scale(self.scale, self.accounts, self.events, self.history_days)

    def write(self, directory: Path) -> None:
        data = asdict(self)
        for key in ("start_date", "today", "horizon_end"):
            data[key] = getattr(self, key).isoformat()
        (directory / MANIFEST_FILE).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        path = directory / MANIFEST_FILE
        if not path.exists():
            raise FileNotFoundError(
                f"no sandbox at {directory} ({MANIFEST_FILE} missing): run `csops sandbox generate --out {directory}`"
            )
        data = json.loads(path.read_text())
        for key in ("start_date", "today", "horizon_end"):
            data[key] = date.fromisoformat(data[key])
        return cls(**data)
