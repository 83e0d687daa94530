"""HubSpot's view of the simulated company: CSM owners, companies, contacts (champions), deals, tickets,
touches.

Every object carries the times its properties changed; rendering keeps objects created before the cut-off with
the property values and `hs_lastmodifieddate` they had then, so advancing time shows updates the way HubSpot
would.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from datetime import datetime, timedelta

from sandbox.generator.billing import period_mrr_local
from sandbox.generator.company import SEGMENT_PROFILE, SEGMENTS, Account, Window

COMPANY_ID_BASE = 9_000_000_000
CONTACT_ID_BASE = 51_000_000_000
DEAL_ID_BASE = 22_000_000_000
TICKET_ID_BASE = 3_100_000_000
ENGAGEMENT_ID_BASE = 60_000_000_000
OWNER_ID_BASE = 81_000_000
LEAD_DAYS_MAX = 60  # a company is created in the CRM up to this many days before its account signs up
TEAMS = {"enterprise": "Enterprise CS", "mid_market": "Mid-Market CS", "smb": "SMB CS"}

FIRST = (
    "Ava",
    "Ben",
    "Chloe",
    "Dan",
    "Elena",
    "Farid",
    "Grace",
    "Hugo",
    "Ines",
    "Jon",
    "Kira",
    "Liam",
    "Maya",
    "Noah",
    "Olga",
    "Pablo",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
    "Umar",
    "Vera",
    "Will",
    "Xia",
    "Yusuf",
    "Zoe",
)
LAST = (
    "Adams",
    "Bauer",
    "Costa",
    "Dubois",
    "Evans",
    "Fischer",
    "Garcia",
    "Hansen",
    "Ito",
    "Jensen",
    "Kowalski",
    "Larsen",
    "Moreau",
    "Novak",
    "Okafor",
    "Patel",
    "Quinn",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Ueda",
    "Varga",
)
NAME_A = (
    "Blue",
    "North",
    "Bright",
    "Swift",
    "Iron",
    "Silver",
    "Green",
    "Clear",
    "Bold",
    "Prime",
    "Quiet",
    "Red",
    "Summit",
    "Harbor",
    "Atlas",
    "Nova",
    "Cedar",
    "Pioneer",
    "Lumen",
    "Vertex",
)
NAME_B = (
    "Rock",
    "Wave",
    "Leaf",
    "Forge",
    "Field",
    "Bridge",
    "Path",
    "Peak",
    "Stone",
    "River",
    "Sky",
    "Works",
    "Labs",
    "Point",
    "Gate",
    "Line",
    "Loop",
    "Yard",
    "Mill",
    "Hive",
)
SUFFIX = ("Inc", "Ltd", "GmbH", "Group", "Co", "Systems", "Partners", "Technologies")
INDUSTRIES = (
    "COMPUTER_SOFTWARE",
    "FINANCIAL_SERVICES",
    "HOSPITAL_HEALTH_CARE",
    "RETAIL",
    "MARKETING_AND_ADVERTISING",
    "LOGISTICS_AND_SUPPLY_CHAIN",
    "EDUCATION_MANAGEMENT",
    "INSURANCE",
)
EMPLOYEES = {"enterprise": (1000, 20000), "mid_market": (100, 999), "smb": (5, 99)}
TITLES = (
    "Head of Operations",
    "VP Customer Experience",
    "Data Analyst",
    "Operations Manager",
    "CFO",
    "Finance Manager",
    "Product Manager",
    "Engineer",
    "Team Lead",
    "Director of Sales",
)
TICKET_SUBJECTS = (
    ("Dashboard loads slowly", "Our main dashboard takes over a minute to load."),
    ("Export to CSV fails", "Exporting the monthly report fails with an error."),
    ("SSO login problem", "Several users cannot log in through SSO since this morning."),
    ("Integration sync stopped", "The Salesforce integration stopped syncing two days ago."),
    ("Question about invoice", "We were charged for more seats than we use."),
    ("Data looks wrong", "Numbers in the revenue report do not match our source system."),
    ("How do I set up alerts?", "Looking for guidance on threshold alerts."),
    ("API rate limit errors", "Our nightly job hits 429 errors from the API."),
)
NOTE_BODIES = (
    "Quarterly business review: walked through adoption and goals.",
    "Check-in call: discussed open tickets and the roadmap.",
    "Onboarding session: connected the first integration together.",
    "Renewal conversation: budget owner asked about pricing.",
    "Training for new team members on dashboards and alerts.",
)


def contact_name(seed: int, num: int, k: int) -> tuple[str, str, str]:
    """(first name, last name, email) of an account's k-th contact; shared with the survey simulation."""
    rng = random.Random(f"csops-contact:{seed}:{num}:{k}")
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return first, last, f"{first.lower()}.{last.lower()}.{k}@acc{num:06d}.example.com"


def poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method; fine for the small rates used here."""
    if lam <= 0:
        return 0
    threshold, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= threshold:
            return k
        k += 1


def csm_owners(seed: int, accounts_per_segment: dict[str, int], start: datetime) -> dict[str, list[dict]]:
    """CSMs per segment team, enough for the book-size targets, with unequal books (weights).

    Sized from the scale's nominal accounts, never from the accounts visible at a cut-off: the team is the
    same whatever today is (books grow as the company grows).
    """
    rng = random.Random(f"csops-owners:{seed}")
    owners: dict[str, list[dict]] = {}
    index = 0
    for segment in SEGMENTS:
        count = max(1, math.ceil(accounts_per_segment.get(segment, 0) / SEGMENT_PROFILE[segment]["book"]))
        owners[segment] = []
        for _ in range(count):
            index += 1
            first, last = rng.choice(FIRST), rng.choice(LAST)
            owners[segment].append(
                {
                    "id": str(OWNER_ID_BASE + index),
                    "email": f"{first.lower()}.{last.lower()}{index}@acme-analytics.example",
                    "firstName": first,
                    "lastName": last,
                    "userId": 4_000_000 + index,
                    "team": TEAMS[segment],
                    "createdAt": start - timedelta(days=rng.randint(30, 400)),
                    "updatedAt": start,
                    "archived": False,
                    "weight": rng.uniform(0.5, 1.6),
                }
            )
    return owners


def owner_for(account: Account, owners: dict[str, list[dict]]) -> dict:
    team = owners[account.segment]
    total = sum(o["weight"] for o in team)
    u = (account.owner_index / 10**6) * total
    for owner in team:
        u -= owner["weight"]
        if u <= 0:
            return owner
    return team[-1]


class CrmRenderer:
    """Rows of every HubSpot table as of `cutoff`; draws depend only on (seed, account), never on the
    cut-off."""

    def __init__(self, seed: int, window: Window, cutoff: datetime, owners: dict[str, list[dict]]):
        self.seed, self.window, self.cutoff, self.owners = seed, window, cutoff, owners
        self.tables: dict[str, list[dict]] = {
            name: []
            for name in (
                "hubspot_companies",
                "hubspot_contacts",
                "hubspot_deals",
                "hubspot_tickets",
                "hubspot_engagements",
            )
        }

    def visible(self, moment: datetime | None) -> bool:
        return moment is not None and moment < self.cutoff

    def stream(self, kind: str, num: int) -> random.Random:
        return random.Random(f"csops-crm:{self.seed}:{num}:{kind}")

    def render(self, accounts: Iterable[Account]) -> dict[str, list[dict]]:
        # One random stream per account and object kind, and every draw made whether or not the object is
        # visible yet: what a later cut-off reveals never changes what an earlier one showed.
        for account in accounts:

            def rng(kind: str, num: int = account.num) -> random.Random:
                return self.stream(kind, num)

            owner = owner_for(account, self.owners)
            self.company(rng("company"), account, owner)
            self.contacts(rng("contacts"), account)
            self.deals(rng("deals"), account, owner)
            active = self.active_spans(account)
            self.tickets(rng("tickets"), account, owner, active)
            self.engagements(rng("engagements"), account, owner, active)
        return self.tables

    @staticmethod
    def active_spans(account: Account) -> list[tuple[datetime, datetime]]:
        spans = []
        for sub in account.subscriptions:
            end = sub.ended_at or sub.periods[-1].end
            spans.append((sub.created, end))
        return spans

    def company(self, rng: random.Random, account: Account, owner: dict) -> None:
        created = account.signup - timedelta(days=rng.randint(3, LEAD_DAYS_MAX), hours=rng.randint(0, 9))
        name = f"{rng.choice(NAME_A)}{rng.choice(NAME_B)} {rng.choice(SUFFIX)}"
        domain = f"{name.split()[0].lower()}-{account.num}.example.com"
        industry = rng.choice(INDUSTRIES)
        employees = rng.randint(*EMPLOYEES[account.segment])
        stages = [(created, "lead"), (account.signup, "opportunity")]
        for sub in account.subscriptions:
            paid = [p for p in sub.periods if not p.is_trial]
            if paid:
                stages.append((paid[0].start, "customer"))
            if sub.ended_at is not None and paid:
                stages.append((sub.ended_at, "other"))
        if not self.visible(created):
            return
        seen = [(t, s) for t, s in stages if self.visible(t)]
        self.tables["hubspot_companies"].append(
            {
                "id": str(COMPANY_ID_BASE + account.num),
                "name": name,
                "domain": domain,
                "industry": industry,
                "numberofemployees": employees,
                "country": account.country,
                "lifecyclestage": seen[-1][1],
                "hubspot_owner_id": owner["id"],
                "account_id": account.account_id,
                "cs_segment": account.segment,
                "createdate": created,
                "hs_lastmodifieddate": max(t for t, _ in seen),
                "archived": False,
            }
        )

    def contacts(self, rng: random.Random, account: Account) -> None:
        company_id = str(COMPANY_ID_BASE + account.num)
        people = []
        for k in range(account.contacts):
            created = (
                account.signup - timedelta(days=rng.randint(0, 20))
                if k < 2
                else (account.signup + timedelta(days=rng.randint(1, 200), hours=rng.randint(0, 10)))
            )
            people.append(
                {
                    "created": created,
                    "k": k,
                    "title": TITLES[0] if k == 0 else rng.choice(TITLES[1:]),
                    "champion_since": created if k == 0 else None,
                    "left": None,
                }
            )
        champion = 0
        for left, replaced in account.champion_left:
            people[champion]["left"] = left
            if replaced is None:
                break
            people.append(
                {
                    "created": replaced,
                    "k": len(people),
                    "title": rng.choice(TITLES[:3]),
                    "champion_since": replaced,
                    "left": None,
                }
            )
            champion = len(people) - 1
        for k, person in enumerate(people):
            if not self.visible(person["created"]):
                continue
            left = person["left"] if self.visible(person["left"]) else None
            changes = [person["created"]] + ([left] if left else [])
            first, last, email = contact_name(self.seed, account.num, k)
            self.tables["hubspot_contacts"].append(
                {
                    "id": str(CONTACT_ID_BASE + account.num * 100 + k),
                    "company_id": company_id,
                    "email": email,
                    "firstname": first,
                    "lastname": last,
                    "jobtitle": person["title"],
                    "cs_is_champion": "true" if person["champion_since"] else "false",
                    "cs_left_company": "true" if left else "false",
                    "cs_left_company_date": left.date() if left else None,
                    "createdate": person["created"],
                    "lastmodifieddate": max(changes),
                    "archived": False,
                }
            )

    def deals(self, rng: random.Random, account: Account, owner: dict) -> None:
        company_id = str(COMPANY_ID_BASE + account.num)
        count = 0

        def add(name, kind, dealtype, amount, created, closedate, won):
            nonlocal count
            count += 1
            open_stage = rng.choice(("qualifiedtobuy", "presentationscheduled", "contractsent"))
            if not self.visible(created):
                return
            closed = self.visible(closedate)
            stage = ("closedwon" if won else "closedlost") if closed else open_stage
            self.tables["hubspot_deals"].append(
                {
                    "id": str(DEAL_ID_BASE + account.num * 1000 + count),
                    "company_id": company_id,
                    "dealname": f"{account.account_id} – {name}",
                    "amount": round(amount, 2),
                    "dealstage": stage,
                    "pipeline": "default",
                    "dealtype": dealtype,
                    "cs_deal_kind": kind,
                    "closedate": closedate,
                    "hubspot_owner_id": owner["id"],
                    "createdate": created,
                    "hs_lastmodifieddate": closedate if closed else created,
                    "archived": False,
                }
            )

        # In time order within each subscription (expansion, then renewal, per period): deal numbers stay
        # stable when later periods are simulated.
        for sub in account.subscriptions:
            paid = [p for p in sub.periods if not p.is_trial]
            created = sub.created - timedelta(days=rng.randint(5, 40))
            if not paid:
                add("Trial", "new", "newbusiness", 0.0, created, sub.ended_at or sub.periods[-1].end, False)
                continue
            arr = period_mrr_local(account, sub, paid[0], True) * 12
            add(
                "New business" if sub.number == 1 else "Win-back",
                "new",
                "newbusiness" if sub.number == 1 else "existingbusiness",
                arr,
                created,
                paid[0].start,
                True,
            )
            for index, period in enumerate(paid):
                previous = paid[index - 1] if index else None
                if previous is not None and period.seats > previous.seats and account.segment != "smb":
                    delta = (
                        period_mrr_local(account, sub, period, False) - period_mrr_local(account, sub, previous, False)
                    ) * 12
                    add(
                        "Expansion",
                        "expansion",
                        "existingbusiness",
                        max(delta, 0.0),
                        period.start - timedelta(days=rng.randint(10, 30)),
                        period.start,
                        True,
                    )
                if sub.interval != "month":
                    renews = not (sub.ended_at is not None and sub.ended_at <= period.end)
                    add(
                        f"Renewal {period.end.date().isoformat()}",
                        "renewal",
                        "existingbusiness",
                        period_mrr_local(account, sub, period, False) * 12,
                        period.end - timedelta(days=90),
                        period.end,
                        renews,
                    )

    def tickets(self, rng: random.Random, account: Account, owner: dict, active) -> None:
        """Background tickets (more when health is low) and storms of high-priority ones.

        Three streams (times, storms, details per ticket in time order) so that simulating further only
        appends.
        """
        company_id = str(COMPANY_ID_BASE + account.num)
        storm_rng, detail_rng = self.stream("storms", account.num), self.stream("ticket-details", account.num)
        base = SEGMENT_PROFILE[account.segment]["tickets_per_month"]
        created_times: list[tuple[datetime, bool]] = []
        for start, end in active:
            moment = start
            while moment < end:
                h = account.outlook_at(moment, self.window)
                for _ in range(poisson(rng, base * (0.3 + 4.0 * (1 - h) ** 2))):
                    created_times.append((moment + timedelta(seconds=rng.uniform(0, 30 * 86400)), False))
                moment += timedelta(days=30)
        for storm in account.storms:
            if any(s <= storm < e for s, e in active):
                for _ in range(storm_rng.randint(5, 12)):
                    created_times.append((storm + timedelta(seconds=storm_rng.uniform(0, 7 * 86400)), True))
        created_times.sort()
        for k, (created, storm) in enumerate(created_times):
            if storm:
                priority = detail_rng.choice(("HIGH", "HIGH", "URGENT"))
            else:
                priority = detail_rng.choices(("LOW", "MEDIUM", "HIGH", "URGENT"), weights=(35, 45, 17, 3))[0]
            hours = math.exp(detail_rng.gauss(math.log(20 if priority in ("HIGH", "URGENT") else 48), 0.9))
            closed = created + timedelta(hours=hours)
            subject, content = detail_rng.choice(TICKET_SUBJECTS)
            open_stage = detail_rng.choice(("1", "2", "3"))
            touched = created + timedelta(minutes=detail_rng.randint(5, 300))
            if not self.visible(created):
                continue
            is_closed = self.visible(closed)
            self.tables["hubspot_tickets"].append(
                {
                    "id": str(TICKET_ID_BASE + account.num * 10_000 + k),
                    "company_id": company_id,
                    "subject": subject,
                    "content": content,
                    "hs_pipeline": "0",
                    "hs_pipeline_stage": "4" if is_closed else open_stage,
                    "hs_ticket_priority": priority,
                    "closed_date": closed if is_closed else None,
                    "hubspot_owner_id": owner["id"],
                    "createdate": created,
                    "hs_lastmodifieddate": closed if is_closed else min(touched, self.cutoff - timedelta(seconds=1)),
                    "archived": False,
                }
            )

    def engagements(self, rng: random.Random, account: Account, owner: dict, active) -> None:
        company_id = str(COMPANY_ID_BASE + account.num)
        base = SEGMENT_PROFILE[account.segment]["touches_per_month"] * min(1.3, owner["weight"] ** -0.5)
        k = 0
        for start, end in active:
            moment = start
            while moment < end:
                h = account.health_at(moment, self.window)
                # CSMs touch healthy accounts less often than troubled ones, but a neglected account drifts
                # too.
                for _ in range(poisson(rng, base * (1.0 + 0.6 * (h < 0.45)))):
                    when = moment + timedelta(seconds=rng.uniform(0, 30 * 86400))
                    kind = rng.choices(("notes", "calls", "meetings"), weights=(5, 3, 2))[0]
                    body = rng.choice(NOTE_BODIES)
                    k += 1
                    if when >= end or not self.visible(when):
                        continue
                    self.tables["hubspot_engagements"].append(
                        {
                            "id": str(ENGAGEMENT_ID_BASE + account.num * 10_000 + k),
                            "object_type": kind,
                            "company_id": company_id,
                            "contact_id": str(CONTACT_ID_BASE + account.num * 100),
                            "hubspot_owner_id": owner["id"],
                            "hs_timestamp": when,
                            "title": {
                                "notes": "Note",
                                "calls": "Check-in call",
                                "meetings": "Customer meeting",
                            }[kind],
                            "body": body,
                            "hs_createdate": when,
                            "hs_lastmodifieddate": when,
                            "archived": False,
                        }
                    )
                moment += timedelta(days=30)
