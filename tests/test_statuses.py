"""Every row of the status table, through real sessions reporting to a real server."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from pytest_hawzu.model import Status, TestOutcome
from pytest_hawzu.outcome import TestRecorder
from pytest_hawzu.status import StatusTable
from tests.conftest import NEEDS_PYTEST_SUBTESTS, only_execution, statuses

SUITE = """
import pytest

@pytest.fixture
def broken():
    raise RuntimeError("database is down")

@pytest.fixture
def bad_teardown():
    yield
    raise RuntimeError("cleanup failed")

@pytest.mark.hawzu("TCM-1")
def test_passes():
    pass

@pytest.mark.hawzu("TCM-2")
def test_fails():
    assert 1 == 2, "totals differ"

@pytest.mark.hawzu("TCM-3")
def test_setup_error(broken):
    pass

@pytest.mark.hawzu("TCM-4")
def test_teardown_error(bad_teardown):
    pass

@pytest.mark.hawzu("TCM-5")
@pytest.mark.skip(reason="not on this platform")
def test_skip_marker():
    pass

@pytest.mark.hawzu("TCM-6")
def test_skip_call():
    pytest.skip("needs a printer")

@pytest.mark.hawzu("TCM-7")
@pytest.mark.xfail(reason="bug 12")
def test_xfail():
    assert False

@pytest.mark.hawzu("TCM-8")
@pytest.mark.xfail(reason="bug 13")
def test_xpass():
    pass

@pytest.mark.hawzu("TCM-9")
@pytest.mark.xfail(reason="bug 14", strict=True)
def test_xpass_strict():
    pass

@pytest.mark.hawzu("TCM-10")
def test_subtests(subtests):
    for i in range(3):
        with subtests.test(i=i):
            assert i != 1

@pytest.fixture
def skips_in_teardown():
    yield
    pytest.skip("cleanup not supported here")

@pytest.mark.hawzu("TCM-11")
def test_skip_teardown(skips_in_teardown):
    pass

@pytest.fixture
def xfails_in_teardown():
    yield
    pytest.xfail("cleanup bug 15")

@pytest.mark.hawzu("TCM-12")
def test_xfail_teardown(xfails_in_teardown):
    pass

def test_unmarked():
    pass
"""

EXPECTED = {
    "TCM-1": "PASSED",
    "TCM-2": "FAILED",
    "TCM-3": "BLOCKED",
    "TCM-4": "FAILED",
    "TCM-5": "SKIPPED",
    "TCM-6": "SKIPPED",
    "TCM-7": "SKIPPED",
    "TCM-8": "PASSED",
    "TCM-9": "FAILED",
    "TCM-10": "FAILED",
    "TCM-11": "SKIPPED",
    "TCM-12": "SKIPPED",
}

MODES = [pytest.param(["-p", "no:xdist"], id="no-xdist"), pytest.param(["-n", "2"], id="n2")]


@NEEDS_PYTEST_SUBTESTS
@pytest.mark.parametrize("mode", MODES)
def test_each_outcome_maps_to_its_status(pytester, hawzu_env, mode):
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest("--hawzu-release=1.4.0", *mode)
    execution = only_execution(hawzu_env)
    assert statuses(execution) == EXPECTED
    assert execution["status"] == "COMPLETED"
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["*- Hawzu -*", "execution exe_* (completed)*", "*1 test has no Hawzu case*"]
    )


def test_exit_code_is_the_same_without_the_plugin(pytester, hawzu_env):
    pytester.makepyfile(test_suite=SUITE)
    with_plugin = pytester.runpytest("--hawzu-release=1.4.0").ret
    without = pytester.runpytest("-p", "no:hawzu").ret
    assert with_plugin == without == pytest.ExitCode.TESTS_FAILED


def test_notes_say_what_failed_and_why(pytester, hawzu_env):
    pytester.makepyfile(test_suite=SUITE)
    pytester.runpytest("--hawzu-release=1.4.0")
    results = only_execution(hawzu_env)["results"]
    assert "test_fails" in results["TCM-2"]["notes"]
    assert "totals differ" in results["TCM-2"]["notes"]
    assert "RuntimeError: database is down" in results["TCM-3"]["notes"]
    assert "cleanup failed" in results["TCM-4"]["notes"]
    assert "not on this platform" in results["TCM-5"]["notes"]
    assert "bug 12" in results["TCM-7"]["notes"]
    assert "XPASS(strict)" in results["TCM-9"]["notes"]
    assert "cleanup not supported here" in results["TCM-11"]["notes"]


COMBINED = """
import unittest

import pytest

pytestmark = pytest.mark.hawzu("TCM-20")

@pytest.mark.parametrize("currency", ["eur", "usd", "gbp"])
def test_refund(currency):
    assert currency != "usd", "usd refunds are off by a cent"

@pytest.mark.hawzu("TCM-21")
@pytest.mark.parametrize("n", [1, 2])
def test_all_skipped(n):
    pytest.skip("no sandbox bank")

@pytest.mark.hawzu("TCM-22")
class TestMixed:
    def test_passes(self):
        pass

    def test_skips(self):
        pytest.skip("later")

@pytest.mark.hawzu("TCM-23")
class TestUnittestSubtests(unittest.TestCase):
    def test_values(self):
        for i in range(3):
            with self.subTest(i=i):
                self.assertNotEqual(i, 2)
"""


@pytest.mark.parametrize("mode", MODES)
def test_several_tests_of_one_case_combine(pytester, hawzu_env, mode):
    pytester.makepyfile(test_combined=COMBINED)
    pytester.runpytest("--hawzu-release=1.4.0", *mode)
    execution = only_execution(hawzu_env)
    assert statuses(execution) == {
        "TCM-20": "FAILED",
        "TCM-21": "SKIPPED",
        "TCM-22": "PASSED",
        "TCM-23": "FAILED",
    }
    refund = execution["results"]["TCM-20"]
    assert "test_refund[usd]" in refund["notes"]
    assert "usd refunds are off by a cent" in refund["notes"]
    assert "test_refund[eur]" not in refund["notes"]
    # One step per test; under xdist they arrive in completion order.
    assert {s["name"]: s["status"] for s in refund["steps"]} == {
        "test_refund[eur]": "PASSED",
        "test_refund[usd]": "FAILED",
        "test_refund[gbp]": "PASSED",
    }


RERUNS = """
import pytest

attempts = {"flaky": 0}

@pytest.mark.hawzu("TCM-30")
@pytest.mark.flaky(reruns=3)
def test_flaky():
    attempts["flaky"] += 1
    assert attempts["flaky"] >= 3

@pytest.mark.hawzu("TCM-31")
@pytest.mark.flaky(reruns=1)
def test_always_fails():
    assert False, "still broken"
"""


def test_only_the_final_attempt_of_a_rerun_counts(pytester, hawzu_env):
    pytester.makepyfile(test_reruns=RERUNS)
    pytester.runpytest("--hawzu-release=1.4.0", "-p", "no:xdist")
    results = only_execution(hawzu_env)["results"]
    assert results["TCM-30"]["status"] == "PASSED"
    assert "after 2 reruns" in results["TCM-30"]["notes"]
    assert results["TCM-31"]["status"] == "FAILED"
    assert "after 1 rerun" in results["TCM-31"]["notes"]
    assert "still broken" in results["TCM-31"]["notes"]


RERUN_EDGES = """
import unittest
import pytest

counts = {}

def bump(key):
    counts[key] = counts.get(key, 0) + 1
    return counts[key]

@pytest.fixture
def teardown_flake(request):
    yield
    if bump(request.node.name) == 1:
        raise RuntimeError("teardown flake")

@pytest.fixture
def teardown_broken():
    yield
    raise RuntimeError("teardown always")

@pytest.mark.hawzu("TCM-41")
def test_teardown_flakes_once(teardown_flake):
    pass

@pytest.mark.hawzu("TCM-42")
def test_call_and_teardown_flake_once(teardown_flake):
    assert bump("call") > 1

@pytest.mark.hawzu("TCM-43")
def test_teardown_always_fails(teardown_broken):
    pass

class TestUnittest(unittest.TestCase):
    @pytest.mark.hawzu("TCM-44")
    def test_a_subtest_fails(self):
        for i in range(2):
            with self.subTest(i=i):
                self.assertEqual(i, 0)
"""


@pytest.mark.parametrize("mode", MODES)
def test_reruns_of_teardown_errors_and_subtests_count_the_final_attempt(pytester, hawzu_env, mode):
    # pytest-rerunfailures marks a failed teardown "rerun" too, and holds an
    # attempt's reports back until it ends, after the subtests' own reports.
    pytester.makepyfile(test_edges=RERUN_EDGES)
    pytester.runpytest("--hawzu-release=1.4.0", "--reruns=2", *mode)
    assert statuses(only_execution(hawzu_env)) == {
        "TCM-41": "PASSED",
        "TCM-42": "PASSED",
        "TCM-43": "FAILED",
        "TCM-44": "FAILED",
    }


def test_a_worker_crash_that_was_rerun_counts_the_final_attempt(pytester, hawzu_env):
    pytester.makepyfile(
        """
        import os, pathlib
        import pytest

        FLAG = pathlib.Path(__file__).with_name("crashed.flag")

        @pytest.mark.hawzu("TCM-1")
        def test_crashes_once(request):
            if not FLAG.exists():
                FLAG.write_text("x")
                # pytest-rerunfailures tells the controller this test's reruns
                # without waiting for an answer; a crash can overtake that, and
                # the controller then has no rerun to give. A question on the
                # same connection is answered only after it.
                request.config.failures_db.get_test_failures(request.node.nodeid)
                os._exit(1)
        """
    )
    pytester.runpytest("--hawzu-release=1.4.0", "--reruns=1", "-n", "2")
    result = only_execution(hawzu_env)["results"]["TCM-1"]
    assert result["status"] == "PASSED"
    assert "crashed" not in result.get("notes", "")
    assert result["notes"].endswith("::test_crashes_once: final attempt after 1 rerun")


def test_a_crashed_test_does_not_end_before_it_started(pytester, hawzu_env):
    """xdist's report of a crashed test has no end time (0): not the year 1970."""
    pytester.makepyfile(
        """
        import os
        import pytest

        @pytest.mark.hawzu("TCM-1")
        def test_crashes():
            os._exit(1)
        """
    )
    pytester.runpytest("--hawzu-release=1.4.0", "-n", "2")
    result = only_execution(hawzu_env)["results"]["TCM-1"]
    assert result["status"] == "FAILED"
    assert result["started_at"] is not None
    assert result.get("finished_at") is None or result["finished_at"] >= result["started_at"]


UNMARKED = """
import os
import pytest

def test_unmarked_fails():
    assert False

def test_unmarked_passes():
    pass

def test_unmarked_crashes(request):
    if hasattr(request.config, "workerinput"):  # only a worker of this run's own
        os._exit(1)

@pytest.mark.hawzu("TCM-1")
def test_marked():
    pass
"""


@pytest.mark.parametrize("xdist", [(), ("-n", "2")], ids=["no-xdist", "n2"])
def test_tests_without_a_case_are_counted_once_whatever_reruns_or_crashes(
    pytester, hawzu_env, xdist
):
    pytester.makepyfile(UNMARKED)
    result = pytester.runpytest("--hawzu-release=1.4.0", "--reruns=2", *xdist)
    result.stdout.fnmatch_lines(["3 tests have no Hawzu case*"])


AFTER_A_FAILED_SUBTEST = """
import unittest
import pytest

@pytest.fixture
def teardown_broken():
    yield
    raise RuntimeError("teardown broke")

@pytest.mark.hawzu("TCM-51")
def test_subtest_fails_then_skips(subtests):
    with subtests.test(msg="first"):
        assert 0, "subtest broke"
    pytest.skip("then skipped")

@pytest.mark.hawzu("TCM-52")
def test_subtest_fails_then_xfails(subtests):
    with subtests.test(msg="first"):
        assert 0, "subtest broke"
    pytest.xfail("then xfailed")

class TestUnittest(unittest.TestCase):
    @pytest.mark.hawzu("TCM-53")
    def test_subtest_fails_then_skips(self):
        with self.subTest(i=1):
            self.fail("subtest broke")
        self.skipTest("then skipped")

@pytest.mark.hawzu("TCM-54")
def test_skips_then_teardown_fails(teardown_broken):
    pytest.skip("skipped")

@pytest.mark.hawzu("TCM-55")
@pytest.mark.xfail(reason="known bug")
def test_xfails_then_teardown_fails(teardown_broken):
    assert 0  # pytest counts the teardown error as part of the expected failure
"""


@NEEDS_PYTEST_SUBTESTS
@pytest.mark.parametrize("mode", MODES)
def test_a_failure_is_not_hidden_by_a_later_skip(pytester, hawzu_env, mode):
    pytester.makepyfile(test_after=AFTER_A_FAILED_SUBTEST)
    pytester.runpytest("--hawzu-release=1.4.0", *mode)
    results = only_execution(hawzu_env)["results"]
    assert {case: r["status"] for case, r in results.items()} == {
        "TCM-51": "FAILED",
        "TCM-52": "FAILED",
        "TCM-53": "FAILED",
        "TCM-54": "FAILED",
        "TCM-55": "SKIPPED",
    }
    assert "subtest broke" in results["TCM-51"]["notes"]
    assert "teardown broke" in results["TCM-54"]["notes"]


PARTLY_RUN = """
import pytest

@pytest.mark.hawzu("TCM-61")
def test_first_of_two():
    pass

@pytest.mark.hawzu("TCM-62")
def test_fails():
    assert 0

@pytest.mark.hawzu("TCM-61")
def test_second_of_two():
    pass

@pytest.mark.hawzu("TCM-63")
@pytest.mark.parametrize("n", [1, 2])
def test_never_runs(n):
    pass
"""


def test_a_case_whose_tests_only_partly_ran_is_not_executed(pytester, hawzu_env):
    # Stopped by -x after TCM-61's first test: its second never ran, so the
    # case was not executed, whatever the first one did.
    pytester.makepyfile(test_partly=PARTLY_RUN)
    pytester.runpytest("--hawzu-release=1.4.0", "-x", "-p", "no:xdist")
    results = only_execution(hawzu_env)["results"]
    assert {case: r["status"] for case, r in results.items()} == {
        "TCM-61": "NOT_EXECUTED",
        "TCM-62": "FAILED",
        "TCM-63": "NOT_EXECUTED",
    }
    assert "test_second_of_two" in results["TCM-61"]["notes"]


class _Report:
    """A phase report as pytest makes it, for the recorder alone."""

    def __init__(self, when: str, outcome: str) -> None:
        self.nodeid = "test_r.py::test_flaky"
        self.when = when
        self.outcome = outcome
        self.duration = 0.1
        self.start, self.stop = 1_800_000_000.0, 1_800_000_000.1
        self.longrepr = None
        self.failed = outcome == "failed"
        self.skipped = outcome == "skipped"


def test_a_void_attempt_without_its_teardown_report_still_ends_at_the_next_setup():
    # pytest 8.0 with pytest-rerunfailures 16 reports no teardown for an attempt
    # it reruns: the next attempt's setup is all that says the last one ended.
    from pytest_hawzu.outcome import TestRecorder
    from pytest_hawzu.status import StatusTable

    recorder = TestRecorder(StatusTable({}), 8000)
    reports = [("setup", "passed"), ("call", "rerun")] * 2
    reports += [("setup", "passed"), ("call", "passed"), ("teardown", "passed")]
    outcomes = [recorder.add(_Report(when, outcome), ("TCM-30",)) for when, outcome in reports]
    assert outcomes[:-1] == [None] * (len(reports) - 1)
    final = outcomes[-1]
    assert final is not None
    assert (final.status.name, final.reruns) == ("PASSED", 2)


XFAIL_IN_TEARDOWN = """
import pytest

@pytest.fixture
def xfails_in_teardown():
    yield
    pytest.xfail("cleanup bug 15")

@pytest.fixture
def bad_teardown():
    yield
    raise RuntimeError("cleanup failed")

@pytest.mark.hawzu("TCM-1")
def test_xfail_teardown(xfails_in_teardown):
    pass

@pytest.mark.hawzu("TCM-2")
@pytest.mark.xfail(reason="bug 16")
def test_xfail_marked_with_a_bad_teardown(bad_teardown):
    pass
"""


def test_an_xfail_in_teardown_is_an_xfail_for_the_status_map(pytester, hawzu_env):
    """pytest reports XFAIL for these; hawzu_status_map must see xfail, not skip."""
    pytester.makeini("[pytest]\nhawzu_status_map =\n    xfail = BLOCKED\n    skip = NOT_EXECUTED\n")
    pytester.makepyfile(test_xfail_teardown=XFAIL_IN_TEARDOWN)
    pytester.runpytest("--hawzu-release=1.4.0", "-p", "no:xdist")
    results = only_execution(hawzu_env)["results"]
    assert {case: r["status"] for case, r in results.items()} == {
        "TCM-1": "BLOCKED",
        "TCM-2": "BLOCKED",
    }
    assert "cleanup bug 15" in results["TCM-1"]["notes"]
    assert "bug 16" in results["TCM-2"]["notes"]


class _Xfailed(_Report):
    """A phase in which the test called pytest.xfail()."""

    def __init__(self, when: str, reason: str) -> None:
        super().__init__(when, "skipped")
        self.wasxfail = reason


def _recorded(reports: list[_Report], table: Mapping[str, Status] | None = None) -> TestOutcome:
    """The outcome a recorder makes of one test's phase reports."""
    recorder = TestRecorder(StatusTable(table), 8000)
    outcomes = [recorder.add(report, ("TCM-40",)) for report in reports]
    assert outcomes[:-1] == [None] * (len(reports) - 1)
    final = outcomes[-1]
    assert final is not None
    return final


def test_a_teardown_error_after_a_broken_setup_stays_blocked() -> None:
    final = _recorded([_Report("setup", "failed"), _Report("teardown", "failed")])
    assert final.status is Status.BLOCKED


def test_a_teardown_error_after_a_failure_stays_a_failure_for_the_status_map() -> None:
    reports = [_Report("setup", "passed"), _Report("call", "failed"), _Report("teardown", "failed")]
    final = _recorded(reports, {"teardown_error": Status.BLOCKED})
    assert final.status is Status.FAILED


def test_an_xfail_in_setup_is_an_xfail_for_the_status_map() -> None:
    # pytest.xfail() in a fixture's setup: pytest reports XFAIL, not SKIPPED.
    reports = [_Xfailed("setup", "bug 17"), _Report("teardown", "passed")]
    final = _recorded(reports, {"xfail": Status.BLOCKED})
    assert final.status is Status.BLOCKED
    assert final.notes == "xfail: bug 17"


def test_a_tests_duration_and_times_span_all_its_phases() -> None:
    reports = [_Report("setup", "passed"), _Report("call", "passed"), _Report("teardown", "passed")]
    for n, report in enumerate(reports):
        report.duration = (0.25, 0.5, 0.125)[n]
        report.start, report.stop = 1_800_000_000.0 + n, 1_800_000_000.5 + n
    final = _recorded(reports)
    assert final.duration == 0.875
    assert (final.started_at, final.finished_at) == (1_800_000_000.0, 1_800_000_002.5)


def test_each_crash_of_a_test_counts_as_a_rerun() -> None:
    recorder = TestRecorder(StatusTable({}), 8000)
    for _ in range(2):  # starts on a worker that dies, then runs again elsewhere
        assert recorder.add(_Report("setup", "passed"), ("TCM-41",)) is None
        recorder.rerun(_Report("call", "failed"))
    for when in ("setup", "call"):
        assert recorder.add(_Report(when, "passed"), ("TCM-41",)) is None
    final = recorder.add(_Report("teardown", "passed"), ("TCM-41",))
    assert final is not None
    assert (final.status, final.reruns) == (Status.PASSED, 2)
    assert final.notes == "test_r.py::test_flaky: final attempt after 2 reruns"
