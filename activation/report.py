"""The outcome of one sync, for people (`summary_lines`, printed by `csops sync`) and for Dagster
(`as_metadata`, attached to the `activation/crm_sync` materialization)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

OK_STATUSES = ("succeeded", "dry_run")
MAX_FAILURES_KEPT = 50


@dataclass
class SyncReport:
    run_id: str
    dry_run: bool = False
    forced: bool = False
    status: str = "running"  # succeeded | partial | failed | halted | blocked | dry_run
    as_of: date | None = None
    crm: str | None = None
    halted_reason: str | None = None
    breaker: str | None = None
    first_sync: bool = False
    plan: dict[str, int] = field(default_factory=dict)
    counts: Counter = field(default_factory=Counter)  # "object_type.action.status" -> rows
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # (object type, key, error), first 50
    deferred: dict[str, int] = field(default_factory=dict)  # owner -> new tasks held back by the per-CSM cap
    samples: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    requests: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when everything planned was done (or, in a dry run, could be): nothing halted, blocked or failed."""
        return self.status in OK_STATUSES

    def count(self, object_type: str, action: str, status: str) -> int:
        return self.counts.get(f"{object_type}.{action}.{status}", 0)

    @property
    def failed_rows(self) -> int:
        return sum(n for k, n in self.counts.items() if k.endswith(".failed"))

    @property
    def gone_rows(self) -> int:
        """Rows whose CRM record answered 404 / not found tonight (deleted after the marts were built)."""
        return sum(n for k, n in self.counts.items() if k.endswith(".gone"))

    @property
    def removed_rows(self) -> int:
        """Account rows the plan did not write (deleted company) or sent to a merge's survivor."""
        return sum(n for k, n in self.plan.items() if k.startswith("company_rows_"))

    def summary_lines(self) -> list[str]:
        head = f"CRM sync {self.run_id} ({self.crm or 'crm'}): {self.status.upper()}"
        if self.dry_run:
            head += " [dry run: nothing written]"
        if self.as_of:
            head += f", marts as of {self.as_of}"
        head += f", {self.requests} requests in {self.seconds:.1f}s"
        lines = [head]
        if self.halted_reason:
            lines.append(f"  stopped: {self.halted_reason}")
        if self.breaker:
            lines.append(f"  circuit breaker: {self.breaker}")
        if self.plan:
            lines.append("  plan: " + ", ".join(f"{k} {v}" for k, v in self.plan.items() if v))
        if self.plan.get("tasks_later_in_cycle"):
            lines.append(
                f"  spread: {self.plan['tasks_later_in_cycle']} periodic review(s) fall due on later nights of their "
                "cycle (by account over cadence_days; CSOPS_SYNC_SPREAD_REVIEWS)"
            )
        if self.deferred:
            lines.append(
                f"  deferred: {sum(self.deferred.values())} new task(s) held for later nights by the per-CSM cap "
                "(CSOPS_SYNC_MAX_TASKS_PER_CSM), by owner: " + ", ".join(f"{o} {n}" for o, n in self.deferred.items())
            )
        verb = "would" if self.dry_run else "done"
        for key in sorted(self.counts):
            object_type, action, status = key.split(".")
            suffix = f" ({verb})" if status == "planned" else ""
            lines.append(f"  {object_type} {action} {status}: {self.counts[key]}{suffix}")
        if self.samples and self.dry_run:
            lines.append("  sample:")
            lines += [f"    {s}" for s in self.samples]
        if self.removed_rows or self.gone_rows:
            kinds = ", ".join(f"{k.removeprefix('company_rows_')} {v}" for k, v in self.plan.items() if "_rows_" in k)
            lines.append(
                f"  deleted in the CRM: {self.removed_rows} account row(s) skipped as deleted or re-pointed to a "
                f"merge's survivor ({kinds or 'none'}), {self.gone_rows} row(s) answered 404 tonight (logged, "
                "state cleared, not retried until newer marts)"
            )
        if self.failures:
            lines.append(f"  failed rows ({self.failed_rows}; retried next run):")
            lines += [f"    {t} {k}: {e}" for t, k, e in self.failures[:10]]
        lines += [f"  note: {n}" for n in self.notes]
        return lines

    def as_metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "run_id": self.run_id,
            "status": self.status,
            "dry_run": self.dry_run,
            "forced": self.forced,
            "requests": self.requests,
            "seconds": round(self.seconds, 2),
            "failed_rows": self.failed_rows,
            "companies_updated": self.count("company", "update", "ok"),
            "companies_failed": self.count("company", "update", "failed"),
            "tasks_created": self.count("task", "create", "ok"),
            "tasks_failed": self.count("task", "create", "failed"),
            "tasks_deferred": sum(self.deferred.values()),
            "list_added": self.count("list_member", "add", "ok"),
            "list_removed": self.count("list_member", "remove", "ok"),
            "rows_skipped_deleted_or_merged": self.removed_rows,
            "rows_not_found": self.gone_rows,
        }
        if self.as_of:
            meta["as_of_date"] = self.as_of.isoformat()
        if self.breaker:
            meta["circuit_breaker"] = self.breaker
        if self.halted_reason:
            meta["halted_reason"] = self.halted_reason
        for key, value in self.plan.items():
            meta[f"plan_{key}"] = value
        return meta
