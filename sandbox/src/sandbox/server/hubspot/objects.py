"""Reading CRM objects: `/crm/v3/objects/{objectType}` lists, single reads, search and batch read, and v4
association batch reads."""

from __future__ import annotations

from typing import Any

import numpy as np

from sandbox.server.common import parse_int
from sandbox.server.hubspot.endpoints import (
    ASSOC_BATCH_LIMIT,
    BATCH_LIMIT,
    LIST_LIMIT,
    HubSpotEndpoints,
    now_iso,
)
from sandbox.server.hubspot.errors import not_found, validation_error
from sandbox.server.hubspot.search import SearchError, run_search
from sandbox.server.vendor import Ctx


class ObjectReadEndpoints(HubSpotEndpoints):
    def list_objects(self, ctx: Ctx) -> dict[str, Any]:
        object_type = self.object_type(ctx)
        model = self.model(ctx)
        objects = model.objects(object_type)
        limit = self.limit(ctx, 10, LIST_LIMIT)
        start = int(np.searchsorted(objects.ids, self._after(ctx)))
        wanted = objects.archived[start:] == self.archived(ctx)
        candidates = start + np.flatnonzero(wanted)[: limit + 1]
        page = candidates[:limit]
        names = objects.served_names(ctx.query.csv_list("properties"))
        public = self.serve(ctx, objects, page, names)
        self.with_associations(model, objects, public, page, ctx.query.csv_list("associations"))
        body: dict[str, Any] = {"results": public}
        if len(candidates) > limit:
            body["paging"] = self._next(ctx, str(objects.ids[candidates[limit]]))
        return body

    def get_object(self, ctx: Ctx) -> dict[str, Any]:
        object_type = self.object_type(ctx)
        model = self.model(ctx)
        objects = model.objects(object_type)
        pos = self._find(ctx, objects, ctx.params["objectId"], ctx.query.get("idProperty"))
        if pos < 0 and not self.archived(ctx):  # a merged-away id resolves to the record it was merged into
            survivor = model.survivor_of(object_type.name, ctx.params["objectId"])
            pos = objects.position(survivor) if survivor is not None else -1
        if pos < 0 or bool(objects.archived[pos]) != self.archived(ctx):
            raise not_found()
        positions = np.array([pos])
        public = self.serve(ctx, objects, positions, objects.served_names(ctx.query.csv_list("properties")))
        self.with_associations(model, objects, public, positions, ctx.query.csv_list("associations"))
        return public[0]

    async def search(self, ctx: Ctx) -> dict[str, Any]:
        object_type = self.object_type(ctx)
        body = await self.body(ctx)
        model = self.model(ctx)
        objects = model.objects(object_type)
        try:
            hidden = objects.not_yet_indexed(ctx.faults.search_lag, ctx.faults.seed)
            result = run_search(model, objects, body, ctx.faults.search_cap, hidden)
        except SearchError as exc:
            raise validation_error(str(exc)) from None
        requested = body.get("properties") if isinstance(body.get("properties"), list) else None
        out: dict[str, Any] = {
            "total": result.total,
            "results": self.serve(ctx, objects, result.positions, objects.served_names(requested)),
        }
        if result.next_after is not None:
            out["paging"] = {"next": {"after": result.next_after}}
        return out

    async def batch_read(self, ctx: Ctx) -> Any:
        object_type = self.object_type(ctx)
        body = await self.body(ctx)
        inputs = self._inputs(body, BATCH_LIMIT)
        objects = self.model(ctx).objects(object_type)
        started = now_iso()
        id_property = body.get("idProperty")
        positions, missing = [], []
        for item in inputs:
            key = str(item.get("id", ""))
            pos = self._find(ctx, objects, key, id_property)
            if pos < 0 or objects.archived[pos] != self.archived(ctx):
                missing.append(key)
            else:
                positions.append(pos)
        names = objects.served_names(body.get("properties") if isinstance(body.get("properties"), list) else None)
        results = self.serve(ctx, objects, np.array(positions, dtype=np.int64), names)
        return self._batch_response(results, started, self._missing_errors(object_type, missing))

    async def associations_batch_read(self, ctx: Ctx) -> Any:
        from_type = self.object_type(ctx, "fromObjectType")
        to_type = self.object_type(ctx, "toObjectType")
        body = await self.body(ctx)
        inputs = self._inputs(body, ASSOC_BATCH_LIMIT)
        started = now_iso()
        model = self.model(ctx)
        ids = []
        for item in inputs:
            value = parse_int(str(item.get("id", "")))
            ids.append(value if value is not None else -1)
        found = model.associations(from_type.name, to_type.name).lookup(np.array(ids, dtype=np.int64))
        results, errors_for = [], []
        for item, links in zip(inputs, found, strict=True):
            if not links:
                errors_for.append(str(item.get("id", "")))
                continue
            results.append(
                {
                    "from": {"id": str(item.get("id"))},
                    "to": [
                        {
                            "toObjectId": to_id,
                            "associationTypes": [
                                {"category": t.category, "typeId": t.type_id, "label": t.label} for t in types
                            ],
                        }
                        for to_id, types in links
                    ],
                }
            )
        errors = [
            {
                "status": "error",
                "category": "VALIDATION_ERROR",
                "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                "context": {"fromObjectId": [key]},
                "errors": [],
                "links": {},
                "message": f"No {to_type.singular} is associated with {from_type.singular} {key}.",
            }
            for key in errors_for
        ]
        return self._batch_response(results, started, errors)
