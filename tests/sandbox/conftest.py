"""Fixtures for the sandbox server tests: one generated tiny world and one running server per session.

Tests that write to the CRM or restart the server get their own copy of the world (`own_world`), so the shared
server's state never depends on test order.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import requests

from sandbox.server.app import running_server
from sandbox.server.stripe.versions import CURRENT_VERSION as STRIPE_CURRENT_VERSION
from tests.support import SANDBOX_TODAY, copy_sandbox

TODAY = SANDBOX_TODAY  # the world is the session's pristine sandbox (tests/conftest.py)
# The vendors' default rate limits are on by default; tests that are not about them switch them off so that
# they do not depend on how fast the machine is. Rate-limit tests turn them back on explicitly.
NO_WINDOWS = ["hubspot:window:off", "hubspot:search_window:off", "typeform:window:off"]
# Servers of a test's own are about writes: their search sees a write at once unless the test sets a lag (the
# index lag, on by default, has tests of its own).
OWN_SERVER = [*NO_WINDOWS, "hubspot:search_lag:0"]


@pytest.fixture(scope="session")
def world_dir(pristine_sandbox: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny world (seed 42, TODAY: the session's pristine sandbox), copied for the shared server."""
    return copy_sandbox(pristine_sandbox, tmp_path_factory.mktemp("sandbox-tiny") / "sandbox")


@pytest.fixture(scope="session")
def manifest(world_dir: Path) -> dict[str, Any]:
    return json.loads((world_dir / "manifest.json").read_text())


@pytest.fixture(scope="session")
def table(world_dir: Path):
    """Read a world table (pyarrow) to compare what the API serves with what was generated: by default only the
    live records (what lists and search serve); `live=False` keeps the deleted (archived, deleted_at) ones too."""

    def read(name: str, live: bool = True):
        world = pq.read_table(world_dir / "world" / f"{name}.parquet")
        if live and "archived" in world.column_names:
            world = world.filter(pc.invert(world["archived"]))
        if live and "deleted_at" in world.column_names:
            world = world.filter(pc.is_null(world["deleted_at"]))
        return world

    return read


@pytest.fixture(scope="session")
def server(world_dir: Path) -> Iterator[str]:
    with running_server(world_dir) as url:
        yield url


class Api:
    """A thin HTTP client over one sandbox server: vendor calls with their credentials, and the admin API."""

    def __init__(self, base: str, manifest: dict[str, Any]):
        self.base, self.tokens, self.form_id = base, manifest["tokens"], manifest["typeform_form_id"]
        self.http = requests.Session()

    def hubspot(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.tokens['hubspot']}", **kwargs.pop("headers", {})}
        return self.http.request(method, f"{self.base}/hubspot{path}", headers=headers, timeout=30, **kwargs)

    def stripe(self, path: str, **kwargs: Any) -> requests.Response:
        """A Stripe GET in the current API version (as the product and the official SDK send), unless `headers`
        names another `Stripe-Version` or drops it (`{"Stripe-Version": ""}`: the account's default)."""
        headers = {
            "Authorization": f"Bearer {self.tokens['stripe']}",
            "Stripe-Version": STRIPE_CURRENT_VERSION,
            **kwargs.pop("headers", {}),
        }
        headers = {k: v for k, v in headers.items() if v}
        return self.http.get(f"{self.base}/stripe{path}", headers=headers, timeout=30, **kwargs)

    def typeform(self, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"bearer {self.tokens['typeform']}", **kwargs.pop("headers", {})}
        return self.http.get(f"{self.base}/typeform{path}", headers=headers, timeout=30, **kwargs)

    def faults(self, *specs: str, reset: bool = False) -> dict[str, Any]:
        response = self.http.post(f"{self.base}/_admin/faults", json={"faults": list(specs), "reset": reset})
        assert response.status_code == 200, response.text
        return response.json()

    def clear_faults(self) -> None:
        assert self.http.delete(f"{self.base}/_admin/faults").status_code == 200

    def requests(self) -> dict[str, Any]:
        return self.http.get(f"{self.base}/_admin/requests").json()

    def reset_requests(self) -> None:
        assert self.http.delete(f"{self.base}/_admin/requests").status_code == 200

    def search_all(self, object_type: str, body: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
        """Every page of a CRM search (raw HTTP), and the `total` HubSpot reported."""
        results, after, total = [], None, -1
        while True:
            page = self.hubspot(
                "POST",
                f"/crm/v3/objects/{object_type}/search",
                json={**body, **({"after": after} if after else {})},
            )
            assert page.status_code == 200, page.text
            data = page.json()
            results += data["results"]
            total = data["total"]
            after = data.get("paging", {}).get("next", {}).get("after")
            if not after:
                return results, total


@pytest.fixture(scope="session")
def session_api(server: str, manifest: dict[str, Any]) -> Api:
    return Api(server, manifest)


@pytest.fixture
def api(session_api: Api) -> Iterator[Api]:
    """The shared server with default faults and the rate-limit windows off (see NO_WINDOWS)."""
    session_api.faults(*NO_WINDOWS, reset=True)
    yield session_api
    session_api.clear_faults()


@pytest.fixture
def own_world(world_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the world (no usage events) for tests that write to the CRM or restart servers."""
    out = tmp_path / "sandbox"
    out.mkdir()
    shutil.copytree(world_dir / "world", out / "world")
    shutil.copy2(world_dir / "manifest.json", out / "manifest.json")
    return out


@pytest.fixture(scope="session")
def serve(manifest: dict[str, Any]):
    """A server of one's own: `with serve(directory) as api: ...` (windows and search lag off unless faults are
    given)."""

    @contextlib.contextmanager
    def start(directory: Path, faults: list[str] | None = None) -> Iterator[Api]:
        with running_server(directory, faults=OWN_SERVER if faults is None else faults) as url:
            yield Api(url, manifest)

    return start


@pytest.fixture
def own_api(own_world: Path, serve) -> Iterator[Api]:
    """A server of its own over `own_world` (windows and search lag off)."""
    with serve(own_world) as api:
        yield api
