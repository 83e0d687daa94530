"""The untidy parts of a real CRM, laid over the rendered HubSpot tables: records deleted (archived), duplicates
merged into a survivor, and contacts, deals and tickets associated with several companies under labels.

Every draw comes from a stream of (seed, record) and every time is fixed in simulated history, so what a cut-off
shows depends only on the cut-off (`advance` stays byte-identical to `generate`). The records added here are extra
ones (a spam ticket, a duplicate contact...), never the simulation's own, so MRR and health do not move: a
pipeline that drops deleted records and follows merges sees the company the simulation made.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sandbox.generator.crm import COMPANY_ID_BASE, CONTACT_ID_BASE, DEAL_ID_BASE, TICKET_ID_BASE

# Extra record numbers inside each account's id block (ids = BASE + account number * block + k).
DUPLICATE_COMPANY_BASE = COMPANY_ID_BASE + 800_000_000  # + account number
JUNK_COMPANY_BASE = COMPANY_ID_BASE + 900_000_000  # + account number
CONTACT_K = {"duplicate": 99, "junk": 98, "on_duplicate_company": 97}
DEAL_K = {"duplicate": 999, "junk": 998}
TICKET_K = {"duplicate": 9999, "spam": 9998, "on_duplicate_company": 9997}

# Shares of accounts with each untidy story.
SHARES = {"company_merge": 0.06, "junk_company": 0.05, "contact_merge": 0.06, "junk_contact": 0.04}
SHARES |= {"deal_merge": 0.04, "junk_deal": 0.04, "ticket_merge": 0.05, "spam_ticket": 0.06}
MULTI_COMPANY_SHARE = 0.08  # records associated with more than one company
NO_PRIMARY_SHARE = 0.03  # records whose companies carry no primary label

# HubSpot-defined association types (object -> company): primary, unlabeled; and one user-defined label each.
PRIMARY_TYPES = {"contacts": (1, 279), "deals": (5, 341), "tickets": (339, 26)}
USER_LABELS = {"contacts": (3001, "Billing contact"), "deals": (3003, "Reseller"), "tickets": (3005, "Affected site")}
MODIFIED = {"contacts": "lastmodifieddate", "deals": "hs_lastmodifieddate", "tickets": "hs_lastmodifieddate"}


class Untidy:
    """Applies deletes, merges and multi-company associations to `tables` (CrmRenderer output) as of `cutoff`."""

    def __init__(self, seed: int, cutoff: datetime, tables: dict[str, list[dict]]):
        self.seed, self.cutoff, self.tables = seed, cutoff, tables
        self.merges: list[dict] = []
        self.deletions: list[dict] = []

    def rng(self, kind: str, key: object) -> random.Random:
        return random.Random(f"csops-untidy:{self.seed}:{kind}:{key}")

    def visible(self, moment: datetime) -> bool:
        return moment < self.cutoff

    def apply(self) -> dict[str, list[dict]]:
        self.by_account: dict[str, dict[int, list[dict]]] = {}
        for table, (base, block) in BLOCKS.items():
            index: dict[int, list[dict]] = {}
            for row in self.tables[table]:
                index.setdefault((int(row["id"]) - base) // block, []).append(row)
            self.by_account[table] = index
        companies = [c for c in self.tables["hubspot_companies"] if c["account_id"]]
        for company in companies:
            num = int(company["id"]) - COMPANY_ID_BASE
            self.company_merge(num, company)
            self.junk_company(num, company)
            self.contact_stories(num)
            self.deal_stories(num)
            self.ticket_stories(num)
        for name in ("hubspot_companies", "hubspot_contacts", "hubspot_deals", "hubspot_tickets"):
            self.tables[name].sort(key=lambda r: int(r["id"]))
        merged = {}
        for m in self.merges:
            merged.setdefault(m["survivor_id"], []).append(m["loser_id"])
        for name in ("hubspot_companies", "hubspot_contacts", "hubspot_deals", "hubspot_tickets"):
            for row in self.tables[name]:
                losers = merged.get(row["id"])
                row["hs_merged_object_ids"] = ";".join(sorted(losers, key=int)) if losers else None
        self.tables["hubspot_company_associations"] = self.associations()
        self.tables["hubspot_merges"] = self.merges
        self.tables["hubspot_deletions"] = self.deletions
        return self.tables

    # ------------------------------------------------------------------------------------------------ helpers
    def _archive(self, object_type: str, row: dict, modified: str, archived_at: datetime) -> None:
        """A deleted record: served only with `archived=true`, its archive time its last modification."""
        if self.visible(archived_at):
            row["archived"] = True
            row[modified] = archived_at
            self.deletions.append({"object_type": object_type, "object_id": row["id"], "archived_at": archived_at})

    def _merge(self, object_type: str, survivor: dict, loser: dict, modified: str, merged_at: datetime) -> bool:
        """After `merged_at` the loser is gone (its id resolves to the survivor), the survivor was modified."""
        if not self.visible(merged_at):
            return False
        survivor[modified] = max(survivor[modified], merged_at)
        self.merges.append(
            {"object_type": object_type, "loser_id": loser["id"], "survivor_id": survivor["id"], "merged_at": merged_at}
        )
        return True

    def _rows(self, table: str, num: int) -> list[dict]:
        """The simulation's own records of account `num` (indexed before any extra record was added)."""
        return self.by_account[table].get(num, [])

    # ---------------------------------------------------------------------------------------------- companies
    def company_merge(self, num: int, company: dict) -> None:
        """A rep creates the company again (no account id); a contact and a ticket land on the duplicate; it is
        merged into the real one, which then holds them."""
        rng = self.rng("company_merge", num)
        if rng.random() >= SHARES["company_merge"]:
            return
        created = company["createdate"] + timedelta(days=rng.randint(5, 120), hours=rng.randint(0, 8))
        merged_at = created + timedelta(days=rng.randint(20, 120))
        if not self.visible(created):
            return
        duplicate = dict(company, id=str(DUPLICATE_COMPANY_BASE + num), account_id=None, createdate=created)
        duplicate |= {
            "name": f"{company['name']} (duplicate)",
            "lifecyclestage": "lead",
            "hs_lastmodifieddate": created,
        }
        merged = self._merge("companies", company, duplicate, "hs_lastmodifieddate", merged_at)
        if not merged:
            self.tables["hubspot_companies"].append(duplicate)
        owner = company["hubspot_owner_id"]
        holder = company["id"] if merged else duplicate["id"]  # the merge moves the associations to the survivor
        contact_created = created + timedelta(hours=1)
        if self.visible(contact_created):
            k = CONTACT_K["on_duplicate_company"]
            self.tables["hubspot_contacts"].append(self._contact(num, k, holder, contact_created))
        ticket_created = created + timedelta(hours=2)
        if self.visible(ticket_created):
            closed = ticket_created + timedelta(hours=rng.randint(2, 30))
            ticket = self._ticket(num, TICKET_K["on_duplicate_company"], holder, owner, ticket_created, closed)
            self.tables["hubspot_tickets"].append(ticket)

    def junk_company(self, num: int, company: dict) -> None:
        """A second company with the same account id, created by mistake and deleted: never the account's."""
        rng = self.rng("junk_company", num)
        if rng.random() >= SHARES["junk_company"]:
            return
        created = company["createdate"] + timedelta(days=rng.randint(30, 400), hours=rng.randint(0, 8))
        archived_at = created + timedelta(days=rng.randint(2, 20))
        if not self.visible(created):
            return
        junk = dict(company, id=str(JUNK_COMPANY_BASE + num), createdate=created, hs_lastmodifieddate=created)
        junk |= {"name": f"{company['name']} (import)", "lifecyclestage": "lead"}
        self._archive("companies", junk, "hs_lastmodifieddate", archived_at)
        self.tables["hubspot_companies"].append(junk)

    # ----------------------------------------------------------------------------------- contacts, deals, tickets
    def _contact(self, num: int, k: int, company_id: str, created: datetime) -> dict:
        email = f"contact.{k}@acc{num:06d}.example.com"
        return {
            "id": str(CONTACT_ID_BASE + num * 100 + k),
            "company_id": company_id,
            "email": email,
            "firstname": "Pat",
            "lastname": f"Doe{k}",
            "jobtitle": "Engineer",
            "cs_is_champion": "false",
            "cs_left_company": "false",
            "cs_left_company_date": None,
            "createdate": created,
            "lastmodifieddate": created,
            "archived": False,
        }

    def _ticket(self, num: int, k: int, company_id: str, owner: str, created: datetime, closed: datetime) -> dict:
        is_closed = self.visible(closed)
        return {
            "id": str(TICKET_ID_BASE + num * 10_000 + k),
            "company_id": company_id,
            "subject": "Question about invoice",
            "content": "Sent twice by mistake.",
            "hs_pipeline": "0",
            "hs_pipeline_stage": "4" if is_closed else "1",
            "hs_ticket_priority": "LOW",
            "closed_date": closed if is_closed else None,
            "hubspot_owner_id": owner,
            "createdate": created,
            "hs_lastmodifieddate": closed if is_closed else created,
            "archived": False,
        }

    def _copy_and_merge(self, object_type: str, num: int, survivor: dict, k: int, block: int, base: int) -> None:
        """A duplicate of `survivor` created a little later and merged into it some days after."""
        modified = MODIFIED[object_type]
        rng = self.rng(f"{object_type}_merge", survivor["id"])
        created = survivor["createdate"] + timedelta(hours=rng.randint(1, 72))
        merged_at = created + timedelta(days=rng.randint(1, 20))
        if not self.visible(created):
            return
        duplicate = dict(survivor, id=str(base + num * block + k), createdate=created)
        duplicate[modified] = created
        if object_type == "contacts":  # added again by a rep, with another address and none of the CS flags
            duplicate |= {"email": f"dup.{duplicate['email']}", "cs_is_champion": "false", "cs_left_company": "false"}
            duplicate["cs_left_company_date"] = None
        if not self._merge(object_type, survivor, duplicate, modified, merged_at):
            self.tables[f"hubspot_{object_type}"].append(duplicate)

    def _junk(self, object_type: str, row: dict, rng: random.Random) -> None:
        created = row["createdate"]
        if not self.visible(created):
            return
        self._archive(object_type, row, MODIFIED[object_type], created + timedelta(hours=rng.randint(1, 200)))
        self.tables[f"hubspot_{object_type}"].append(row)

    def contact_stories(self, num: int) -> None:
        contacts = self._rows("hubspot_contacts", num)
        first = min(contacts, key=lambda r: int(r["id"]), default=None)
        if first is None:
            return
        if self.rng("contact_merge", num).random() < SHARES["contact_merge"]:
            self._copy_and_merge("contacts", num, first, CONTACT_K["duplicate"], 100, CONTACT_ID_BASE)
        rng = self.rng("junk_contact", num)
        if rng.random() < SHARES["junk_contact"]:
            created = first["createdate"] + timedelta(days=rng.randint(1, 300))
            self._junk("contacts", self._contact(num, CONTACT_K["junk"], first["company_id"], created), rng)

    def deal_stories(self, num: int) -> None:
        deals = self._rows("hubspot_deals", num)
        first = min(deals, key=lambda r: int(r["id"]), default=None)
        if first is None:
            return
        if self.rng("deal_merge", num).random() < SHARES["deal_merge"]:
            self._copy_and_merge("deals", num, first, DEAL_K["duplicate"], 1000, DEAL_ID_BASE)
        rng = self.rng("junk_deal", num)
        if rng.random() < SHARES["junk_deal"]:
            created = first["createdate"] + timedelta(days=rng.randint(1, 300))
            junk = dict(first, id=str(DEAL_ID_BASE + num * 1000 + DEAL_K["junk"]), createdate=created)
            junk |= {
                "dealname": "Test deal",
                "amount": 0.0,
                "dealstage": "qualifiedtobuy",
                "hs_lastmodifieddate": created,
            }
            self._junk("deals", junk, rng)

    def ticket_stories(self, num: int) -> None:
        tickets = self._rows("hubspot_tickets", num)
        own = [t for t in tickets if int(t["id"]) % 10_000 < TICKET_K["on_duplicate_company"]]
        first = min(own, key=lambda r: int(r["id"]), default=None)
        if first is None:
            return
        if self.rng("ticket_merge", num).random() < SHARES["ticket_merge"]:
            self._copy_and_merge("tickets", num, first, TICKET_K["duplicate"], 10_000, TICKET_ID_BASE)
        rng = self.rng("spam_ticket", num)
        if rng.random() < SHARES["spam_ticket"]:
            created = first["createdate"] + timedelta(days=rng.randint(1, 300))
            spam = self._ticket(num, TICKET_K["spam"], first["company_id"], first["hubspot_owner_id"], created, created)
            spam |= {"subject": "You won a prize", "content": "Spam.", "hs_pipeline_stage": "1", "closed_date": None}
            spam["hs_lastmodifieddate"] = created
            self._junk("tickets", spam, rng)

    # ------------------------------------------------------------------------------------------- associations
    def associations(self) -> list[dict]:
        """Every live contact, deal and ticket -> company association with its types (one row per type).

        Most records have one company, labelled Primary. Some have one or two more (lower company ids, so they
        come first in HubSpot's list, with the unlabeled type and sometimes a user-defined label); a few have no
        primary label at all (their extra companies then have higher ids)."""
        live_companies = {c["id"] for c in self.tables["hubspot_companies"] if not c["archived"]}
        rows: list[dict] = []
        for object_type, (primary, unlabeled) in PRIMARY_TYPES.items():
            label_type, label = USER_LABELS[object_type]
            for record in self.tables[f"hubspot_{object_type}"]:
                own = record["company_id"]
                if record["archived"] or own not in live_companies:
                    continue
                rng = self.rng(f"associations:{object_type}", record["id"])
                has_primary = rng.random() >= NO_PRIMARY_SHARE
                extras: list[str] = []
                if rng.random() < MULTI_COMPANY_SHARE:
                    num = int(own) - COMPANY_ID_BASE
                    for _ in range(rng.randint(1, 2)):
                        other = rng.randint(1, max(num - 1, 1)) if has_primary else num + rng.randint(1, 50)
                        extras.append(str(COMPANY_ID_BASE + other))
                    with_label = rng.random() < 0.5
                else:
                    with_label = False
                links = [(own, [primary, unlabeled] if has_primary else [unlabeled], None)]
                for other in dict.fromkeys(extras):
                    if other != own and other in live_companies:
                        links.append((other, [unlabeled] + ([label_type] if with_label else []), None))
                for company_id, types, _ in links:
                    for type_id in types:
                        rows.append(
                            {
                                "object_type": object_type,
                                "object_id": record["id"],
                                "company_id": company_id,
                                "type_id": type_id,
                                "category": "USER_DEFINED" if type_id == label_type else "HUBSPOT_DEFINED",
                                "label": {primary: "Primary", label_type: label}.get(type_id),
                            }
                        )
        return rows


BLOCKS = {
    "hubspot_contacts": (CONTACT_ID_BASE, 100),
    "hubspot_deals": (DEAL_ID_BASE, 1000),
    "hubspot_tickets": (TICKET_ID_BASE, 10_000),
}


def crm_truth(tables: dict[str, list[dict]], deletions: list[dict]) -> dict[str, list[dict]]:
    """Ground truth of the untidy CRM: deletions, merges, and the company each live contact, deal and ticket is
    attributed to — its Primary company, else (no primary label) the lowest company id (DECISIONLOG)."""
    per_record: dict[tuple[str, str], dict[str, list]] = {}
    for row in tables["hubspot_company_associations"]:
        links = per_record.setdefault((row["object_type"], row["object_id"]), {"all": [], "primary": []})
        links["all"].append(row["company_id"])
        if row["label"] == "Primary" and row["category"] == "HUBSPOT_DEFINED":
            links["primary"].append(row["company_id"])
    attribution = [
        {
            "object_type": object_type,
            "object_id": object_id,
            "company_id": links["primary"][0] if links["primary"] else min(links["all"], key=int),
            "has_primary_label": bool(links["primary"]),
            "companies": len(set(links["all"])),
        }
        for (object_type, object_id), links in sorted(per_record.items())
    ]
    return {
        "hubspot_deletions": deletions,
        "hubspot_merges": tables["hubspot_merges"],
        "hubspot_company_attribution": attribution,
    }
