"""Stripe's rows of the simulated company: customers, subscriptions, items, discounts, invoices, lines and events
as the world's `stripe_*` tables hold them, as of a cut-off.

The generator side of Stripe: it writes rows (prices and ids from billing.py). The sandbox server turns those rows
into Stripe API objects (sandbox/server/stripe/api_objects.py).
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta

from sandbox.generator.billing import (
    ONBOARDING_FEE,
    OVERAGE_UNIT_PRICE,
    TAX_RATE,
    coupon_id,
    coupon_spec,
    discount_amount,
    discount_applies,
    price_id,
    stripe_id,
    unit_amount,
)
from sandbox.generator.calendar import unix
from sandbox.generator.company import Account, Period, Subscription
from sandbox.generator.stripe_untidy import CustomerDeletion, duplicate_customer, main_customer_deletion


def on_plan_since(sub: Subscription, period: Period) -> datetime:
    """When the subscription moved onto the plan `period` bills (its creation, or the renewal that changed plan):
    the price it bills is the one current then (billing.price_id)."""
    since, plan = sub.created, None
    for candidate in sub.periods:
        if plan is not None and candidate.plan != plan:
            since = candidate.start
        plan = candidate.plan
        if candidate is period:
            break
    return since


class StripeRowRenderer:
    """Builds the rows of every Stripe table for the accounts, keeping what happened before `cutoff`."""

    def __init__(self, seed: int, cutoff: datetime):
        self.seed = seed
        self.cutoff = cutoff
        self.tables: dict[str, list[dict]] = {
            name: []
            for name in (
                "stripe_customers",
                "stripe_subscriptions",
                "stripe_subscription_items",
                "stripe_discounts",
                "stripe_invoices",
                "stripe_invoice_lines",
                "stripe_events",
                "stripe_deletions",
            )
        }
        self._invoice_number = 0  # per customer, like Stripe's customer invoice prefix sequence

    def visible(self, moment: datetime | None) -> bool:
        return moment is not None and moment < self.cutoff

    def event(self, moment: datetime, kind: str, object_type: str, object_id: str, previous=None) -> None:
        if self.visible(moment):
            self.tables["stripe_events"].append(
                {
                    "id": stripe_id("evt", self.seed, kind, object_id, moment.isoformat()),
                    "type": kind,
                    "created": unix(moment),
                    "object_type": object_type,
                    "object_id": object_id,
                    "previous_attributes": json.dumps(previous or {}),
                }
            )

    def render_account(self, account: Account) -> None:
        if not self.visible(account.signup):
            return
        seed = self.seed
        self._invoice_number = 0
        customer = stripe_id("cus", seed, account.num)
        customer_events = [account.signup]
        delinquent = False
        self.event(account.signup, "customer.created", "customer", customer)
        for sub in account.subscriptions:
            if not self.visible(sub.created):
                continue
            delinquent |= self.render_subscription(account, customer, sub, customer_events)
        self._customer(
            account, customer, account.signup, delinquent, customer_events, main_customer_deletion(seed, account)
        )
        duplicate = duplicate_customer(seed, account)
        if duplicate is not None and self.visible(duplicate.created):
            extra = stripe_id("cus", seed, account.num, "duplicate")
            self.event(duplicate.created, "customer.created", "customer", extra)
            self._customer(account, extra, duplicate.created, False, [duplicate.created], duplicate)

    def _customer(
        self,
        account: Account,
        customer: str,
        created: datetime,
        delinquent: bool,
        touched: list[datetime],
        deletion: CustomerDeletion | None,
    ) -> None:
        """The customer's row; a deletion before the cut-off stamps `deleted_at`, emits `customer.deleted` and is
        recorded for the truth."""
        deleted_at = deletion.deleted_at if deletion is not None and self.visible(deletion.deleted_at) else None
        if deleted_at is not None:
            self.event(deleted_at, "customer.deleted", "customer", customer)
            touched = [*touched, deleted_at]
            self.tables["stripe_deletions"].append(
                {
                    "object_type": "customer",
                    "object_id": customer,
                    "account_id": account.account_id,
                    "story": deletion.story,
                    "deleted_at": deleted_at,
                }
            )
        self.tables["stripe_customers"].append(
            {
                "id": customer,
                "account_id": account.account_id,
                "name": f"Customer {account.account_id}",
                "email": f"billing@{account.account_id.replace('_', '')}.example.com",
                "currency": account.currency.lower(),
                "created": unix(created),
                "address_country": account.country,
                "delinquent": delinquent,
                "updated": unix(max(touched)),
                "deleted_at": unix(deleted_at),
            }
        )

    def render_subscription(self, account: Account, customer: str, sub: Subscription, touched: list) -> bool:
        seed, currency = self.seed, account.currency
        sub_id = stripe_id("sub", seed, account.num, sub.number)
        item_id = stripe_id("si", seed, account.num, sub.number)
        metered_item = stripe_id("si", seed, account.num, sub.number, "metered") if sub.has_metered_item else None
        periods = [p for p in sub.periods if self.visible(p.start)]
        current = periods[-1]
        changes: list[datetime] = [sub.created]
        self.event(sub.created, "customer.subscription.created", "subscription", sub_id)
        discount_id = None
        if sub.discount is not None and self.visible(sub.discount.start):
            discount_id = stripe_id("di", seed, account.num, sub.number)
            amount_off = coupon_spec(sub.discount.coupon)[2]
            self.tables["stripe_discounts"].append(
                {
                    "id": discount_id,
                    "coupon": coupon_id(
                        seed, sub.discount.coupon, currency if amount_off else None, sub.discount.start
                    ),
                    "customer": customer,
                    "subscription": sub_id,
                    "start": unix(sub.discount.start),
                    "end": unix(sub.discount.end),
                }
            )
        latest_invoice = None
        past_due = False
        first_paid_seen = False
        previous: Period | None = None
        for period in periods:
            first_paid = not period.is_trial and not first_paid_seen
            first_paid_seen = first_paid_seen or not period.is_trial
            if previous is not None:
                prior = {
                    "current_period_start": unix(previous.start),
                    "current_period_end": unix(previous.end),
                }
                if previous.is_trial and not period.is_trial:
                    prior["status"] = "trialing"
                if (previous.seats, previous.plan) != (period.seats, period.plan):
                    prior["items"] = {
                        "quantity": previous.seats,
                        "price": price_id(seed, previous.plan, sub.interval, currency, on_plan_since(sub, previous)),
                    }
                self.event(period.start, "customer.subscription.updated", "subscription", sub_id, prior)
                changes.append(period.start)
            latest_invoice = self.render_invoices(
                account,
                customer,
                sub,
                sub_id,
                item_id,
                metered_item,
                period,
                previous,
                first_paid,
                discount_id,
            )
            if period.mid_term_seats is not None and self.visible(period.mid_term_seats[0]):
                self.event(
                    period.mid_term_seats[0],
                    "customer.subscription.updated",
                    "subscription",
                    sub_id,
                    {"items": {"quantity": period.seats}},
                )
                changes.append(period.mid_term_seats[0])
            if period.failed_at is not None and self.visible(period.failed_at):
                self.event(
                    period.failed_at,
                    "customer.subscription.updated",
                    "subscription",
                    sub_id,
                    {"status": "active"},
                )
                changes.append(period.failed_at)
                past_due = not self.visible(period.paid_at) and not self.visible(sub.ended_at)
                if self.visible(period.paid_at):
                    self.event(
                        period.paid_at,
                        "customer.subscription.updated",
                        "subscription",
                        sub_id,
                        {"status": "past_due"},
                    )
                    changes.append(period.paid_at)
            previous = period
        cancel_known = self.visible(sub.cancel_requested_at)
        ended = self.visible(sub.ended_at)
        if cancel_known and sub.cancel_at_period_end and sub.end_reason == "cancellation_requested":
            self.event(
                sub.cancel_requested_at,
                "customer.subscription.updated",
                "subscription",
                sub_id,
                {"cancel_at_period_end": False, "cancel_at": None},
            )
            changes.append(sub.cancel_requested_at)
        if ended:
            self.event(sub.ended_at, "customer.subscription.deleted", "subscription", sub_id)
            changes.append(sub.ended_at)
        if ended:
            status = "canceled"
        elif current.is_trial:
            status = "trialing"
        elif past_due:
            status = "past_due"
        else:
            status = "active"
        touched.extend(changes)
        self.tables["stripe_subscriptions"].append(
            {
                "id": sub_id,
                "customer": customer,
                "status": status,
                "currency": currency.lower(),
                "created": unix(sub.created),
                "start_date": unix(sub.created),
                "billing_cycle_anchor": unix(sub.trial_end if sub.trial_end else sub.created),
                "trial_start": unix(sub.created) if sub.trial_end else None,
                "trial_end": unix(sub.trial_end),
                # Stays true once the subscription has ended (Stripe: "will or did cancel at period end").
                "cancel_at_period_end": bool(cancel_known and sub.cancel_at_period_end),
                "cancel_at": unix(sub.ended_at) if cancel_known and sub.cancel_at_period_end else None,
                "canceled_at": unix(sub.cancel_requested_at) if cancel_known else None,
                "ended_at": unix(sub.ended_at) if ended else None,
                "cancellation_reason": (
                    sub.end_reason if sub.end_reason != "trial_not_converted" else "cancellation_requested"
                )
                if cancel_known
                else None,
                "collection_method": "charge_automatically",
                "latest_invoice": latest_invoice,
                "discount_ids": json.dumps([discount_id] if discount_id else []),
                "updated": unix(max(m for m in changes if self.visible(m))),
            }
        )
        self.tables["stripe_subscription_items"].append(
            {
                "id": item_id,
                "subscription": sub_id,
                "price": price_id(seed, current.plan, sub.interval, currency, on_plan_since(sub, current)),
                "quantity": current.mid_term_seats[1]
                if current.mid_term_seats and self.visible(current.mid_term_seats[0])
                else current.seats,
                "current_period_start": unix(current.start),
                "current_period_end": unix(current.end),
                "created": unix(sub.created),
            }
        )
        if metered_item:
            self.tables["stripe_subscription_items"].append(
                {
                    "id": metered_item,
                    "subscription": sub_id,
                    "price": stripe_id("price", seed, "overage", currency),
                    "quantity": None,
                    "current_period_start": unix(current.start),
                    "current_period_end": unix(current.end),
                    "created": unix(sub.created),
                }
            )
        return past_due

    def render_invoices(
        self, account, customer, sub, sub_id, item_id, metered_item, period, previous, first_paid, discount_id
    ) -> str | None:
        """The invoice of one period (and the voided first attempt, when there was one). Returns the latest
        id."""
        attempts = [("void", period.start)] if period.voided_twin else []
        attempts.append(("live", period.start + timedelta(hours=2) if period.voided_twin else period.start))
        latest = None
        for kind, created in attempts:
            if not self.visible(created):
                continue
            latest = self.render_invoice(
                account,
                customer,
                sub,
                sub_id,
                item_id,
                metered_item,
                period,
                previous,
                first_paid,
                discount_id,
                created,
                void=kind == "void",
            )
        return latest

    def render_invoice(
        self,
        account,
        customer,
        sub,
        sub_id,
        item_id,
        metered_item,
        period,
        previous,
        first_paid,
        discount_id,
        created,
        void,
    ) -> str:
        seed, currency, cur = self.seed, account.currency, account.currency.lower()
        invoice_id = stripe_id("in", seed, account.num, sub.number, unix(created), void)
        self._invoice_number += 1
        lines = []
        seat_price = unit_amount(period.plan, sub.interval, currency)
        gross = 0 if period.is_trial else seat_price * period.seats
        discounts = []
        if not period.is_trial and discount_id and discount_applies(sub, created, first_paid):
            discounts = [{"amount": discount_amount(sub.discount.coupon, gross, currency), "discount": discount_id}]
        description = (
            f"Trial period for Acme Analytics {period.plan.title()}"
            if period.is_trial
            else f"{period.seats} × Acme Analytics {period.plan.title()} (at "
            f"{seat_price / 100:.2f} {cur} / {sub.interval})"
        )
        lines.append(
            self._line(
                invoice_id,
                "sub",
                currency,
                gross,
                description,
                period.seats,
                period.start,
                period.end,
                price_id(seed, period.plan, sub.interval, currency, on_plan_since(sub, period)),
                sub_id,
                item_id,
                None,
                discounts,
            )
        )
        if metered_item and period.overage_units and previous is not None:
            amount = period.overage_units * OVERAGE_UNIT_PRICE[currency]
            lines.append(
                self._line(
                    invoice_id,
                    "metered",
                    currency,
                    amount,
                    f"{period.overage_units} × API overage (tier 1)",
                    period.overage_units,
                    previous.start,
                    previous.end,
                    stripe_id("price", seed, "overage", currency),
                    sub_id,
                    metered_item,
                    None,
                    [],
                )
            )
        if previous is not None and previous.mid_term_seats is not None:
            lines.extend(self._proration_lines(invoice_id, account, sub, sub_id, item_id, previous))
        if period.onboarding_fee:
            lines.append(
                self._line(
                    invoice_id,
                    "onboarding",
                    currency,
                    ONBOARDING_FEE[currency],
                    "Onboarding package",
                    1,
                    created,
                    created,
                    stripe_id("price", seed, "onboarding", currency),
                    None,
                    None,
                    stripe_id("ii", seed, invoice_id),
                    [],
                )
            )
        subtotal = sum(line["amount"] for line in lines)
        total_discount = sum(d["amount"] for d in discounts)
        tax = sum(line["tax_amount"] for line in lines)
        total = subtotal - total_discount + tax
        finalized = created if period.is_trial else created + timedelta(hours=1)
        status, paid_at, voided_at, uncollectible_at = "open", None, None, None
        if void:
            voided_at = created + timedelta(hours=2)
            status = "void" if self.visible(voided_at) else "open"
        elif self.visible(period.uncollectible_at):
            status, uncollectible_at = "uncollectible", period.uncollectible_at
        elif self.visible(period.paid_at):
            status, paid_at = "paid", max(period.paid_at, finalized)
        if not self.visible(finalized):
            status = "draft"
        events = [(created, "invoice.created", None), (finalized, "invoice.finalized", {"status": "draft"})]
        if not void and period.failed_at is not None:
            events.append((period.failed_at, "invoice.payment_failed", None))
        if paid_at:
            events.append((paid_at, "invoice.paid", {"status": "open"}))
        if voided_at:
            events.append((voided_at, "invoice.voided", {"status": "open"}))
        if uncollectible_at:
            events.append((uncollectible_at, "invoice.marked_uncollectible", {"status": "open"}))
        for moment, kind, previous_attrs in events:
            self.event(moment, kind, "invoice", invoice_id, previous_attrs)
        attempt_count = (
            0
            if status == "draft"
            else (period.attempts if (period.failed_at and not void and self.visible(period.failed_at)) else 1)
        )
        amount_paid = total if status == "paid" else 0
        self.tables["stripe_invoices"].append(
            {
                "id": invoice_id,
                "number": f"ACME-{account.num:06d}-{self._invoice_number:05d}",
                "customer": stripe_id("cus", seed, account.num),
                "subscription": sub_id,
                "status": status,
                "billing_reason": "subscription_create" if period is sub.periods[0] else "subscription_cycle",
                "currency": cur,
                "created": unix(created),
                "period_start": unix(previous.start if previous else created),
                "period_end": unix(created),
                "due_date": None,
                "subtotal": subtotal,
                "tax": tax,
                "total": total,
                "amount_due": total,
                "amount_paid": amount_paid,
                "amount_remaining": 0 if status in ("paid", "void") else total - amount_paid,
                "attempt_count": attempt_count,
                "finalized_at": unix(finalized) if self.visible(finalized) else None,
                "paid_at": unix(paid_at),
                "voided_at": unix(voided_at) if self.visible(voided_at) else None,
                "marked_uncollectible_at": unix(uncollectible_at),
                "updated": unix(max(m for m, _, _ in events if self.visible(m))),
            }
        )
        self.tables["stripe_invoice_lines"].extend(lines)
        return invoice_id

    def _proration_lines(
        self, invoice_id, account: Account, sub: Subscription, sub_id: str, item_id: str, period: Period
    ) -> list[dict]:
        """Seats added mid-term, prorated on the next invoice as Stripe's create_prorations does: the unused
        time of the old quantity credited, the remaining time of the new one charged. MRR excludes both lines
        (the next period's regular line bills the new quantity in full)."""
        changed_at, seats = period.mid_term_seats
        price = price_id(self.seed, period.plan, sub.interval, account.currency, on_plan_since(sub, period))
        seat_price = unit_amount(period.plan, sub.interval, account.currency)
        share = (period.end - changed_at) / (period.end - period.start)
        plan = f"Acme Analytics {period.plan.title()}"
        return [
            self._line(
                invoice_id,
                f"proration-{key}",
                account.currency,
                sign * round(quantity * seat_price * share),
                f"{words} {quantity} × {plan} after {changed_at:%d %b %Y}",
                quantity,
                changed_at,
                period.end,
                price,
                sub_id,
                item_id,
                None,
                [],
                proration=True,
            )
            for key, quantity, sign, words in (
                ("unused", period.seats, -1, "Unused time on"),
                ("remaining", seats, 1, "Remaining time on"),
            )
        ]

    def _line(
        self,
        invoice_id,
        key,
        currency,
        amount,
        description,
        quantity,
        start,
        end,
        price,
        sub_id,
        item_id,
        invoice_item,
        discounts,
        proration: bool = False,
    ) -> dict:
        taxable = amount - sum(d["amount"] for d in discounts)
        return {
            "id": stripe_id("il", self.seed, invoice_id, key),
            "invoice": invoice_id,
            "currency": currency.lower(),
            "amount": amount,
            "description": description,
            "quantity": quantity,
            "period_start": unix(start),
            "period_end": unix(end),
            "price": price,
            "product": None,
            "parent_type": "invoice_item_details" if invoice_item else "subscription_item_details",
            "subscription": sub_id,
            "subscription_item": item_id,
            "invoice_item": invoice_item,
            "proration": proration,
            "discount_amounts": json.dumps(discounts),
            "tax_amount": math.floor(taxable * TAX_RATE[currency] + 0.5),
            "unit_amount_decimal": f"{amount / quantity:.12g}" if quantity else "0",
        }
