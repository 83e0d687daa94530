"""What every HubSpot endpoint shares: the object model of the current world and CRM state, path and query
parameters, paging cursors, batch envelopes, and the malformed-rows fault on served objects."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np

from sandbox.server.common import iso_ms, parse_int
from sandbox.server.faults import VendorFaults
from sandbox.server.hubspot.errors import validation_error
from sandbox.server.hubspot.model import HubSpotModel, ObjectSet
from sandbox.server.hubspot.object_types import ObjectType, resolve_type
from sandbox.server.vendor import Ctx

LIST_LIMIT, OWNER_LIMIT, BATCH_LIMIT, ASSOC_BATCH_LIMIT, MEMBERSHIP_LIMIT = 100, 500, 100, 1000, 250


def now_iso() -> str:
    return iso_ms(int(datetime.now(UTC).timestamp() * 1000))


class HubSpotEndpoints:
    """Helpers of the HubSpot endpoint groups (owners.py, objects.py, ...), which HubSpotApi combines."""

    def __init__(self) -> None:
        self._model: HubSpotModel | None = None
        self._model_key: tuple[int, int] | None = None

    def model(self, ctx: Ctx) -> HubSpotModel:
        """The object sets of the current world and CRM state (rebuilt lazily after a write or re-render)."""
        ctx.crm.current()
        key = (id(ctx.world), ctx.crm.version)
        if self._model is None or self._model_key != key or self._model.world is not ctx.world:
            self._model, self._model_key = HubSpotModel(ctx.world, ctx.crm), key
        return self._model

    @staticmethod
    def object_type(ctx: Ctx, param: str = "objectType") -> ObjectType:
        raw = ctx.params[param]
        object_type = resolve_type(raw)
        if object_type is None:
            raise validation_error(f"Unable to infer object type from: {raw}")
        return object_type

    @staticmethod
    async def body(ctx: Ctx) -> Any:
        return await ctx.json(lambda message: validation_error(message))

    @staticmethod
    def limit(ctx: Ctx, default: int, maximum: int) -> int:
        raw = ctx.query.get("limit")
        if raw is None or raw == "":
            return default
        value = parse_int(raw)
        if value is None or value < 1 or value > maximum:
            raise validation_error(f"limit must be an integer between 1 and {maximum} (got {raw!r})")
        return value

    @staticmethod
    def archived(ctx: Ctx) -> bool:
        return (ctx.query.get("archived") or "false").lower() == "true"

    def serve(self, ctx: Ctx, objects: ObjectSet, positions: np.ndarray, names: list[str]) -> list[dict[str, Any]]:
        """Public objects, with the malformed-rows fault applied (deterministic per object id)."""
        public = objects.to_public(positions, names)
        if ctx.faults.malformed_fraction > 0:
            for obj in public:
                self._corrupt(ctx.faults, objects, obj)
        return public

    @staticmethod
    def _corrupt(faults: VendorFaults, objects: ObjectSet, obj: dict[str, Any]) -> None:
        kinds = {
            "companies": ("numberofemployees", "id", "hs_lastmodifieddate"),
            "contacts": ("email", "id", "lastmodifieddate"),
            "deals": ("amount", "id"),
            "tickets": ("hs_ticket_priority", "id"),
        }.get(objects.object_type.name, ("hs_timestamp", "id"))
        kind = faults.corruption(obj["id"], kinds)
        if kind is None:
            return
        if kind == "id":
            del obj["id"]
            return
        props = obj["properties"]
        if kind not in props:
            return
        prop_type = objects.schema.type_of(kind) or "string"
        props[kind] = {
            "number": "about 120",
            "datetime": "yesterday",
            "date": "31/02/2026",
            "enumeration": "UNKNOWN_LEGACY_VALUE",
            "bool": "maybe",
        }.get(prop_type, "not-an-email" if kind == "email" else "\ufffd")

    def with_associations(
        self,
        model: HubSpotModel,
        objects: ObjectSet,
        public: list[dict[str, Any]],
        positions: np.ndarray,
        requested: list[str] | None,
    ) -> None:
        """`associations=companies,contacts` on reads: associations.{type}.results[{id, type}]."""
        if not requested:
            return
        ids = objects.ids[positions]
        for name in requested:
            target = resolve_type(name)
            if target is None:
                continue
            found = model.associations(objects.object_type.name, target.name).lookup(ids)
            for obj, links in zip(public, found, strict=True):
                results = [{"id": str(to_id), "type": t.v3_name} for to_id, types in links for t in types]
                if results:
                    obj.setdefault("associations", {})[target.name] = {"results": results}

    def _after(self, ctx: Ctx) -> int:
        raw = ctx.query.get("after")
        if raw in (None, ""):
            return 0
        value = parse_int(raw)
        if value is None:
            raise validation_error(f"Invalid paging token after={raw!r}")
        return value

    @staticmethod
    def _next(ctx: Ctx, after: str) -> dict[str, Any]:
        return {"next": {"after": after, "link": str(ctx.request.url.include_query_params(after=after))}}

    def _find(self, ctx: Ctx, objects: ObjectSet, key: str, id_property: str | None) -> int:
        """Position of an object by id or by a unique property (`idProperty`), -1 if absent."""
        if id_property and id_property != "hs_object_id":
            if objects.schema.get(id_property) is None:
                raise validation_error(f"Property {id_property} does not exist")
            col = objects.column(id_property)
            hits = np.flatnonzero(col.valid & (col.values == key) & ~objects.archived)
            return int(hits[0]) if len(hits) else -1
        return objects.position(key)

    @staticmethod
    def _inputs(body: Any, maximum: int) -> list[dict[str, Any]]:
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list):
            raise validation_error("Invalid input JSON: `inputs` must be a list")
        if len(inputs) > maximum:
            raise validation_error(
                f"Batch input size {len(inputs)} exceeds the maximum of {maximum}",
                context={"maximum": [str(maximum)]},
            )
        if not all(isinstance(i, dict) for i in inputs):
            raise validation_error("Invalid input JSON: every input must be an object")
        return inputs

    @staticmethod
    def _missing_errors(object_type: ObjectType, missing: list[str]) -> list[dict[str, Any]]:
        if not missing:
            return []
        return [
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": f"Could not get some {object_type.singular.upper()} objects, they may be deleted "
                "or "
                f"not exist. Check that ids are valid.",
                "context": {"ids": missing},
                "errors": [],
                "links": {},
            }
        ]

    @staticmethod
    def _batch_response(
        results: list[dict[str, Any]], started: str, errors: list[dict[str, Any]], ok_status: int = 200
    ) -> Any:
        body: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": started,
            "completedAt": now_iso(),
        }
        if errors:
            body["numErrors"] = len(errors)
            body["errors"] = errors
            return body, 207
        return body, ok_status
