"""`/crm/v3/lists`: MANUAL and SNAPSHOT lists and their memberships (lists v3; DYNAMIC filters are not
evaluated)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from sandbox.server.common import decode_cursor, encode_cursor, iso_ms, parse_int
from sandbox.server.hubspot.endpoints import (
    MEMBERSHIP_LIMIT,
    HubSpotEndpoints,
)
from sandbox.server.hubspot.errors import not_found, validation_error
from sandbox.server.hubspot.object_types import OBJECT_TYPES
from sandbox.server.vendor import Ctx

LIST_TYPES = {"0-1": "contacts", "0-2": "companies", "0-3": "deals", "0-5": "tickets"}


class ListEndpoints(HubSpotEndpoints):
    @staticmethod
    def list_json(ctx: Ctx, crm_list: Any) -> dict[str, Any]:
        out = {
            "listId": str(crm_list.list_id),
            "listVersion": crm_list.version,
            "name": crm_list.name,
            "objectTypeId": crm_list.object_type_id,
            "processingStatus": "COMPLETE",
            "processingType": crm_list.processing_type,
            "createdAt": iso_ms(crm_list.created_ms),
            "updatedAt": iso_ms(crm_list.updated_ms),
            "filtersUpdatedAt": iso_ms(crm_list.created_ms),
            "createdById": "1",
            "updatedById": "1",
            "size": len(crm_list.members),
        }
        if crm_list.deleted_ms is not None:
            out["deletedAt"] = iso_ms(crm_list.deleted_ms)
        return out

    def _list(self, ctx: Ctx) -> Any:
        list_id = parse_int(ctx.params["listId"])
        crm_list = ctx.crm.current().lists.get(list_id) if list_id is not None else None
        if crm_list is None or crm_list.deleted_ms is not None:
            raise not_found(f"List does not exist with id {ctx.params['listId']}")
        return crm_list

    async def create_list(self, ctx: Ctx) -> dict[str, Any]:
        body = await self.body(ctx)
        if not isinstance(body, dict):
            raise validation_error("Invalid input JSON: expected an object")
        name, type_id, processing = body.get("name"), body.get("objectTypeId"), body.get("processingType")
        if not name or not type_id or not processing:
            raise validation_error("name, objectTypeId and processingType are required")
        if type_id not in LIST_TYPES:
            raise validation_error(
                f"Unsupported objectTypeId {type_id!r}; the sandbox keeps lists of "
                f"{', '.join(f'{k} ({v})' for k, v in LIST_TYPES.items())}"
            )
        if processing not in ("MANUAL", "SNAPSHOT", "DYNAMIC"):
            raise validation_error(f"Invalid processingType {processing!r}: MANUAL, SNAPSHOT or DYNAMIC")
        if processing == "DYNAMIC":
            raise validation_error(
                "The sandbox does not evaluate DYNAMIC list filters: create a MANUAL or SNAPSHOT list"
            )
        lists = ctx.crm.current().lists.values()
        if any(x.name.lower() == str(name).lower() and x.deleted_ms is None for x in lists):
            raise validation_error(f"A list named '{name}' already exists.", subCategory="ILS_LIST_NAME_ALREADY_EXISTS")
        crm_list = ctx.crm.create_list(str(name), type_id, processing, ctx.crm.clock_ms(ctx.world.cutoff_ms))
        return {"list": self.list_json(ctx, crm_list)}

    def get_list(self, ctx: Ctx) -> dict[str, Any]:
        return {"list": self.list_json(ctx, self._list(ctx))}

    def get_list_by_name(self, ctx: Ctx) -> dict[str, Any]:
        name, type_id = ctx.params["listName"].lower(), ctx.params["objectTypeId"]
        for crm_list in ctx.crm.current().lists.values():
            if crm_list.deleted_ms is None and crm_list.name.lower() == name and crm_list.object_type_id == type_id:
                return {"list": self.list_json(ctx, crm_list)}
        raise not_found(f"List does not exist with name {ctx.params['listName']} and objectTypeId {type_id}")

    def delete_list(self, ctx: Ctx) -> Response:
        crm_list = self._list(ctx)
        ctx.crm.delete_list(crm_list.list_id, ctx.crm.clock_ms(ctx.world.cutoff_ms))
        return Response(status_code=204)

    def _changeable(self, ctx: Ctx) -> Any:
        crm_list = self._list(ctx)
        if crm_list.processing_type not in ("MANUAL", "SNAPSHOT"):
            raise validation_error(
                f"List {crm_list.list_id} has processingType {crm_list.processing_type}: "
                f"memberships can only be changed on MANUAL or SNAPSHOT lists"
            )
        return crm_list

    def _record_ids(self, ctx: Ctx, crm_list: Any, raw: Any) -> tuple[list[int], list[str]]:
        """(existing record ids, missing ones as given) for a membership change."""
        if not isinstance(raw, list):
            raise validation_error("Invalid input JSON: expected an array of record ids")
        objects = self.model(ctx).objects(OBJECT_TYPES[LIST_TYPES[crm_list.object_type_id]])
        existing, missing = [], []
        for value in raw:
            pos = objects.position(value)
            if pos < 0 or objects.archived[pos]:
                missing.append(str(value))
            else:
                existing.append(int(objects.ids[pos]))
        return list(dict.fromkeys(existing)), missing

    def _change(self, ctx: Ctx, crm_list: Any, add: Any, remove: Any) -> dict[str, Any]:
        add_ids, add_missing = self._record_ids(ctx, crm_list, add) if add is not None else ([], [])
        remove_ids, remove_missing = self._record_ids(ctx, crm_list, remove) if remove is not None else ([], [])
        added = [r for r in add_ids if r not in crm_list.members]
        removed = [r for r in remove_ids if r in crm_list.members]
        if added or removed:
            ctx.crm.change_members(crm_list.list_id, added, removed, ctx.crm.clock_ms(ctx.world.cutoff_ms))
        out: dict[str, Any] = {}
        if add is not None:
            out["recordIdsAdded"] = [str(r) for r in added]
        if remove is not None:
            out["recordIdsRemoved"] = [str(r) for r in removed]
        out["recordIdsMissing"] = list(dict.fromkeys(add_missing + remove_missing))
        return out

    async def add_members(self, ctx: Ctx) -> dict[str, Any]:
        crm_list = self._changeable(ctx)
        return self._change(ctx, crm_list, await self.body(ctx), None)

    async def remove_members(self, ctx: Ctx) -> dict[str, Any]:
        crm_list = self._changeable(ctx)
        return self._change(ctx, crm_list, None, await self.body(ctx))

    async def add_and_remove_members(self, ctx: Ctx) -> dict[str, Any]:
        crm_list = self._changeable(ctx)
        body = await self.body(ctx)
        if not isinstance(body, dict):
            raise validation_error("Invalid input JSON: expected {recordIdsToAdd, recordIdsToRemove}")
        return self._change(ctx, crm_list, body.get("recordIdsToAdd") or [], body.get("recordIdsToRemove") or [])

    def clear_members(self, ctx: Ctx) -> Response:
        crm_list = self._changeable(ctx)
        if crm_list.members:
            ctx.crm.change_members(crm_list.list_id, [], list(crm_list.members), ctx.crm.clock_ms(ctx.world.cutoff_ms))
        return Response(status_code=204)

    def list_members(self, ctx: Ctx) -> dict[str, Any]:
        crm_list = self._list(ctx)
        limit = self.limit(ctx, 100, MEMBERSHIP_LIMIT)
        records = sorted(crm_list.members.items())
        raw_after = ctx.query.get("after")
        if raw_after:
            after = decode_cursor(raw_after)
            if after is None:
                raise validation_error(f"Invalid paging token after={raw_after!r}")
            records = [r for r in records if r[0] > after]
        page = records[:limit]
        body: dict[str, Any] = {
            "results": [{"recordId": str(r), "membershipTimestamp": iso_ms(ms)} for r, ms in page],
            "total": len(crm_list.members),
        }
        if len(records) > limit:
            body["paging"] = self._next(ctx, encode_cursor(page[-1][0]))
        return body
