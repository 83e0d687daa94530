"""The sandbox manifest: what was generated (seed, scale, time window) and how to reach it (tokens)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

MANIFEST_FILE = "manifest.json"

# Fixed, documented sandbox credentials: the server accepts exactly these (like a real vendor's test keys).
SANDBOX_TOKENS = {
    "hubspot": "pat-sandbox-csops-0000",
    "stripe": "sk_test_csops_sandbox_0000",
    "typeform": "tfp_csops_sandbox_0000",
}
TYPEFORM_FORM_ID = "NpsQ3x7k"


@dataclass(frozen=True)
class Scale:
    """How big the simulated company is. `events` is the approximate usage event count over the history."""

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

# Room after the first `today` for `csops sandbox advance`: the simulation covers it from the start so that
# advancing reveals days that were already decided (history before the old cut-off never changes).
ADVANCE_HORIZON_DAYS = 366


def resolve_scale(name: str, accounts: int | None = None, events: int | None = None) -> Scale:
    """A named scale, optionally with its account or event count overridden."""
    if name not in SCALES:
        raise ValueError(f"unknown sandbox scale {name!r}; choose one of {', '.join(SCALES)}")
    base = SCALES[name]
    return Scale(
        name=base.name,
        accounts=accounts if accounts is not None else base.accounts,
        events=events if events is not None else base.events,
        history_days=base.history_days,
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
    tokens: dict[str, str] = field(default_factory=lambda: dict(SANDBOX_TOKENS))

    @property
    def scale_spec(self) -> Scale:
        return Scale(self.scale, self.accounts, self.events, (self.today - self.start_date).days)

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
