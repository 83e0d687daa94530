"""The sandbox: a simulated B2B SaaS company behind HubSpot-, Stripe- and Typeform-compatible local APIs.

A product feature (what users try first), not test scaffolding. Product code never imports this package: only
a base URL and a key separate the sandbox from the real vendors.
"""
