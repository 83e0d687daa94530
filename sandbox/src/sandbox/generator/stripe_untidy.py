"""The Stripe customers the simulated company deletes (`DELETE /v1/customers/{id}`), decided per account from a
stream of (seed, account), so what a cut-off shows depends only on the cut-off.

Three stories, each as Stripe plays it (the customer leaves `GET /v1/customers`, a retrieve answers
`{"id", "object": "customer", "deleted": true}`, a `customer.deleted` event carries its last state):
- erased: a churned account's customer deleted weeks or months after its last subscription ended (a data-erasure
  request); its canceled subscriptions and invoices stay, naming the deleted customer.
- deleted_while_active: the customer deleted while its subscription ran, which cancels that subscription at once
  (Stripe cancels every subscription of a deleted customer): the simulation's immediate cancellations that end an
  account's billing are told this way, so the truth's churn is the deletion.
- duplicate: a second customer created for the account by mistake (same account id) and deleted days later,
  never billed.
Prices archived and coupons deleted are dated in billing.py (PRICE_BOOK_CHANGED, COUPONS_DELETED).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sandbox.generator.company import Account

ERASED_SHARE = 0.4  # of accounts whose billing ended
DELETED_WHILE_ACTIVE_SHARE = 0.6  # of accounts whose billing ended by an immediate cancellation
DUPLICATE_SHARE = 0.05  # of accounts


@dataclass(frozen=True)
class CustomerDeletion:
    story: str  # erased | deleted_while_active | duplicate
    deleted_at: datetime
    created: datetime | None = None  # duplicates only: when the extra customer was created


def _rng(seed: int, story: str, num: int) -> random.Random:
    return random.Random(f"csops-stripe-untidy:{seed}:{story}:{num}")


def main_customer_deletion(seed: int, account: Account) -> CustomerDeletion | None:
    """When (and why) the account's own customer is deleted, if it ever is."""
    if not account.subscriptions:
        return None
    last = account.subscriptions[-1]
    if last.ended_at is None:
        return None
    immediate = last.end_reason == "cancellation_requested" and last.ended_at == last.cancel_requested_at
    if immediate and _rng(seed, "deleted_while_active", account.num).random() < DELETED_WHILE_ACTIVE_SHARE:
        return CustomerDeletion("deleted_while_active", last.ended_at)
    rng = _rng(seed, "erased", account.num)
    if rng.random() < ERASED_SHARE:
        return CustomerDeletion("erased", last.ended_at + timedelta(days=rng.randint(20, 200), hours=rng.randint(0, 9)))
    return None


def duplicate_customer(seed: int, account: Account) -> CustomerDeletion | None:
    """A customer created by mistake for the account, and when it was deleted."""
    rng = _rng(seed, "duplicate", account.num)
    if rng.random() >= DUPLICATE_SHARE:
        return None
    created = account.signup + timedelta(days=rng.randint(1, 60), hours=rng.randint(1, 9))
    return CustomerDeletion("duplicate", created + timedelta(days=rng.randint(1, 6)), created=created)
