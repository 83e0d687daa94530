"""Typeform-compatible Responses API (api.py)."""
