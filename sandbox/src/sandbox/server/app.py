"""The sandbox HTTP server: one Starlette app serving HubSpot-, Stripe- and Typeform-compatible APIs on
loopback.

    /hubspot/...   HubSpot CRM (bearer private-app token)        see hubspot/ (api.py: edges and routes)
    /stripe/v1/... Stripe (secret key, bearer or basic auth)      see stripe/ (api.py: edges and routes)
    /typeform/...  Typeform Responses API (bearer token)          see typeform/api.py
    /_admin/...    health, faults, request counters, reload      see admin.py

The product's ingestion and activation code talks to it exactly as to the real vendors; only the base URL and
the key differ (the tokens are in the sandbox's manifest.json).
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from sandbox.server import admin
from sandbox.server.common import json_response
from sandbox.server.faults import FaultError
from sandbox.server.hubspot.api import HubSpotApi
from sandbox.server.hubspot.model import HubSpotModel
from sandbox.server.hubspot.object_types import OBJECT_TYPES
from sandbox.server.stripe.api import StripeApi
from sandbox.server.stripe.api_objects import stripe_data
from sandbox.server.typeform.api import Responses, TypeformApi
from sandbox.server.vendor import SandboxState

HOST = "127.0.0.1"  # loopback only: the sandbox is never reachable from the network


async def _no_route(request: Request) -> Response:
    return json_response(
        {
            "error": f"no sandbox route {request.method} {request.url.path}; vendors live under "
            f"/hubspot, /stripe and /typeform, the admin API under /_admin"
        },
        404,
    )


def create_app(directory: Path, faults: list[str] | None = None) -> Starlette:
    """The ASGI app serving the sandbox in `directory` (world loaded and indexed before the first request)."""
    state = SandboxState(Path(directory), faults)
    vendors = [HubSpotApi(), StripeApi(), TypeformApi()]
    routes = [Mount(f"/{vendor.name}", routes=vendor.routes()) for vendor in vendors]
    routes += [
        Mount("/_admin", routes=admin.routes()),
        Route("/{rest:path}", _no_route, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
    ]
    app = Starlette(routes=routes)
    app.state.sandbox = state
    _warm(state)
    return app


def _warm(state: SandboxState) -> None:
    """Build the indexes now rather than on the first request (which a client might time out on)."""
    world = state.world()
    stripe_data(world)
    world.derive("typeform:responses", Responses.of)
    model = HubSpotModel(world, state.crm)
    for object_type in OBJECT_TYPES.values():
        model.objects(object_type)


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _server(app: Starlette) -> uvicorn.Server:
    config = uvicorn.Config(
        app, host=HOST, log_level="warning", access_log=False, lifespan="off", timeout_keep_alive=30
    )
    return uvicorn.Server(config)


def banner(base: str) -> str:
    return f"sandbox serving {base} (hubspot: {base}/hubspot, stripe: {base}/stripe, typeform: {base}/typeform)"


def serve(directory: Path, port: int = 8765, faults: list[str] | None = None) -> None:
    """Serve until interrupted; port 0 picks a free port. Prints the base URLs on one line first."""
    try:
        app = create_app(Path(directory), faults)
    except (FileNotFoundError, FaultError) as exc:  # no sandbox there, or a bad --fault: say so, no traceback
        raise SystemExit(f"csops sandbox serve: {exc}") from None
    sock = _bind(port)
    base = f"http://{HOST}:{sock.getsockname()[1]}"
    print(banner(base), flush=True)
    try:
        _server(app).run(sockets=[sock])
    finally:
        sock.close()
        app.state.sandbox.crm.close()


@contextlib.contextmanager
def running_server(directory: Path, faults: list[str] | None = None, port: int = 0) -> Iterator[str]:
    """Run the sandbox in a background thread; yields its base URL once it accepts connections."""
    app = create_app(Path(directory), faults)
    sock = _bind(port)
    base = f"http://{HOST}:{sock.getsockname()[1]}"
    server = _server(app)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # only the main thread may
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"sandbox-{base}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError(f"the sandbox server at {base} did not start")
        time.sleep(0.01)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
        app.state.sandbox.crm.close()


if __name__ == "__main__":  # python -m sandbox.server.app DIR [PORT]
    serve(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 8765)
