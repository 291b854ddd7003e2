"""Linking tests to cases: where markers may sit, which one wins, and bad values."""

from __future__ import annotations

import pytest

from pytest_hawzu.answers import is_case_id
from tests.conftest import only_execution, statuses


def test_closest_marker_wins(pytester, hawzu_env):
    pytester.makepyfile(
        test_links="""
        import pytest

        pytestmark = pytest.mark.hawzu("TCM-1")

        def test_module_marker():
            pass

        @pytest.mark.hawzu("TCM-2")
        class TestClass:
            def test_class_marker(self):
                pass

            @pytest.mark.hawzu("TCM-3")
            def test_function_marker(self):
                pass

            @pytest.mark.hawzu("TCM-4")
            @pytest.mark.parametrize("x", [1, pytest.param(2, marks=pytest.mark.hawzu("TCM-5"))])
            def test_param_marker(self, x):
                assert x == 1
        """
    )
    pytester.runpytest("--hawzu-release=1.4.0")
    results = only_execution(hawzu_env)["results"]
    assert statuses(only_execution(hawzu_env)) == {
        "TCM-1": "PASSED",
        "TCM-2": "PASSED",
        "TCM-3": "PASSED",
        "TCM-4": "PASSED",
        "TCM-5": "FAILED",
    }
    assert results["TCM-4"]["automation"]["nodeid"].endswith("test_param_marker[1]")


def test_markers_added_during_collection_count(pytester, hawzu_env):
    pytester.makeconftest(
        """
        import pytest

        def pytest_collection_modifyitems(items):
            for item in items:
                if item.name == "test_late":
                    item.add_marker(pytest.mark.hawzu("TCM-7"))
        """
    )
    pytester.makepyfile("def test_late(): pass\ndef test_other(): pass\n")
    result = pytester.runpytest("--hawzu-release=1.4.0", "--strict-markers")
    assert statuses(only_execution(hawzu_env)) == {"TCM-7": "PASSED"}
    result.stdout.fnmatch_lines(["*1 test has no Hawzu case*"])


def test_one_test_may_report_to_several_cases(pytester, hawzu_env):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.hawzu("TCM-1", "TCM-2", "TCM-1")
        def test_both():
            assert False
        """
    )
    pytester.runpytest("--hawzu-release=1.4.0")
    assert statuses(only_execution(hawzu_env)) == {"TCM-1": "FAILED", "TCM-2": "FAILED"}


@pytest.mark.parametrize("args", ['""', "None", "12", '"TCM 1"', '"TCM-1", 3', "", '"TCM-1\\n"'])
def test_bad_case_ids_warn_and_skip_the_test(pytester, hawzu_env, args):
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.hawzu({args})
        def test_bad():
            pass

        @pytest.mark.hawzu("TCM-2")
        def test_good():
            pass
        """
    )
    # -W default: this suite runs with warnings as errors, the inner session must not.
    result = pytester.runpytest("--hawzu-release=1.4.0", "-W", "default")
    assert result.ret == 0
    assert statuses(only_execution(hawzu_env)) == {"TCM-2": "PASSED"}
    result.stdout.fnmatch_lines(["*HawzuMarkerWarning*test_bad*needs Hawzu case IDs*"])


def test_with_warnings_as_errors_a_bad_marker_fails_only_its_own_test(pytester, hawzu_env):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.hawzu("TCM 1")
        def test_bad():
            pass

        @pytest.mark.hawzu("TCM-2")
        def test_good():
            pass
        """
    )
    result = pytester.runpytest("--hawzu-release=1.4.0", "-W", "error")
    result.assert_outcomes(passed=1, errors=1)
    assert "INTERNALERROR" not in result.stdout.str()
    assert statuses(only_execution(hawzu_env)) == {"TCM-2": "PASSED"}


def test_the_marker_is_registered(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.hawzu("TCM-1")
        def test_marked():
            pass
        """
    )
    assert pytester.runpytest("--strict-markers").ret == 0
    pytester.runpytest("--markers").stdout.fnmatch_lines(["@pytest.mark.hawzu(*case_ids)*"])


@pytest.mark.parametrize("value", ["TCM-1", "X", "proj/case:12", "TCM-1-é"])
def test_case_ids_are_opaque_strings(value):
    assert is_case_id(value)


@pytest.mark.parametrize("value", ["", " ", "TCM 1", "TCM-1\t", "\x00", None, 12, b"TCM-1"])
def test_not_case_ids(value):
    assert not is_case_id(value)


CASE_ENUM = """
import enum
import pytest

class Case(str, enum.Enum):
    LOGIN = "TCM-1"
    CART = "TCM-2"

@pytest.mark.hawzu(Case.LOGIN)
def test_login():
    pass

@pytest.mark.hawzu(Case.CART)
def test_cart():
    assert 0
"""


@pytest.mark.parametrize("xdist", [False, True], ids=["no-xdist", "n2"])
def test_case_ids_of_a_str_subclass_are_taken_as_their_text(pytester, hawzu_env, xdist):
    # xdist carries only plain strings between processes.
    pytester.makepyfile(CASE_ENUM)
    mode = ["-n", "2"] if xdist else ["-p", "no:xdist"]
    result = pytester.runpytest("--hawzu-release=1.4.0", "-p", "no:randomly", *mode)
    result.assert_outcomes(passed=1, failed=1)
    assert statuses(only_execution(hawzu_env)) == {"TCM-1": "PASSED", "TCM-2": "FAILED"}
