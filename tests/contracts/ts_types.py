"""Reads the TypeScript declarations Typeform's official client ships (`@typeform/api-client`'s .d.ts files) and
checks JSON against them. The npm lock has no TypeScript compiler, so this parses the small subset of TypeScript
the client's response types use — interfaces, object literals, optional members, index signatures, arrays,
unions of string literals, `Omit<T, ...>` — and fails loudly on anything else rather than guessing."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

TOKEN = re.compile(r"\s*(?:(\[\])|('[^']*')|([A-Za-z_$][\w$.]*)|(.))", re.S)


def _tokens(source: str) -> list[str]:
    source = re.sub(r"/\*.*?\*/|//[^\n]*", "", source, flags=re.S)
    return [next(g for g in m.groups() if g) for m in TOKEN.finditer(source) if any(m.groups())]


class Declarations:
    """The interfaces of one .d.ts file, parsed on demand by name (`Response`, `Responses.List`)."""

    def __init__(self, path: Path):
        self.source = path.read_text()

    def interface(self, name: str) -> Any:
        *namespaces, last = name.split(".")
        start = 0
        for namespace in namespaces:
            start = self.source.index(f"namespace {namespace} {{", start)
        match = re.compile(rf"interface {last} \{{").search(self.source, start)
        if match is None:
            raise LookupError(f"no interface {name} in the client's declarations")
        tokens = _tokens(self.source[match.end() - 1 :])
        parsed, _ = self._object(tokens, 0)
        return parsed

    def _type(self, tokens: list[str], i: int) -> tuple[Any, int]:
        arms = []
        while True:
            arm, i = self._primary(tokens, i)
            while i < len(tokens) and tokens[i] == "[]":
                arm, i = ("array", arm), i + 1
            arms.append(arm)
            if i < len(tokens) and tokens[i] == "|":
                i += 1
                continue
            return (arms[0] if len(arms) == 1 else ("union", arms)), i

    def _primary(self, tokens: list[str], i: int) -> tuple[Any, int]:
        token = tokens[i]
        if token == "{":
            return self._object(tokens, i)
        if token.startswith("'"):
            return ("literal", token[1:-1]), i + 1
        if token in ("string", "number", "boolean", "any", "null"):
            return ("primitive", token), i + 1
        if token == "Omit" and tokens[i + 1] == "<":
            inner, i = self._type(tokens, i + 2)
            depth = 1
            while depth:  # skip the omitted keys up to the matching '>'
                depth += {"<": 1, ">": -1}.get(tokens[i], 0)
                i += 1
            return inner, i
        if re.fullmatch(r"[A-Z][\w.]*", token):
            return ("ref", token), i + 1
        raise ValueError(f"unsupported TypeScript at {' '.join(tokens[i : i + 8])!r}")

    def _object(self, tokens: list[str], i: int) -> tuple[Any, int]:
        assert tokens[i] == "{"
        members: dict[str, tuple[bool, Any]] = {}
        index: Any = None
        i += 1
        while tokens[i] != "}":
            if tokens[i] == "[":  # [key: string]: T
                i = tokens.index("]", i) + 2
                index, i = self._type(tokens, i)
            else:
                name, optional = tokens[i], tokens[i + 1] == "?"
                i += 3 if optional else 2
                members[name], i = self._type(tokens, i)
                members[name] = (optional, members[name])
            if tokens[i] == ";":
                i += 1
        return ("object", members, index), i + 1


def problems(value: Any, kind: Any, declarations: Declarations, where: str) -> list[str]:
    """What in `value` the declared type `kind` does not allow (undeclared members included)."""
    tag = kind[0]
    if tag == "ref":
        return problems(value, declarations.interface(kind[1].split(".")[-1]), declarations, where)
    if tag == "primitive":
        python = {"string": str, "number": (int, float), "boolean": bool, "any": object, "null": type(None)}[kind[1]]
        ok = isinstance(value, python) and not (kind[1] == "number" and isinstance(value, bool))
        return [] if ok else [f"{where}: expected {kind[1]}, got {value!r:.60}"]
    if tag == "literal":
        return [] if value == kind[1] else [f"{where}: expected {kind[1]!r}, got {value!r:.60}"]
    if tag == "union":
        arms = [problems(value, arm, declarations, where) for arm in kind[1]]
        return [] if any(not arm for arm in arms) else [f"{where}: {value!r:.60} matches none of the declared types"]
    if tag == "array":
        if not isinstance(value, list):
            return [f"{where}: expected an array, got {value!r:.60}"]
        return [p for i, item in enumerate(value) for p in problems(item, kind[1], declarations, f"{where}[{i}]")]
    _, members, index = kind
    if not isinstance(value, dict):
        return [f"{where}: expected an object, got {value!r:.60}"]
    out = [f"{where}.{name}: missing" for name, (optional, _) in members.items() if not optional and name not in value]
    for key, item in value.items():
        if key in members:
            out += problems(item, members[key][1], declarations, f"{where}.{key}")
        elif index is not None:
            out += problems(item, index, declarations, f"{where}.{key}")
        else:
            out.append(f"{where}.{key}: not declared by the client's types")
    return out
