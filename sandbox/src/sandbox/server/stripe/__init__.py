"""Stripe-compatible API: api.py (edges, routes, lists), its parameters, filters and expansions, and the Stripe API
objects rendered from the world's stripe_* rows (api_objects and its catalogue / billing renderers)."""
