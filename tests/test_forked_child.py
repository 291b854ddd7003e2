"""A test that forks, and whose child carries on running the rest of the session.

The child is a copy of pytest's process without the plugin's threads: a lock
one of them held at the fork stays held in the child for ever. Whatever the
child does with the session's reporter, or what Python does at its exit with
the reporter's HTTP connections, must not wait on such a lock.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from pytest_hawzu.sandbox import Sandbox
from tests.conftest import FAST, only_execution

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")

# Holds `lock` in a thread while the test forks, as the sender thread may.
# The child goes on with the session (no os._exit), its output in child.txt.
FORKING_TEST = """
import os, signal, sys, threading, pytest

CHILD = []

def reporter(config):
    return config.pluginmanager.get_plugin("hawzu-reporter")

def pool_locks(rep):
    manager = rep.client._session.get_adapter("http://").poolmanager
    locks = [manager.pools[key].pool.mutex for key in manager.pools.keys()]
    assert locks
    return locks

def fork_holding(locks):
    held, release = threading.Event(), threading.Event()

    def holder():
        for lock in locks:
            lock.acquire()
        held.set()
        release.wait()
        for lock in locks:
            lock.release()

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait()
    pid = os.fork()
    if pid == 0:
        signal.alarm(30)  # the child, should it hang
        CHILD.append(True)
        out = os.open("child.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(out, 1)
        os.dup2(out, 2)
        return
    release.set()
    thread.join()
    with open("child.pid", "w") as f:
        f.write(str(pid))

@pytest.mark.hawzu("TCM-1")
def test_first():
    pass

@pytest.mark.hawzu("TCM-2")
def test_forks(request):
    rep = reporter(request.config)
    assert rep.uploader.wait_open(10)
    fork_holding(LOCKS(rep))

@pytest.mark.hawzu("TCM-3")
def test_after():
    assert not CHILD, "this is the forked child"
"""


def _gone(pid: int, within: float) -> bool:
    """Whether the process ended (a zombie nobody reaps counts as ended)."""
    end = time.monotonic() + within
    while time.monotonic() < end:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.1)
    return False


def _run(pytester: pytest.Pytester, sandbox: Sandbox, locks: str) -> Path:
    pytester.makepyfile(FORKING_TEST.replace("LOCKS(rep)", locks))
    result = pytester.runpytest_subprocess(*FAST, "-s", timeout=120)
    result.assert_outcomes(passed=3)
    pid = int((pytester.path / "child.pid").read_text())
    child = pytester.path / "child.txt"
    try:
        assert _gone(pid, 15), "the forked child hangs: " + child.read_text()[-2000:]
    finally:
        if not _gone(pid, 0):
            os.kill(pid, 9)
    results = only_execution(sandbox)["results"]
    assert {case: r["status"] for case, r in results.items()} == {
        "TCM-1": "PASSED",
        "TCM-2": "PASSED",
        "TCM-3": "PASSED",
    }
    return child


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize(
    "locks",
    [
        pytest.param("[rep.aggregator.lock]", id="aggregator"),
        pytest.param("[rep.uploader._cond]", id="uploader"),
        pytest.param("pool_locks(rep)", id="connection-pool"),
    ],
)
def test_a_forked_child_carrying_on_does_not_hang(pytester, hawzu_env, locks):
    child = _run(pytester, hawzu_env, locks)
    # The child reports nothing: its results are not the session's.
    assert "Hawzu" not in child.read_text()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_forked_child_carrying_on_leaves_no_attachment_copies(pytester, hawzu_env):
    # The child's captured output is not the session's: copied into the spool
    # directory, nothing would ever send or remove it.
    pytester.makepyfile(
        """
        import os, signal, pytest

        CHILD = []

        @pytest.mark.hawzu("TCM-1")
        def test_forks():
            pid = os.fork()
            if pid == 0:
                signal.alarm(30)
                CHILD.append(True)
                return
            with open("child.pid", "w") as f:
                f.write(str(pid))

        @pytest.mark.parametrize("i", [pytest.param(i, marks=pytest.mark.hawzu(f"TCM-{i}"))
                                       for i in range(2, 6)])
        def test_prints(i):
            print("output of", "the child" if CHILD else "the session")
        """
    )
    result = pytester.runpytest_subprocess(*FAST, "--hawzu-attach=all", timeout=120)
    pid = int((pytester.path / "child.pid").read_text())
    try:
        assert _gone(pid, 15), "the forked child hangs"
    finally:
        if not _gone(pid, 0):
            os.kill(pid, 9)
    assert "results sent: 5 passed" in result.stdout.str()
    left = [p for p in (pytester.path / ".hawzu").rglob("*") if p.is_file()]
    assert not left, [p.read_text() for p in left]
