"""`hawzu_status_map`: the user's overrides of the outcome-to-status table, end to end."""

from __future__ import annotations

import pytest

from tests.conftest import FAST, QUICK, only_execution, statuses

XDIST = ("--hawzu-release=1.4.0", "--hawzu-rate=1000", "-n", "2", *QUICK)

# One test per remappable outcome, plus a pass and a failure, which are fixed.
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
    assert False

@pytest.mark.hawzu("TCM-3")
def test_setup_error(broken):
    pass

@pytest.mark.hawzu("TCM-4")
def test_teardown_error(bad_teardown):
    pass

@pytest.mark.hawzu("TCM-5")
@pytest.mark.xfail(reason="bug 12")
def test_xfail():
    assert False

@pytest.mark.hawzu("TCM-6")
@pytest.mark.xfail(reason="bug 13")
def test_xpass():
    pass

@pytest.mark.hawzu("TCM-7")
def test_skip():
    pytest.skip("no printer")
"""

DEFAULTS = {
    "TCM-1": "PASSED",
    "TCM-2": "FAILED",
    "TCM-3": "BLOCKED",
    "TCM-4": "FAILED",
    "TCM-5": "SKIPPED",
    "TCM-6": "PASSED",
    "TCM-7": "SKIPPED",
}


def ini(*lines: str) -> str:
    return "[pytest]\nxfail_strict = false\nhawzu_status_map =\n" + "".join(
        f"    {line}\n" for line in lines
    )


def test_without_a_map_the_default_table_applies(pytester, hawzu_env):
    pytester.makeini(ini())
    pytester.makepyfile(test_suite=SUITE)
    pytester.runpytest(*FAST)
    assert statuses(only_execution(hawzu_env)) == DEFAULTS


@pytest.mark.parametrize(
    ("line", "case_id", "status"),
    [
        ("setup_error = FAILED", "TCM-3", "FAILED"),
        ("teardown_error = BLOCKED", "TCM-4", "BLOCKED"),
        ("xfail = PASSED", "TCM-5", "PASSED"),
        ("xpass = FAILED", "TCM-6", "FAILED"),
        ("skip = NOT_EXECUTED", "TCM-7", "NOT_EXECUTED"),
    ],
)
def test_each_outcome_can_be_remapped_alone(pytester, hawzu_env, line, case_id, status):
    pytester.makeini(ini(line))
    pytester.makepyfile(test_suite=SUITE)
    pytester.runpytest(*FAST)
    assert statuses(only_execution(hawzu_env)) == {**DEFAULTS, case_id: status}


@pytest.mark.parametrize("mode", [pytest.param(FAST, id="no-xdist"), pytest.param(XDIST, id="n2")])
def test_several_lines_comments_and_any_case_of_status(pytester, hawzu_env, mode):
    pytester.makeini(
        ini("# xfails are known bugs, so they block", "xfail = blocked", "skip=Passed")
    )
    pytester.makepyfile(test_suite=SUITE)
    pytester.runpytest(*mode)
    assert statuses(only_execution(hawzu_env)) == {
        **DEFAULTS,
        "TCM-5": "BLOCKED",
        "TCM-7": "PASSED",
    }


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "flaky = PASSED",
            "hawzu_status_map: 'flaky = PASSED': expected 'outcome = STATUS' with an outcome "
            "among setup_error, teardown_error, xfail, xpass, skip",
        ),
        (
            "failed = BLOCKED",  # passed and failed are fixed
            "hawzu_status_map: 'failed = BLOCKED': expected 'outcome = STATUS' *",
        ),
        (
            "skip = IGNORED",
            "hawzu_status_map: 'skip = IGNORED': unknown status 'IGNORED'; expected one of "
            "PASSED, FAILED, BLOCKED, SKIPPED, NOT_EXECUTED",
        ),
        ("skip SKIPPED", "hawzu_status_map: 'skip SKIPPED': expected 'outcome = STATUS' *"),
    ],
)
def test_a_bad_line_is_a_usage_error_naming_it(pytester, hawzu_env, line, message):
    pytester.makeini(ini("xfail = BLOCKED", line))
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest(*FAST)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])
    assert hawzu_env.executions() == []
