"""HubSpot's data model over the world: object types, property definitions, associations, values as strings.

HubSpot serves every property value as a string (numbers "25", datetimes "2026-03-09T02:35:01.502Z", dates
"2026-03-09", booleans "true"), validates writes against property definitions (unknown property ->
PROPERTY_DOESNT_EXIST), and lets a portal add custom properties. An `ObjectSet` is all objects of one type as
arrays, with the CRM writes of `crm_writes` laid over the world's values, so reads and search see writes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sandbox.server.common import MS_NULL, iso_date, iso_ms, parse_instant_ms
from sandbox.server.crm_writes import CrmStore, Snapshot
from sandbox.server.store import Column, Table, World

DAY_MS = 86_400_000
BUILTIN_UPDATED = "2020-01-01T00:00:00.000Z"


# --------------------------------------------------------------------------------------------- object types
@dataclass(frozen=True)
class ObjectType:
    name: str  # plural, as in /crm/v3/objects/{name}
    singular: str
    type_id: str  # HubSpot's objectTypeId
    table: str | None  # world table (None: only objects created through the API)
    created_prop: str
    modified_prop: str
    default_props: tuple[str, ...]
    engagement: str | None = None  # value of hubspot_engagements.object_type
    columns: dict[str, str] = field(default_factory=dict)  # property -> world column, where names differ
    hidden_columns: tuple[str, ...] = ()  # world columns that are not properties
    query_props: tuple[str, ...] = ()  # what the search `query` looks through
    writable_via_api: bool = False  # objects can be created through the API (tasks)


_ENGAGEMENT_HIDDEN = ("id", "archived", "company_id", "contact_id", "object_type", "title", "body")
OBJECT_TYPES: dict[str, ObjectType] = {
    t.name: t
    for t in (
        ObjectType(
            "contacts",
            "contact",
            "0-1",
            "hubspot_contacts",
            "createdate",
            "lastmodifieddate",
            ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
            columns={"associatedcompanyid": "company_id"},
            hidden_columns=("id", "archived", "company_id"),
            query_props=("email", "firstname", "lastname"),
        ),
        ObjectType(
            "companies",
            "company",
            "0-2",
            "hubspot_companies",
            "createdate",
            "hs_lastmodifieddate",
            ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
            hidden_columns=("id", "archived"),
            query_props=("name", "domain"),
        ),
        ObjectType(
            "deals",
            "deal",
            "0-3",
            "hubspot_deals",
            "createdate",
            "hs_lastmodifieddate",
            (
                "amount",
                "closedate",
                "createdate",
                "dealname",
                "dealstage",
                "hs_lastmodifieddate",
                "hs_object_id",
                "pipeline",
            ),
            hidden_columns=("id", "archived", "company_id"),
            query_props=("dealname",),
        ),
        ObjectType(
            "tickets",
            "ticket",
            "0-5",
            "hubspot_tickets",
            "createdate",
            "hs_lastmodifieddate",
            (
                "content",
                "createdate",
                "hs_lastmodifieddate",
                "hs_object_id",
                "hs_pipeline",
                "hs_pipeline_stage",
                "hs_ticket_category",
                "hs_ticket_priority",
                "subject",
            ),
            hidden_columns=("id", "archived", "company_id"),
            query_props=("subject", "content"),
        ),
        ObjectType(
            "notes",
            "note",
            "0-46",
            "hubspot_engagements",
            "hs_createdate",
            "hs_lastmodifieddate",
            ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
            engagement="notes",
            columns={"hs_note_body": "body"},
            hidden_columns=_ENGAGEMENT_HIDDEN,
            query_props=("hs_note_body",),
        ),
        ObjectType(
            "calls",
            "call",
            "0-48",
            "hubspot_engagements",
            "hs_createdate",
            "hs_lastmodifieddate",
            ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
            engagement="calls",
            columns={"hs_call_title": "title", "hs_call_body": "body"},
            hidden_columns=_ENGAGEMENT_HIDDEN,
            query_props=("hs_call_title", "hs_call_body"),
        ),
        ObjectType(
            "meetings",
            "meeting",
            "0-47",
            "hubspot_engagements",
            "hs_createdate",
            "hs_lastmodifieddate",
            ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
            engagement="meetings",
            columns={
                "hs_meeting_title": "title",
                "hs_meeting_body": "body",
                "hs_meeting_start_time": "hs_timestamp",
            },
            hidden_columns=_ENGAGEMENT_HIDDEN,
            query_props=("hs_meeting_title", "hs_meeting_body"),
        ),
        ObjectType(
            "tasks",
            "task",
            "0-27",
            None,
            "hs_createdate",
            "hs_lastmodifieddate",
            ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
            query_props=("hs_task_subject", "hs_task_body"),
            writable_via_api=True,
        ),
    )
}
_ALIASES = {alias: t.name for t in OBJECT_TYPES.values() for alias in (t.name, t.singular, t.type_id)}


def resolve_type(name: str) -> ObjectType | None:
    """`companies`, `company` and `0-2` all name the company object, as in HubSpot's paths."""
    key = _ALIASES.get(name.lower())
    return OBJECT_TYPES[key] if key else None


# ------------------------------------------------------------------------------------------ associations
@dataclass(frozen=True)
class AssocType:
    type_id: int
    label: str | None
    v3_name: str


# (from, to) -> association types served, HUBSPOT_DEFINED. Primary company associations come with the
# unlabeled one too (typeIds from HubSpot's association-type table).
_PAIR_TYPES: dict[tuple[str, str], tuple[AssocType, ...]] = {
    ("contacts", "companies"): (
        AssocType(1, "Primary", "contact_to_company"),
        AssocType(279, None, "contact_to_company_unlabeled"),
    ),
    ("companies", "contacts"): (
        AssocType(2, "Primary", "company_to_contact"),
        AssocType(280, None, "company_to_contact_unlabeled"),
    ),
    ("deals", "companies"): (
        AssocType(5, "Primary", "deal_to_company"),
        AssocType(341, None, "deal_to_company_unlabeled"),
    ),
    ("companies", "deals"): (
        AssocType(6, "Primary", "company_to_deal"),
        AssocType(342, None, "company_to_deal_unlabeled"),
    ),
    ("tickets", "companies"): (
        AssocType(339, "Primary", "ticket_to_company"),
        AssocType(26, None, "ticket_to_company_unlabeled"),
    ),
    ("companies", "tickets"): (
        AssocType(340, "Primary", "company_to_ticket"),
        AssocType(25, None, "company_to_ticket_unlabeled"),
    ),
    ("notes", "companies"): (AssocType(190, None, "note_to_company"),),
    ("companies", "notes"): (AssocType(189, None, "company_to_note"),),
    ("calls", "companies"): (AssocType(182, None, "call_to_company"),),
    ("companies", "calls"): (AssocType(181, None, "company_to_call"),),
    ("meetings", "companies"): (AssocType(188, None, "meeting_to_company"),),
    ("companies", "meetings"): (AssocType(187, None, "company_to_meeting"),),
    ("notes", "contacts"): (AssocType(202, None, "note_to_contact"),),
    ("contacts", "notes"): (AssocType(201, None, "contact_to_note"),),
    ("calls", "contacts"): (AssocType(194, None, "call_to_contact"),),
    ("contacts", "calls"): (AssocType(193, None, "contact_to_call"),),
    ("meetings", "contacts"): (AssocType(200, None, "meeting_to_contact"),),
    ("contacts", "meetings"): (AssocType(199, None, "contact_to_meeting"),),
}
# Association types a client may create when creating tasks: typeId -> (to type, the reverse typeId).
TASK_ASSOCIATIONS = {
    192: ("companies", 191),
    204: ("contacts", 203),
    216: ("deals", 215),
    230: ("tickets", 229),
}
_TASK_V3 = {
    192: "task_to_company",
    191: "company_to_task",
    204: "task_to_contact",
    203: "contact_to_task",
    216: "task_to_deal",
    215: "deal_to_task",
    230: "task_to_ticket",
    229: "ticket_to_task",
}
# World foreign keys: (from type, to type) -> the from-table column holding the to-object id.
_WORLD_LINKS = {
    ("contacts", "companies"): "company_id",
    ("deals", "companies"): "company_id",
    ("tickets", "companies"): "company_id",
    ("notes", "companies"): "company_id",
    ("calls", "companies"): "company_id",
    ("meetings", "companies"): "company_id",
    ("notes", "contacts"): "contact_id",
    ("calls", "contacts"): "contact_id",
    ("meetings", "contacts"): "contact_id",
}


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
    if values is not None and 0 < len(values) <= 12 and name not in ("account_id",):
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


# -------------------------------------------------------------------------------------- value formatting
def format_number(value: float) -> str:
    if isinstance(value, int | np.integer):
        return str(int(value))
    if math.isfinite(value) and float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def format_column(column: Column, prop_type: str, rows: np.ndarray) -> list[str | None]:
    """World values of `rows` as HubSpot strings."""
    values = column.values[rows].tolist()
    valid = column.valid[rows].tolist()
    if column.kind == "ts":
        return [iso_ms(v) if ok else None for v, ok in zip(values, valid, strict=True)]
    if column.kind == "date":
        return [iso_date(v) if ok else None for v, ok in zip(values, valid, strict=True)]
    if column.kind in ("int", "float"):
        return [format_number(v) if ok else None for v, ok in zip(values, valid, strict=True)]
    if column.kind == "bool":
        return [("true" if v else "false") if ok else None for v, ok in zip(values, valid, strict=True)]
    return [v if ok else None for v, ok in zip(values, valid, strict=True)]


class InvalidValue(ValueError):
    """A property value HubSpot would reject; `code` is HubSpot's error code (INVALID_OPTION, ...)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def normalise_value(definition: dict[str, Any], raw: Any) -> str | None:
    """The stored string of a written value (HubSpot's canonical form), or InvalidValue."""
    if raw is None:
        return None
    prop_type = definition["type"]
    text = raw if isinstance(raw, str) else ("true" if raw is True else "false" if raw is False else str(raw))
    if text == "":
        return ""  # HubSpot clears a property with an empty string
    name = definition["name"]
    if prop_type == "number":
        try:
            number = float(text)
        except ValueError:
            raise InvalidValue("INVALID_FLOAT", f"{text} was not a valid number.") from None
        if not math.isfinite(number):
            raise InvalidValue("INVALID_FLOAT", f"{text} was not a valid number.")
        return text.strip()
    if prop_type == "bool":
        if text.lower() not in ("true", "false"):
            raise InvalidValue("INVALID_BOOLEAN", f"{text} was not a valid boolean.")
        return text.lower()
    if prop_type == "datetime":
        ms = parse_instant_ms(text)
        if ms is None:
            raise InvalidValue("INVALID_DATE", f"{text} was not a valid long or ISO-8601 datetime.")
        return iso_ms(ms)
    if prop_type == "date":
        ms = parse_instant_ms(text)
        if ms is None:
            raise InvalidValue("INVALID_DATE", f"{text} was not a valid date.")
        if ms % DAY_MS:
            raise InvalidValue("INVALID_DATE", f"{text} is not midnight UTC: date properties take a day.")
        return iso_date(ms // DAY_MS)
    if prop_type == "enumeration":
        allowed = [o["value"] for o in definition.get("options", [])]
        parts = text.split(";") if definition.get("fieldType") == "checkbox" else [text]
        bad = [p for p in parts if p not in allowed]
        if bad and allowed:
            if name == "hubspot_owner_id":
                raise InvalidValue("INVALID_OWNER_ID", f"No owner with ID '{text}' exists.")
            raise InvalidValue("INVALID_OPTION", f"{bad[0]} was not one of the allowed options: [{', '.join(allowed)}]")
        return text
    return text


def typed_from_strings(prop_type: str | None, values: list[str | None]) -> Column:
    """Stored strings as a typed column (what search compares), invalid strings as nulls."""
    n = len(values)
    valid = np.array([v not in (None, "") for v in values], dtype=bool)
    if prop_type == "number":
        out = np.zeros(n)
        for i, v in enumerate(values):
            try:
                out[i] = float(v) if valid[i] else 0.0
            except (TypeError, ValueError):
                valid[i] = False
        return Column("float", out, valid)
    if prop_type in ("datetime", "date"):
        ms_values = [parse_instant_ms(v) if ok else None for v, ok in zip(values, valid, strict=True)]
        valid &= np.array([m is not None for m in ms_values], dtype=bool)
        out = np.array([m if m is not None else MS_NULL for m in ms_values], dtype=np.int64)
        if prop_type == "date":
            return Column("date", np.where(valid, out // DAY_MS, 0), valid)
        return Column("ts", out, valid)
    return Column(
        "str", np.array([v if ok else None for v, ok in zip(values, valid, strict=True)], dtype=object), valid
    )


# --------------------------------------------------------------------------------------------- object sets
@dataclass
class BaseSet:
    """The world's objects of one type, sorted by id (per world render)."""

    ids: np.ndarray  # int64, ascending
    rows: np.ndarray  # rows of the world table, aligned with ids
    table: Table | None
    created_ms: np.ndarray
    modified_ms: np.ndarray
    archived: np.ndarray


def _base_set(world: World, object_type: ObjectType) -> BaseSet:
    if object_type.table is None:
        empty = np.array([], dtype=np.int64)
        return BaseSet(empty, empty, None, empty, empty, np.array([], dtype=bool))
    table = world.table(object_type.table)
    rows = np.arange(table.n)
    if object_type.engagement:
        rows = rows[table.col("object_type").values == object_type.engagement]
    ids = np.array([int(v) for v in table.col("id").values[rows]], dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    ids, rows = ids[order], rows[order]
    created = table.col(object_type.created_prop).values[rows]
    modified = table.col(object_type.modified_prop).values[rows]
    archived = table.col("archived").values[rows] if "archived" in table else np.zeros(len(rows), dtype=bool)
    return BaseSet(ids, rows, table, created, modified, archived.astype(bool))


class ObjectSet:
    """All objects of one type with the CRM's writes applied: ids, times, typed columns, string properties."""

    def __init__(self, world: World, snap: Snapshot, object_type: ObjectType, version: int):
        self.world, self.object_type, self.version = world, object_type, version
        self.schema = schema_for(world, snap, object_type)
        base = world.derive(f"hubspot:base:{object_type.name}", lambda w: _base_set(w, object_type))
        self.base = base
        api_objects = snap.objects.get(object_type.name, {})
        self.overlay: dict[int, dict[str, str | None]] = snap.values.get(object_type.name, {})
        created = [o for o in api_objects.values() if o.api_created]
        if created:  # objects created through the API (tasks) join the world's
            created.sort(key=lambda o: o.object_id)
            extra_ids = np.array([o.object_id for o in created], dtype=np.int64)
            self.ids = np.concatenate([base.ids, extra_ids])
            self.rows = np.concatenate([base.rows, np.full(len(created), -1)])
            self.created_ms = np.concatenate([base.created_ms, [o.created_ms for o in created]]).astype(np.int64)
            self.modified_ms = np.concatenate([base.modified_ms, [o.updated_ms for o in created]]).astype(np.int64)
            self.archived = np.concatenate([base.archived, [o.archived for o in created]]).astype(bool)
            order = np.argsort(self.ids, kind="stable")
            self.ids, self.rows = self.ids[order], self.rows[order]
            self.created_ms, self.modified_ms, self.archived = (
                self.created_ms[order],
                self.modified_ms[order],
                self.archived[order],
            )
        else:
            self.ids, self.rows = base.ids, base.rows
            self.created_ms, self.modified_ms, self.archived = (
                base.created_ms,
                base.modified_ms,
                base.archived,
            )
        updated = [o for o in api_objects.values() if not o.api_created]
        if updated:  # a write bumps the modified time of world objects
            self.modified_ms = self.modified_ms.copy()
            positions = self.positions(np.array([o.object_id for o in updated], dtype=np.int64))
            for pos, obj in zip(positions, updated, strict=True):
                if pos >= 0:
                    self.modified_ms[pos] = max(self.modified_ms[pos], obj.updated_ms)
        self._columns: dict[str, Column] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def positions(self, ids: np.ndarray) -> np.ndarray:
        """Position of each id in this set, -1 where absent."""
        pos = np.searchsorted(self.ids, ids)
        pos = np.minimum(pos, max(len(self.ids) - 1, 0))
        found = (self.ids[pos] == ids) if len(self.ids) else np.zeros(len(ids), dtype=bool)
        return np.where(found, pos, -1)

    def position(self, object_id: str | int) -> int:
        try:
            key = int(object_id)
        except (TypeError, ValueError):
            return -1
        return int(self.positions(np.array([key], dtype=np.int64))[0])

    # --------------------------------------------------------------------------------------------- columns
    def world_column(self, prop: str) -> Column | None:
        """The world's column behind a property (None if the world has no such column)."""
        table = self.base.table
        if table is None:
            return None
        if prop in self.object_type.columns:
            return table.columns.get(self.object_type.columns[prop])
        if prop in self.object_type.hidden_columns:
            return None
        return table.columns.get(prop)

    def column(self, prop: str) -> Column:
        """A typed column over all positions, writes included (cached per set)."""
        if prop in self._columns:
            return self._columns[prop]
        n = len(self.ids)
        prop_type = self.schema.type_of(prop)
        if prop == "hs_object_id":
            col = Column("float", self.ids.astype(np.float64), np.ones(n, dtype=bool))
        elif prop == self.object_type.created_prop:
            col = Column("ts", self.created_ms, self.created_ms != MS_NULL)
        elif prop == self.object_type.modified_prop:
            col = Column("ts", self.modified_ms, self.modified_ms != MS_NULL)
        else:
            col = self._merged_column(prop, prop_type, n)
        self._columns[prop] = col
        return col

    def _merged_column(self, prop: str, prop_type: str | None, n: int) -> Column:
        world = self.world_column(prop)
        has_rows = self.rows >= 0
        if world is not None:
            rows = np.where(has_rows, self.rows, 0)
            values, valid = world.values[rows], world.valid[rows] & has_rows
            kind = world.kind
            if kind == "bool":
                values, kind = np.where(values, "true", "false").astype(object), "str"
            elif prop == "associatedcompanyid":  # an id string served as a number property
                valid = valid.copy()
                values = np.array([float(v) if ok else 0.0 for v, ok in zip(values, valid, strict=True)])
                kind = "float"
            elif kind == "int" and prop_type == "number":
                values, kind = values.astype(np.float64), "float"
            col = Column(kind, values, valid)
        else:
            kind = {"number": "float", "datetime": "ts", "date": "date"}.get(prop_type or "", "str")
            fill = {"float": 0.0, "ts": MS_NULL, "date": 0}.get(kind)
            values = np.full(n, fill, dtype={"float": np.float64, "ts": np.int64, "date": np.int64}.get(kind, object))
            col = Column(kind, values, np.zeros(n, dtype=bool))
        written = [(oid, props[prop]) for oid, props in self.overlay.items() if prop in props]
        if written:
            positions = self.positions(np.array([oid for oid, _ in written], dtype=np.int64))
            typed = typed_from_strings(prop_type, [v for _, v in written])
            values, valid = col.values.copy(), col.valid.copy()
            if values.dtype != typed.values.dtype:
                values = values.astype(object) if typed.values.dtype == object else values
            keep = positions >= 0
            values[positions[keep]] = typed.values[keep]
            valid[positions[keep]] = typed.valid[keep]
            col = Column(typed.kind if col.kind in ("str", typed.kind) else col.kind, values, valid)
        return col

    # ------------------------------------------------------------------------------------------ properties
    def properties(self, positions: np.ndarray, names: list[str]) -> list[dict[str, str | None]]:
        """HubSpot property dicts (values as strings) of the objects at `positions`."""
        out: list[dict[str, str | None]] = [{} for _ in range(len(positions))]
        ids = self.ids[positions]
        rows = self.rows[positions]
        has_rows = rows >= 0
        for name in names:
            if name == "hs_object_id":
                strings: list[str | None] = [str(i) for i in ids.tolist()]
            elif name in (self.object_type.created_prop, self.object_type.modified_prop):
                source = self.created_ms if name == self.object_type.created_prop else self.modified_ms
                strings = [iso_ms(v) if v != MS_NULL else None for v in source[positions].tolist()]
            else:
                world = self.world_column(name)
                if world is not None and has_rows.any():
                    definition = self.schema.get(name)
                    strings = format_column(
                        world, definition["type"] if definition else "string", np.where(has_rows, rows, 0)
                    )
                    strings = [s if ok else None for s, ok in zip(strings, has_rows.tolist(), strict=True)]
                else:
                    strings = [None] * len(positions)
            for i, (object_id, value) in enumerate(zip(ids.tolist(), strings, strict=True)):
                written = self.overlay.get(object_id)
                out[i][name] = written[name] if written is not None and name in written else value
        return out

    def property_names(self) -> list[str]:
        """Every property an object of this type can have (for `properties` validation)."""
        return [p["name"] for p in self.schema.all()]

    def default_names(self) -> list[str]:
        return list(self.object_type.default_props)

    def served_names(self, requested: list[str] | None) -> list[str]:
        """Requested properties that exist plus the three HubSpot always returns; defaults if none asked."""
        if not requested:
            return self.default_names()
        known = set(self.property_names())
        always = ["hs_object_id", self.object_type.created_prop, self.object_type.modified_prop]
        names = [p for p in requested if p in known]
        return list(dict.fromkeys([*names, *always]))

    def to_public(self, positions: np.ndarray, names: list[str]) -> list[dict[str, Any]]:
        """SimplePublicObject dicts: id, properties, createdAt, updatedAt, archived."""
        props = self.properties(positions, names)
        created = self.created_ms[positions].tolist()
        modified = self.modified_ms[positions].tolist()
        archived = self.archived[positions].tolist()
        out = []
        for i, p, c, m, a in zip(self.ids[positions].tolist(), props, created, modified, archived, strict=True):
            obj = {
                "id": str(i),
                "properties": p,
                "createdAt": iso_ms(c),
                "updatedAt": iso_ms(m),
                "archived": a,
            }
            if a:
                obj["archivedAt"] = iso_ms(m)
            out.append(obj)
        return out


# ------------------------------------------------------------------------------------- association index
@dataclass
class AssocIndex:
    """from-id -> [(to-id, AssocType)] for one (from, to) pair, world links and API-made ones together."""

    from_ids: np.ndarray
    to_ids: np.ndarray
    types: list[tuple[AssocType, ...]]

    def lookup(self, ids: np.ndarray) -> list[list[tuple[int, tuple[AssocType, ...]]]]:
        starts = np.searchsorted(self.from_ids, ids, side="left")
        ends = np.searchsorted(self.from_ids, ids, side="right")
        return [
            [(int(self.to_ids[k]), self.types[k]) for k in range(s, e)]
            for s, e in zip(starts.tolist(), ends.tolist(), strict=True)
        ]


def _world_links(world: World, from_name: str, to_name: str) -> tuple[np.ndarray, np.ndarray]:
    """(from ids, to ids) of the world's foreign-key links between two types (either direction)."""
    if (from_name, to_name) in _WORLD_LINKS:
        child, parent, column = from_name, to_name, _WORLD_LINKS[(from_name, to_name)]
        forward = True
    elif (to_name, from_name) in _WORLD_LINKS:
        child, parent, column = to_name, from_name, _WORLD_LINKS[(to_name, from_name)]
        forward = False
    else:
        return np.array([], dtype=np.int64), np.array([], dtype=np.int64)
    del parent
    base = world.derive(f"hubspot:base:{child}", lambda w: _base_set(w, OBJECT_TYPES[child]))
    col = base.table.col(column)
    valid = col.valid[base.rows]
    child_ids = base.ids[valid]
    target_ids = np.array([int(v) for v in col.values[base.rows][valid]], dtype=np.int64)
    return (child_ids, target_ids) if forward else (target_ids, child_ids)


def association_index(world: World, snap: Snapshot, version: int, from_name: str, to_name: str) -> AssocIndex:
    def build_world(w: World) -> tuple[np.ndarray, np.ndarray]:
        return _world_links(w, from_name, to_name)

    from_ids, to_ids = world.derive(f"hubspot:links:{from_name}:{to_name}", build_world)
    pair_types = _PAIR_TYPES.get((from_name, to_name), ())
    types: list[tuple[AssocType, ...]] = [pair_types] * len(from_ids)
    extra = [(a[1], a[3], a[4]) for a in snap.associations if a[0] == from_name and a[2] == to_name]
    if extra:
        grouped: dict[tuple[int, int], list[AssocType]] = {}
        for f, t, type_id in extra:
            grouped.setdefault((f, t), []).append(AssocType(type_id, None, _TASK_V3.get(type_id, "")))
        from_ids = np.concatenate([from_ids, np.array([k[0] for k in grouped], dtype=np.int64)])
        to_ids = np.concatenate([to_ids, np.array([k[1] for k in grouped], dtype=np.int64)])
        types = types + [tuple(v) for v in grouped.values()]
    order = np.lexsort((to_ids, from_ids))
    return AssocIndex(from_ids[order], to_ids[order], [types[i] for i in order.tolist()])


# ----------------------------------------------------------------------------------------------- the model
class HubSpotModel:
    """Per (world render, CRM version) object sets and association indexes, built on first use."""

    def __init__(self, world: World, crm: CrmStore):
        self.world = world
        self.snap = crm.current()
        self.version = crm.version
        self._sets: dict[str, ObjectSet] = {}
        self._assoc: dict[tuple[str, str], AssocIndex] = {}

    def objects(self, object_type: ObjectType) -> ObjectSet:
        if object_type.name not in self._sets:
            self._sets[object_type.name] = ObjectSet(self.world, self.snap, object_type, self.version)
        return self._sets[object_type.name]

    def associations(self, from_name: str, to_name: str) -> AssocIndex:
        key = (from_name, to_name)
        if key not in self._assoc:
            self._assoc[key] = association_index(self.world, self.snap, self.version, from_name, to_name)
        return self._assoc[key]
