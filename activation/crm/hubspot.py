"""HubSpot CRM v3 behind the `Crm` interface (private-app bearer token).

Endpoints (all documented v3 paths, so the same code runs against api.hubapi.com and the sandbox):
- properties: `GET /crm/v3/properties/{companies|tasks}`, `GET .../groups/csops` then `POST .../groups` when missing
  (a property must name an existing group), `POST .../batch/create`
- companies: `POST /crm/v3/objects/companies/batch/update` (100 per request; 207 lists the ids it could not update)
- tasks: `POST /crm/v3/objects/tasks/search` (by `csops_task_key`), `POST /crm/v3/objects/tasks/batch/create`
  with the task-to-company association (HUBSPOT_DEFINED 192)
- lists v3: `GET /crm/v3/lists/object-type-id/0-2/name/{name}`, `POST /crm/v3/lists` (MANUAL),
  `GET /crm/v3/lists/{id}/memberships`, `PUT /crm/v3/lists/{id}/memberships/add|remove`
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time
from typing import Any
from urllib.parse import quote

import requests

from activation.config import SyncConfig
from activation.crm.base import (
    AccountUpdate,
    BatchRejected,
    CrmError,
    ExistingTask,
    NewTask,
    RowResult,
)
from activation.crm.http import ApiSession, describe
from activation.fields import ACCOUNT_FIELDS, TASK_KEY_FIELD, FieldSpec, check_allowed
from ingestion.rate_limit import RateLimiter

BATCH_SIZE = 100  # HubSpot's batch endpoints take at most 100 inputs
LIST_BATCH_SIZE = 1_000  # membership changes per request (well under HubSpot's per-request maximum)
MEMBERSHIP_PAGE = 250  # the largest page of GET .../memberships
SEARCH_PAGE = 200  # the largest page of a CRM search
SEARCH_KEYS = 100  # values in one IN filter
PROPERTY_GROUP = "csops"
COMPANY_LIST_TYPE = "0-2"
TASK_TO_COMPANY = 192
OPEN_STATUSES = {"NOT_STARTED", "IN_PROGRESS", "WAITING", "DEFERRED"}
AUTH_HINT = (
    "Set ACTIVATION__HUBSPOT__ACCESS_TOKEN (or SOURCES__HUBSPOT__ACCESS_TOKEN) to a private-app token with the "
    "company, task, schema and list scopes"
)
_KIND = {  # neutral field kind -> (HubSpot type, fieldType)
    "number": ("number", "number"),
    "text": ("string", "text"),
    "textarea": ("string", "textarea"),
    "bool": ("bool", "booleancheckbox"),
    "datetime": ("datetime", "date"),
    "enum": ("enumeration", "select"),
}


def _property(spec: FieldSpec, order: int) -> dict[str, Any]:
    hs_type, field_type = _KIND[spec.kind]
    out: dict[str, Any] = {
        "name": spec.name,
        "label": spec.label,
        "type": hs_type,
        "fieldType": field_type,
        "groupName": PROPERTY_GROUP,
        "description": spec.description,
        "displayOrder": order,
        "formField": False,
    }
    if spec.kind == "enum":
        out["options"] = [_option(o.capitalize(), o, i) for i, o in enumerate(spec.options)]
    if spec.kind == "bool":
        out["options"] = [_option("Yes", "true", 0), _option("No", "false", 1)]
    return out


def _option(label: str, value: str, order: int) -> dict[str, Any]:
    """One option of an enumeration property; HubSpot's OptionInput requires `hidden` along with label, value and
    displayOrder (tests/contracts validate this against hubspot-api-client's model)."""
    return {"label": label, "value": value, "displayOrder": order, "hidden": False}


def html_body(text: str) -> str:
    """Plain text as the HTML of a rich-text property (HubSpot renders `hs_task_body` as HTML): every character
    of it shown as written (`<script>` stays text), line breaks kept as `<br>`."""
    return html.escape(text, quote=True).replace("\r\n", "\n").replace("\n", "<br>")


def _priority(priority: int) -> str:
    return "HIGH" if priority <= 3 else "MEDIUM" if priority <= 6 else "LOW"


def _parse_day(value: Any) -> date | None:
    if not value:
        return None
    text = str(value)
    try:
        if text.isdigit():
            return datetime.fromtimestamp(int(text) / 1000, UTC).date()
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        return None


def _daily_limit(response: requests.Response) -> str | None:
    """HubSpot's DAILY policy resets at midnight in the portal's timezone: stop instead of retrying."""
    body = _json(response)
    if isinstance(body, dict) and body.get("policyName") == "DAILY":
        return "HubSpot's daily API limit is used up (resets at midnight, portal time); failed rows retry next run"
    return None


NOT_FOUND_CATEGORY = "OBJECT_NOT_FOUND"


def _not_found(response: requests.Response) -> bool:
    """HubSpot's answers for a record that does not exist (deleted, merged into a record deleted since, or never
    there): 404, or an error body of category OBJECT_NOT_FOUND / sub-category `...TO_OBJECT_NOT_FOUND` (an
    association to it)."""
    if response.status_code == 404:
        return True
    body = _json(response)
    if not isinstance(body, dict):
        return False
    return body.get("category") == NOT_FOUND_CATEGORY or str(body.get("subCategory", "")).endswith("OBJECT_NOT_FOUND")


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {}


class HubSpotCrm:
    name = "hubspot"
    max_batch_size = BATCH_SIZE
    max_list_batch_size = LIST_BATCH_SIZE

    def __init__(self, config: SyncConfig, log: Callable[[str], None] = lambda _: None):
        if not config.access_token:
            raise CrmError(f"no HubSpot token. {AUTH_HINT}")
        self.log = log
        self._no_task_keys = False
        self.api = ApiSession(
            config.base_url,
            {
                "Authorization": f"Bearer {config.access_token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
                "User-Agent": "csops-activation/0.1",
            },
            RateLimiter("hubspot", {"default": [config.rate_limit], "search": [config.search_rate_limit]}),
            timeout_seconds=config.timeout_seconds,
            max_retry_seconds=config.max_retry_seconds,
            backoff_initial_seconds=config.backoff_initial_seconds,
            backoff_max_seconds=config.backoff_max_seconds,
            auth_hint=AUTH_HINT,
            log=log,
            hopeless_429=_daily_limit,
        )

    @property
    def requests_sent(self) -> int:
        return self.api.requests_sent

    def close(self) -> None:
        self.api.close()

    def _ok(self, response: requests.Response, *expected: int) -> Any:
        if response.status_code not in expected:
            raise CrmError(describe(response))
        return _json(response)

    # ------------------------------------------------------------------------------------------------ schema
    def ensure_schema(self, *, dry_run: bool) -> list[str]:
        created = self._ensure_properties("companies", "account", ACCOUNT_FIELDS, dry_run)
        task_key = self._ensure_properties("tasks", "task", (TASK_KEY_FIELD,), dry_run)
        # On a portal that never had the key property no task carries a key yet (and search would 400 on it).
        self._no_task_keys = bool(task_key)
        return created + task_key

    def _ensure_properties(self, object_type: str, kind: str, specs: Sequence[FieldSpec], dry_run: bool) -> list[str]:
        existing = self._ok(self.api.request("GET", f"/crm/v3/properties/{object_type}"), 200)
        names = {p.get("name") for p in existing.get("results", [])}
        missing = [(i, s) for i, s in enumerate(specs) if s.name not in names]
        if not missing or dry_run:
            return [f"{kind}.{s.name}" for _, s in missing]
        self._ensure_group(object_type)
        response = self.api.request(
            "POST",
            f"/crm/v3/properties/{object_type}/batch/create",
            json={"inputs": [_property(s, i) for i, s in missing]},
        )
        body = self._ok(response, 200, 201, 207)
        for error in body.get("errors", []):
            if error.get("category") != "OBJECT_ALREADY_EXISTS":  # created meanwhile: fine
                raise CrmError(f"creating {object_type} properties: {error.get('message')}")
        self.log(f"created HubSpot {object_type} properties {', '.join(s.name for _, s in missing)}")
        return [f"{kind}.{s.name}" for _, s in missing]

    def _ensure_group(self, object_type: str) -> None:
        """HubSpot rejects a property whose `groupName` names no existing group (400), so the csops group is made
        before its properties: read it, create it when it is missing (a 409 means another run just did)."""
        path = f"/crm/v3/properties/{object_type}/groups"
        found = self.api.request("GET", f"{path}/{PROPERTY_GROUP}")
        if found.status_code == 200:
            return
        if found.status_code != 404:
            raise CrmError(f"reading the {PROPERTY_GROUP} property group of {object_type}: {describe(found)}")
        response = self.api.request(
            "POST", path, json={"name": PROPERTY_GROUP, "label": "CS Ops (csops)", "displayOrder": -1}
        )
        if response.status_code not in (200, 201, 409):
            raise CrmError(f"creating the {PROPERTY_GROUP} property group on {object_type}: {describe(response)}")
        self.log(f"created the HubSpot {object_type} property group {PROPERTY_GROUP}")

    # ------------------------------------------------------------------------------------------------ companies
    def update_accounts(self, updates: Sequence[AccountUpdate]) -> list[RowResult]:
        if len(updates) > BATCH_SIZE:
            raise ValueError(f"at most {BATCH_SIZE} updates per call")
        for update in updates:
            check_allowed(update.fields)  # the allow-list, enforced at the last step before the wire
        if not updates:
            return []
        response = self.api.request(
            "POST",
            "/crm/v3/objects/companies/batch/update",
            json={"inputs": [{"id": u.crm_id, "properties": dict(u.fields)} for u in updates]},
        )
        if response.status_code not in (200, 207):
            raise BatchRejected(describe(response), gone=_not_found(response))
        body = _json(response)
        updated = {str(r.get("id")) for r in body.get("results", [])}
        errors: dict[str, str] = {}
        missing: set[str] = set()
        generic: list[str] = []
        for error in body.get("errors", []):
            message = f"{error.get('category', 'ERROR')}: {error.get('message', '')}".strip()
            ids = (error.get("context") or {}).get("ids") or []
            for crm_id in ids:
                errors[str(crm_id)] = message
                if error.get("category") == NOT_FOUND_CATEGORY:
                    missing.add(str(crm_id))
            if not ids:
                generic.append(message)
        results = []
        for update in updates:
            if update.crm_id in updated:
                results.append(RowResult(update.crm_id, True, update.crm_id))
            else:
                error = errors.get(update.crm_id) or "; ".join(generic) or "not confirmed by HubSpot"
                results.append(RowResult(update.crm_id, False, update.crm_id, error, gone=update.crm_id in missing))
        return results

    # ---------------------------------------------------------------------------------------------------- tasks
    def find_tasks(self, keys: Sequence[str]) -> dict[str, list[ExistingTask]]:
        found: dict[str, list[ExistingTask]] = {}
        if self._no_task_keys:
            return found
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), SEARCH_KEYS):
            chunk = unique[start : start + SEARCH_KEYS]
            after: str | None = None
            while True:
                body: dict[str, Any] = {
                    "filterGroups": [
                        {"filters": [{"propertyName": TASK_KEY_FIELD.name, "operator": "IN", "values": chunk}]}
                    ],
                    "properties": [TASK_KEY_FIELD.name, "hs_task_status", "hs_createdate"],
                    "sorts": [{"propertyName": "hs_createdate", "direction": "ASCENDING"}],
                    "limit": SEARCH_PAGE,
                }
                if after:
                    body["after"] = after
                page = self._ok(self.api.request("POST", "/crm/v3/objects/tasks/search", json=body, kind="search"), 200)
                for result in page.get("results", []):
                    props = result.get("properties") or {}
                    key = props.get(TASK_KEY_FIELD.name)
                    if not key:
                        continue
                    found.setdefault(key, []).append(
                        ExistingTask(
                            key=key,
                            crm_id=str(result.get("id")),
                            is_open=(props.get("hs_task_status") or "NOT_STARTED") in OPEN_STATUSES,
                            created_on=_parse_day(props.get("hs_createdate") or result.get("createdAt")),
                        )
                    )
                after = ((page.get("paging") or {}).get("next") or {}).get("after")
                if not after:
                    break
        return found

    @staticmethod
    def _task_input(task: NewTask) -> dict[str, Any]:
        due = datetime.combine(task.due_date, time(12, 0), UTC)  # noon UTC: the same day in every CSM's timezone
        properties = {
            "hs_task_subject": task.title[:255],
            "hs_task_body": html_body(task.body),
            "hs_timestamp": due.isoformat().replace("+00:00", "Z"),
            "hs_task_status": "NOT_STARTED",
            "hs_task_priority": _priority(task.priority),
            "hs_task_type": "TODO",
            TASK_KEY_FIELD.name: task.key,
        }
        if task.owner_id:
            properties["hubspot_owner_id"] = task.owner_id
        return {
            "properties": properties,
            "associations": [
                {
                    "to": {"id": task.account_crm_id},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": TASK_TO_COMPANY}],
                }
            ],
        }

    def create_tasks(self, tasks: Sequence[NewTask]) -> list[RowResult]:
        if len(tasks) > BATCH_SIZE:
            raise ValueError(f"at most {BATCH_SIZE} tasks per call")
        if not tasks:
            return []
        self._no_task_keys = False  # from now on tasks with keys may exist (even if this request fails)
        response = self.api.request(
            "POST",
            "/crm/v3/objects/tasks/batch/create",
            json={"inputs": [self._task_input(t) for t in tasks]},
            idempotent=False,
        )
        if response.status_code not in (200, 201, 207):
            raise BatchRejected(describe(response), gone=_not_found(response))
        body = _json(response)
        # Batch results do not promise input order: match them by the key written with each task.
        by_key = {
            (r.get("properties") or {}).get(TASK_KEY_FIELD.name): str(r.get("id")) for r in body.get("results", [])
        }
        errors = "; ".join(f"{e.get('category', 'ERROR')}: {e.get('message', '')}" for e in body.get("errors", []))
        return [
            RowResult(t.key, True, by_key[t.key])
            if t.key in by_key
            else RowResult(t.key, False, None, errors or "not created (no id returned)")
            for t in tasks
        ]

    # ---------------------------------------------------------------------------------------------------- lists
    def find_list(self, name: str) -> str | None:
        response = self.api.request(
            "GET", f"/crm/v3/lists/object-type-id/{COMPANY_LIST_TYPE}/name/{quote(name, safe='')}"
        )
        if response.status_code == 404:
            return None
        found = self._ok(response, 200).get("list") or {}
        if found.get("processingType") not in ("MANUAL", "SNAPSHOT"):
            raise CrmError(
                f"HubSpot list {name!r} ({found.get('listId')}) is {found.get('processingType')}: the sync can only "
                "keep MANUAL or SNAPSHOT lists; rename or delete it, or set CSOPS_SYNC_LIST_NAME"
            )
        return str(found["listId"])

    def create_list(self, name: str) -> str:
        response = self.api.request(
            "POST",
            "/crm/v3/lists",
            json={"name": name, "objectTypeId": COMPANY_LIST_TYPE, "processingType": "MANUAL"},
        )
        created = self._ok(response, 200, 201).get("list") or {}
        self.log(f"created HubSpot list {name!r} ({created.get('listId')})")
        return str(created["listId"])

    def list_members(self, list_id: str) -> set[str]:
        members: set[str] = set()
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": MEMBERSHIP_PAGE}
            if after:
                params["after"] = after
            page = self._ok(self.api.request("GET", f"/crm/v3/lists/{list_id}/memberships", params=params), 200)
            members.update(str(r["recordId"]) for r in page.get("results", []))
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return members

    def _change_members(self, list_id: str, verb: str, crm_ids: Sequence[str]) -> list[RowResult]:
        if not crm_ids:
            return []
        response = self.api.request("PUT", f"/crm/v3/lists/{list_id}/memberships/{verb}", json=list(crm_ids))
        if response.status_code != 200:
            raise BatchRejected(describe(response), gone=_not_found(response) and len(crm_ids) == 1)
        missing = {str(m) for m in _json(response).get("recordIdsMissing", [])}
        return [
            RowResult(c, False, c, "OBJECT_NOT_FOUND: no such company in HubSpot", gone=True)
            if c in missing
            else RowResult(c, True, c)
            for c in crm_ids
        ]

    def add_to_list(self, list_id: str, crm_ids: Sequence[str]) -> list[RowResult]:
        return self._change_members(list_id, "add", crm_ids)

    def remove_from_list(self, list_id: str, crm_ids: Sequence[str]) -> list[RowResult]:
        return self._change_members(list_id, "remove", crm_ids)
