"""A test run again inside one run of its protocol, as the `flaky` package does.

flaky runs pytest's protocol again in the same pytest_runtest_protocol call,
hides the failed attempts' setup and call reports, and sends every attempt's
teardown report: only the final attempt counts, and the test is counted once.
RERUN_IN_PLACE does what flaky 3.8 does, so these tests run where flaky is
not installed (with it, pytest-rerunfailures' own tests fail: both take the
`flaky` marker); the last test runs flaky itself where it is.
"""

from __future__ import annotations

from importlib.util import find_spec

import pytest

from tests.conftest import only_execution, statuses, upload_kept
from tests.test_statuses import MODES

RERUN_IN_PLACE = """
import pytest
from _pytest import runner

def pytest_configure(config):
    config.addinivalue_line("markers", "again(runs): run a failing test up to runs times")

@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    marker = item.get_closest_marker("again")
    if marker is None:
        return None
    left = marker.args[0] - 1  # attempts after the current one
    failed = False
    original = runner.call_and_report

    def call_and_report(item, when, log=True, **kwds):
        nonlocal failed
        report = original(item, when, log=False, **kwds)
        if when != "teardown" and report.failed:
            failed = True
            if left:
                return report  # hidden: the test runs again
        item.ihook.pytest_runtest_logreport(report=report)
        return report

    runner.call_and_report = call_and_report
    try:
        while True:
            failed = False
            runner.pytest_runtest_protocol(item, nextitem)
            if not (failed and left):
                return True
            left -= 1
    finally:
        runner.call_and_report = original
"""

SUITE = """
import pytest

RUNS = {}

def attempt(name):
    RUNS[name] = RUNS.get(name, 0) + 1
    return RUNS[name]

@pytest.mark.hawzu("TCM-1")
@RERUN(3)
def test_fails_then_skips():
    if attempt("skips") > 1:
        pytest.skip("the printer is gone")
    assert False, "first attempt"

@pytest.mark.hawzu("TCM-2")
@RERUN(3)
def test_fails_then_passes():
    assert attempt("passes") > 1, "first attempt"

@pytest.mark.hawzu("TCM-3")
@RERUN(2)
def test_always_fails():
    assert False, "every attempt"

@RERUN(3)
def test_unmarked_fails_twice():
    assert attempt("unmarked") > 2
"""
IN_PLACE_SUITE = SUITE.replace("@RERUN(", "@pytest.mark.again(")
FLAKY_SUITE = "from flaky import flaky\n" + SUITE.replace("@RERUN(", "@flaky(max_runs=")


def check_final_attempts(execution: dict, stdout: pytest.LineMatcher) -> None:
    assert statuses(execution) == {"TCM-1": "SKIPPED", "TCM-2": "PASSED", "TCM-3": "FAILED"}
    results = execution["results"]
    assert results["TCM-1"]["notes"].startswith("the printer is gone")
    assert results["TCM-2"]["notes"].endswith(
        "::test_fails_then_passes: final attempt after 1 rerun"
    )
    # One result of one attempt: its own phases, not a step per attempt.
    assert [s["name"] for s in results["TCM-2"]["steps"]] == ["setup", "call", "teardown"]
    stdout.fnmatch_lines(["*1 test has no Hawzu case*"])


@pytest.mark.parametrize("mode", MODES)
def test_a_test_run_again_in_place_counts_its_final_attempt_once(pytester, hawzu_env, mode):
    pytester.makeconftest(RERUN_IN_PLACE)
    pytester.makepyfile(test_again=IN_PLACE_SUITE)
    result = pytester.runpytest("--hawzu-release=1.4.0", "-p", "no:randomly", *mode)
    result.assert_outcomes(passed=2, skipped=1, failed=1)
    check_final_attempts(only_execution(hawzu_env), result.stdout)


def test_a_kept_journal_delivers_the_final_attempt_of_a_test_run_again(pytester, hawzu_env):
    pytester.makeconftest(RERUN_IN_PLACE)
    pytester.makepyfile(test_again=IN_PLACE_SUITE)
    hawzu_env.fail_next(503, 10_000, path="/results", retry_after=60)
    result = pytester.runpytest(
        "--hawzu-release=1.4.0", "--hawzu-flush-timeout=2", "-p", "no:xdist", "-p", "no:randomly"
    )
    result.stdout.fnmatch_lines(["journal kept: *"])
    hawzu_env.clear_faults()
    ok, said = upload_kept(pytester.path / ".hawzu", hawzu_env)
    assert ok, said
    results = only_execution(hawzu_env)["results"]
    assert {case: r["status"] for case, r in results.items()} == {
        "TCM-1": "SKIPPED",
        "TCM-2": "PASSED",
        "TCM-3": "FAILED",
    }
    assert [s["name"] for s in results["TCM-2"]["steps"]] == ["setup", "call", "teardown"]


@pytest.mark.skipif(find_spec("flaky") is None, reason="flaky is not installed")
@pytest.mark.parametrize("mode", MODES)
def test_flaky_reruns_count_the_final_attempt_once(pytester, hawzu_env, mode):
    pytester.makepyfile(test_flaky_suite=FLAKY_SUITE)
    result = pytester.runpytest(
        "--hawzu-release=1.4.0", "-p", "no:randomly", "-p", "no:rerunfailures", *mode
    )
    result.assert_outcomes(passed=2, skipped=1, failed=1)
    check_final_attempts(only_execution(hawzu_env), result.stdout)


# Attaches a file in its call and in a fixture's teardown, and prints, on every
# attempt; fails its first.
ATTACHING = """
import pytest

RUNS = []

@pytest.fixture
def leaves_a_file(hawzu_attach):
    yield
    hawzu_attach(b"t", name=f"teardown-{len(RUNS)}.txt")

@pytest.mark.hawzu("TCM-1")
@pytest.mark.again(2)
def test_attaches(leaves_a_file, hawzu_attach):
    RUNS.append(1)
    hawzu_attach(b"c", name=f"call-{len(RUNS)}.txt")
    print("attempt", len(RUNS))
    assert len(RUNS) > 1
"""


@pytest.mark.parametrize("mode", MODES)
def test_only_the_final_attempt_of_a_test_run_again_attaches(pytester, hawzu_env, mode):
    pytester.makeconftest(RERUN_IN_PLACE)
    pytester.makepyfile(test_again=ATTACHING)
    result = pytester.runpytest(
        "--hawzu-release=1.4.0", "--hawzu-attach=failed", "-p", "no:randomly", *mode
    )
    result.assert_outcomes(passed=1)
    # The hidden attempt's output and files are neither sent nor missed.
    assert "not sent" not in result.stdout.str()
    execution = only_execution(hawzu_env)
    names = [a["filename"] for a in execution["results"]["TCM-1"]["attachments"]]
    assert sorted(names) == ["call-2.txt", "teardown-2.txt"]
    # No copy of the hidden attempt's files is left behind in the spool.
    assert list((pytester.path / ".hawzu").rglob("*.txt")) == []


HOOKED = """
import dataclasses

import pytest
from pytest_hawzu import Status


@pytest.hookimpl(optionalhook=True)
def pytest_hawzu_result(result, report):
    if result.status is Status.SKIPPED:
        return False
    if result.status is Status.FAILED:
        return dataclasses.replace(result, case_ids=("TCM-9",))
    return None
"""


def test_a_hook_that_drops_or_moves_the_final_attempt_leaves_no_earlier_one(pytester, hawzu_env):
    pytester.makeconftest(RERUN_IN_PLACE + HOOKED)
    pytester.makepyfile(test_again=IN_PLACE_SUITE)
    result = pytester.runpytest("--hawzu-release=1.4.0", "-p", "no:xdist", "-p", "no:randomly")
    result.assert_outcomes(passed=2, skipped=1, failed=1)
    # TCM-1's test skipped and was dropped, TCM-3's failed and moved to TCM-9:
    # neither case gets anything from the attempts that ran before.
    assert statuses(only_execution(hawzu_env)) == {"TCM-2": "PASSED", "TCM-9": "FAILED"}
