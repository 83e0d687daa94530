"""Strict validation of a JSON document against one of hubspot-api-client's generated models.

The SDK's own deserialiser is lenient about types (it calls `str(value)` for a string field), so this walks the
model's `openapi_types` first and reports every JSON value whose type the OpenAPI spec does not allow, then builds
the model through the SDK's `ApiClient.deserialize` path with client-side validation on, which raises on missing
required fields and on values outside an enum. Returns the problems as readable strings (empty = valid)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

PRIMITIVES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "object": (object,),
}


class _Response:
    """What `ApiClient.deserialize` reads: an object with the raw body in `.data`."""

    def __init__(self, body: Any):
        self.data = json.dumps(body)


def _is_datetime(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _type_problems(value: Any, kind: str, models: Any, where: str) -> list[str]:
    if value is None:
        return []  # nullability and required-ness are the constructor's job
    if kind.startswith("list["):
        inner = kind[5:-1]
        if not isinstance(value, list):
            return [f"{where}: expected a list ({kind}), got {type(value).__name__}"]
        return [p for i, item in enumerate(value) for p in _type_problems(item, inner, models, f"{where}[{i}]")]
    if kind.startswith("dict["):
        inner = re.match(r"dict\(str, (.*)\)|dict\[str, (.*)\]", kind)
        inner_kind = next(g for g in inner.groups() if g) if inner else "object"
        if not isinstance(value, dict):
            return [f"{where}: expected an object ({kind}), got {type(value).__name__}"]
        return [p for k, item in value.items() for p in _type_problems(item, inner_kind, models, f"{where}.{k}")]
    if kind in ("datetime", "date"):
        return [] if _is_datetime(value) else [f"{where}: expected an ISO {kind}, got {value!r}"]
    if kind in PRIMITIVES:
        allowed = PRIMITIVES[kind]
        wrong_bool = isinstance(value, bool) and bool not in allowed
        return [] if isinstance(value, allowed) and not wrong_bool else [f"{where}: expected {kind}, got {value!r}"]
    klass = getattr(models, kind, None)
    if klass is None:
        return [f"{where}: the SDK has no model {kind}"]
    if not isinstance(value, dict):
        return [f"{where}: expected an object ({kind}), got {type(value).__name__}"]
    problems = []
    for attr, attr_kind in klass.openapi_types.items():
        key = klass.attribute_map[attr]
        if key in value:
            problems += _type_problems(value[key], attr_kind, models, f"{where}.{key}")
    return problems


def validate(body: Any, model: str, package: Any) -> list[str]:
    """Problems of `body` as the SDK model `model` of `package` (e.g. `hubspot.crm.objects`): wrong JSON types,
    missing required fields, values outside an enum. Fields the model does not know are not errors (the spec
    allows additional properties in responses)."""
    problems = _type_problems(body, model, package.models, model)
    configuration = package.Configuration()
    configuration.client_side_validation = True
    client = package.ApiClient(configuration)
    try:
        client.deserialize(_Response(body), model)
    except (ValueError, TypeError) as error:
        problems.append(f"{model}: {error}")
    return problems
