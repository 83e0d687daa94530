"""Stripe API objects of billing: subscriptions with their items and discounts, invoices with their lines."""

from __future__ import annotations

from typing import Any

from sandbox.server.common import loads
from sandbox.server.stripe.catalogue_objects import TAX_RATE_PERCENT, tax_rate_id


class BillingObjects:
    """Renderers of StripeData (api_objects.py), which holds the tables and lookups they read."""

    def subscription_item(self, row: int) -> dict[str, Any]:
        i, g = self.items, self.get
        price_row = self.row(self.prices, g(i, "price", row))
        return {
            "id": g(i, "id", row),
            "object": "subscription_item",
            "billing_thresholds": None,
            "created": g(i, "created", row),
            "current_period_end": g(i, "current_period_end", row),
            "current_period_start": g(i, "current_period_start", row),
            "discounts": [],
            "metadata": {},
            "plan": self.plan(price_row) if price_row is not None else None,
            "price": self.price(price_row) if price_row is not None else None,
            "quantity": g(i, "quantity", row),
            "subscription": g(i, "subscription", row),
            "tax_rates": [],
        }

    def active_discounts(self, ids_json: str | None) -> list[str]:
        """Discounts still applying at the cut-off (an ended repeating discount leaves its subscription)."""
        out = []
        for discount_id in loads(ids_json or "[]"):
            row = self.row(self.discounts, discount_id)
            if row is None:
                continue
            end = self.discount(row)["end"]
            if end is None or end > self.cutoff:
                out.append(discount_id)
        return out

    def subscription(self, row: int) -> dict[str, Any]:
        s, g = self.subscriptions, self.get
        sub_id = g(s, "id", row)
        item_rows = self.items_by_sub.rows(sub_id)
        reason = g(s, "cancellation_reason", row)
        currency = g(s, "currency", row)
        return {
            "id": sub_id,
            "object": "subscription",
            "application": None,
            "application_fee_percent": None,
            "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
            "billing_cycle_anchor": g(s, "billing_cycle_anchor", row),
            "billing_cycle_anchor_config": None,
            "billing_mode": {"flexible": None, "type": "classic"},
            "billing_schedules": [],
            "billing_thresholds": None,
            "cancel_at": g(s, "cancel_at", row),
            "cancel_at_period_end": bool(g(s, "cancel_at_period_end", row)),
            "canceled_at": g(s, "canceled_at", row),
            "cancellation_details": {"comment": None, "feedback": None, "reason": reason},
            "collection_method": g(s, "collection_method", row),
            "created": g(s, "created", row),
            "currency": currency,
            "customer": g(s, "customer", row),
            "customer_account": None,
            "days_until_due": None,
            "default_payment_method": None,
            "default_source": None,
            "default_tax_rates": [],
            "description": None,
            "discounts": self.active_discounts(g(s, "discount_ids", row) if "discount_ids" in s else None),
            "ended_at": g(s, "ended_at", row),
            "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
            "items": {
                "object": "list",
                "data": [self.subscription_item(int(r)) for r in item_rows],
                "has_more": False,
                "total_count": len(item_rows),
                "url": f"/v1/subscription_items?subscription={sub_id}",
            },
            "latest_invoice": g(s, "latest_invoice", row),
            "livemode": False,
            # The company's billing integration stamps the account on each subscription too: it outlives a deleted
            # customer (whose retrieve keeps nothing but its id).
            "metadata": {"account_id": self.account_of_customer(g(s, "customer", row))},
            "next_pending_invoice_item_invoice": None,
            "on_behalf_of": None,
            "pause_collection": None,
            "payment_settings": {
                "payment_method_options": None,
                "payment_method_types": None,
                "save_default_payment_method": "off",
            },
            "pending_invoice_item_interval": None,
            "pending_setup_intent": None,
            "pending_update": None,
            "schedule": None,
            "start_date": g(s, "start_date", row),
            "status": g(s, "status", row),
            "test_clock": None,
            "transfer_data": None,
            "trial_end": g(s, "trial_end", row),
            "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
            "trial_start": g(s, "trial_start", row),
        }

    def line(self, row: int) -> dict[str, Any]:
        ln, g = self.lines, self.get
        amount, currency = g(ln, "amount", row), g(ln, "currency", row)
        discounts = loads(g(ln, "discount_amounts", row) or "[]")
        tax = g(ln, "tax_amount", row) or 0
        proration = bool(g(ln, "proration", row))
        if g(ln, "parent_type", row) == "invoice_item_details":
            parent = {
                "invoice_item_details": {
                    "invoice_item": g(ln, "invoice_item", row),
                    "proration": proration,
                    "proration_details": {"credited_items": None},
                    "subscription": g(ln, "subscription", row),
                },
                "subscription_item_details": None,
                "type": "invoice_item_details",
            }
        else:
            parent = {
                "invoice_item_details": None,
                "subscription_item_details": {
                    "invoice_item": g(ln, "invoice_item", row),
                    "proration": proration,
                    "proration_details": {"credited_items": None},
                    "subscription": g(ln, "subscription", row),
                    "subscription_item": g(ln, "subscription_item", row),
                },
                "type": "subscription_item_details",
            }
        taxes = []
        if currency in TAX_RATE_PERCENT:
            taxes = [
                {
                    "amount": tax,
                    "tax_behavior": "exclusive",
                    "tax_rate_details": {"tax_rate": tax_rate_id(currency)},
                    "taxability_reason": "standard_rated",
                    "taxable_amount": amount - sum(d["amount"] for d in discounts),
                    "type": "tax_rate_details",
                }
            ]
        return {
            "id": g(ln, "id", row),
            "object": "line_item",
            "amount": amount,
            "currency": currency,
            "description": g(ln, "description", row),
            "discount_amounts": discounts,
            "discountable": True,
            "discounts": [],
            "invoice": g(ln, "invoice", row),
            "livemode": False,
            "metadata": {},
            "parent": parent,
            "period": {"end": g(ln, "period_end", row), "start": g(ln, "period_start", row)},
            "pretax_credit_amounts": [
                {
                    "amount": d["amount"],
                    "credit_balance_transaction": None,
                    "discount": d["discount"],
                    "type": "discount",
                }
                for d in discounts
            ],
            "pricing": {
                "price_details": {"price": g(ln, "price", row), "product": g(ln, "product", row)},
                "type": "price_details",
                "unit_amount_decimal": g(ln, "unit_amount_decimal", row),
            },
            "quantity": g(ln, "quantity", row),
            "subscription": g(ln, "subscription", row),
            "subtotal": amount,
            "taxes": taxes,
        }

    def invoice(self, row: int) -> dict[str, Any]:
        v, g = self.invoices, self.get
        invoice_id, status, currency = g(v, "id", row), g(v, "status", row), g(v, "currency", row)
        line_rows = self.lines_by_invoice.rows(invoice_id)
        lines = [self.line(int(r)) for r in line_rows]
        discount_totals: dict[str, int] = {}
        tax_totals: dict[str, dict[str, Any]] = {}
        for line in lines:
            for d in line["discount_amounts"]:
                discount_totals[d["discount"]] = discount_totals.get(d["discount"], 0) + d["amount"]
            for tax in line["taxes"]:
                rate = tax["tax_rate_details"]["tax_rate"]
                total = tax_totals.setdefault(rate, {**tax, "amount": 0, "taxable_amount": 0})
                total["amount"] += tax["amount"]
                total["taxable_amount"] += tax["taxable_amount"]
        customer_row = self.row(self.customers, g(v, "customer", row))
        customer = self.customer(customer_row) if customer_row is not None else {}
        finalized = g(v, "finalized_at", row)
        tax = g(v, "tax", row) or 0
        total = g(v, "total", row)
        return {
            "id": invoice_id,
            "object": "invoice",
            "account_country": "US",
            "account_name": "Acme Analytics",
            "account_tax_ids": None,
            "amount_due": g(v, "amount_due", row),
            "amount_overpaid": 0,
            "amount_paid": g(v, "amount_paid", row),
            "amount_remaining": g(v, "amount_remaining", row),
            "amount_shipping": 0,
            "application": None,
            "attempt_count": g(v, "attempt_count", row),
            "attempted": (g(v, "attempt_count", row) or 0) > 0,
            "auto_advance": status in ("draft", "open"),
            "automatic_tax": {
                "disabled_reason": None,
                "enabled": False,
                "liability": None,
                "provider": None,
                "status": None,
            },
            "automatically_finalizes_at": None,
            "billing_reason": g(v, "billing_reason", row),
            "collection_method": "charge_automatically",
            "created": g(v, "created", row),
            "currency": currency,
            "custom_fields": None,
            "customer": g(v, "customer", row),
            "customer_account": None,
            "customer_address": customer.get("address"),
            "customer_email": customer.get("email"),
            "customer_name": customer.get("name"),
            "customer_phone": None,
            "customer_shipping": None,
            "customer_tax_exempt": "none",
            "customer_tax_ids": [],
            "default_payment_method": None,
            "default_source": None,
            "default_tax_rates": [],
            "description": None,
            "discounts": list(discount_totals),
            "due_date": g(v, "due_date", row),
            "effective_at": finalized,
            "ending_balance": 0 if finalized else None,
            "footer": None,
            "from_invoice": None,
            "hosted_invoice_url": f"https://invoice.stripe.com/i/acct_sandbox/{invoice_id}" if finalized else None,
            "invoice_pdf": f"https://pay.stripe.com/invoice/acct_sandbox/{invoice_id}/pdf" if finalized else None,
            "issuer": {"type": "self"},
            "last_finalization_error": None,
            "latest_revision": None,
            "lines": {
                "object": "list",
                "data": lines[:10],
                "has_more": len(lines) > 10,
                "total_count": len(lines),
                "url": f"/v1/invoices/{invoice_id}/lines",
            },
            "livemode": False,
            "metadata": {},
            "next_payment_attempt": None,
            "number": g(v, "number", row) if status != "draft" else None,
            "on_behalf_of": None,
            "parent": (
                {
                    "quote_details": None,
                    "subscription_details": {
                        "metadata": {},
                        "subscription": g(v, "subscription", row),
                        "subscription_proration_date": None,
                    },
                    "type": "subscription_details",
                }
                if g(v, "subscription", row)
                else None
            ),
            "payment_settings": {
                "default_mandate": None,
                "payment_method_options": None,
                "payment_method_types": None,
            },
            "period_end": g(v, "period_end", row),
            "period_start": g(v, "period_start", row),
            "post_payment_credit_notes_amount": 0,
            "pre_payment_credit_notes_amount": 0,
            "receipt_number": None,
            "rendering": None,
            "shipping_cost": None,
            "shipping_details": None,
            "starting_balance": 0,
            "statement_descriptor": None,
            "status": status,
            "status_transitions": {
                "finalized_at": finalized,
                "marked_uncollectible_at": g(v, "marked_uncollectible_at", row),
                "paid_at": g(v, "paid_at", row),
                "voided_at": g(v, "voided_at", row),
            },
            "subtotal": g(v, "subtotal", row),
            "subtotal_excluding_tax": g(v, "subtotal", row),
            "test_clock": None,
            "total": total,
            "total_discount_amounts": [{"amount": a, "discount": d} for d, a in discount_totals.items()],
            "total_excluding_tax": total - tax,
            "total_pretax_credit_amounts": [
                {"amount": a, "credit_balance_transaction": None, "discount": d, "type": "discount"}
                for d, a in discount_totals.items()
            ],
            "total_taxes": list(tax_totals.values()),
            "webhooks_delivered_at": g(v, "created", row),
        }
