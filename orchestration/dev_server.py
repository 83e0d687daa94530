"""The Dagster UI for development (`csops dev`, `make dev`), stopped whole by Ctrl-C or SIGTERM.

`dagster dev` starts a webserver, a daemon and code servers. Started from a non-interactive parent it ignores
SIGTERM (it turns SIGTERM into SIGINT, which such a parent's children ignore), so a plain subprocess would outlive
its parent. Here it runs in a process group of its own; a SIGINT or SIGTERM to us is passed on as SIGINT (Dagster's
clean shutdown), then the whole group is terminated after a grace period, and killed if it still lingers.

The UI has no login: it binds to 127.0.0.1 unless told otherwise (README: put it behind an authenticating proxy in
production).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

GRACE_SECONDS = 8.0


def dagster_dev_command(host: str, port: int, workspace: Path) -> list[str]:
    dagster = Path(sys.executable).with_name("dagster")
    return [str(dagster), "dev", "-w", str(workspace), "-h", host, "-p", str(port)]


def _signal_group(group: int, sig: signal.Signals) -> bool:
    try:
        os.killpg(group, sig)
        return True
    except ProcessLookupError:
        return False


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
        return True
    except ProcessLookupError:
        return False


def stop_group(process: subprocess.Popen, grace_seconds: float = GRACE_SECONDS) -> None:
    """SIGINT the group (a clean stop), then SIGTERM, then SIGKILL whatever is left of it."""
    group = process.pid
    for sig, wait in ((signal.SIGINT, grace_seconds), (signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
        if not _signal_group(group, sig):
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _group_alive(group):
            time.sleep(0.1)
        if not _group_alive(group):
            break
    process.wait()


def run_in_own_group(command: Sequence[str], env: dict[str, str] | None = None) -> int:
    """Run `command` in a new process group until it ends or we are told to stop; stop the whole group then."""
    process = subprocess.Popen(list(command), env=env, start_new_session=True)
    parent = os.getppid()  # `make dev` ending (its SIGTERM is not passed on to us) must stop the UI too
    stopping = False

    def stop(signum, frame) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while process.poll() is None and not stopping:
            time.sleep(0.2)
            stopping = stopping or os.getppid() != parent
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if process.poll() is None or _group_alive(process.pid):
            stop_group(process)
    return 0 if stopping else (process.returncode or 0)


def serve_ui(port: int, host: str = "127.0.0.1", workspace: Path = Path("workspace.yaml")) -> int:
    """`dagster dev` on `host:port` until Ctrl-C / SIGTERM; returns its exit code (0 when we stopped it)."""
    return run_in_own_group(dagster_dev_command(host, port, workspace))
