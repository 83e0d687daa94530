"""What the sync needs from a CRM, independent of the vendor. `HubSpotCrm` implements it today; a Salesforce
adapter implements the same operations (accounts instead of companies, its own batch size and limits).

Adapters do the vendor's batching limits, rate limiting and retries of transient errors. They report outcomes
per row (`RowResult`) and raise:
- `CrmAuthError` when credentials or scopes are wrong (the run stops: nothing else can work),
- `CrmUnavailable` when transient errors persisted past the retry budget (the run stops, rows retry next run),
- `BatchRejected` when the API refused a whole batch because of its content (the sync splits it to isolate the
  bad rows); `gone` when it refused it because a record it names does not exist (deleted: 404 / not found),
- `AmbiguousWrite` when a create may or may not have happened (a 5xx or a timeout after sending): the sync then
  looks the rows up by key before creating them again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class AccountUpdate:
    crm_id: str
    fields: dict[str, str]  # allow-listed field -> value as text ("" clears the field)


@dataclass(frozen=True)
class NewTask:
    key: str  # deterministic, e.g. "acc_000123:renewal-rescue"
    account_crm_id: str
    owner_id: str | None
    title: str
    body: str
    due_date: date
    priority: int  # 1 = most urgent (the playbooks seed)


@dataclass(frozen=True)
class ExistingTask:
    key: str
    crm_id: str
    is_open: bool
    created_on: date | None


@dataclass(frozen=True)
class RowResult:
    key: str
    ok: bool
    crm_id: str | None = None
    error: str | None = None
    gone: bool = False  # failed because the CRM record does not exist (deleted, or never did): 404 / not found


class CrmError(Exception):
    """Base of the errors an adapter raises."""


class CrmAuthError(CrmError):
    """Credentials or scopes rejected; the message says which variable to set."""


class CrmUnavailable(CrmError):
    """Transient errors (429 / 5xx / timeouts) outlasted the retry budget."""


class BatchRejected(CrmError):
    """The API rejected the whole batch (4xx) because of something in it; `gone` when that is a record it names
    that does not exist (a 404, or the vendor's not-found category)."""

    def __init__(self, message: str, gone: bool = False):
        super().__init__(message)
        self.gone = gone


class AmbiguousWrite(CrmError):
    """A create request failed in a way that does not say whether it was applied."""


@runtime_checkable
class Crm(Protocol):
    name: str
    max_batch_size: int  # rows per update / create request
    max_list_batch_size: int  # records per list-membership request
    requests_sent: int  # HTTP requests made so far (retries included)

    def ensure_schema(self, *, dry_run: bool) -> list[str]:
        """Make sure the allow-listed account fields and the task key field exist; the ones created (or, in a dry
        run, that would be created) as `account.<field>` / `task.<field>`. A field that had to be created means
        the CRM holds no value of it, whatever the sync state says."""
        ...

    def update_accounts(self, updates: Sequence[AccountUpdate]) -> list[RowResult]:
        """Write allow-listed fields of up to `max_batch_size` accounts; one result per update (key = crm id)."""
        ...

    def find_tasks(self, keys: Sequence[str]) -> dict[str, list[ExistingTask]]:
        """Tasks created by the sync under these keys (any status), by key."""
        ...

    def create_tasks(self, tasks: Sequence[NewTask]) -> list[RowResult]:
        """Create up to `max_batch_size` tasks, each assigned and associated with its account (key = task key)."""
        ...

    def find_list(self, name: str) -> str | None:
        """The id of the static account list with this name, or None."""
        ...

    def create_list(self, name: str) -> str: ...

    def list_members(self, list_id: str) -> set[str]:
        """Account crm ids in the list."""
        ...

    def add_to_list(self, list_id: str, crm_ids: Sequence[str]) -> list[RowResult]: ...

    def remove_from_list(self, list_id: str, crm_ids: Sequence[str]) -> list[RowResult]: ...

    def close(self) -> None: ...
