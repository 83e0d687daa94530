"""The request pipeline every vendor endpoint runs through, and the state the whole server shares.

Order, as a client meets it on the real services: latency -> authentication (401) -> 5xx burst -> rate limits
(429) -> the endpoint -> the renamed-field fault on the body. Each vendor only supplies its error bodies and
headers; counting, faults and world reloading are done once here.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.server.common import ApiError, Query, json_response, loads
from sandbox.server.faults import Faults, VendorFaults
from sandbox.server.hubspot.crm_writes import CrmStore
from sandbox.server.store import World, WorldStore

log = logging.getLogger(__name__)


@dataclass
class RequestLog:
    """Request counters since start or the last reset (GET/DELETE /_admin/requests)."""

    since: datetime = field(default_factory=lambda: datetime.now(UTC))
    counts: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, vendor: str, method: str, path: str, status: int) -> None:
        with self.lock:
            self.counts[(vendor, method, path, status)] += 1

    def reset(self) -> None:
        with self.lock:
            self.counts.clear()
            self.since = datetime.now(UTC)

    def summary(self) -> dict[str, Any]:
        with self.lock:
            items = list(self.counts.items())
        vendors: dict[str, dict[str, Any]] = {}
        paths: dict[str, dict[str, Any]] = {}
        for (vendor, method, path, status), n in sorted(items):
            v = vendors.setdefault(vendor, {"total": 0, "statuses": {}})
            v["total"] += n
            v["statuses"][str(status)] = v["statuses"].get(str(status), 0) + n
            p = paths.setdefault(f"{method} {path}", {"vendor": vendor, "count": 0, "statuses": {}})
            p["count"] += n
            p["statuses"][str(status)] = p["statuses"].get(str(status), 0) + n
        return {
            "since": self.since.isoformat(),
            "total": sum(n for _, n in items),
            "vendors": vendors,
            "paths": paths,
        }


class SandboxState:
    """Everything the endpoints share: the world, the CRM write store, the faults and the request log."""

    def __init__(self, directory: Path, faults: list[str] | None = None):
        self.directory = Path(directory)
        self.store = WorldStore(self.directory)
        self.crm = CrmStore(self.directory / "crm.sqlite")
        self.faults = Faults(seed=self.store.current().manifest.seed, specs=faults)
        self.requests = RequestLog()
        self.started = datetime.now(UTC)

    def world(self) -> World:
        return self.store.current()


@dataclass
class Ctx:
    """What an endpoint gets: the request, the current world, its vendor's faults, parsed query."""

    request: Request
    state: SandboxState
    world: World
    faults: VendorFaults
    query: Query
    params: dict[str, str]

    @property
    def crm(self) -> CrmStore:
        return self.state.crm

    async def json(self, error: Callable[[str], ApiError]) -> Any:
        raw = await self.request.body()
        if not raw.strip():
            raise error("The request body is empty: a JSON body is required.")
        try:
            return loads(raw)
        except ValueError as exc:
            raise error(f"Invalid input JSON: {exc}") from None


Handler = Callable[[Ctx], Awaitable[Any] | Any]


class Vendor:
    """One vendor's contract at the edges: auth, error bodies, per-response headers. Subclasses add routes."""

    name: str = ""

    def authenticated(self, request: Request, world: World) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def unauthorized(self, request: Request) -> ApiError:  # pragma: no cover - abstract
        raise NotImplementedError

    def rate_limited(self, request: Request, faults: VendorFaults, policy: str) -> ApiError:  # pragma: no cover
        raise NotImplementedError

    def server_error(self, status: int, retry_after: int | None) -> ApiError:  # pragma: no cover - abstract
        raise NotImplementedError

    def not_found(self, request: Request) -> ApiError:  # pragma: no cover - abstract
        raise NotImplementedError

    def headers(self, request: Request, faults: VendorFaults, status: int) -> dict[str, str]:
        return {}

    def windows(self, request: Request, faults: VendorFaults) -> list[tuple[str, Any]]:
        """The rolling windows this request counts against, as (policy name, window)."""
        return [("window", faults.window)] if faults.window else []

    def routes(self) -> list[Route]:  # pragma: no cover - abstract
        raise NotImplementedError

    # ------------------------------------------------------------------------------------------ the pipeline
    def route(self, path: str, handler: Handler, methods: list[str]) -> Route:
        async def endpoint(request: Request) -> Response:
            return await self.handle(request, handler)

        return Route(path, endpoint, methods=methods)

    def fallback(self) -> Route:
        async def endpoint(request: Request) -> Response:
            async def missing(ctx: Ctx) -> Any:
                raise self.not_found(ctx.request)

            return await self.handle(request, missing)

        return Route("/{rest:path}", endpoint, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])

    async def handle(self, request: Request, handler: Handler) -> Response:
        state: SandboxState = request.app.state.sandbox
        world = state.world()
        faults = state.faults[self.name]
        path = request.url.path
        response = await self._run(request, handler, state, world, faults)
        state.requests.add(self.name, request.method, path, response.status_code)
        return response

    async def _run(
        self, request: Request, handler: Handler, state: SandboxState, world: World, faults: VendorFaults
    ) -> Response:
        if faults.latency_ms > 0:
            await asyncio.sleep(faults.latency_ms / 1000)
        try:
            if not self.authenticated(request, world):
                raise self.unauthorized(request)
            status = faults.server_error()
            if status is not None:
                raise self.server_error(status, faults.server_error_retry_after)
            if faults.forced_rate_limit():
                raise self.rate_limited(request, faults, "forced")
            for policy, window in self.windows(request, faults):
                if not window.admit():
                    raise self.rate_limited(request, faults, policy)
            ctx = Ctx(request, state, world, faults, Query.of(request), dict(request.path_params))
            result = handler(ctx)
            if asyncio.iscoroutine(result):
                result = await result
        except ApiError as err:
            headers = {**self.headers(request, faults, err.status), **err.headers}
            return json_response(err.body(), err.status, headers)
        except Exception:  # a sandbox bug: answer like the vendor's 500, and log it for whoever runs the sandbox
            log.exception("sandbox %s endpoint failed: %s %s", self.name, request.method, request.url)
            err = self.server_error(500, None)
            return json_response(err.body(), 500, {**self.headers(request, faults, 500), **err.headers})
        if isinstance(result, Response):
            result.headers.update(self.headers(request, faults, result.status_code))
            return result
        status_code = 200
        if isinstance(result, tuple):
            result, status_code = result
        return json_response(result, status_code, self.headers(request, faults, status_code), faults.renames)
