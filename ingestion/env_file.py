"""Reading `.env` without letting it point a sandbox run at real vendors.

`.env` only fills in what the environment does not set. That is not enough on the sandbox: `csops run --sandbox`
and `csops dev` set the sources' connection variables (`SOURCES__HUBSPOT__BASE_URL`, ...) to the local server,
but dlt also reads more specific spellings of the same setting first (`SOURCES__HUBSPOT__HUBSPOT__BASE_URL`, or
one prefixed with the pipeline name), and Dagster's code server reads `.env` again in its own process, where a
connection variable the sandbox run removed would come back. So while a sandbox run is marked (CSOPS_SANDBOX),
every source connection variable the sandbox did not set itself is dropped and never read from `.env`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from pathlib import Path

from dotenv import dotenv_values

SANDBOX_MARKER = "CSOPS_SANDBOX"  # set (to the sandbox folder) for the duration of a sandbox run
# The settings that say where a source reads and as whom (the sandbox sets each of them).
CONNECTION_FIELDS = frozenset(
    {
        "BASE_URL",
        "ACCESS_TOKEN",
        "API_KEY",
        "TYPEFORM_BASE_URL",
        "TYPEFORM_TOKEN",
        "TYPEFORM_FORM_ID",
        "CSV_URL",
        "BUCKET_URL",
    }
)


def is_connection_variable(name: str) -> bool:
    """A variable dlt may read as a source's endpoint or credentials, in any of its spellings."""
    upper = name.upper()
    return "SOURCES__" in upper and upper.rsplit("__", 1)[-1] in CONNECTION_FIELDS


def load_env_file(path: Path, environ: MutableMapping[str, str] = os.environ) -> None:
    """Fill `environ` from the .env file at `path` (the environment wins); on a sandbox run, skip the sources'
    connection variables."""
    sandbox = bool(environ.get(SANDBOX_MARKER))
    for name, value in dotenv_values(path).items():
        if value is None or name in environ or (sandbox and is_connection_variable(name)):
            continue
        environ[name] = value


def enter_sandbox(sandbox_environment: Mapping[str, str], marker: str, environ: MutableMapping[str, str]) -> None:
    """Point `environ` at the sandbox: its variables set, every other source connection variable removed."""
    for name in [n for n in environ if is_connection_variable(n) and n not in sandbox_environment]:
        del environ[name]
    environ.update(sandbox_environment)
    environ[SANDBOX_MARKER] = marker
