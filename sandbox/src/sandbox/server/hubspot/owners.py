"""`/crm/v3/owners`: the CSMs and other users records are assigned to."""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from sandbox.server.common import iso_ms
from sandbox.server.hubspot.endpoints import (
    OWNER_LIMIT,
    HubSpotEndpoints,
)
from sandbox.server.hubspot.errors import not_found
from sandbox.server.store import World
from sandbox.server.vendor import Ctx


class OwnerEndpoints(HubSpotEndpoints):
    def owner_json(self, world: World, i: int) -> dict[str, Any]:
        owners = world.table("hubspot_owners")
        team = owners.col("team").value(i)
        return {
            "id": owners.col("id").values[i],
            "email": owners.col("email").value(i),
            "type": "PERSON",
            "firstName": owners.col("firstName").value(i),
            "lastName": owners.col("lastName").value(i),
            "userId": int(owners.col("userId").values[i]),
            "userIdIncludingInactive": int(owners.col("userId").values[i]),
            "createdAt": iso_ms(owners.col("createdAt").values[i]),
            "updatedAt": iso_ms(owners.col("updatedAt").values[i]),
            "archived": bool(owners.col("archived").values[i]),
            "teams": [{"id": str(zlib.crc32(team.encode()) % 10_000_000), "name": team, "primary": True}]
            if team
            else [],
        }

    def list_owners(self, ctx: Ctx) -> dict[str, Any]:
        owners = ctx.world.table("hubspot_owners")
        limit = self.limit(ctx, 100, OWNER_LIMIT)
        ids = np.array([int(v) for v in owners.col("id").values], dtype=np.int64)
        order = np.argsort(ids)
        mask = owners.col("archived").values[order] == self.archived(ctx)
        email = ctx.query.get("email")
        if email:
            mask &= np.array([e == email for e in owners.col("email").values[order]], dtype=bool)
        after = self._after(ctx)
        candidates = order[mask & (ids[order] >= after)]
        page = candidates[:limit]
        body: dict[str, Any] = {"results": [self.owner_json(ctx.world, int(i)) for i in page]}
        if len(candidates) > limit:
            body["paging"] = self._next(ctx, str(ids[candidates[limit]]))
        return body

    def get_owner(self, ctx: Ctx) -> dict[str, Any]:
        owners = ctx.world.table("hubspot_owners")
        key = ctx.params["ownerId"]
        column = "userId" if (ctx.query.get("idProperty") or "id") == "userId" else "id"
        values = owners.col(column).values
        for i in range(owners.n):
            if str(values[i]) == key:
                return self.owner_json(ctx.world, i)
        raise not_found(f"No owner found with {column} {key}")
