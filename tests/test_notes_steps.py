"""Notes and steps: what each result says about why, and the steps it went through."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_hawzu.client import (
    MAX_NODEIDS,
    MAX_NOTES,
    MAX_STEP_NAME,
    MAX_STEP_NOTES,
    MAX_STEPS,
)
from pytest_hawzu.settings import DEFAULT_NOTES_LIMIT
from tests.conftest import FAST, NEEDS_PYTEST_SUBTESTS, QUICK, only_execution, statuses

# The same sessions with every test in this process, and spread over two workers.
XDIST = ("--hawzu-release=1.4.0", "--hawzu-rate=1000", "-n", "2", *QUICK)
MODES = [pytest.param(FAST, id="no-xdist"), pytest.param(XDIST, id="n2")]


def results(sandbox: Any) -> dict[str, Any]:
    found: dict[str, Any] = only_execution(sandbox)["results"]
    return found


def steps(result: dict[str, Any]) -> list[tuple[str, str]]:
    return [(s["name"], s["status"]) for s in result.get("steps", [])]


# -- notes ----------------------------------------------------------------------------


def test_failure_notes_name_the_test_the_exception_and_the_traceback(pytester, hawzu_env):
    pytester.makepyfile(
        test_pay="""
        import pytest

        def charge(amount):
            raise ValueError(f"card declined for {amount}")

        @pytest.mark.hawzu("TCM-1")
        def test_pay():
            charge(12)
        """
    )
    pytester.runpytest(*FAST)
    notes = results(hawzu_env)["TCM-1"]["notes"]
    first, _, traceback = notes.partition("\n")
    assert first == "test_pay.py::test_pay: ValueError: card declined for 12"
    assert "def charge(amount):" in traceback
    assert traceback.rstrip().endswith("ValueError")


def test_blocked_notes_say_the_setup_failed_and_why(pytester, hawzu_env):
    pytester.makepyfile(
        test_db="""
        import pytest

        @pytest.fixture
        def db():
            raise ConnectionError("database is down")

        @pytest.mark.hawzu("TCM-1")
        def test_query(db):
            pass
        """
    )
    pytester.runpytest(*FAST)
    result = results(hawzu_env)["TCM-1"]
    assert result["status"] == "BLOCKED"
    assert result["notes"].startswith(
        "test_db.py::test_query (in setup): ConnectionError: database is down\n"
    )


def test_long_tracebacks_keep_their_end_within_the_notes_limit(pytester, hawzu_env):
    pytester.makeini("[pytest]\nhawzu_notes_limit = 600\n")
    pytester.makepyfile(
        test_deep="""
        import pytest

        def dive(n):
            if n == 0:
                raise KeyError("the very bottom")
            dive(n - 1)

        @pytest.mark.hawzu("TCM-1")
        def test_deep():
            dive(40)
        """
    )
    pytester.runpytest(*FAST)
    notes = results(hawzu_env)["TCM-1"]["notes"]
    assert len(notes) <= 600
    assert notes.startswith("test_deep.py::test_deep: KeyError: 'the very bottom'\n[... ")
    assert "characters trimmed ...]" in notes
    assert notes.endswith("E           KeyError: 'the very bottom'\n\ntest_deep.py:5: KeyError")


def test_the_default_notes_limit_is_well_under_the_api_maximum(pytester, hawzu_env):
    assert DEFAULT_NOTES_LIMIT < MAX_NOTES // 4
    pytester.makepyfile(
        test_huge="""
        import pytest

        @pytest.mark.hawzu("TCM-1")
        def test_huge():
            raise ValueError("x" * 100_000)
        """
    )
    pytester.runpytest(*FAST)
    notes = results(hawzu_env)["TCM-1"]["notes"]
    assert 4_000 < len(notes) <= DEFAULT_NOTES_LIMIT
    assert notes.startswith("test_huge.py::test_huge: ValueError: xxx")
    assert notes.endswith("test_huge.py:5: ValueError")


def test_skip_and_xfail_notes_give_the_reason(pytester, hawzu_env):
    pytester.makepyfile(
        test_skips="""
        import pytest

        @pytest.mark.hawzu("TCM-1")
        @pytest.mark.skip(reason="no printer here")
        def test_marker():
            pass

        @pytest.mark.hawzu("TCM-2")
        def test_imperative():
            pytest.skip("needs a card reader")

        @pytest.mark.hawzu("TCM-3")
        @pytest.mark.xfail(reason="bug 12: rounding")
        def test_xfail():
            assert 0.1 + 0.2 == 0.3
        """
    )
    pytester.runpytest(*FAST)
    found = results(hawzu_env)
    assert statuses(only_execution(hawzu_env)) == dict.fromkeys(found, "SKIPPED")
    assert found["TCM-1"]["notes"] == "no printer here"
    assert found["TCM-2"]["notes"] == "needs a card reader"
    assert found["TCM-3"]["notes"] == "xfail: bug 12: rounding"


def test_a_flaky_pass_says_how_many_reruns_it_took(pytester, hawzu_env):
    pytester.makepyfile(
        test_flaky="""
        import pytest

        attempts = []

        @pytest.mark.hawzu("TCM-1")
        def test_flaky():
            attempts.append(1)
            assert len(attempts) == 3, "not yet"
        """
    )
    pytester.runpytest(*FAST, "-p", "rerunfailures", "--reruns=3")
    result = results(hawzu_env)["TCM-1"]
    assert result["status"] == "PASSED"
    assert result["notes"] == "test_flaky.py::test_flaky: final attempt after 2 reruns"


COLOURED = """
import pytest

@pytest.mark.hawzu("TCM-1")
def test_compare():
    assert "abc" == "abd"
"""


@pytest.mark.parametrize("mode", MODES)
def test_notes_are_plain_text_when_pytest_prints_in_colour(pytester, hawzu_env, mode):
    # CI often forces colour; the escape codes belong to the terminal, not to Hawzu.
    pytester.makepyfile(test_colour=COLOURED)
    pytester.runpytest(*mode, "--color=yes")
    result = results(hawzu_env)["TCM-1"]
    assert "\x1b" not in result["notes"]
    assert all("\x1b" not in step.get("notes", "") for step in result["steps"])
    assert "- abd" in result["notes"]


def test_notes_are_the_same_with_and_without_xdist(pytester, hawzu_env):
    # xdist prints which worker ran a failure ("[gw1] linux -- Python ..."):
    # that is the terminal's business, and would differ from run to run.
    pytester.makepyfile(test_colour=COLOURED)
    pytester.runpytest(*MODES[1].values[0])
    notes = results(hawzu_env)["TCM-1"]["notes"]
    assert " -- Python " not in notes
    assert notes.startswith("test_colour.py::test_compare: AssertionError: assert 'abc' == 'abd'\n")


def test_a_failure_without_a_traceback_is_said_once(pytester, hawzu_env):
    pytester.makepyfile(
        test_plain="""
        import pytest

        @pytest.mark.hawzu("TCM-1")
        def test_fail_plainly():
            pytest.fail("the invoice total is wrong", pytrace=False)

        @pytest.mark.hawzu("TCM-2")
        @pytest.mark.xfail(reason="bug 3", strict=True)
        def test_strict_xpass():
            pass
        """
    )
    pytester.runpytest(*FAST)
    found = results(hawzu_env)
    assert found["TCM-1"]["notes"] == (
        "test_plain.py::test_fail_plainly: Failed: the invoice total is wrong"
    )
    assert found["TCM-2"]["notes"] == "test_plain.py::test_strict_xpass: [XPASS(strict)] bug 3"


@NEEDS_PYTEST_SUBTESTS
def test_a_failed_subtest_does_not_hide_the_tests_own_error(pytester, hawzu_env):
    pytester.makepyfile(
        test_sub="""
        import unittest
        import pytest

        @pytest.mark.hawzu("TCM-1")
        class Orders(unittest.TestCase):
            def test_totals(self):
                with self.subTest(region="eu"):
                    self.assertEqual(1, 2, "eu total mismatch")
                raise RuntimeError("the database went away")
        """
    )
    pytester.runpytest(*FAST)
    notes = results(hawzu_env)["TCM-1"]["notes"]
    assert "test_sub.py::Orders::test_totals (region='eu'): AssertionError: 1 != 2" in notes
    assert "test_sub.py::Orders::test_totals: RuntimeError: the database went away" in notes


@NEEDS_PYTEST_SUBTESTS
def test_a_failed_subtest_is_not_followed_by_pytests_count_of_them(pytester, hawzu_env):
    # pytest's own "contains 1 failed subtest" says nothing the subtest's notes do not.
    pytester.makepyfile(
        test_sub="""
        import pytest

        @pytest.mark.hawzu("TCM-1")
        def test_totals(subtests):
            with subtests.test(region="eu"):
                assert 1 == 2
        """
    )
    pytester.runpytest(*FAST)
    notes = results(hawzu_env)["TCM-1"]["notes"]
    assert notes.startswith("test_sub.py::test_totals (region='eu'): AssertionError: assert 1 == 2")
    assert "contains 1 failed subtest" not in notes


def test_trimmed_notes_keep_the_line_naming_each_failing_test(pytester, hawzu_env):
    pytester.makeini("[pytest]\nhawzu_notes_limit = 2000\n")
    pytester.makepyfile(
        test_many="""
        import pytest

        def dive(n, what):
            if n == 0:
                raise ValueError(what)
            dive(n - 1, what)

        @pytest.fixture
        def leaky():
            yield
            dive(20, "cleanup failed")

        @pytest.mark.hawzu("TCM-1")
        @pytest.mark.parametrize("n", range(6))
        def test_p(n):
            dive(20, f"case {n}")

        @pytest.mark.hawzu("TCM-2")
        def test_both(leaky):
            dive(20, "the real cause")
        """
    )
    pytester.runpytest(*FAST)
    found = results(hawzu_env)
    many = found["TCM-1"]["notes"]
    assert len(many) <= 2000
    for n in range(6):
        assert f"test_many.py::test_p[{n}]: ValueError: case {n}" in many
    both = found["TCM-2"]["notes"]
    assert len(both) <= 2000
    assert both.startswith("test_many.py::test_both: ValueError: the real cause\n")
    assert "test_many.py::test_both (in teardown): ValueError: cleanup failed" in both


def test_combined_notes_say_which_test_each_reason_is_from(pytester, hawzu_env):
    pytester.makepyfile(
        test_mixed="""
        import pytest

        @pytest.mark.hawzu("TCM-1")
        @pytest.mark.parametrize("mode", ["card", "cash"])
        def test_pay(mode):
            if mode == "cash":
                pytest.skip("no till in CI")
        """
    )
    pytester.runpytest(*FAST)
    assert results(hawzu_env)["TCM-1"]["notes"] == "test_mixed.py::test_pay[cash]: no till in CI"


# -- phase steps --------------------------------------------------------------------


def test_each_phase_is_a_step_with_its_own_status_and_notes(pytester, hawzu_env):
    pytester.makepyfile(
        test_phases="""
        import pytest

        @pytest.fixture
        def leaky():
            yield
            raise RuntimeError("cleanup failed")

        @pytest.mark.hawzu("TCM-1")
        def test_passes():
            pass

        @pytest.mark.hawzu("TCM-2")
        def test_fails():
            assert 1 == 2

        @pytest.mark.hawzu("TCM-3")
        def test_teardown_error(leaky):
            pass
        """
    )
    pytester.runpytest(*FAST)
    found = results(hawzu_env)
    passed = ("setup", "PASSED"), ("teardown", "PASSED")
    assert steps(found["TCM-1"]) == [passed[0], ("call", "PASSED"), passed[1]]
    assert steps(found["TCM-2"]) == [passed[0], ("call", "FAILED"), passed[1]]
    assert "assert 1 == 2" in found["TCM-2"]["steps"][1]["notes"]
    assert "notes" not in found["TCM-2"]["steps"][0]
    assert steps(found["TCM-3"])[2] == ("teardown", "FAILED")
    assert "RuntimeError: cleanup failed" in found["TCM-3"]["steps"][2]["notes"]


# -- user steps ---------------------------------------------------------------------

USER_STEPS = """
import pytest
from pytest_hawzu import hawzu_step as step

@pytest.fixture
def cart(hawzu_step):
    with hawzu_step("fill the cart"):
        pass
    yield
    with hawzu_step("empty the cart"):
        pass

@pytest.mark.hawzu("TCM-1")
def test_checkout(cart, hawzu_step):
    with hawzu_step("pay with saved card"):
        pass
    with step("see the receipt"):
        pass

@pytest.mark.hawzu("TCM-2")
def test_declined(hawzu_step):
    with hawzu_step("pay with saved card"):
        pass
    with step("see the receipt"):
        raise LookupError("no receipt number")
    with hawzu_step("never reached"):
        pass

@pytest.mark.hawzu("TCM-3")
def test_skipped_inside_a_step():
    with step("print the invoice"):
        pytest.skip("no printer")
"""


@pytest.mark.parametrize("mode", MODES)
def test_user_steps_are_recorded_in_their_phase(pytester, hawzu_env, mode):
    pytester.makepyfile(test_shop=USER_STEPS)
    run = pytester.runpytest(*mode)
    found = results(hawzu_env)
    assert steps(found["TCM-1"]) == [
        ("fill the cart", "PASSED"),
        ("setup", "PASSED"),
        ("pay with saved card", "PASSED"),
        ("see the receipt", "PASSED"),
        ("call", "PASSED"),
        ("empty the cart", "PASSED"),
        ("teardown", "PASSED"),
    ]
    assert found["TCM-1"]["status"] == "PASSED"
    run.assert_outcomes(passed=1, failed=1, skipped=1)


@pytest.mark.parametrize("mode", MODES)
def test_a_step_that_raised_is_failed_and_the_error_goes_on(pytester, hawzu_env, mode):
    pytester.makepyfile(test_shop=USER_STEPS)
    pytester.runpytest(*mode)
    declined = results(hawzu_env)["TCM-2"]
    assert declined["status"] == "FAILED"
    assert steps(declined) == [
        ("setup", "PASSED"),
        ("pay with saved card", "PASSED"),
        ("see the receipt", "FAILED"),
        ("call", "FAILED"),
        ("teardown", "PASSED"),
    ]
    assert declined["steps"][2]["notes"] == "LookupError: no receipt number"
    # The test failed with the step's own exception: it was re-raised unchanged.
    assert "test_declined: LookupError: no receipt number\n" in declined["notes"]


def test_a_skip_inside_a_step_makes_the_step_skipped(pytester, hawzu_env):
    pytester.makepyfile(test_shop=USER_STEPS)
    pytester.runpytest(*FAST)
    skipped = results(hawzu_env)["TCM-3"]
    assert skipped["status"] == "SKIPPED"
    assert ("print the invoice", "SKIPPED") in steps(skipped)


def test_steps_only_run_their_block_when_nothing_is_reported(pytester, hawzu_env):
    pytester.makepyfile(test_shop=USER_STEPS)
    run = pytester.runpytest(*QUICK)  # no release: no reporting
    run.assert_outcomes(passed=1, failed=1, skipped=1)
    run.stdout.fnmatch_lines(["FAILED *::test_declined - LookupError: no receipt number"])
    assert hawzu_env.executions() == []


def test_steps_of_a_rerun_attempt_are_not_kept(pytester, hawzu_env):
    pytester.makepyfile(
        test_flaky="""
        import pytest
        from pytest_hawzu import hawzu_step

        attempts = []

        @pytest.mark.hawzu("TCM-1")
        def test_flaky():
            attempts.append(1)
            with hawzu_step(f"attempt {len(attempts)}"):
                assert len(attempts) == 2
        """
    )
    pytester.runpytest(*FAST, "-p", "rerunfailures", "--reruns=1")
    result = results(hawzu_env)["TCM-1"]
    assert result["status"] == "PASSED"
    assert ("attempt 2", "PASSED") in steps(result)
    assert "attempt 1" not in [name for name, _ in steps(result)]


THREADS = """
import threading
import pytest
from pytest_hawzu import hawzu_step as step

done = threading.Event()
late = []

def in_a_thread(step, name):
    def load():
        with step(name):
            pass
    worker = threading.Thread(target=load)
    worker.start()
    worker.join()

@pytest.mark.hawzu("TCM-1")
def test_background(hawzu_step):
    in_a_thread(hawzu_step, "load in the background")

@pytest.mark.hawzu("TCM-2")
def test_module_level_step_in_a_thread():
    in_a_thread(step, "not tied to its test")

@pytest.mark.hawzu("TCM-3")
def test_leaves_a_thread_behind(hawzu_step):
    def outlive():
        done.wait()
        with hawzu_step("after its test"):
            pass
    late.append(threading.Thread(target=outlive))
    late[0].start()

@pytest.mark.hawzu("TCM-4")
def test_next():
    done.set()
    late[0].join()
"""


@pytest.mark.parametrize(
    "mode",
    # loadfile: the thread left behind and the test after it in one worker.
    [pytest.param(FAST, id="no-xdist"), pytest.param((*XDIST, "--dist=loadfile"), id="n2")],
)
def test_steps_in_threads_go_to_the_test_that_started_them_or_nowhere(pytester, hawzu_env, mode):
    # A new thread does not inherit the test's context, where the module-level
    # `hawzu_step` looks for its test; the fixture knows its test.
    pytester.makepyfile(test_threads=THREADS)
    # -W default: this suite runs with warnings as errors, the inner session must not.
    result = pytester.runpytest(*mode, "-W", "default")
    result.assert_outcomes(passed=4, warnings=1)
    found = results(hawzu_env)
    assert ("load in the background", "PASSED") in steps(found["TCM-1"])
    for case_id in ("TCM-2", "TCM-3", "TCM-4"):
        assert [name for name, _ in steps(found[case_id])] == ["setup", "call", "teardown"]
    result.stdout.fnmatch_lines(
        [
            "*HawzuStepWarning: hawzu_step('after its test') of *::test_leaves_a_thread_behind "
            "ended after that test: not recorded",
        ]
    )


def test_a_step_after_every_test_ended_is_not_recorded(pytester, hawzu_env):
    pytester.makepyfile(
        test_late="""
        import pytest

        @pytest.mark.hawzu("TCM-1")
        def test_first():
            pass
        """,
        conftest="""
        from pytest_hawzu import hawzu_step

        def pytest_sessionfinish():
            with hawzu_step("after the tests"):
                pass
        """,
    )
    pytester.runpytest(*FAST).assert_outcomes(passed=1)
    assert "after the tests" not in [name for name, _ in steps(results(hawzu_env)["TCM-1"])]


ODD_STEP = """
import pytest
from pytest_hawzu import hawzu_step

NAME = b"caf\\xe9".decode("utf-8", "surrogateescape")  # a Latin-1 name on a UTF-8 system

@pytest.mark.hawzu("TCM-1")
def test_step_named_in_latin1():
    with hawzu_step(f"open {NAME}"):
        pass
"""

ODD_FAILURE = (
    ODD_STEP
    + """
@pytest.mark.hawzu("TCM-2")
def test_fails_with_a_nul_and_a_latin1_name():
    assert False, f"got {NAME}\\x00 back"
"""
)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def assert_valid_text(received: Any) -> None:
    """Lone surrogates and NUL sink a batch at many JSON parsers and databases."""
    for text in _strings(received):
        assert "\x00" not in text
        text.encode("utf-8")  # raises on a lone surrogate


@pytest.mark.parametrize("mode", MODES)
def test_a_step_name_that_is_not_utf8_reaches_hawzu_readable(pytester, hawzu_env, mode):
    # execnet refuses to carry such a string from a worker at all.
    pytester.makepyfile(ODD_STEP)
    result = pytester.runpytest(*mode)
    result.assert_outcomes(passed=1)
    found = results(hawzu_env)["TCM-1"]
    assert found["status"] == "PASSED"
    assert "open caf\ufffd" in [s["name"] for s in found["steps"]]
    assert_valid_text(found)


def test_notes_hawzu_receives_are_valid_unicode_without_nul(pytester, hawzu_env):
    # Not under xdist: execnet cannot carry such a failure to the controller.
    pytester.makepyfile(ODD_FAILURE)
    result = pytester.runpytest(*FAST)
    result.assert_outcomes(passed=1, failed=1)
    found = results(hawzu_env)
    assert statuses(only_execution(hawzu_env)) == {"TCM-1": "PASSED", "TCM-2": "FAILED"}
    assert "got caf\ufffd\ufffd back" in found["TCM-2"]["notes"]
    assert_valid_text(found)


# -- size -------------------------------------------------------------------------------------

HUGE = """
import pytest

@pytest.mark.hawzu("TCM-1")
def test_skips_for_a_long_reason():
    pytest.skip("S" * 1_000_000)

@pytest.mark.hawzu("TCM-2")
@pytest.mark.parametrize("v", ["I" * 100_000, "J" * 100_000])
def test_has_long_ids(v):
    assert 0

@pytest.mark.hawzu("TCM-3")
def test_fails_many_subtests(subtests):
    for i in range(600):
        with subtests.test(i=i):
            assert 0, "x" * (5000 if i < 50 else 10)
"""


@NEEDS_PYTEST_SUBTESTS
def test_every_part_of_a_result_is_bounded_whatever_the_tests_produce(pytester, hawzu_env):
    pytester.makepyfile(HUGE)
    pytester.runpytest(*FAST)
    found = results(hawzu_env)
    assert set(found) == {"TCM-1", "TCM-2", "TCM-3"}
    for result in found.values():
        assert len(json.dumps(result)) < 500_000
        assert len(result["steps"]) <= MAX_STEPS
        for step in result["steps"]:
            assert len(step["name"]) <= MAX_STEP_NAME
            assert len(step.get("notes", "")) <= MAX_STEP_NOTES
        assert len(result["automation"]["nodeid"]) <= MAX_NODEIDS
    assert found["TCM-1"]["steps"][1]["notes"].startswith("SSSS")
    many = found["TCM-3"]["steps"]  # each failed subtest a step: 603 in all
    assert len(many) == MAX_STEPS
    assert many[-1]["name"] == f"{603 - (MAX_STEPS - 1)} more steps"
    assert many[-1]["status"] == "FAILED"


@pytest.mark.parametrize("plugin", [(), ("-p", "no:hawzu")], ids=["loaded", "disabled"])
def test_steps_of_a_nested_session_that_does_not_report_stay_out_of_the_outer_test(
    pytester, hawzu_env, plugin
):
    """A plugin's own tests run pytest inside a reported test: their steps are not its."""
    pytester.makeconftest('pytest_plugins = ["pytester"]\n')
    pytester.makepyfile(
        test_outer='''
import pytest

from args import ARGS

INNER = """
from pytest_hawzu import hawzu_step

def test_inner_uses_steps():
    with hawzu_step("inner step: log in"):
        pass
"""

@pytest.mark.hawzu("TCM-1")
def test_my_plugin(pytester):
    pytester.makepyfile(INNER)
    pytester.runpytest("-p", "no:cacheprovider", *ARGS).assert_outcomes(passed=1)
'''
    )
    # Without the plugin in the nested session, nothing there says its tests run.
    pytester.makepyfile(args=f"ARGS = {plugin!r}")
    pytester.runpytest(*FAST, "-p", "no:cacheprovider", "test_outer.py")
    result = only_execution(hawzu_env)["results"]["TCM-1"]
    assert steps(result) == [("setup", "PASSED"), ("call", "PASSED"), ("teardown", "PASSED")]


NESTED_CONFIG = """
import sys
import threading
import types
import pytest
from pytest_hawzu import hawzu_step as module_step

@pytest.mark.hawzu("TCM-1")
def test_configures_another(pytester, hawzu_step, hawzu_attach):
    pytester.getitem("def test_func(): pass")  # a second config, never a session
    with module_step("module form"):
        pass
    with hawzu_step("fixture form"):
        pass
    hawzu_attach(b"data", name="data.txt")

@pytest.mark.hawzu("TCM-2")
def test_runs_another_while_a_thread_works(pytester, hawzu_step):
    started = threading.Event()

    def in_the_background():
        started.wait()
        with hawzu_step("in the background"):
            pass

    worker = threading.Thread(target=in_the_background)
    worker.start()
    # The nested session's test lets the thread step while it runs.
    sync = types.ModuleType("outer_sync")
    sync.go = lambda: (started.set(), worker.join())
    sys.modules["outer_sync"] = sync
    pytester.makepyfile(test_inner="import outer_sync\\ndef test_inner():\\n    outer_sync.go()\\n")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
"""


def test_a_nested_config_or_session_leaves_the_outer_test_its_steps(pytester, hawzu_env):
    pytester.makeconftest('pytest_plugins = ["pytester"]\n')
    pytester.makepyfile(test_outer=NESTED_CONFIG)
    result = pytester.runpytest(*FAST, "-p", "no:cacheprovider", "test_outer.py")
    result.assert_outcomes(passed=2)
    found = results(hawzu_env)
    assert [n for n, _ in steps(found["TCM-1"])] == [
        "setup",
        "module form",
        "fixture form",
        "call",
        "teardown",
    ]
    assert [a["filename"] for a in found["TCM-1"]["attachments"]] == ["data.txt"]
    assert ("in the background", "PASSED") in steps(found["TCM-2"])


def test_imported_steps_in_a_thread_pool_never_fail_a_test(pytester, hawzu_env):
    # This suite runs with warnings as errors, as the inner session does then.
    pytester.makepyfile(
        test_pool="""
        from concurrent.futures import ThreadPoolExecutor
        import pytest
        from pytest_hawzu import hawzu_step

        def helper(x):
            with hawzu_step(f"process {x}"):
                return x * 2

        @pytest.mark.hawzu("TCM-1")
        def test_parallel():
            with ThreadPoolExecutor(2) as pool:
                assert list(pool.map(helper, [1, 2])) == [2, 4]
        """
    )
    pytester.runpytest(*FAST).assert_outcomes(passed=1)
    assert results(hawzu_env)["TCM-1"]["status"] == "PASSED"
