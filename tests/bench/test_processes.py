"""A stage's peak memory is its own process tree's: not the harness's (Linux hands a parent's high-water mark to a
child across fork and exec, which is what `ru_maxrss` reported), and the children a stage starts count too."""

from __future__ import annotations

import sys
from pathlib import Path

from bench.processes import measure

HOLD = "import time; block = bytearray({mb} * 2**20); block[::4096] = b'x' * len(block[::4096]); time.sleep(1.0)"


def test_a_small_stage_is_not_charged_with_the_harness_memory(tmp_path: Path) -> None:
    harness = bytearray(800 * 2**20)
    harness[::4096] = b"x" * len(harness[::4096])  # the harness really holds 800 MB now
    measured = measure([sys.executable, "-c", HOLD.format(mb=100)], {}, tmp_path / "log")
    assert measured.returncode == 0
    assert 100 <= measured.peak_mb < 400, measured
    del harness


def test_the_children_a_stage_starts_are_counted_together(tmp_path: Path) -> None:
    # The stage holds 150 MB while its child, started afterwards, holds another 150 MB.
    hold = "block = bytearray(150 * 2**20); block[::4096] = b'x' * len(block[::4096])"
    child = f"import subprocess, sys; {hold}; subprocess.run([sys.executable, '-c', {HOLD.format(mb=150)!r}])"
    measured = measure([sys.executable, "-c", child], {}, tmp_path / "log")
    assert measured.returncode == 0
    assert measured.tree_peak_mb >= 300, measured  # both 150 MB processes alive at once, summed
    assert len(measured.process_peaks_mb) >= 2
