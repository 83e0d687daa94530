"""Property definitions per object type, in the shape of `GET /crm/v3/properties/{objectType}`: HubSpot's
built-ins, one inferred for every other world column, and the custom ones a client creates through the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sandbox.server.hubspot.crm_writes import Snapshot
from sandbox.server.hubspot.object_types import ObjectType
from sandbox.server.store import Column, World

BUILTIN_UPDATED = "2020-01-01T00:00:00.000Z"


# --------------------------------------------------------------------------------------- property schema
def _prop(
    name: str,
    label: str,
    type_: str,
    field_type: str,
    group: str,
    *,
    options: list[str] | None = None,
    read_only: bool = False,
    hubspot_defined: bool = True,
    created_at: str = BUILTIN_UPDATED,
    unique: bool = False,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A property definition in the shape of GET /crm/v3/properties/{objectType}."""
    return {
        "name": name,
        "label": label,
        "type": type_,
        "fieldType": field_type,
        "description": "",
        "groupName": group,
        "options": [
            {
                "label": (labels or {}).get(o, o.replace("_", " ").title()),
                "value": o,
                "displayOrder": i,
                "hidden": False,
            }
            for i, o in enumerate(options or [])
        ],
        "displayOrder": -1,
        "calculated": False,
        "externalOptions": name == "hubspot_owner_id",
        "hasUniqueValue": unique,
        "hidden": False,
        "hubspotDefined": hubspot_defined,
        "modificationMetadata": {
            "archivable": not hubspot_defined,
            "readOnlyDefinition": hubspot_defined,
            "readOnlyValue": read_only,
        },
        "formField": not read_only,
        "dataSensitivity": "non_sensitive",
        "createdAt": created_at,
        "updatedAt": created_at,
        "archived": False,
    }


LIFECYCLE = [
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
]
DEAL_STAGES = [
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "decisionmakerboughtin",
    "contractsent",
    "closedwon",
    "closedlost",
]
TASK_STATUS = ["NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"]
TASK_PRIORITY = ["NONE", "LOW", "MEDIUM", "HIGH"]
TASK_TYPE = ["TODO", "CALL", "EMAIL", "LINKED_IN", "MEETING", "LINKED_IN_CONNECT", "LINKED_IN_MESSAGE"]


def _common(group: str) -> list[dict[str, Any]]:
    return [
        _prop("hs_object_id", "Record ID", "number", "number", group, read_only=True, unique=True),
        _prop("hubspot_owner_id", "Owner", "enumeration", "select", group),
    ]


def _builtin(object_type: ObjectType) -> list[dict[str, Any]]:
    """HubSpot-defined properties the sandbox serves (a real portal has many more)."""
    t = object_type.name
    created = [
        _prop(object_type.created_prop, "Create date", "datetime", "date", "", read_only=True),
        _prop(object_type.modified_prop, "Last modified date", "datetime", "date", "", read_only=True),
    ]
    if t == "companies":
        g = "companyinformation"
        props = [
            _prop("name", "Company name", "string", "text", g),
            _prop("domain", "Company domain name", "string", "text", g),
            _prop("industry", "Industry", "enumeration", "select", g),
            _prop("numberofemployees", "Number of Employees", "number", "number", g),
            _prop("country", "Country/Region", "string", "text", g),
            _prop("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", g, options=LIFECYCLE),
        ]
    elif t == "contacts":
        g = "contactinformation"
        props = [
            _prop("email", "Email", "string", "text", g),
            _prop("firstname", "First Name", "string", "text", g),
            _prop("lastname", "Last Name", "string", "text", g),
            _prop("jobtitle", "Job Title", "string", "text", g),
            _prop("associatedcompanyid", "Primary Associated Company ID", "number", "number", g),
        ]
    elif t == "deals":
        g = "dealinformation"
        props = [
            _prop("dealname", "Deal Name", "string", "text", g),
            _prop("amount", "Amount", "number", "number", g),
            _prop("dealstage", "Deal Stage", "enumeration", "radio", g, options=DEAL_STAGES),
            _prop("pipeline", "Pipeline", "enumeration", "select", g, options=["default"]),
            _prop(
                "dealtype",
                "Deal Type",
                "enumeration",
                "radio",
                g,
                options=["newbusiness", "existingbusiness"],
            ),
            _prop("closedate", "Close Date", "datetime", "date", g),
        ]
    elif t == "tickets":
        g = "ticketinformation"
        props = [
            _prop("subject", "Ticket name", "string", "text", g),
            _prop("content", "Ticket description", "string", "textarea", g),
            _prop("hs_pipeline", "Pipeline", "enumeration", "select", g, options=["0"]),
            _prop(
                "hs_pipeline_stage",
                "Ticket status",
                "enumeration",
                "radio",
                g,
                options=["1", "2", "3", "4"],
                labels={"1": "New", "2": "Waiting on contact", "3": "Waiting on us", "4": "Closed"},
            ),
            _prop(
                "hs_ticket_priority",
                "Priority",
                "enumeration",
                "select",
                g,
                options=["LOW", "MEDIUM", "HIGH", "URGENT"],
            ),
            _prop(
                "hs_ticket_category",
                "Category",
                "enumeration",
                "checkbox",
                g,
                options=["PRODUCT_ISSUE", "BILLING_ISSUE", "FEATURE_REQUEST", "GENERAL_INQUIRY"],
            ),
            _prop("closed_date", "Close date", "datetime", "date", g),
        ]
    else:
        g = "engagement"
        props = [_prop("hs_timestamp", "Activity date", "datetime", "date", g)]
        if t == "notes":
            props += [_prop("hs_note_body", "Note body", "string", "html", g)]
        elif t == "calls":
            props += [
                _prop("hs_call_title", "Call Title", "string", "text", g),
                _prop("hs_call_body", "Call notes", "string", "html", g),
            ]
        elif t == "meetings":
            props += [
                _prop("hs_meeting_title", "Meeting name", "string", "text", g),
                _prop("hs_meeting_body", "Meeting description", "string", "html", g),
                _prop("hs_meeting_start_time", "Start Time", "datetime", "date", g),
            ]
        elif t == "emails":
            props += [
                _prop("hs_email_subject", "Email subject", "string", "text", g),
                _prop("hs_email_text", "Email body", "string", "textarea", g),
            ]
        elif t == "tasks":
            g = "task"
            props = [
                _prop("hs_timestamp", "Due date", "datetime", "date", g),
                _prop("hs_task_subject", "Task Title", "string", "text", g),
                _prop("hs_task_body", "Notes", "string", "html", g),
                _prop("hs_task_status", "Task Status", "enumeration", "select", g, options=TASK_STATUS),
                _prop("hs_task_priority", "Priority", "enumeration", "select", g, options=TASK_PRIORITY),
                _prop("hs_task_type", "Task Type", "enumeration", "select", g, options=TASK_TYPE),
                _prop("hs_task_completion_date", "Completed at", "datetime", "date", g, read_only=True),
            ]
    for p in created:
        p["groupName"] = g
    return [*_common(g), *created, *props]


def _inferred(name: str, column: Column, group: str, created_at: str, values: np.ndarray | None) -> dict[str, Any]:
    """A custom property for a world column the sandbox has no explicit definition of."""
    label = name.replace("_", " ").capitalize()
    if column.kind in ("int", "float"):
        return _prop(name, label, "number", "number", group, hubspot_defined=False, created_at=created_at)
    if column.kind == "ts":
        return _prop(name, label, "datetime", "date", group, hubspot_defined=False, created_at=created_at)
    if column.kind == "date":
        return _prop(name, label, "date", "date", group, hubspot_defined=False, created_at=created_at)
    if column.kind == "bool" or (values is not None and set(values.tolist()) <= {"true", "false"} and len(values)):
        return _prop(
            name,
            label,
            "bool",
            "booleancheckbox",
            group,
            hubspot_defined=False,
            created_at=created_at,
            options=["true", "false"],
            labels={"true": "Yes", "false": "No"},
        )
    if values is not None and 0 < len(values) <= 12 and name not in ("account_id", "hs_merged_object_ids"):
        return _prop(
            name,
            label,
            "enumeration",
            "select",
            group,
            hubspot_defined=False,
            created_at=created_at,
            options=sorted(values.tolist()),
        )
    return _prop(
        name,
        label,
        "string",
        "text",
        group,
        hubspot_defined=False,
        created_at=created_at,
        unique=name == "account_id",
    )


@dataclass
class Schema:
    """Property definitions of one object type: built-ins, the world's custom columns, API-created ones."""

    object_type: ObjectType
    builtin: dict[str, dict[str, Any]]
    custom: dict[str, dict[str, Any]]

    def get(self, name: str) -> dict[str, Any] | None:
        return self.builtin.get(name) or self.custom.get(name)

    def all(self) -> list[dict[str, Any]]:
        return [*self.builtin.values(), *self.custom.values()]

    def type_of(self, name: str) -> str | None:
        definition = self.get(name)
        return definition["type"] if definition else None


def base_schema(world: World, object_type: ObjectType) -> dict[str, dict[str, Any]]:
    """Built-in + world-column definitions (per world render)."""
    defs = {p["name"]: p for p in _builtin(object_type)}
    owners = world.table("hubspot_owners")
    owner_prop = defs["hubspot_owner_id"]
    owner_prop["options"] = [
        {
            "label": f"{owners.col('firstName').values[i]} {owners.col('lastName').values[i]}",
            "value": owners.col("id").values[i],
            "displayOrder": i,
            "hidden": False,
        }
        for i in range(owners.n)
    ]
    if object_type.table is None:
        return defs
    table = world.table(object_type.table)
    group = defs["hs_object_id"]["groupName"]
    created_at = f"{world.manifest.start_date.isoformat()}T00:00:00.000Z"
    served_columns = set(object_type.columns.values())
    for column_name, column in table.columns.items():
        if column_name in object_type.hidden_columns and column_name not in served_columns:
            continue
        if column_name in defs or column_name in served_columns:
            continue
        values = None
        if column.kind == "str":
            values = np.unique(column.values[column.valid].astype(str)) if column.valid.any() else np.array([])
        defs[column_name] = _inferred(column_name, column, group, created_at, values)
    if "industry" in defs and "industry" in table:
        col = table.col("industry")
        defs["industry"]["options"] = [
            {"label": v.replace("_", " ").title(), "value": v, "displayOrder": i, "hidden": False}
            for i, v in enumerate(sorted(set(col.values[col.valid].tolist())))
        ]
    return defs


def schema_for(world: World, crm: Snapshot, object_type: ObjectType) -> Schema:
    base = world.derive(f"hubspot:schema:{object_type.name}", lambda w: base_schema(w, object_type))
    return Schema(object_type, base, dict(crm.definitions.get(object_type.name, {})))
