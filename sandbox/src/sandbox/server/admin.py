"""`/_admin`: what tests, the demo and benchmarks use to steer and observe the sandbox (not a vendor API).

- `GET /_admin/health` — liveness plus what is being served (world today, seed, reloads).
- `GET|POST|DELETE /_admin/faults` — the live fault state; POST `{"faults": ["stripe:rate_limit:3"]}` (add
  `"reset": true` to start from the defaults); DELETE (optionally `?vendor=stripe`) restores the defaults.
- `GET|DELETE /_admin/requests` — request counters per vendor / method / path / status since start or reset.
- `POST /_admin/reload` — re-read the world now (normally done lazily when `manifest.json` changes).
- `POST /_admin/hubspot/archive` — `{"object_type": "companies", "ids": ["..."]}`: archive (delete) records as a
  user would in HubSpot's UI, e.g. between a mart build and a CRM push; reads and writes of them then answer as
  HubSpot does for deleted records (404 / OBJECT_NOT_FOUND, listed only with `archived=true`).
- `POST /_admin/advance` — `{"days": N}`: the next N days happen, as `csops sandbox advance` (the CSMs work the
  tasks pushed into the CRM meanwhile), then the world is re-read; answers the new today.

"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.server.common import json_response, loads
from sandbox.server.faults import VENDORS, FaultError


def _state(request: Request) -> Any:
    return request.app.state.sandbox


async def health(request: Request) -> Response:
    state = _state(request)
    world = state.world()
    base = str(request.base_url).rstrip("/")
    return json_response(
        {
            "status": "ok",
            "directory": str(state.directory),
            "today": world.manifest.today.isoformat(),
            "seed": world.manifest.seed,
            "scale": world.manifest.scale,
            "world_loaded_at": world.loaded_at.isoformat(),
            "reloads": state.store.reloads,
            "crm_version": state.crm.version,
            "started": state.started.isoformat(),
            "vendors": {v: f"{base}/{v}" for v in VENDORS},
        }
    )


async def faults(request: Request) -> Response:
    state = _state(request)
    if request.method == "DELETE":
        vendor = request.query_params.get("vendor")
        if vendor and vendor not in VENDORS:
            return json_response({"error": f"unknown vendor {vendor!r}"}, 400)
        state.faults.reset(vendor)
    elif request.method == "POST":
        raw = await request.body()
        try:
            body = loads(raw) if raw.strip().startswith((b"{", b"[", b'"')) else raw.decode().split()
        except ValueError as exc:
            return json_response({"error": f"invalid JSON: {exc}"}, 400)
        if isinstance(body, dict):
            if body.get("reset"):
                state.faults.reset()
            specs = body.get("faults") or ([body["fault"]] if body.get("fault") else [])
        elif isinstance(body, str):
            specs = [body]
        else:
            specs = list(body)
        try:
            for spec in specs:
                state.faults.apply(str(spec))
        except FaultError as exc:
            return json_response({"error": str(exc)}, 400)
    return json_response(state.faults.describe())


async def requests(request: Request) -> Response:
    state = _state(request)
    if request.method == "DELETE":
        state.requests.reset()
    return json_response(state.requests.summary())


async def reload(request: Request) -> Response:
    state = _state(request)
    world = state.store.reload()
    return json_response({"status": "reloaded", "today": world.manifest.today.isoformat()})


ARCHIVABLE_TYPES = ("companies", "contacts", "deals", "tickets")


async def archive(request: Request) -> Response:
    state = _state(request)
    try:
        body = loads(await request.body())
    except ValueError as exc:
        return json_response({"error": f"invalid JSON: {exc}"}, 400)
    object_type = body.get("object_type") if isinstance(body, dict) else None
    ids = body.get("ids") if isinstance(body, dict) else None
    if object_type not in ARCHIVABLE_TYPES or not isinstance(ids, list) or not all(str(i).isdigit() for i in ids):
        return json_response({"error": f"expected {{'object_type': one of {ARCHIVABLE_TYPES}, 'ids': [digits]}}"}, 400)
    at_ms = state.crm.clock_ms(state.world().cutoff_ms)
    for object_id in ids:
        state.crm.archive_object(object_type, int(object_id), at_ms)
    return json_response({"archived": [str(i) for i in ids], "object_type": object_type})


async def advance_clock(request: Request) -> Response:
    from sandbox.generator.world import advance

    state = _state(request)
    try:
        body = loads(await request.body() or b"{}")
        days = int(body.get("days")) if isinstance(body, dict) and body.get("days") is not None else None
    except (ValueError, TypeError) as exc:
        return json_response({"error": f'invalid body, expected {{"days": N}}: {exc}'}, 400)
    if days is None:
        return json_response({"error": 'missing "days": how many days happen'}, 400)
    try:
        await run_in_threadpool(advance, state.directory, days)
    except ValueError as exc:
        return json_response({"error": str(exc)}, 400)
    world = state.store.reload()
    return json_response({"status": "advanced", "today": world.manifest.today.isoformat(), "days": days})


def routes() -> list[Route]:
    return [
        Route("/health", health, methods=["GET"]),
        Route("/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/requests", requests, methods=["GET", "DELETE"]),
        Route("/reload", reload, methods=["POST"]),
        Route("/hubspot/archive", archive, methods=["POST"]),
        Route("/advance", advance_clock, methods=["POST"]),
    ]
