"""dlt sources for the CS Ops warehouse: HubSpot (CRM), Stripe (billing), product usage events, NPS surveys.

Each source talks to the vendor's real API contract (paths, auth, paging, incremental filters): pointing it at the
sandbox or at the real vendor differs only by base URL and key. Sources know nothing of Dagster.
"""
