"""What a long command shows in the terminal and what goes to its log file.

During a run, everything the libraries write — Dagster's event log, dbt's output, dlt's schema warnings, Great
Expectations' progress bars, from this process and from the subprocesses it starts — goes to a log file
(file descriptors 1 and 2 are redirected, so nothing escapes through a handle taken earlier); the terminal gets one
line per step through rich, and the summary names the file.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.status import Status

STYLES = {"ok": "green", "FAILED": "bold red", "skipped": "yellow"}


@dataclass
class Terminal:
    """The terminal while output is captured: `say` prints one line, coloured by its first word on a tty. A step
    starting ("  ... step") shows as a spinner on a tty and not at all elsewhere: one line per step stays."""

    console: Console
    log_file: Path
    status: Status | None = None

    def say(self, line: str) -> None:
        if line.lstrip().startswith("... "):
            if self.console.is_terminal:
                if self.status is None:
                    self.status = self.console.status(line.strip())
                    self.status.start()
                else:
                    self.status.update(line.strip())
            return
        self.stop()
        first = line.split(maxsplit=1)[0] if line.strip() else ""
        self.console.print(line, style=STYLES.get(first), markup=False, highlight=False, soft_wrap=True)

    def stop(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None


def log_path(directory: Path) -> Path:
    return directory / f"run-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.log"


@contextmanager
def captured(directory: Path) -> Iterator[Terminal]:
    """Send stdout and stderr (descriptors 1 and 2) to a new log file in `directory` while the block runs; yields
    the terminal (the original stderr) for progress lines."""
    path = log_path(directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    terminal = os.fdopen(os.dup(saved[2]), "w", buffering=1)
    with path.open("ab", buffering=0) as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        screen = Terminal(Console(file=terminal, stderr=True), path)
        try:
            yield screen
        finally:
            screen.stop()
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)
            terminal.close()
