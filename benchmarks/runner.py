"""Run one pytest subprocess and measure it: wall time, CPU time and peak RSS."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# Flags every variant shares, so that only the flags under test differ.
# `-p no:randomly` keeps test order (and so batching) identical if it is installed.
COMMON = ("-q", "-p", "no:cacheprovider", "-p", "no:randomly")
TOKEN = "bench-token"
_PASSED = re.compile(r"\b(\d+) passed\b")


@dataclass(frozen=True)
class Run:
    seconds: float  # wall time, interpreter start-up included
    cpu: float  # user + system seconds of pytest and its children (xdist workers)
    # This process's CPU seconds meanwhile: it only waits, so this is the
    # in-process sandbox answering the run, which shares the machine's cores.
    server_cpu: float
    max_rss_kib: int  # largest resident set of pytest or any of its children
    # Times pytest's threads went to sleep for a lock or I/O: mostly hand-overs
    # of the interpreter lock between threads, which slow pytest's own.
    switches: int
    passed: int
    output: str


class RunFailed(RuntimeError):
    pass


def environment(*, bytecode: bool = False) -> dict[str, str]:
    """The caller's environment minus anything that would change what pytest does."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HAWZU_", "PYTEST_")) and k not in ("CI", "GITHUB_ACTIONS")
    }
    env["HAWZU_API_TOKEN"] = TOKEN
    # Every run rewrites and compiles the test modules, as a fresh CI checkout
    # does, instead of the first run paying for the bytecode cache of the rest.
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if bytecode:
        del env["PYTHONDONTWRITEBYTECODE"]
    return env


def run_pytest(
    cwd: Path,
    args: list[str],
    log: Path,
    *,
    bytecode: bool = False,
    env: Mapping[str, str] | None = None,
) -> Run:
    """Run pytest in `cwd` and wait for it with wait4, which reports this child's
    own rusage (RUSAGE_CHILDREN would give the largest of every run so far)."""
    cmd = [sys.executable, "-m", "pytest", *COMMON, *args]
    # Output goes to a file: a pipe nobody reads while we sit in wait4 would block pytest.
    with log.open("w") as out:
        before = os.times()
        started = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env={**environment(bytecode=bytecode), **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        after = os.times()
    proc.returncode = os.waitstatus_to_exitcode(status)
    output = log.read_text()
    if proc.returncode != 0:
        raise RunFailed(f"{' '.join(cmd)} exited {proc.returncode}:\n{output[-3000:]}")
    found = _PASSED.findall(output)
    return Run(
        seconds=seconds,
        cpu=usage.ru_utime + usage.ru_stime,
        server_cpu=(after.user + after.system) - (before.user + before.system),
        max_rss_kib=usage.ru_maxrss,  # KiB on Linux
        switches=usage.ru_nvcsw,
        passed=int(found[-1]) if found else 0,
        output=output,
    )
