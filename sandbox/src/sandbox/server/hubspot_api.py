"""HubSpot-compatible endpoints under `/hubspot` (CRM v3 objects, search, owners, properties, lists; v4
associations).

Contract sources: HubSpot's public OpenAPI specs (HubSpot/HubSpot-public-api-spec-collection) and the official
Python SDK (hubspot-api-client 12). Error bodies are HubSpot's `{"status": "error", "message",
"correlationId", "category", ...}`; 429s carry `policyName` and the `X-HubSpot-RateLimit-*` headers.
"""

from __future__ import annotations

import re
import uuid
import zlib
from datetime import UTC, datetime
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.server.common import (
    ApiError,
    bearer_token,
    decode_cursor,
    dumps,
    encode_cursor,
    iso_ms,
    parse_int,
)
from sandbox.server.faults import VendorFaults
from sandbox.server.hubspot_model import (
    OBJECT_TYPES,
    TASK_ASSOCIATIONS,
    HubSpotModel,
    InvalidValue,
    ObjectSet,
    ObjectType,
    normalise_value,
    resolve_type,
)
from sandbox.server.hubspot_search import SearchError, run_search
from sandbox.server.store import World
from sandbox.server.vendor import Ctx, Vendor

LIST_LIMIT, OWNER_LIMIT, BATCH_LIMIT, ASSOC_BATCH_LIMIT, MEMBERSHIP_LIMIT = 100, 500, 100, 1000, 250
DAILY_LIMIT = 1_000_000
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
READ_ONLY = {
    "hs_object_id",
    "createdate",
    "hs_createdate",
    "lastmodifieddate",
    "hs_lastmodifieddate",
    "hs_task_completion_date",
}
LIST_TYPES = {"0-1": "contacts", "0-2": "companies", "0-3": "deals", "0-5": "tickets"}
AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find "
    "more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
NAME_RULE = re.compile(r"^[a-z][a-z0-9_]*$")


class HubSpotError(ApiError):
    """HubSpot's error body."""

    def __init__(
        self,
        status: int,
        message: str,
        category: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ):
        super().__init__(status, headers)
        self.message, self.category, self.extra = message, category, extra

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": "error",
            "message": self.message,
            "correlationId": str(uuid.uuid4()),
        }
        if self.category:
            body["category"] = self.category
        body.update(self.extra)
        return body


def validation_error(message: str, **extra: Any) -> HubSpotError:
    return HubSpotError(400, message, "VALIDATION_ERROR", **extra)


def not_found(message: str = "resource not found") -> HubSpotError:
    return HubSpotError(404, message, "OBJECT_NOT_FOUND")


def property_errors(errors: list[dict[str, Any]]) -> HubSpotError:
    """HubSpot's answer to invalid property values: the ValidationResults JSON inside the message."""
    return validation_error(f"Property values were not valid: {dumps(errors).decode()}")


def _result(name: str, code: str, message: str) -> dict[str, Any]:
    return {
        "isValid": False,
        "message": message,
        "error": code,
        "name": name,
        "localizedErrorMessage": message,
    }


def _now_iso() -> str:
    return iso_ms(int(datetime.now(UTC).timestamp() * 1000))


class HubSpotApi(Vendor):
    name = "hubspot"

    def __init__(self) -> None:
        self._model: HubSpotModel | None = None
        self._model_key: tuple[int, int] | None = None
        self.daily_used = 0

    # ------------------------------------------------------------------------------------------------- edges
    def authenticated(self, request: Request, world: World) -> bool:
        return bearer_token(request) == world.manifest.tokens["hubspot"]

    def unauthorized(self, request: Request) -> ApiError:
        return HubSpotError(401, AUTH_MESSAGE, "INVALID_AUTHENTICATION")

    def rate_limited(self, request: Request, faults: VendorFaults, policy: str) -> ApiError:
        if policy == "search":
            return HubSpotError(
                429,
                "You have reached your secondly limit.",
                None,
                errorType="RATE_LIMIT",
                policyName="SECONDLY",
                groupName="publicapi:crm-search",
            )
        if policy == "forced" and faults.rate_limit_policy == "daily":
            return HubSpotError(
                429,
                "You have reached your daily limit.",
                None,
                errorType="RATE_LIMIT",
                policyName="DAILY",
                groupName="publicapi:private-app:sandbox",
            )
        return HubSpotError(
            429,
            "You have reached your ten_secondly_rolling limit.",
            None,
            errorType="RATE_LIMIT",
            policyName="TEN_SECONDLY_ROLLING",
            groupName="publicapi:private-app:sandbox",
        )

    def server_error(self, status: int, retry_after: int | None) -> ApiError:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        message = {500: "internal error", 502: "Bad Gateway", 503: "Service Unavailable"}[status]
        return HubSpotError(status, message, None, headers)

    def not_found(self, request: Request) -> ApiError:
        return HubSpotError(404, f"Unable to route {request.method} {request.url.path}", "OBJECT_NOT_FOUND")

    @staticmethod
    def _is_search(request: Request) -> bool:
        return request.method == "POST" and request.url.path.endswith("/search")

    def windows(self, request: Request, faults: VendorFaults) -> list[tuple[str, Any]]:
        if self._is_search(request):  # search is exempt from the ten-secondly window but has its own limit
            return [("search", faults.search_window)] if faults.search_window else []
        return [("window", faults.window)] if faults.window else []

    def headers(self, request: Request, faults: VendorFaults, status: int) -> dict[str, str]:
        headers = {"X-HubSpot-Correlation-Id": str(uuid.uuid4())}
        if self._is_search(request):
            return headers
        self.daily_used += 1
        headers.update(
            {
                "X-HubSpot-RateLimit-Daily": str(DAILY_LIMIT),
                "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, DAILY_LIMIT - self.daily_used)),
            }
        )
        if faults.window:
            headers.update(
                {
                    "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(faults.window.seconds * 1000)),
                    "X-HubSpot-RateLimit-Max": str(faults.window.limit),
                    "X-HubSpot-RateLimit-Remaining": str(faults.window.remaining()),
                }
            )
        return headers

    def routes(self) -> list[Route]:
        r = self.route
        return [
            r("/crm/v3/owners", self.list_owners, ["GET"]),
            r("/crm/v3/owners/{ownerId}", self.get_owner, ["GET"]),
            r("/crm/v3/objects/{objectType}/search", self.search, ["POST"]),
            r("/crm/v3/objects/{objectType}/batch/read", self.batch_read, ["POST"]),
            r("/crm/v3/objects/{objectType}/batch/update", self.batch_update, ["POST"]),
            r("/crm/v3/objects/{objectType}/batch/create", self.batch_create, ["POST"]),
            r("/crm/v3/objects/{objectType}", self.list_objects, ["GET"]),
            r("/crm/v3/objects/{objectType}", self.create_object, ["POST"]),
            r("/crm/v3/objects/{objectType}/{objectId}", self.get_object, ["GET"]),
            r("/crm/v3/objects/{objectType}/{objectId}", self.update_object, ["PATCH"]),
            r("/crm/v3/objects/{objectType}/{objectId}", self.archive_object, ["DELETE"]),
            r(
                "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/read",
                self.associations_batch_read,
                ["POST"],
            ),
            r("/crm/v3/properties/{objectType}/batch/create", self.batch_create_properties, ["POST"]),
            r("/crm/v3/properties/{objectType}", self.list_properties, ["GET"]),
            r("/crm/v3/properties/{objectType}", self.create_property, ["POST"]),
            r("/crm/v3/properties/{objectType}/{propertyName}", self.get_property, ["GET"]),
            r("/crm/v3/lists", self.create_list, ["POST"]),
            r("/crm/v3/lists/", self.create_list, ["POST"]),
            r("/crm/v3/lists/object-type-id/{objectTypeId}/name/{listName}", self.get_list_by_name, ["GET"]),
            r("/crm/v3/lists/{listId}/memberships/add", self.add_members, ["PUT"]),
            r("/crm/v3/lists/{listId}/memberships/remove", self.remove_members, ["PUT"]),
            r("/crm/v3/lists/{listId}/memberships/add-and-remove", self.add_and_remove_members, ["PUT"]),
            r("/crm/v3/lists/{listId}/memberships", self.list_members, ["GET"]),
            r("/crm/v3/lists/{listId}/memberships", self.clear_members, ["DELETE"]),
            r("/crm/v3/lists/{listId}", self.get_list, ["GET"]),
            r("/crm/v3/lists/{listId}", self.delete_list, ["DELETE"]),
            self.fallback(),
        ]

    # ------------------------------------------------------------------------------------------------ helpers
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

    # ------------------------------------------------------------------------------------------------ owners
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

    # ----------------------------------------------------------------------------------------------- reading
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

    def _find(self, ctx: Ctx, objects: ObjectSet, key: str, id_property: str | None) -> int:
        """Position of an object by id or by a unique property (`idProperty`), -1 if absent."""
        if id_property and id_property != "hs_object_id":
            if objects.schema.get(id_property) is None:
                raise validation_error(f"Property {id_property} does not exist")
            col = objects.column(id_property)
            hits = np.flatnonzero(col.valid & (col.values == key) & ~objects.archived)
            return int(hits[0]) if len(hits) else -1
        return objects.position(key)

    def get_object(self, ctx: Ctx) -> dict[str, Any]:
        object_type = self.object_type(ctx)
        model = self.model(ctx)
        objects = model.objects(object_type)
        pos = self._find(ctx, objects, ctx.params["objectId"], ctx.query.get("idProperty"))
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
            result = run_search(model, objects, body, ctx.faults.search_cap)
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
        started = _now_iso()
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
            "completedAt": _now_iso(),
        }
        if errors:
            body["numErrors"] = len(errors)
            body["errors"] = errors
            return body, 207
        return body, ok_status

    # ----------------------------------------------------------------------------------------------- writing
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
        started = _now_iso()
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
        started = _now_iso()
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

    # ------------------------------------------------------------------------------------------ associations
    async def associations_batch_read(self, ctx: Ctx) -> Any:
        from_type = self.object_type(ctx, "fromObjectType")
        to_type = self.object_type(ctx, "toObjectType")
        body = await self.body(ctx)
        inputs = self._inputs(body, ASSOC_BATCH_LIMIT)
        started = _now_iso()
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
                                {"category": "HUBSPOT_DEFINED", "typeId": t.type_id, "label": t.label} for t in types
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

    # -------------------------------------------------------------------------------------------- properties
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

    def _new_property(self, objects: ObjectSet, spec: Any) -> dict[str, Any]:
        """A validated custom property definition (raises HubSpot's 400 / 409)."""
        if not isinstance(spec, dict):
            raise validation_error("Invalid input JSON: a property is an object")
        missing = [k for k in ("name", "label", "type", "fieldType", "groupName") if not spec.get(k)]
        if missing:
            raise validation_error(f"Missing required fields: {', '.join(missing)}", context={"missingFields": missing})
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
        now = _now_iso()
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
        definition = self._new_property(self.model(ctx).objects(object_type), body)
        ctx.crm.add_property(object_type.name, definition, ctx.crm.clock_ms())
        return definition, 201

    async def batch_create_properties(self, ctx: Ctx) -> Any:
        object_type = self.object_type(ctx)
        body = await self.body(ctx)
        inputs = self._inputs(body, BATCH_LIMIT)
        started = _now_iso()
        results, errors = [], []
        for spec in inputs:
            objects = self.model(ctx).objects(object_type)
            try:
                definition = self._new_property(objects, spec)
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

    # ------------------------------------------------------------------------------------------------- lists
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
