"""NPS surveys: quarterly waves to customer contacts, answered through Typeform or another tool (CSV export).

Scores follow the latent health with noise; detractors usually say why, in words a CSM can act on.

Typeform does not show a response the moment it is submitted: its Responses API "may not return the most recent
responses yet" and processes some late. Each Typeform response here has a `visible_at`: most become visible within
two minutes, a fixed share only hours later (up to LATE_VISIBILITY_HOURS). The server hides a response until its
`visible_at` has passed the sandbox's today and pages `after` tokens in processing (visibility) order, so an
incremental reader without a look-back window loses the late ones. The lag is drawn from a hash of the response
token, not from the account's random stream, so adding it changed no other draw.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sandbox.generator.company import Account, Window
from sandbox.generator.crm import CONTACT_ID_BASE, contact_name

DETRACTOR_COMMENTS = (
    "Too expensive for how little we use it.",
    "Reports are slow and time out.",
    "Support took days to answer our tickets.",
    "Missing the integrations we need.",
    "Our main user left and nobody knows the tool now.",
    "Data often looks wrong, we stopped trusting it.",
)
PASSIVE_COMMENTS = ("Does the job.", "Good, but onboarding new people is hard.", "Fine for dashboards.")
PROMOTER_COMMENTS = (
    "Love the dashboards!",
    "Saves our team hours every week.",
    "Great support team.",
    "Alerts caught a problem before our customers did.",
)
WAVE_MONTHS = (2, 5, 8, 11)
LATE_VISIBILITY_SHARE = 0.2  # responses Typeform processes late
LATE_VISIBILITY_HOURS = 48  # the longest a late response stays invisible (a reader's look-back must cover it)
PROMPT_VISIBILITY_SECONDS = 120  # the others are visible within two minutes


def visibility_lag(token: str) -> timedelta:
    """How long after its submission a Typeform response becomes visible through the API."""
    digest = hashlib.sha1(f"visibility:{token}".encode()).digest()
    u, v = (int.from_bytes(digest[i : i + 8], "big") / 2**64 for i in (0, 8))
    if u < LATE_VISIBILITY_SHARE:
        return timedelta(hours=1 + v * (LATE_VISIBILITY_HOURS - 1))
    return timedelta(seconds=v * PROMPT_VISIBILITY_SECONDS)


def responses(
    accounts: Iterable[Account], window: Window, seed: int, form_id: str, cutoff: datetime
) -> tuple[list[dict], list[dict]]:
    """(typeform rows, csv rows) submitted before the cut-off."""
    typeform, csv_rows = [], []
    waves = []
    year, month = window.start.year, window.start.month
    while datetime(year, month, 1, tzinfo=UTC).date() < window.end:
        if month in WAVE_MONTHS:
            waves.append(datetime(year, month, 12, 9, tzinfo=UTC))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    for account in accounts:
        rng = random.Random(f"csops-surveys:{seed}:{account.num}")
        paid_spans = [
            (paid[0].start, sub.ended_at)
            for sub in account.subscriptions
            if (paid := [p for p in sub.periods if not p.is_trial])
        ]
        # Waves in time order, each drawing the same whatever comes later: stopping at the cut-off is safe.
        for wave in waves:
            if wave >= cutoff:
                break
            paid_since = None
            for first_paid, ended_at in paid_spans:
                if first_paid <= wave and (ended_at is None or ended_at > wave):
                    paid_since = first_paid
            for k in range(account.contacts):
                answered = rng.random() < (0.55 if k == 0 else 0.3)
                submitted = wave + timedelta(seconds=rng.uniform(0, 10 * 86400))
                h = account.outlook_at(submitted, window)
                score = int(min(10, max(0, round(2 + 9 * h + rng.gauss(0, 1.4)))))
                comment_roll, channel_roll = rng.random(), rng.random()
                if score <= 6:
                    comment = rng.choice(DETRACTOR_COMMENTS) if comment_roll < 0.8 else None
                elif score <= 8:
                    comment = rng.choice(PASSIVE_COMMENTS) if comment_roll < 0.3 else None
                else:
                    comment = rng.choice(PROMOTER_COMMENTS) if comment_roll < 0.4 else None
                champion_gone = k == 0 and account.champion_left and account.champion_left[0][0] < submitted
                if not answered or champion_gone or paid_since is None or wave - paid_since < timedelta(days=45):
                    continue
                if submitted >= cutoff:
                    continue
                email = contact_name(seed, account.num, k)[2]
                row = {
                    "account_id": account.account_id,
                    "email": email,
                    "score": score,
                    "comment": comment,
                    "submitted_at": submitted,
                    "contact_id": str(CONTACT_ID_BASE + account.num * 100 + k),
                }
                token = hashlib.sha1(f"{seed}:{account.num}:{k}:{wave.isoformat()}".encode()).hexdigest()[:32]
                if channel_roll < 0.8:
                    typeform.append(
                        {
                            "response_id": token,
                            "form_id": form_id,
                            "landed_at": submitted - timedelta(seconds=rng.randint(20, 400)),
                            **row,
                            "visible_at": submitted + visibility_lag(token),
                        }
                    )
                else:
                    csv_rows.append({"response_id": f"ext-{token[:16]}", **row})
    return typeform, csv_rows
