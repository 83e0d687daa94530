"""What a failed step means, in one line a user can act on.

Dagster reports a failed step as "Error occurred while executing op dlt_hubspot"; the message written for people
(ingestion's SourceError family, activation's configuration and CRM errors, a Dagster Failure's description) sits
further down the error's chain of causes, and an unreachable host only shows up as a transport error naming a
host and port. `explain` walks that chain (`cause` / `context` of Dagster's SerializableErrorInfo) and returns the
actionable message, or for a connection error the variable that holds the unreachable URL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from dagster._utils.error import SerializableErrorInfo

# Error types whose message is written for the person running csops (what is wrong and what to set).
ACTIONABLE = {
    "SourceError",
    "SourceAuthError",
    "SourceConfigError",
    "ActivationError",
    "ConfigError",
    "CrmError",
    "CrmAuthError",
    "CrmUnavailable",
    "SyncBusy",
    "Failure",
}
CONNECTION_ERRORS = {"ConnectionError", "MaxRetryError", "NewConnectionError", "ConnectTimeout", "ConnectTimeoutError"}
POOL = re.compile(r"(HTTPS?)ConnectionPool\(host='([^']+)', port=(\d+)\)(?:: Max retries exceeded with url: (\S+))?")


def chain(error: SerializableErrorInfo | None) -> Iterator[SerializableErrorInfo]:
    """The error and everything it was raised from or during, outermost first."""
    seen: set[int] = set()
    stack = [error]
    while stack:
        current = stack.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend([current.cause, current.context])


def message_of(error: SerializableErrorInfo) -> str:
    """The message without the "module.ClassName: " prefix, on one line."""
    text = error.message.strip()
    prefix = re.match(r"^[\w.]*" + re.escape(error.cls_name or "") + r": ", text)
    if prefix:
        text = text[prefix.end() :]
    return " ".join(text.split())


def variable_for_url(url: str, step_key: str, environ: Mapping[str, str]) -> str | None:
    """The environment variable whose URL the failing request was sent to: the longest value that prefixes it,
    preferring the step's own variables (SOURCES__<SOURCE>__* for dlt_<source>, ACTIVATION__* for the CRM push)."""
    source = step_key.removeprefix("dlt_").upper()
    own = f"SOURCES__{source}__" if step_key.startswith("dlt_") else "ACTIVATION__"
    candidates = [
        (name.startswith(own), len(value), name)
        for name, value in environ.items()
        if value.startswith("http") and url.startswith(value.rstrip("/"))
    ]
    return max(candidates)[2] if candidates else None


def connection_message(error: SerializableErrorInfo, step_key: str, environ: Mapping[str, str]) -> str | None:
    found = POOL.search(error.message)
    if not found:
        return None
    scheme, host, port, path = found.groups()
    url = f"{scheme.lower()}://{host}:{port}{path or ''}"
    reason = "connection refused" if "refused" in error.message.lower() else "no connection"
    where = f"{scheme.lower()}://{host}:{port}"
    variable = variable_for_url(url, step_key, environ)
    fix = f"Check {variable} (now {environ[variable]})." if variable else "Check the base URL variables."
    return f"cannot reach {where} ({reason}). {fix}"


def explain(step_key: str, error: SerializableErrorInfo | None, environ: Mapping[str, str]) -> str:
    """One line: the actionable message in the chain, else the unreachable URL's variable, else the innermost
    error (its type and message), never Dagster's generic wrapper alone."""
    errors = list(chain(error))
    for candidate in errors:
        if candidate.cls_name in ACTIONABLE:
            return message_of(candidate)
    for candidate in errors:
        if candidate.cls_name in CONNECTION_ERRORS or "ConnectionPool(" in candidate.message:
            text = connection_message(candidate, step_key, environ)
            if text:
                return text
    if not errors:
        return "failed without an error message"
    innermost = errors[-1]
    return f"{innermost.cls_name}: {message_of(innermost)}"
