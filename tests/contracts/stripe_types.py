"""Strict validation of Stripe JSON against stripe-python's typed classes (the pinned SDK's annotations, generated
from Stripe's OpenAPI specification for its API version): each value's JSON type against the field's annotation,
recursively through nested classes, expandable fields, lists and enums (Literal); fields a class does not declare
and declared non-optional fields that are missing are reported too. Returns readable problems (empty = valid)."""

from __future__ import annotations

import decimal
import typing
from typing import Any, ForwardRef, Literal, Union, get_args, get_origin

import stripe
from stripe import ListObject, StripeObject

NoneType = type(None)


def _resolve(annotation: Any) -> Any:
    if isinstance(annotation, ForwardRef):
        return getattr(stripe, annotation.__forward_arg__, Any)
    if isinstance(annotation, str):
        return getattr(stripe, annotation, Any)
    return annotation


def fields(cls: type) -> dict[str, Any]:
    """The annotated fields of a typed Stripe class (its own and inherited), without class-level constants."""
    out: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        for name, annotation in vars(klass).get("__annotations__", {}).items():
            if not name.startswith("_") and get_origin(annotation) is not typing.ClassVar:
                out[name] = annotation
    return out


def _optional(annotation: Any) -> bool:
    return get_origin(annotation) is Union and NoneType in get_args(annotation)


def problems(value: Any, annotation: Any, where: str) -> list[str]:
    annotation = _resolve(annotation)
    origin, args = get_origin(annotation), get_args(annotation)
    if annotation is Any:
        return []
    if value is None:
        return [] if annotation is NoneType or _optional(annotation) else [f"{where}: null, declared {annotation}"]
    if origin is Union:
        arms = [problems(value, arm, where) for arm in args if arm is not NoneType]
        return [] if any(not arm for arm in arms) else min(arms, key=len)
    if origin is Literal:
        return [] if value in args else [f"{where}: {value!r} is not one of {list(args)}"]
    if origin in (list, typing.List):  # noqa: UP006 - annotations come from the SDK
        if not isinstance(value, list):
            return [f"{where}: expected a list, got {type(value).__name__}"]
        return [p for i, item in enumerate(value) for p in problems(item, args[0], f"{where}[{i}]")]
    if origin in (dict, typing.Dict):  # noqa: UP006
        if not isinstance(value, dict):
            return [f"{where}: expected an object, got {type(value).__name__}"]
        return [p for k, item in value.items() for p in problems(item, args[1], f"{where}.{k}")]
    if origin is ListObject or annotation is ListObject:
        if not isinstance(value, dict) or value.get("object") != "list" or not isinstance(value.get("data"), list):
            return [f"{where}: expected a list object, got {value!r:.80}"]
        inner = args[0] if args else Any
        return [p for i, item in enumerate(value["data"]) for p in problems(item, inner, f"{where}.data[{i}]")]
    if annotation is decimal.Decimal:
        try:
            decimal.Decimal(str(value))
        except decimal.InvalidOperation:
            return [f"{where}: {value!r} is not a decimal"]
        return [] if isinstance(value, str | int | float) and not isinstance(value, bool) else [f"{where}: {value!r}"]
    if annotation in (int, float, str, bool):
        allowed = (int, float) if annotation is float else (annotation,)
        ok = isinstance(value, allowed) and (annotation is bool or not isinstance(value, bool))
        return [] if ok else [f"{where}: expected {annotation.__name__}, got {value!r:.80}"]
    if isinstance(annotation, type) and issubclass(annotation, StripeObject):
        return object_problems(value, annotation, where)
    return []  # an annotation this checker does not model: not counted against the sandbox


def object_problems(value: Any, cls: type, where: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where}: expected {cls.__qualname__} (an object), got {value!r:.80}"]
    declared = fields(cls)
    out = [f"{where}.{key}: not a field of stripe.{cls.__qualname__}" for key in value if key not in declared]
    for name, annotation in declared.items():
        if name in value:
            out += problems(value[name], annotation, f"{where}.{name}")
        elif not _optional(_resolve(annotation)) and name != "object":
            out.append(f"{where}.{name}: missing, stripe.{cls.__qualname__} declares it always present")
    return out
