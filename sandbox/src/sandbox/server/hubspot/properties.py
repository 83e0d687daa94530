"""`/crm/v3/properties/{objectType}`: property definitions, and custom properties created through the API."""

from __future__ import annotations

from typing import Any

from sandbox.server.hubspot.endpoints import (
    BATCH_LIMIT,
    now_iso,
)
from sandbox.server.hubspot.errors import HubSpotError, not_found, validation_error
from sandbox.server.hubspot.model import ObjectSet
from sandbox.server.hubspot.object_types import ObjectType
from sandbox.server.hubspot.property_groups import NAME_RULE, PropertyGroupEndpoints
from sandbox.server.vendor import Ctx

PROPERTY_TYPES = {"string", "number", "date", "datetime", "enumeration", "bool"}
FIELD_TYPES = {
    "textarea",
    "text",
    "date",
    "file",
    "number",
    "select",
    "radio",
    "checkbox",
    "booleancheckbox",
    "calculation_equation",
    "html",
    "phonenumber",
}


class PropertyEndpoints(PropertyGroupEndpoints):
    def list_properties(self, ctx: Ctx) -> dict[str, Any]:
        object_type = self.object_type(ctx)
        schema = self.model(ctx).objects(object_type).schema
        return {"results": [] if self.archived(ctx) else schema.all()}

    def get_property(self, ctx: Ctx) -> dict[str, Any]:
        object_type = self.object_type(ctx)
        name = ctx.params["propertyName"]
        definition = self.model(ctx).objects(object_type).schema.get(name)
        if definition is None:
            raise not_found(f"Unable to find property {name} for object type {object_type.name}")
        return definition

    def _new_property(self, ctx: Ctx, object_type: ObjectType, objects: ObjectSet, spec: Any) -> dict[str, Any]:
        """A validated custom property definition (raises HubSpot's 400 / 409), in a group that exists."""
        if not isinstance(spec, dict):
            raise validation_error("Invalid input JSON: a property is an object")
        missing = [k for k in ("name", "label", "type", "fieldType", "groupName") if not spec.get(k)]
        if missing:
            raise validation_error(f"Missing required fields: {', '.join(missing)}", context={"missingFields": missing})
        self.check_group(ctx, object_type, str(spec["groupName"]))
        name = str(spec["name"])
        if not NAME_RULE.match(name) or len(name) > 100:
            raise validation_error(
                f"Property name {name!r} is invalid: lower-case letters, digits and underscores, starting with a letter"
            )
        if spec["type"] not in PROPERTY_TYPES:
            raise validation_error(f"Invalid type {spec['type']!r}; one of {sorted(PROPERTY_TYPES)}")
        if spec["fieldType"] not in FIELD_TYPES:
            raise validation_error(f"Invalid fieldType {spec['fieldType']!r}; one of {sorted(FIELD_TYPES)}")
        options = spec.get("options") or []
        if spec["type"] in ("enumeration",) and not options:
            raise validation_error("Enumeration properties need options")
        if objects.schema.get(name) is not None:
            raise HubSpotError(
                409,
                f"A property named '{name}' already exists.",
                "OBJECT_ALREADY_EXISTS",
                context={"name": [name]},
            )
        if spec["type"] == "bool" and not options:
            options = [{"label": "Yes", "value": "true"}, {"label": "No", "value": "false"}]
        now = now_iso()
        return {
            "name": name,
            "label": spec["label"],
            "type": spec["type"],
            "fieldType": spec["fieldType"],
            "description": spec.get("description", ""),
            "groupName": spec["groupName"],
            "options": [
                {
                    "label": o.get("label", o.get("value")),
                    "value": o.get("value"),
                    "displayOrder": o.get("displayOrder", i),
                    "hidden": bool(o.get("hidden", False)),
                }
                for i, o in enumerate(options)
            ],
            "displayOrder": spec.get("displayOrder", -1),
            "calculated": False,
            "externalOptions": False,
            "hasUniqueValue": bool(spec.get("hasUniqueValue", False)),
            "hidden": bool(spec.get("hidden", False)),
            "hubspotDefined": False,
            "modificationMetadata": {"archivable": True, "readOnlyDefinition": False, "readOnlyValue": False},
            "formField": bool(spec.get("formField", False)),
            "dataSensitivity": "non_sensitive",
            "createdAt": now,
            "updatedAt": now,
            "archived": False,
        }

    async def create_property(self, ctx: Ctx) -> Any:
        object_type = self.object_type(ctx)
        body = await self.body(ctx)
        definition = self._new_property(ctx, object_type, self.model(ctx).objects(object_type), body)
        ctx.crm.add_property(object_type.name, definition, ctx.crm.clock_ms())
        return definition, 201

    async def batch_create_properties(self, ctx: Ctx) -> Any:
        object_type = self.object_type(ctx)
        body = await self.body(ctx)
        inputs = self._inputs(body, BATCH_LIMIT)
        started = now_iso()
        results, errors = [], []
        for spec in inputs:
            objects = self.model(ctx).objects(object_type)
            try:
                definition = self._new_property(ctx, object_type, objects, spec)
            except HubSpotError as err:
                if err.status != 409:
                    raise
                errors.append(
                    {
                        "status": "error",
                        "category": err.category,
                        "message": err.message,
                        "context": err.extra.get("context", {}),
                    }
                )
                continue
            ctx.crm.add_property(object_type.name, definition, ctx.crm.clock_ms())
            results.append(definition)
        return self._batch_response(results, started, errors, ok_status=201)
