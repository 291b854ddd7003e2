"""Every row of the status table, through real sessions reporting to a real server."""

from __future__ import annotations

import pytest

from tests.conftest import only_execution, statuses

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
}

MODES = [pytest.param(["-p", "no:xdist"], id="no-xdist"), pytest.param(["-n", "2"], id="n2")]


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
