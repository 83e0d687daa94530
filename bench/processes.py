"""The child processes a benchmark measures: each stage's process (wall time and CPU time from `os.wait4`, peak
memory of its process tree sampled from /proc) and the sandbox's HTTP server, run apart so it does not inflate the
loaders' memory.

Why not `ru_maxrss`: Linux carries the parent's high-water mark into a child across fork/vfork + exec (the old
address space's peak is kept in the child's `maxrss`), so a stage started by a harness that once held 4.5 GB
reported 4.5 GB however little it used. A process's `VmHWM` (in /proc/PID/status) belongs to its own address space,
which exec replaces: that, and the summed RSS of the tree sampled every SAMPLE_S, are the stage's own."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.config import REPO_ROOT

SAMPLE_S = 0.1
PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20


@dataclass
class Measured:
    returncode: int
    wall_s: float
    cpu_s: float
    peak_mb: float  # the stage's process tree: max(summed RSS of the tree, any one process's VmHWM)
    tree_peak_mb: float = 0.0  # the largest summed RSS of the tree seen in a sample
    process_peaks_mb: dict[str, float] = field(default_factory=dict)  # VmHWM per command seen in the tree
    samples: int = 0
    killed_at_mb: float | None = None  # the tree passed the memory cap and was killed


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process now (Linux /proc)."""
    parents = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])  # after "(comm) state"
    return parents


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants alive now."""
    children: dict[int, list[int]] = {}
    for pid, parent in _parents().items():
        children.setdefault(parent, []).append(pid)
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def _rss_mb(pid: int) -> float:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_MB
    except (OSError, IndexError, ValueError):
        return 0.0


def _name(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return str(pid)
    words = [w.decode(errors="replace") for w in argv if w]
    program = Path(words[0]).name if words else str(pid)
    return " ".join([program, *words[1:3]])[:80]


class TreeMemory:
    """Samples the memory of a process tree until stopped: the summed RSS of all its live processes, and each
    process's own high-water mark (VmHWM), read while it is alive, so a spike between samples still counts."""

    def __init__(self, root: int, interval: float = SAMPLE_S, cap_mb: float | None = None):
        self.root, self.interval, self.cap_mb = root, interval, cap_mb
        self.killed_at_mb: float | None = None
        self.tree_peak_mb = 0.0
        self.process_peaks: dict[int, tuple[str, float]] = {}
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def sample(self) -> None:
        total = 0.0
        tree = process_tree(self.root)
        for pid in tree:
            total += _rss_mb(pid)
            hwm = _peak_rss_of(pid)
            if hwm is not None and hwm > self.process_peaks.get(pid, ("", 0.0))[1]:
                self.process_peaks[pid] = (self.process_peaks.get(pid, ("", 0.0))[0] or _name(pid), hwm)
        self.tree_peak_mb = max(self.tree_peak_mb, total)
        self.samples += 1
        if self.cap_mb is not None and total > self.cap_mb and self.killed_at_mb is None:
            self.killed_at_mb = total  # protect the shared machine: the stage fails, the bench goes on
            for pid in tree:
                with suppress(OSError):
                    os.kill(pid, signal.SIGKILL)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    @property
    def peak_mb(self) -> float:
        return max([self.tree_peak_mb, *(peak for _, peak in self.process_peaks.values())])

    def by_command(self) -> dict[str, float]:
        peaks: dict[str, float] = {}
        for name, peak in self.process_peaks.values():
            peaks[name] = max(peaks.get(name, 0.0), peak)
        return peaks


def measure(argv: list[str], env: dict[str, str], log: Path, cap_mb: float | None = None) -> Measured:
    """Run `argv` to completion; wall time, CPU time (the child's and what it waited for) and peak memory of its
    process tree, which is killed if its summed RSS passes `cap_mb`."""
    with log.open("ab") as handle:
        handle.write(f"\n$ {' '.join(argv)}\n".encode())
        handle.flush()
        started = time.perf_counter()
        process = subprocess.Popen(
            argv, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT
        )
        with TreeMemory(process.pid, cap_mb=cap_mb) as memory:
            # Wait without reaping, so the last sample still sees the finished process's VmHWM.
            os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
            memory.sample()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return Measured(
        process.returncode,
        wall,
        usage.ru_utime + usage.ru_stime,
        memory.peak_mb,
        memory.tree_peak_mb,
        memory.by_command(),
        memory.samples,
        memory.killed_at_mb,
    )


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
