"""However xdist splits a session, Hawzu sees one execution with the same results.

Only the controller talks to Hawzu. Every session here runs with a conftest
that, in xdist workers only, makes any connection to the sandbox's port fail
and writes it down, so a worker that ever opened a connection to Hawzu (for
example because a reporter was registered there too) fails these tests.
"""

from __future__ import annotations

import os
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

from pytest_hawzu import journal
from pytest_hawzu.tagger import pack_scope, unpack_scope
from tests.conftest import only_execution, statuses

# Loaded into every session of this file. It patches the socket class itself,
# which every HTTP library in the worker ends up calling.
GUARD = """
import os
import socket
from urllib.parse import urlsplit

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    if not hasattr(config, "workerinput"):
        return
    port = urlsplit(os.environ["HAWZU_URL"]).port
    log = os.environ["WORKER_CONNECT_LOG"]
    real_connect = socket.socket.connect

    def guarded_connect(self, address):
        if isinstance(address, tuple) and address[1] == port:
            with open(log, "a", encoding="utf-8") as f:
                f.write(f"{config.workerinput['workerid']} {address!r}\\n")
            raise ConnectionRefusedError(f"a worker connected to Hawzu at {address!r}")
        return real_connect(self, address)

    socket.socket.connect = guarded_connect
"""

SUITE_ONE = """
import pytest

@pytest.fixture
def broken():
    raise RuntimeError("database is down")

@pytest.mark.hawzu("TCM-1")
def test_passes():
    pass

@pytest.mark.hawzu("TCM-2")
def test_fails():
    assert 1 == 2

@pytest.mark.hawzu("TCM-3")
def test_blocked(broken):
    pass

@pytest.mark.hawzu("TCM-4")
@pytest.mark.skip(reason="not here")
def test_skipped():
    pass

@pytest.mark.hawzu("TCM-5")
@pytest.mark.xdist_group("db")
def test_shared_passes():
    pass

@pytest.mark.hawzu("TCM-9")
def test_excluded():
    pass

def test_unmarked():
    pass
"""

SUITE_TWO = """
import pytest

@pytest.mark.xdist_group("db")
class TestGroup:
    @pytest.mark.hawzu("TCM-5")
    def test_shared_fails(self):
        assert False

    @pytest.mark.hawzu("TCM-6", "TCM-7")
    @pytest.mark.parametrize("n", [1, 2, 3])
    def test_params(self, n):
        assert n != 3

@pytest.mark.hawzu("TCM-8")
@pytest.mark.parametrize("n", range(4))
def test_many(n):
    pass
"""

# TCM-9's test is deselected by -k, so it is not part of the execution at all.
EXPECTED = {
    "TCM-1": "PASSED",
    "TCM-2": "FAILED",
    "TCM-3": "BLOCKED",
    "TCM-4": "SKIPPED",
    "TCM-5": "FAILED",
    "TCM-6": "FAILED",
    "TCM-7": "FAILED",
    "TCM-8": "PASSED",
}
TESTS_PER_CASE = {"TCM-5": 2, "TCM-6": 3, "TCM-7": 3, "TCM-8": 4}

# Plugins these sessions do not need; each xdist worker would import them again.
LEAN = ("-p", "no:hypothesispytest", "-p", "no:pytest_httpserver")
DISTS = ["load", "loadscope", "loadfile", "loadgroup", "worksteal"]
MODES = [
    pytest.param(["-p", "no:xdist"], id="no-xdist"),
    pytest.param(["-n", "0"], id="n0"),
    *(
        pytest.param(["-n", str(n), f"--dist={dist}"], id=f"{dist}-n{n}")
        for dist in DISTS
        for n in (2, 4)
    ),
]


@pytest.fixture
def guarded(pytester: pytest.Pytester, hawzu_env: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The log of worker connections to Hawzu; it must stay absent."""
    log = pytester.path / "worker-connects.log"
    monkeypatch.setenv("WORKER_CONNECT_LOG", str(log))
    pytester.makeconftest(GUARD)
    return log


def requests_to(sandbox: Any, method: str, suffix: str) -> list[Any]:
    return [r for r in sandbox.requests() if r.method == method and r.path.endswith(suffix)]


def named_tests(result: dict[str, Any]) -> list[str]:
    """The node IDs a case's result names, without xdist's `@group` suffix (loadgroup)."""
    nodeids = result.get("automation", {}).get("nodeid", "")
    return [n.split("@", 1)[0] for n in nodeids.splitlines()]


@pytest.mark.parametrize("mode", MODES)
def test_one_execution_whatever_the_split(pytester, hawzu_env, guarded, mode):
    pytester.makepyfile(test_one=SUITE_ONE, test_two=SUITE_TWO)
    result = pytester.runpytest("--hawzu-release=1.4.0", *LEAN, "-k", "not excluded", *mode)

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    execution = only_execution(hawzu_env)
    assert statuses(execution) == EXPECTED
    assert execution["status"] == "COMPLETED"
    for case_id, result_ in execution["results"].items():
        tests = named_tests(result_)
        assert len(tests) == len(set(tests)) == TESTS_PER_CASE.get(case_id, 1), case_id
    # Only the controller spoke: one token check, one execution, one completion.
    assert len(requests_to(hawzu_env, "GET", "/me")) == 1
    assert len(requests_to(hawzu_env, "POST", "/executions")) == 1
    assert len(requests_to(hawzu_env, "PATCH", "")) == 1
    assert not guarded.exists(), guarded.read_text()


def test_the_guard_catches_a_worker_that_connects(pytester, hawzu_env, guarded):
    """The proof above can fail: a worker that talks to Hawzu is caught and logged."""
    pytester.makepyfile(
        """
        import os
        import pytest
        from pytest_hawzu.client import HawzuClient, HawzuError

        def test_talks_to_hawzu():
            client = HawzuClient(os.environ["HAWZU_URL"], os.environ["HAWZU_API_TOKEN"])
            with pytest.raises(HawzuError):
                client.me()
        """
    )
    result = pytester.runpytest(*LEAN, "-n", "1", "-p", "no:hawzu")
    result.assert_outcomes(passed=1)
    assert guarded.read_text().startswith("gw0 ")
    assert hawzu_env.requests() == []


CRASH_FILE = """
import os
import pytest

@pytest.fixture
def dies():
    os._exit(1)

@pytest.mark.hawzu("TCM-1", "TCM-6")
def test_crashes_in_setup(dies):
    pass

@pytest.mark.hawzu("TCM-2")
def test_after_the_crash():
    pass

@pytest.mark.hawzu("TCM-3")
def test_fails_after_the_crash():
    assert False
"""

OTHER_FILE = """
import pytest

@pytest.mark.hawzu("TCM-4")
def test_elsewhere():
    pass

@pytest.mark.hawzu("TCM-5")
@pytest.mark.skip(reason="no printer")
def test_skipped_elsewhere():
    pass
"""


def test_a_crashed_worker_fails_only_the_test_it_ran(pytester, hawzu_env, guarded):
    # The crashing test is collected first, so load scheduling makes it the
    # first test of a worker: that worker dies before it sent a single report.
    # (loadscope and loadfile would run it again on each replacement worker.)
    pytester.makepyfile(test_crash=CRASH_FILE, test_other=OTHER_FILE)
    result = pytester.runpytest("--hawzu-release=1.4.0", *LEAN, "-n", "2", "--dist=load")

    result.stdout.fnmatch_lines(["*replacing crashed worker*"])
    execution = only_execution(hawzu_env)
    assert statuses(execution) == {
        "TCM-1": "FAILED",
        "TCM-2": "PASSED",
        "TCM-3": "FAILED",
        "TCM-4": "PASSED",
        "TCM-5": "SKIPPED",
        "TCM-6": "FAILED",
    }
    for case_id in ("TCM-1", "TCM-6"):
        notes = execution["results"][case_id]["notes"]
        assert "test_crash.py::test_crashes_in_setup" in notes
        assert "crashed" in notes
    assert execution["status"] == "COMPLETED"
    assert not guarded.exists(), guarded.read_text()


ONLY_WORKER_CRASHES = """
import os
import pytest

@pytest.fixture
def dies():
    os._exit(1)

@pytest.mark.hawzu("TCM-1")
def test_crashes(dies):
    os._exit(1)

@pytest.mark.hawzu("TCM-2")
def test_never_runs():
    pass

@pytest.mark.hawzu("TCM-3")
def test_never_runs_either():
    pass
"""


def test_the_only_worker_crashing_in_its_first_test(pytester, hawzu_env, guarded):
    """No worker ever shuts down cleanly, so no worker output reaches the controller.

    The crash comes after the first report (setup passed), which tells the
    controller the scope.
    """
    pytester.makepyfile(test_crash=ONLY_WORKER_CRASHES.replace("(dies)", "()"))
    pytester.runpytest("--hawzu-release=1.4.0", *LEAN, "-n", "1", "--max-worker-restart=0")

    execution = only_execution(hawzu_env)
    assert statuses(execution) == {
        "TCM-1": "FAILED",
        "TCM-2": "NOT_EXECUTED",
        "TCM-3": "NOT_EXECUTED",
    }
    assert "crashed" in execution["results"]["TCM-1"]["notes"]
    assert named_tests(execution["results"]["TCM-2"]) == ["test_crash.py::test_never_runs"]


def test_a_crash_before_any_report_is_explained(pytester, hawzu_env, guarded):
    """Nothing reached the controller but the crash: say so rather than stay silent."""
    pytester.makepyfile(test_crash=ONLY_WORKER_CRASHES)
    result = pytester.runpytest("--hawzu-release=1.4.0", *LEAN, "-n", "1", "--max-worker-restart=0")

    assert hawzu_env.executions() == []  # nothing to put in one
    result.stdout.fnmatch_lines(
        ["Hawzu: test_crash.py::test_crashes crashed its worker before any worker said*"]
    )


STOPS = """
import pytest

@pytest.mark.hawzu("TCM-1")
def test_first():
    pass

@pytest.mark.hawzu("TCM-2")
def test_second():
    assert False

@pytest.mark.hawzu("TCM-3")
def test_third():
    pass

@pytest.mark.hawzu("TCM-4")
def test_fourth():
    pass

@pytest.mark.hawzu("TCM-5")
@pytest.mark.later
def test_deselected():
    pass
"""


@pytest.mark.parametrize("stop", [["-x"], ["--maxfail=1"]])
def test_tests_a_stopped_run_never_reached_are_not_executed(pytester, hawzu_env, stop):
    pytester.makepyfile(test_stops=STOPS)
    pytester.runpytest(
        "--hawzu-release=1.4.0", "-p", "no:xdist", "-o", "markers=later", "-m", "not later", *stop
    )

    execution = only_execution(hawzu_env)
    assert statuses(execution) == {
        "TCM-1": "PASSED",
        "TCM-2": "FAILED",
        "TCM-3": "NOT_EXECUTED",
        "TCM-4": "NOT_EXECUTED",
    }
    assert named_tests(execution["results"]["TCM-3"]) == ["test_stops.py::test_third"]
    assert execution["status"] == "COMPLETED"


# Given twice with --keep-duplicates, a file's tests are collected twice under
# the same node IDs: each copy is a selected test of its case.
TWICE = """
import pytest

@pytest.mark.hawzu("TCM-1")
def test_first():
    pass

@pytest.mark.hawzu("TCM-2")
def test_second():
    assert False
"""
TWICE_ARGS = ("--hawzu-release=1.4.0", *LEAN, "--keep-duplicates", "test_twice.py", "test_twice.py")
FIRST = "test_twice.py::test_first"


# pytest-xdist 3.5 runs a worker's next test before -x stops it: pytest then
# counts the second copy as run and passed, and so does Hawzu.
XDIST_STOPS_AT_ONCE = pytest.mark.skipif(
    Version(version("pytest-xdist")) < Version("3.6"),
    reason="pytest-xdist 3.5 runs one more test after -x",
)


@pytest.mark.parametrize("stop", [["-x"], ["--maxfail=1"]])
@pytest.mark.parametrize(
    "xdist",
    [["-p", "no:xdist"], pytest.param(["-n", "1"], marks=XDIST_STOPS_AT_ONCE)],
    ids=["no-xdist", "n1"],
)
def test_a_copy_of_a_test_a_stopped_run_never_reached_is_not_executed(
    pytester, hawzu_env, guarded, stop, xdist
):
    # One worker, like pytest alone, runs the copies in order and stops after
    # the first failure: the second copy of test_first never runs.
    pytester.makepyfile(test_twice=TWICE)
    pytester.runpytest(*TWICE_ARGS, *stop, *xdist)

    results = only_execution(hawzu_env)["results"]
    assert statuses({"results": results}) == {"TCM-1": "NOT_EXECUTED", "TCM-2": "FAILED"}
    assert named_tests(results["TCM-1"]) == [FIRST, FIRST]
    assert f"{FIRST}: not executed: the run ended before it ran" in results["TCM-1"]["notes"]
    assert not guarded.exists(), guarded.read_text()


def test_copies_a_stopped_xdist_run_reached_are_as_pytest_counted_them(
    pytester, hawzu_env, guarded
):
    """xdist schedules each copy on its own, and two workers may run them at once:
    which copies ran before -x stopped the run is up to timing, but the case is
    passed only if pytest counted both copies of its test as passed."""
    pytester.makepyfile(test_twice=TWICE)
    result = pytester.runpytest(*TWICE_ARGS, "-x", "-n", "2")

    passed = result.parseoutcomes().get("passed", 0)
    assert statuses(only_execution(hawzu_env)) == {
        "TCM-1": "PASSED" if passed == 2 else "NOT_EXECUTED",
        "TCM-2": "FAILED",
    }
    assert not guarded.exists(), guarded.read_text()


@pytest.mark.parametrize("xdist", [["-p", "no:xdist"], ["-n", "2"]], ids=["no-xdist", "n2"])
def test_every_copy_of_a_test_is_one_of_its_case_s_tests(pytester, hawzu_env, guarded, xdist):
    pytester.makepyfile(test_twice=TWICE)
    pytester.runpytest(*TWICE_ARGS, *xdist)

    results = only_execution(hawzu_env)["results"]
    assert statuses({"results": results}) == {"TCM-1": "PASSED", "TCM-2": "FAILED"}
    assert named_tests(results["TCM-1"]) == [FIRST, FIRST]
    assert not guarded.exists(), guarded.read_text()


# The file's one test, given twice, runs on both workers at once (load sends
# one test to each of two workers). Each copy's teardown waits for the other's,
# so the controller has both copies' setup and call before either teardown.
AT_ONCE = """
import os
import threading
import pytest

@pytest.fixture
def meet():
    yield
    # Opening a FIFO waits for its other end to be opened. In a thread, given
    # up on after a while: should both copies ever land on one worker, the
    # test fails on its assertions instead of hanging.
    mode = "r" if os.environ["PYTEST_XDIST_WORKER"] == "gw0" else "w"
    opener = threading.Thread(target=lambda: open(os.environ["MEET_FIFO"], mode).close())
    opener.daemon = True
    opener.start()
    opener.join(60)

@pytest.mark.hawzu("TCM-1")
def test_copied(meet):
    if os.environ["PYTEST_XDIST_WORKER"] == "gw0":
        pytest.skip("skipped on gw0")
    assert False, "failed on gw1"
"""


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_copies_running_at_once_on_two_workers_are_told_apart(
    pytester, hawzu_env, guarded, monkeypatch
):
    fifo = pytester.path / "meet"
    os.mkfifo(fifo)
    monkeypatch.setenv("MEET_FIFO", str(fifo))
    pytester.makepyfile(test_at_once=AT_ONCE)
    pytester.runpytest(
        "--hawzu-release=1.4.0",
        *LEAN,
        "--keep-duplicates",
        "-n",
        "2",
        "--dist=load",
        "test_at_once.py",
        "test_at_once.py",
    )

    result = only_execution(hawzu_env)["results"]["TCM-1"]
    assert result["status"] == "FAILED"
    steps = {step["status"]: step.get("notes", "") for step in result["steps"]}
    assert steps.keys() == {"SKIPPED", "FAILED"}
    assert "skipped on gw0" in steps["SKIPPED"]
    assert "failed on gw1" in steps["FAILED"]
    assert not guarded.exists(), guarded.read_text()


# STOPS run to its second test and no further: only the first case has a result.
STOPPED_AFTER_FIRST = {"TCM-1": "PASSED"} | dict.fromkeys(
    ["TCM-2", "TCM-3", "TCM-4", "TCM-5"], "NOT_EXECUTED"
)


def test_an_interrupted_run_marks_the_rest_not_executed(pytester, hawzu_env):
    pytester.makepyfile(
        test_stops=STOPS.replace("assert False", "raise KeyboardInterrupt"),
    )
    result = pytester.runpytest(
        "--hawzu-release=1.4.0", "-p", "no:xdist", "-o", "markers=later", no_reraise_ctrlc=True
    )

    assert result.ret == pytest.ExitCode.INTERRUPTED
    execution = only_execution(hawzu_env)
    assert statuses(execution) == STOPPED_AFTER_FIRST
    # The test that was running when the run stopped says so.
    assert "interrupted" in execution["results"]["TCM-2"]["notes"]


STOPS_IN_TEARDOWN = (
    STOPS.replace("def test_second():", "def test_second(stops_after):")
    + """
@pytest.fixture
def stops_after():
    yield
    raise KeyboardInterrupt  # Ctrl-C while the failed test's fixtures are torn down
"""
)


def test_a_test_that_failed_before_the_run_was_interrupted_stays_failed(pytester, hawzu_env):
    """pytest counts the failure it showed; Hawzu must not turn it into not executed."""
    pytester.makepyfile(test_stops=STOPS_IN_TEARDOWN)
    result = pytester.runpytest(
        "--hawzu-release=1.4.0", "-o", "markers=later", "-p", "no:xdist", no_reraise_ctrlc=True
    )

    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*1 failed, 1 passed*"])
    execution = only_execution(hawzu_env)
    assert statuses(execution) == STOPPED_AFTER_FIRST | {"TCM-2": "FAILED"}
    notes = execution["results"]["TCM-2"]["notes"]
    assert "assert False" in notes
    assert "the run ended before its teardown" in notes


@pytest.mark.parametrize("xdist", [["-p", "no:xdist"], ["-n", "2"]], ids=["no-xdist", "n2"])
def test_a_run_interrupted_while_collecting_reports_nothing(pytester, hawzu_env, xdist):
    """Collection never finished: -k was never applied, so nothing is known to be planned."""
    pytester.makepyfile(
        test_a='import pytest\n\n@pytest.mark.hawzu("TCM-1")\ndef test_a():\n    pass\n',
        test_b="raise KeyboardInterrupt  # Ctrl-C during a slow import\n",
    )
    result = pytester.runpytest(
        "--hawzu-release=1.4.0", "-k", "test_b", *xdist, no_reraise_ctrlc=True
    )
    # Before pytest 8.2 a worker's Ctrl-C while collecting is a collection error.
    interrupted = "no:xdist" in xdist or pytest.version_tuple >= (8, 2)
    expected = pytest.ExitCode.INTERRUPTED if interrupted else pytest.ExitCode.TESTS_FAILED
    assert result.ret == expected
    assert hawzu_env.executions() == []


def test_an_interrupted_controller_marks_the_rest_not_executed(pytester, hawzu_env, guarded):
    """Ctrl-C on the xdist controller: workers are torn down without sending their output."""
    pytester.makeconftest(
        GUARD
        + """

def pytest_runtest_logreport(report):
    if report.nodeid.endswith("test_second") and report.when == "call":
        raise KeyboardInterrupt
"""
    )
    pytester.makepyfile(test_stops=STOPS)
    result = pytester.runpytest("--hawzu-release=1.4.0", *LEAN, "-n", "1", no_reraise_ctrlc=True)

    assert result.ret == pytest.ExitCode.INTERRUPTED
    execution = only_execution(hawzu_env)
    # The test that was running had failed already: that failure is its result.
    assert statuses(execution) == STOPPED_AFTER_FIRST | {"TCM-2": "FAILED"}
    assert "the run ended before its teardown" in execution["results"]["TCM-2"]["notes"]
    assert not guarded.exists(), guarded.read_text()


@pytest.mark.parametrize(("args", "registered"), [(["-p", "no:xdist"], False), (["-n", "0"], True)])
def test_xdist_hooks_are_registered_only_with_xdist(pytester, hawzu_env, args, registered):
    config = pytester.parseconfigure("--hawzu-release=1.4.0", *args)
    assert config.pluginmanager.get_plugin("hawzu-reporter") is not None
    assert (config.pluginmanager.get_plugin("hawzu-xdist") is not None) is registered


def test_a_kept_journal_holds_the_scope_the_workers_planned(pytester, hawzu_env):
    """What `hawzu upload` needs to send NOT_EXECUTED later, when nothing was delivered now."""
    hawzu_env.fail_next(401, path="/api/v1/me")
    pytester.makepyfile(test_stops=STOPS)
    pytester.runpytest(
        "--hawzu-release=1.4.0", *LEAN, "-n", "2", "-o", "markers=later", "-m", "not later"
    )

    [kept] = journal.find([pytester.path / ".hawzu"])
    assert journal.read(kept).scope == {
        f"TCM-{n}": [f"test_stops.py::test_{name}"]
        for n, name in enumerate(["first", "second", "third", "fourth"], start=1)
    }


# -- the scope travels as one string ---------------------------------------------


def test_scope_round_trips_through_one_string():
    scope = {"TCM-1": ["t.py::a", "t.py::b[1]"], "QA/7": ["t.py::c"]}
    packed = pack_scope(scope)
    assert isinstance(packed, str)
    assert unpack_scope(packed) == scope


@pytest.mark.parametrize("packed", [None, {"TCM-1": ["t.py::a"]}, "not json", "[1, 2]"])
def test_anything_else_is_no_scope(packed):
    assert unpack_scope(packed) is None


DIST_EACH_SUITE = """
import os
import pytest

@pytest.mark.hawzu("TCM-1")
def test_differs_per_worker():
    assert os.environ["PYTEST_XDIST_WORKER"] != "gw0"
"""


def test_dist_each_is_not_reported_and_says_why(pytester, hawzu_env):
    """Every worker runs every test under --dist each: their results would mix in one case."""
    pytester.makepyfile(test_each=DIST_EACH_SUITE)
    result = pytester.runpytest("--hawzu-release=1.4.0", "-n", "2", "--dist", "each")
    assert hawzu_env.executions() == []
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # as without the plugin
    line = "Hawzu: not reporting: --dist each runs every test on every worker*"
    result.stdout.fnmatch_lines(["*test session starts*", line, "*- Hawzu -*", line])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert not (pytester.path / ".hawzu").exists()  # no journal either


def test_dist_each_under_strict_is_a_usage_error(pytester, hawzu_env):
    pytester.makepyfile(test_each=DIST_EACH_SUITE)
    result = pytester.runpytest(
        "--hawzu-release=1.4.0", "--hawzu-strict", "-n", "2", "--dist", "each"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*Hawzu (--hawzu-strict): --dist each runs every test*"])
    assert hawzu_env.executions() == []


def test_dist_each_without_workers_is_an_ordinary_session(pytester, hawzu_env):
    """--dist each from addopts, in a job that starts no workers: nothing is distributed."""
    pytester.makepyfile(
        test_each=DIST_EACH_SUITE.replace('os.environ["PYTEST_XDIST_WORKER"]', '"-"')
    )
    result = pytester.runpytest("--hawzu-release=1.4.0", "--dist", "each")
    assert result.ret == pytest.ExitCode.OK
    assert statuses(only_execution(hawzu_env)) == {"TCM-1": "PASSED"}
    assert "not reporting" not in result.stdout.str()


def test_a_failure_kept_at_an_interruption_goes_through_the_result_hook(pytester, hawzu_env):
    """Every result a test gets passes pytest_hawzu_result: one kept at Ctrl-C too."""
    pytester.makepyfile(test_stops=STOPS_IN_TEARDOWN)
    pytester.makeconftest(
        """
import dataclasses
import pytest
from pytest_hawzu import Status

@pytest.hookimpl(optionalhook=True)
def pytest_hawzu_result(result, report):
    if report.nodeid.endswith("test_second"):
        return dataclasses.replace(result, status=Status.BLOCKED, notes="quarantined")
"""
    )
    result = pytester.runpytest(
        "--hawzu-release=1.4.0", "-o", "markers=later", "-p", "no:xdist", no_reraise_ctrlc=True
    )

    assert result.ret == pytest.ExitCode.INTERRUPTED
    execution = only_execution(hawzu_env)
    assert statuses(execution) == STOPPED_AFTER_FIRST | {"TCM-2": "BLOCKED"}
    assert execution["results"]["TCM-2"]["notes"] == "quarantined"
