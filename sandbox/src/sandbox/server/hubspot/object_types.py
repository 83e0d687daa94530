"""HubSpot's object types (contacts, companies, deals, tickets, engagements: notes, calls, meetings, emails;
tasks) and the association types between them, with the world columns that link them."""

from __future__ import annotations

from dataclasses import dataclass, field


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
            "emails",
            "email",
            "0-49",
            "hubspot_engagements",
            "hs_createdate",
            "hs_lastmodifieddate",
            ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
            engagement="emails",
            columns={"hs_email_subject": "title", "hs_email_text": "body"},
            hidden_columns=_ENGAGEMENT_HIDDEN,
            query_props=("hs_email_subject", "hs_email_text"),
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
    category: str = "HUBSPOT_DEFINED"


# (from, to) -> association types served, HUBSPOT_DEFINED. Primary company associations come with the
# unlabeled one too (typeIds from HubSpot's association-type table).
PAIR_TYPES: dict[tuple[str, str], tuple[AssocType, ...]] = {
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
    ("emails", "companies"): (AssocType(186, None, "email_to_company"),),
    ("companies", "emails"): (AssocType(185, None, "company_to_email"),),
    ("notes", "contacts"): (AssocType(202, None, "note_to_contact"),),
    ("contacts", "notes"): (AssocType(201, None, "contact_to_note"),),
    ("calls", "contacts"): (AssocType(194, None, "call_to_contact"),),
    ("contacts", "calls"): (AssocType(193, None, "contact_to_call"),),
    ("meetings", "contacts"): (AssocType(200, None, "meeting_to_contact"),),
    ("contacts", "meetings"): (AssocType(199, None, "contact_to_meeting"),),
    ("emails", "contacts"): (AssocType(198, None, "email_to_contact"),),
    ("contacts", "emails"): (AssocType(197, None, "contact_to_email"),),
}
# Association types a client may create when creating tasks: typeId -> (to type, the reverse typeId).
TASK_ASSOCIATIONS = {
    192: ("companies", 191),
    204: ("contacts", 203),
    216: ("deals", 215),
    230: ("tickets", 229),
}
TASK_V3_NAMES = {
    192: "task_to_company",
    191: "company_to_task",
    204: "task_to_contact",
    203: "contact_to_task",
    216: "task_to_deal",
    215: "deal_to_task",
    230: "task_to_ticket",
    229: "ticket_to_task",
}
# The world's labelled company associations (`hubspot_company_associations`, object -> company), and the typeId of
# each type seen from the company's side; the user-defined labels are the portal's own (typeIds from 3001).
LABELLED_COMPANY_LINKS = ("contacts", "deals", "tickets")
REVERSE_TYPE_IDS = {1: 2, 279: 280, 5: 6, 341: 342, 339: 340, 26: 25, 3001: 3002, 3003: 3004, 3005: 3006}

# World foreign keys: (from type, to type) -> the from-table column holding the to-object id.
WORLD_LINKS = {
    ("contacts", "companies"): "company_id",
    ("deals", "companies"): "company_id",
    ("tickets", "companies"): "company_id",
    ("notes", "companies"): "company_id",
    ("calls", "companies"): "company_id",
    ("meetings", "companies"): "company_id",
    ("emails", "companies"): "company_id",
    ("notes", "contacts"): "contact_id",
    ("calls", "contacts"): "contact_id",
    ("meetings", "contacts"): "contact_id",
    ("emails", "contacts"): "contact_id",
}
