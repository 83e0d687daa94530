"""`/crm/v3/properties/{objectType}/groups`: property groups, HubSpot's folders for properties.

Every property belongs to a group that must exist: HubSpot rejects a property whose `groupName` names no group of
its object type, so an integration that creates properties creates its own group first (HubSpot's guidance). The
portal's default groups are those its built-in properties sit in (`companyinformation`, `task`, ...); groups created
through the API are kept in crm.sqlite. Shapes follow the published Properties v3 spec (`PropertyGroup`: name,
label, displayOrder, archived; lists as `{"results": [...]}` without paging).
"""

from __future__ import annotations

import re
from typing import Any

from sandbox.server.hubspot.endpoints import HubSpotEndpoints
from sandbox.server.hubspot.errors import HubSpotError, not_found, validation_error
from sandbox.server.hubspot.object_types import ObjectType
from sandbox.server.vendor import Ctx

NAME_RULE = re.compile(r"^[a-z][a-z0-9_]*$")  # property and group names
DEFAULT_LABELS = {
    "companyinformation": "Company information",
    "contactinformation": "Contact information",
    "dealinformation": "Deal information",
    "ticketinformation": "Ticket properties",
    "engagement": "Engagement information",
    "task": "Task information",
}


class PropertyGroupEndpoints(HubSpotEndpoints):
    def groups(self, ctx: Ctx, object_type: ObjectType) -> dict[str, dict[str, Any]]:
        """Every group of the object type: the defaults (where the built-in properties are), then the created."""
        schema = self.model(ctx).objects(object_type).schema
        defaults = sorted({p["groupName"] for p in schema.all() if p.get("groupName")})
        out = {
            name: {"name": name, "label": DEFAULT_LABELS.get(name, name), "displayOrder": i, "archived": False}
            for i, name in enumerate(defaults)
        }
        out.update(ctx.crm.current().groups.get(object_type.name, {}))
        return out

    def check_group(self, ctx: Ctx, object_type: ObjectType, group_name: str) -> None:
        """HubSpot's 400 for a property in a group that does not exist."""
        if group_name not in self.groups(ctx, object_type):
            raise validation_error(
                f"Property group {group_name} does not exist for object type {object_type.name}. Create it first "
                f"with POST /crm/v3/properties/{object_type.name}/groups.",
                context={"groupName": [group_name]},
            )

    def list_groups(self, ctx: Ctx) -> dict[str, Any]:
        object_type = self.object_type(ctx)
        return {"results": [] if self.archived(ctx) else list(self.groups(ctx, object_type).values())}

    def get_group(self, ctx: Ctx) -> dict[str, Any]:
        object_type = self.object_type(ctx)
        name = ctx.params["groupName"]
        group = self.groups(ctx, object_type).get(name)
        if group is None:
            raise not_found(f"Unable to find property group {name} for object type {object_type.name}")
        return group

    async def create_group(self, ctx: Ctx) -> Any:
        object_type = self.object_type(ctx)
        spec = await self.body(ctx)
        if not isinstance(spec, dict):
            raise validation_error("Invalid input JSON: a property group is an object")
        missing = [k for k in ("name", "label") if not spec.get(k)]
        if missing:
            raise validation_error(f"Missing required fields: {', '.join(missing)}", context={"missingFields": missing})
        name = str(spec["name"])
        if not NAME_RULE.match(name) or len(name) > 100:
            raise validation_error(
                f"Property group name {name!r} is invalid: lower-case letters, digits and underscores, starting "
                "with a letter"
            )
        if name in self.groups(ctx, object_type):
            raise HubSpotError(
                409,
                f"A property group named '{name}' already exists.",
                "OBJECT_ALREADY_EXISTS",
                context={"name": [name]},
            )
        display_order = spec.get("displayOrder", -1)
        if not isinstance(display_order, int):
            raise validation_error(f"Invalid displayOrder {display_order!r}: an integer")
        group = {"name": name, "label": str(spec["label"]), "displayOrder": display_order, "archived": False}
        ctx.crm.add_group(object_type.name, group, ctx.crm.clock_ms())
        return group, 201
