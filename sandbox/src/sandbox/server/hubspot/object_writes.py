"""Writing CRM objects: property updates (single and batch), task creation with associations, archiving.
Every input is validated against the property definitions before anything is written, as HubSpot does."""

from __future__ import annotations

from typing import Any

import numpy as np
from starlette.responses import Response

from sandbox.server.common import iso_ms
from sandbox.server.hubspot.endpoints import (
    BATCH_LIMIT,
    HubSpotEndpoints,
    now_iso,
)
from sandbox.server.hubspot.errors import HubSpotError, not_found, property_errors, validation_error
from sandbox.server.hubspot.model import HubSpotModel, ObjectSet
from sandbox.server.hubspot.object_types import OBJECT_TYPES, TASK_ASSOCIATIONS, ObjectType
from sandbox.server.hubspot.values import InvalidValue, normalise_value
from sandbox.server.vendor import Ctx

READ_ONLY = {
    "hs_object_id",
    "createdate",
    "hs_createdate",
    "lastmodifieddate",
    "hs_lastmodifieddate",
    "hs_task_completion_date",
}


def _result(name: str, code: str, message: str) -> dict[str, Any]:
    return {
        "isValid": False,
        "message": message,
        "error": code,
        "name": name,
        "localizedErrorMessage": message,
    }


class ObjectWriteEndpoints(HubSpotEndpoints):
    def validate(self, objects: ObjectSet, props: Any, creating: bool = False) -> dict[str, str | None]:
        """Normalised values, or HubSpot's 400 listing every invalid property (nothing is written then)."""
        if not isinstance(props, dict):
            raise validation_error("Invalid input JSON: `properties` must be an object")
        errors, out = [], {}
        for name, raw in props.items():
            definition = objects.schema.get(name)
            if definition is None:
                errors.append(_result(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist'))
                continue
            if name in READ_ONLY or definition["modificationMetadata"].get("readOnlyValue"):
                errors.append(
                    _result(name, "READ_ONLY_VALUE", f'"{name}" is a read only property; its value cannot be set.')
                )
                continue
            try:
                out[name] = normalise_value(definition, raw)
            except InvalidValue as exc:
                errors.append(_result(name, exc.code, str(exc)))
        if (
            creating
            and objects.object_type.name == "tasks"
            and not out.get("hs_timestamp")
            and not any(e["name"] == "hs_timestamp" for e in errors)
        ):
            errors.append(_result("hs_timestamp", "REQUIRED_PROPERTY", 'Property "hs_timestamp" is required for tasks'))
        if errors:
            raise property_errors(errors)
        return out

    @staticmethod
    def _task_defaults(values: dict[str, str | None], at_ms: int, creating: bool) -> dict[str, str | None]:
        if creating:
            values = {
                "hs_task_status": "NOT_STARTED",
                "hs_task_priority": "NONE",
                "hs_task_type": "TODO",
                **values,
            }
        if values.get("hs_task_status") == "COMPLETED":
            values["hs_task_completion_date"] = iso_ms(at_ms)
        elif "hs_task_status" in values:
            values["hs_task_completion_date"] = None
        return values

    def _public_after_write(
        self, ctx: Ctx, object_type: ObjectType, ids: list[int], written: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        objects = self.model(ctx).objects(object_type)
        positions = objects.positions(np.array(ids, dtype=np.int64))
        out = []
        for pos, props in zip(positions.tolist(), written, strict=True):
            names = list(dict.fromkeys([*props, "hs_object_id", object_type.created_prop, object_type.modified_prop]))
            out.append(objects.to_public(np.array([pos]), names)[0])
        return out

    async def update_object(self, ctx: Ctx) -> dict[str, Any]:
        object_type = self.object_type(ctx)
        body = await self.body(ctx)
        objects = self.model(ctx).objects(object_type)
        pos = self._find(ctx, objects, ctx.params["objectId"], ctx.query.get("idProperty"))
        if pos < 0 or objects.archived[pos]:
            raise not_found()
        values = self.validate(objects, (body or {}).get("properties") if isinstance(body, dict) else None)
        at = ctx.crm.clock_ms(ctx.world.cutoff_ms)
        if object_type.name == "tasks":
            values = self._task_defaults(values, at, creating=False)
        object_id = int(objects.ids[pos])
        ctx.crm.write_objects(object_type.name, [(object_id, values)], at)
        return self._public_after_write(ctx, object_type, [object_id], [values])[0]

    async def batch_update(self, ctx: Ctx) -> Any:
        object_type = self.object_type(ctx)
        body = await self.body(ctx)
        inputs = self._inputs(body, BATCH_LIMIT)
        started = now_iso()
        objects = self.model(ctx).objects(object_type)
        keys = [str(i.get("id", "")) for i in inputs]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise validation_error(
                f"Duplicate IDs found in batch input: [{', '.join(duplicates)}]. IDs must be unique",
                context={"ids": duplicates},
            )
        # HubSpot validates every input's properties first: one invalid value rejects the whole batch (400).
        validated = [self.validate(objects, i.get("properties")) for i in inputs]
        at = ctx.crm.clock_ms(ctx.world.cutoff_ms)
        updates, missing = [], []
        for item, values in zip(inputs, validated, strict=True):
            pos = self._find(ctx, objects, str(item.get("id", "")), item.get("idProperty"))
            if pos < 0 or objects.archived[pos]:
                missing.append(str(item.get("id", "")))
                continue
            if object_type.name == "tasks":
                values = self._task_defaults(values, at, creating=False)
            updates.append((int(objects.ids[pos]), values))
        if updates:
            ctx.crm.write_objects(object_type.name, updates, at)
        results = self._public_after_write(ctx, object_type, [u[0] for u in updates], [u[1] for u in updates])
        return self._batch_response(results, started, self._missing_errors(object_type, missing))

    def _task_associations(self, model: HubSpotModel, task_id: int, specs: Any) -> list[tuple]:
        """Validated association rows (both directions) for a new task."""
        if specs is None:
            return []
        if not isinstance(specs, list):
            raise validation_error("Invalid input JSON: `associations` must be a list")
        rows = []
        for spec in specs:
            to = (spec or {}).get("to") or {}
            types = (spec or {}).get("types") or []
            if not types:
                raise validation_error("Each association needs at least one type")
            for kind in types:
                category = kind.get("associationCategory")
                type_id = kind.get("associationTypeId")
                if category != "HUBSPOT_DEFINED" or type_id not in TASK_ASSOCIATIONS:
                    raise validation_error(
                        f"Invalid association type {category}:{type_id} from task; HUBSPOT_DEFINED types are "
                        f"{sorted(TASK_ASSOCIATIONS)}",
                        subCategory="crm.associations.INVALID_ASSOCIATION_TYPE",
                    )
                to_name, reverse = TASK_ASSOCIATIONS[type_id]
                target = model.objects(OBJECT_TYPES[to_name])
                pos = target.position(to.get("id"))
                if pos < 0 or target.archived[pos]:
                    raise validation_error(
                        f"Could not find {OBJECT_TYPES[to_name].singular} with id {to.get('id')} to associate",
                        subCategory="crm.associations.TO_OBJECT_NOT_FOUND",
                    )
                to_id = int(target.ids[pos])
                rows.append(("tasks", task_id, to_name, to_id, type_id, "HUBSPOT_DEFINED"))
                rows.append((to_name, to_id, "tasks", task_id, reverse, "HUBSPOT_DEFINED"))
        return rows

    async def create_object(self, ctx: Ctx) -> Any:
        object_type = self.object_type(ctx)
        body = await self.body(ctx)
        return self._create(ctx, object_type, [body], single=True)

    async def batch_create(self, ctx: Ctx) -> Any:
        object_type = self.object_type(ctx)
        body = await self.body(ctx)
        return self._create(ctx, object_type, self._inputs(body, BATCH_LIMIT), single=False)

    def _create(self, ctx: Ctx, object_type: ObjectType, inputs: list[Any], single: bool) -> Any:
        if not object_type.writable_via_api:
            raise HubSpotError(
                403,
                f"The sandbox creates only tasks through the API, not {object_type.name}",
                "MISSING_SCOPES",
            )
        started = now_iso()
        model = self.model(ctx)
        objects = model.objects(object_type)
        at = ctx.crm.clock_ms(ctx.world.cutoff_ms)
        # Validate everything before writing anything: HubSpot rejects the whole batch on one invalid input.
        prepared = []
        for item in inputs:
            if not isinstance(item, dict):
                raise validation_error("Invalid input JSON: expected an object with `properties`")
            values = self._task_defaults(self.validate(objects, item.get("properties"), creating=True), at, True)
            prepared.append((values, item.get("associations")))
        created, associations = [], []
        for values, specs in prepared:
            task_id = ctx.crm.next_id("tasks")
            associations += self._task_associations(model, task_id, specs)
            created.append((task_id, values))
        ctx.crm.write_objects(object_type.name, created, at, created=True, associations=associations)
        results = self._public_after_write(ctx, object_type, [c[0] for c in created], [c[1] for c in created])
        if single:
            return results[0], 201
        return self._batch_response(results, started, [], ok_status=201)

    def archive_object(self, ctx: Ctx) -> Response:
        object_type = self.object_type(ctx)
        objects = self.model(ctx).objects(object_type)
        pos = objects.position(ctx.params["objectId"])
        if not object_type.writable_via_api:
            raise HubSpotError(403, f"The sandbox archives only tasks, not {object_type.name}", "MISSING_SCOPES")
        if pos >= 0 and not objects.archived[pos]:
            ctx.crm.archive_object(object_type.name, int(objects.ids[pos]), ctx.crm.clock_ms(ctx.world.cutoff_ms))
        return Response(status_code=204)
