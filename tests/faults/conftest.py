"""Fault-injection suite: each test reproduces a failure an operator met (an outage, a renamed or malformed field, a
bad file drop) against the real sandbox server and files, and proves the load's answer to it."""

from tests.ingestion.test_sources_against_sandbox import served  # noqa: F401  (the served-sandbox fixture)
