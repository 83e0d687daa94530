"""The child processes a benchmark measures: each stage's process (wall time, CPU time and peak memory of its
process tree, from `os.wait4`) and the sandbox's HTTP server, run apart so it does not inflate the loaders' memory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.config import REPO_ROOT


@dataclass
class Measured:
    returncode: int
    wall_s: float
    cpu_s: float
    peak_mb: float


def _rss_mb(maxrss: int) -> float:
    """ru_maxrss is in KiB on Linux, in bytes on macOS."""
    return maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024


def measure(argv: list[str], env: dict[str, str], log: Path) -> Measured:
    """Run `argv` to completion; wall time, CPU time and peak RSS of the child (and what it waited for)."""
    with log.open("ab") as handle:
        handle.write(f"\n$ {' '.join(argv)}\n".encode())
        handle.flush()
        started = time.perf_counter()
        process = subprocess.Popen(
            argv, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT
        )
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return Measured(process.returncode, wall, usage.ru_utime + usage.ru_stime, _rss_mb(usage.ru_maxrss))


def child_argv(step: str, params: dict[str, Any], result: Path) -> list[str]:
    """The command line of a stage whose work is a function of bench.child (it writes its result to `result`)."""
    return [sys.executable, "-m", "bench.child", step, json.dumps(params), str(result)]


def log_tail(log: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@dataclass
class SandboxServer:
    url: str
    pid: int
    start_s: float
    peak_mb: float | None = None


def _peak_rss_of(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@contextmanager
def sandbox_server(directory: Path, env: dict[str, str], log: Path) -> Iterator[SandboxServer]:
    """The sandbox's HTTP server in a process of its own (loopback, free port), stopped on exit."""
    argv = [sys.executable, "-m", "sandbox.server.app", str(directory), "0"]
    with log.open("ab") as handle:
        handle.write(f"\n$ {' '.join(argv)}\n".encode())
        handle.flush()
        started = time.perf_counter()
        process = subprocess.Popen(
            argv, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=handle
        )
    assert process.stdout is not None
    banner = process.stdout.readline().decode()
    if "sandbox serving" not in banner:
        process.kill()
        process.wait()
        raise RuntimeError(f"the sandbox server did not start: {banner or 'no output'} (see {log})")
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()  # type: ignore[union-attr]
    server = SandboxServer(banner.split()[2], process.pid, time.perf_counter() - started)
    try:
        yield server
    finally:
        server.peak_mb = _peak_rss_of(process.pid)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
