"""What every vendor API shares: JSON bodies, query parsing, auth headers, errors, time formats and cursors.

The vendors differ in *shapes* (error bodies, paging envelopes) but not in mechanics; the mechanics live here
so that the `hubspot`, `stripe` and `typeform` subpackages only describe their contract.
"""

from __future__ import annotations

import base64
import binascii
import math
import secrets
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qsl

import numpy as np
from starlette.requests import Request
from starlette.responses import Response

try:  # orjson is in the lock (dlt's tree) and is 5-10x faster for big pages; stdlib json is the fallback.
    import orjson

    def dumps(payload: Any) -> bytes:
        return orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)

    def loads(data: bytes | str) -> Any:
        return orjson.loads(data)

except ImportError:  # pragma: no cover - exercised only without orjson
    import json

    def dumps(payload: Any) -> bytes:
        return json.dumps(payload, separators=(",", ":"), default=_json_default).encode()

    def loads(data: bytes | str) -> Any:
        return json.loads(data)

    def _json_default(value: Any) -> Any:
        if isinstance(value, np.generic):
            return value.item()
        raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class ApiError(Exception):
    """An error a vendor API answers with; each vendor subclasses it with its own body shape."""

    status: int = 400

    def __init__(self, status: int, headers: Mapping[str, str] | None = None):
        super().__init__(status)
        self.status = status
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError


def json_response(
    payload: Any,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    renames: Mapping[str, str] | None = None,
) -> Response:
    """A JSON response; `renames` (the renamed-field fault) rewrites keys anywhere in the body."""
    if renames:
        payload = rename_keys(payload, renames)
    return Response(dumps(payload), status_code=status, headers=dict(headers or {}), media_type="application/json")


def rename_keys(value: Any, renames: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        return {renames.get(k, k): rename_keys(v, renames) for k, v in value.items()}
    if isinstance(value, list):
        return [rename_keys(v, renames) for v in value]
    return value


# --------------------------------------------------------------------------------------------- query strings
class Query:
    """A query string that keeps repeated keys (`properties=a&properties=b`) and Stripe's bracket keys."""

    def __init__(self, raw: str):
        self.pairs: list[tuple[str, str]] = parse_qsl(raw, keep_blank_values=True)

    @classmethod
    def of(cls, request: Request) -> Query:
        return cls(request.url.query)

    def keys(self) -> set[str]:
        return {k for k, _ in self.pairs}

    def get(self, key: str, default: str | None = None) -> str | None:
        for k, v in self.pairs:
            if k == key:
                return v
        return default

    def getlist(self, key: str) -> list[str]:
        return [v for k, v in self.pairs if k == key]

    def csv_list(self, key: str) -> list[str] | None:
        """HubSpot-style list parameters: repeated keys and/or comma-separated values; None when absent."""
        values = self.getlist(key)
        if not values:
            return None
        return [item.strip() for value in values for item in value.split(",") if item.strip()]

    def bracket_list(self, key: str) -> list[str]:
        """Stripe-style arrays: `expand[]=a&expand[]=b` or `expand[0]=a&expand[1]=b`."""
        out = []
        for k, v in self.pairs:
            if k == f"{key}[]" or (k.startswith(f"{key}[") and k[len(key) + 1 : -1].isdigit() and k.endswith("]")):
                out.append(v)
        return out

    def base_keys(self) -> set[str]:
        """Parameter names without their bracket suffix (`created[gte]` -> `created`)."""
        return {k.split("[", 1)[0] for k, _ in self.pairs}


# ------------------------------------------------------------------------------------------------------ auth
def bearer_token(request: Request) -> str | None:
    """The credential of `Authorization: Bearer <token>` (any case of 'bearer', as the vendors accept)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def basic_user(request: Request) -> str | None:
    """The user part of HTTP basic auth (Stripe accepts the secret key as the user, empty password)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.split(":", 1)[0] or None


def request_id(prefix: str = "req_") -> str:
    return prefix + secrets.token_urlsafe(11).replace("-", "x").replace("_", "y")[:14]


# ------------------------------------------------------------------------------------------------------ times
MS_NULL = np.iinfo(np.int64).min  # "no value" in int64 millisecond columns


def iso_ms(ms: int) -> str:
    """HubSpot's timestamp format: ISO-8601 UTC with milliseconds and Z."""
    seconds, millis = divmod(int(ms), 1000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{millis:03d}Z"


def iso_seconds(ms: int) -> str:
    """Typeform's timestamp format: ISO-8601 UTC to the second, with Z."""
    return datetime.fromtimestamp(int(ms) // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_date(days: int) -> str:
    return date.fromordinal(date(1970, 1, 1).toordinal() + int(days)).isoformat()


def parse_instant_ms(value: Any) -> int | None:
    """Milliseconds since the epoch from ms digits or an ISO-8601 date / date-time (None if neither)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and math.isfinite(value):
        return int(value)
    text = str(value).strip()
    if not text:
        return None
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


# ---------------------------------------------------------------------------------------------------- cursors
def encode_cursor(value: int) -> str:
    """An opaque, URL-safe cursor for an integer position (HubSpot's list-membership style)."""
    return base64.urlsafe_b64encode(int(value).to_bytes(8, "big", signed=True)).decode()


def decode_cursor(token: str) -> int | None:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    return int.from_bytes(raw, "big", signed=True) if len(raw) == 8 else None


def parse_int(value: str | None) -> int | None:
    """An integer query value, or None if it is not one (the caller raises its vendor's error)."""
    if value is None:
        return None
    text = value.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    return None


def first_present(values: Iterable[Any]) -> Any:
    return next((v for v in values if v is not None), None)
