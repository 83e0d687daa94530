"""`csops dev` binds the Dagster UI to loopback and a SIGTERM stops every process it started within seconds."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def descendants(pid: int) -> set[int]:
    """Every process below `pid`, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def listening_addresses(port: int) -> set[str]:
    """Local addresses listening on `port` (IPv4), from /proc/net/tcp."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, port_hex = local.split(":")
        if state == "0A" and int(port_hex, 16) == port:
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


def test_csops_dev_listens_on_loopback_only_and_stops_whole_on_sigterm(sandbox_dir: Path, tmp_path: Path):
    port = free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "CSOPS_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
    }
    csops = Path(sys.executable).with_name("csops")
    log = (tmp_path / "dev.log").open("w")
    # Its own session only so the test can clean up if it fails; the SIGTERM below goes to csops' pid alone.
    dev = subprocess.Popen(
        [str(csops), "dev", "--dir", str(sandbox_dir), "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2)
                break
            except OSError:
                assert dev.poll() is None, (tmp_path / "dev.log").read_text()[-2000:]
                assert time.monotonic() < deadline, "the Dagster UI never came up"
                time.sleep(1)
        assert listening_addresses(port) == {"127.0.0.1"}
        started = descendants(dev.pid)
        assert len(started) >= 3  # dagster dev, its webserver, daemon and code server

        dev.send_signal(signal.SIGTERM)
        assert dev.wait(timeout=30) == 0
        deadline = time.monotonic() + 15
        while any(alive(pid) for pid in started) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert [pid for pid in started if alive(pid)] == []
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(dev.pid, signal.SIGKILL)
        for pid in descendants(dev.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
