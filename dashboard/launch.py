"""Starting the dashboard's Streamlit server for `csops dashboard`, and stopping exactly what was started.

Streamlit runs as a child process in its own process group, bound to loopback, headless, without usage statistics.
Ctrl-C (SIGINT) or SIGTERM to `csops dashboard` is passed on to that group only; if the server does not stop within
a grace period it is killed. Nothing else on the machine is touched.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from dashboard.serving import serving_path

APP = Path(__file__).resolve().with_name("app.py")
STOP_GRACE_SECONDS = 10


def streamlit_command(port: int, address: str = "127.0.0.1") -> list[str]:
    streamlit = Path(sys.executable).with_name("streamlit")
    return [
        str(streamlit),
        "run",
        str(APP),
        "--server.address",
        address,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "minimal",
    ]


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the server's own process group, then SIGKILL after the grace period."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def serve(port: int, address: str = "127.0.0.1") -> int:
    """Run the dashboard until it exits or this process gets SIGINT / SIGTERM; returns the exit code to use."""
    # The path resolved here (relative to where csops runs, .env included), so the server reads the same file.
    env = {**os.environ, "CSOPS_SERVING_WAREHOUSE": str(serving_path().resolve())}
    process = subprocess.Popen(streamlit_command(port, address), env=env, start_new_session=True)

    def interrupt(_signum: int, _frame) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return process.wait()
    except KeyboardInterrupt:
        for sig in previous:  # a second Ctrl-C must not leave the server running: the grace period is bounded
            signal.signal(sig, signal.SIG_IGN)
        _stop(process)
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
