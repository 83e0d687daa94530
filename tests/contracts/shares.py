"""Counting and reporting what validated: per vendor and part (request/response), how many bodies validate
strictly and how many apart from the documented deviations (each an allow-list entry with its reason)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class Deviation:
    """A known difference between what was recorded and the vendor's contract: `pattern` is searched in
    "<endpoint> <part>: <problem>"; `reason` says why it stays (mirrored in sandbox/README.md)."""

    pattern: str
    reason: str

    def allows(self, problem: str) -> bool:
        return re.search(self.pattern, problem) is not None


@dataclass(frozen=True)
class Checked:
    endpoint: str  # e.g. "POST /crm/v3/objects/companies/search"
    part: str  # "request" | "response"
    problems: tuple[str, ...]

    def described(self) -> list[str]:
        return [f"{self.endpoint} {self.part}: {p}" for p in self.problems]


def unexplained(results: list[Checked], deviations: list[Deviation]) -> list[str]:
    """Every problem no deviation explains, each distinct one once."""
    out: dict[str, None] = {}
    for result in results:
        for problem in result.described():
            if not any(d.allows(problem) for d in deviations):
                out[re.sub(r"\[\d+\]", "[]", problem)] = None
    return list(out)


def report(vendor: str, results: list[Checked], deviations: list[Deviation], record_property) -> None:
    """Record and print "<vendor> <part>s: N of M validate (K apart from documented deviations)"."""
    for part in sorted({r.part for r in results}):
        mine = [r for r in results if r.part == part]
        strict = sum(1 for r in mine if not r.problems)
        allowed = sum(1 for r in mine if all(any(d.allows(p) for d in deviations) for p in r.described()))
        shapes = Counter(r.endpoint for r in mine)
        line = (
            f"{vendor} {part}s: {strict} of {len(mine)} validate strictly, {allowed} of {len(mine)} apart from "
            f"documented deviations ({len(shapes)} endpoints)"
        )
        record_property(f"{vendor}_{part}s", line)
        print(line)
