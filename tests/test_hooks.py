"""The extension hooks, each through a conftest in a real session."""

from __future__ import annotations

import dataclasses
import json

import pytest

from pytest_hawzu import answers
from pytest_hawzu.model import Status, Step, TestOutcome
from tests.conftest import FAST, HAWZU, QUICK, assert_clean, only_execution, statuses

XDIST = ("--hawzu-release=1.4.0", "--hawzu-rate=1000", "-n", "2", *QUICK)
MODES = [pytest.param(FAST, id="no-xdist"), pytest.param(XDIST, id="n2")]


# -- pytest_hawzu_case_ids: runs where the test runs ----------------------------------------

DOCSTRING_MAPPING = '''
import re

HAWZU_ID = re.compile(r"^\\s*Hawzu:\\s*(.+)$", re.MULTILINE)


def pytest_hawzu_case_ids(item):
    """Case IDs from a "Hawzu: TCM-1, TCM-2" line in the test's docstring."""
    function = getattr(item, "function", None)
    match = HAWZU_ID.search(getattr(function, "__doc__", None) or "")
    if match is None:
        return None  # fall back to the @pytest.mark.hawzu marker
    return [part.strip() for part in match.group(1).split(",")]
'''

DOCUMENTED = '''
import pytest

def test_login():
    """Log in with a saved password.

    Hawzu: TCM-1
    """

def test_checkout():
    """Hawzu: TCM-2, TCM-3"""
    assert False

@pytest.mark.hawzu("TCM-4")
def test_marked_only():
    """No mapping line here: the marker decides."""

@pytest.mark.hawzu("TCM-9")
def test_docstring_wins():
    """Hawzu: TCM-5"""

def test_undocumented():
    pass
'''


@pytest.mark.parametrize("mode", MODES)
def test_a_conftest_can_map_tests_by_docstring(pytester, hawzu_env, mode):
    pytester.makeconftest(DOCSTRING_MAPPING)
    pytester.makepyfile(test_documented=DOCUMENTED)
    result = pytester.runpytest(*mode)
    assert statuses(only_execution(hawzu_env)) == {
        "TCM-1": "PASSED",
        "TCM-2": "FAILED",
        "TCM-3": "FAILED",
        "TCM-4": "PASSED",
        "TCM-5": "PASSED",
    }
    result.stdout.fnmatch_lines(["*1 test has no Hawzu case*"])


# -- pytest_hawzu_result: runs on the controller ---------------------------------------------

RESULT_HOOK = """
import dataclasses

from pytest_hawzu import Status


def pytest_hawzu_result(result, report):
    if "quarantine" in report.keywords:
        # Known flaky: report it as blocked, with the reason first.
        notes = "quarantined (bug 77)\\n\\n" + result.notes
        return dataclasses.replace(result, status=Status.BLOCKED, notes=notes.strip())
    if "experimental" in report.keywords:
        return False
    if result.worker is not None:
        return dataclasses.replace(result, notes=f"ran on {result.worker}")
    return None
"""

RESULT_SUITE = """
import pytest

@pytest.mark.hawzu("TCM-1")
@pytest.mark.quarantine
def test_flaky():
    assert False, "timing"

@pytest.mark.hawzu("TCM-2")
@pytest.mark.experimental
def test_not_ready():
    assert False

@pytest.mark.hawzu("TCM-3")
def test_plain():
    pass

@pytest.mark.hawzu("TCM-4")
@pytest.mark.experimental
def test_one_of_two():
    pass

@pytest.mark.hawzu("TCM-4")
def test_two_of_two():
    pass
"""


def suite_with_markers(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nmarkers =\n    quarantine\n    experimental\n")
    pytester.makeconftest(RESULT_HOOK)
    pytester.makepyfile(test_hooked=RESULT_SUITE)


@pytest.mark.parametrize("mode", MODES)
def test_a_result_hook_can_change_and_drop_results(pytester, hawzu_env, mode):
    suite_with_markers(pytester)
    pytester.runpytest(*mode)
    execution = only_execution(hawzu_env)
    results = execution["results"]
    assert statuses(execution) == {"TCM-1": "BLOCKED", "TCM-3": "PASSED", "TCM-4": "PASSED"}
    assert results["TCM-1"]["notes"].startswith(
        "quarantined (bug 77)\n\ntest_hooked.py::test_flaky"
    )
    assert "timing" in results["TCM-1"]["notes"]
    # The dropped test is not part of its case's combination either; and TCM-2,
    # whose only test was dropped, got no result at all (not even "not executed").
    assert results["TCM-4"]["automation"]["nodeid"] == "test_hooked.py::test_two_of_two"


def test_the_result_hook_sees_which_worker_ran_the_test(pytester, hawzu_env):
    suite_with_markers(pytester)
    pytester.runpytest(*XDIST)
    notes = only_execution(hawzu_env)["results"]["TCM-3"]["notes"]
    assert notes in ("ran on gw0", "ran on gw1")


def test_the_journal_holds_the_result_as_the_hook_left_it(pytester, hawzu_env):
    suite_with_markers(pytester)
    hawzu_env.fail_next(503, 1000, path="/results")  # keep the journal
    pytester.runpytest(*FAST, "--hawzu-flush-timeout=0.5")
    (journal,) = (pytester.path / ".hawzu").glob("*.jsonl")
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    tests = {r["nodeid"].split("::")[1]: r for r in records if r["type"] == "test"}
    assert set(tests) == {"test_flaky", "test_plain", "test_two_of_two"}
    assert tests["test_flaky"]["status"] == "blocked"


def test_a_bad_answer_from_the_result_hook_is_reported_and_ignored(pytester, hawzu_env):
    pytester.makeconftest("def pytest_hawzu_result(result, report):\n    return 'FAILED'\n")
    pytester.makepyfile(
        'import pytest\n\n@pytest.mark.hawzu("TCM-1")\ndef test_plain():\n    pass\n'
    )
    result = pytester.runpytest(*FAST)
    assert statuses(only_execution(hawzu_env)) == {"TCM-1": "PASSED"}
    result.stdout.fnmatch_lines(
        ["Hawzu: pytest_hawzu_result returned 'FAILED' for *::test_plain; expected None, *"]
    )


# -- pytest_hawzu_execution_created and pytest_hawzu_session_finished ------------------------

LIFECYCLE = """
import json
import os

calls = []

def pytest_hawzu_execution_created(execution):
    calls.append(["created", execution.id, execution.web_url])

def pytest_hawzu_session_finished(summary):
    sent = {status.name: n for status, n in summary.sent.items()}
    calls.append(["finished", summary.execution_id, sent, summary.ok, summary.completed])
    with open(os.environ["HOOK_LOG"], "w") as log:
        json.dump(calls, log)
"""

TWO = """
import pytest

@pytest.mark.hawzu("TCM-1")
def test_one():
    pass

@pytest.mark.hawzu("TCM-2")
def test_two():
    assert False
"""


@pytest.mark.parametrize("mode", MODES)
def test_execution_created_and_session_finished_are_called_once_each(
    pytester, hawzu_env, monkeypatch, mode
):
    log = pytester.path / "hooks.json"
    monkeypatch.setenv("HOOK_LOG", str(log))
    pytester.makeconftest(LIFECYCLE)
    pytester.makepyfile(test_two=TWO)
    pytester.runpytest(*mode)
    execution = only_execution(hawzu_env)
    created, finished = json.loads(log.read_text())
    assert created == ["created", execution["id"], f"{hawzu_env.url}/#{execution['id']}"]
    assert finished == ["finished", execution["id"], {"PASSED": 1, "FAILED": 1}, True, True]


def test_session_finished_is_called_when_hawzu_cannot_be_reached(pytester, hawzu_env, monkeypatch):
    log = pytester.path / "hooks.json"
    monkeypatch.setenv("HOOK_LOG", str(log))
    monkeypatch.setenv("HAWZU_API_TOKEN", "wrong")
    pytester.makeconftest(LIFECYCLE)
    pytester.makepyfile(test_two=TWO)
    pytester.runpytest(*FAST)
    (finished,) = json.loads(log.read_text())
    assert finished == ["finished", None, {}, False, False]


CHAT = """
import json
import os
import urllib.request

from pytest_hawzu.summary import counts


def pytest_hawzu_session_finished(summary):
    webhook = os.environ.get("CHAT_WEBHOOK_URL")
    execution = summary.delivery.execution
    if not webhook or execution is None:
        return
    text = f"{execution.title}: {counts(summary.sent)}\\n{execution.web_url}"
    if not summary.ok:
        text += "\\n(some results did not reach Hawzu; see the pytest output)"
    request = urllib.request.Request(
        webhook,
        data=json.dumps({"text": text}).encode(),
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).close()
"""


def test_a_conftest_can_post_the_summary_to_a_chat(pytester, hawzu_env, httpserver, monkeypatch):
    httpserver.expect_oneshot_request("/hooks/chat", method="POST").respond_with_data("ok")
    monkeypatch.setenv("CHAT_WEBHOOK_URL", httpserver.url_for("/hooks/chat"))
    pytester.makeconftest(CHAT)
    pytester.makepyfile(test_two=TWO)
    pytester.runpytest(*FAST, "--hawzu-title=nightly checkout")
    httpserver.check_assertions()
    ((request, _),) = httpserver.log
    execution = only_execution(hawzu_env)
    assert request.get_json() == {
        "text": f"nightly checkout: 1 passed, 1 failed\n{hawzu_env.url}/#{execution['id']}"
    }


# -- odd answers from users' hooks: one line each, never a crash -----------------------------

ODD_CASE_IDS = """
def pytest_hawzu_case_ids(item):
    answers = {
        "test_str": "TCM-1",
        "test_gen": (c for c in ["TCM-2"]),
        "test_int": 7,
        "test_empty": [],
        "test_bad_id": ["TCM-3", 5],
        "test_raises": KeyError("no such test in the catalogue"),
    }
    answer = answers.get(item.name)
    if isinstance(answer, Exception):
        raise answer
    return answer
"""

ODD_CASE_IDS_SUITE = """
import pytest

def test_str(): pass
def test_gen(): pass
def test_int(): pass

@pytest.mark.hawzu("TCM-5")
def test_empty(): pass

def test_bad_id(): pass
def test_raises(): pass

@pytest.mark.hawzu()
def test_bare_marker(): pass

@pytest.mark.hawzu("TCM-6")
def test_plain(): pass
"""


@pytest.mark.parametrize("mode", MODES)
def test_odd_case_id_answers_are_one_warning_each_and_the_run_goes_on(pytester, hawzu_env, mode):
    pytester.makeconftest(ODD_CASE_IDS)
    pytester.makepyfile(test_odd=ODD_CASE_IDS_SUITE)
    # -W default: this suite runs with warnings as errors, the inner session must not.
    result = pytester.runpytest(*mode, "-W", "default")
    assert result.ret == 0
    execution = only_execution(hawzu_env)
    # A string is one case ID, any iterable is read once, an empty list means
    # "no cases" and everything else is a warning: the test is not reported.
    assert statuses(execution) == {"TCM-1": "PASSED", "TCM-2": "PASSED", "TCM-6": "PASSED"}
    assert execution["status"] == "COMPLETED"
    assert_clean(result)
    for line in [  # in any order: xdist's workers warn as they go
        "*test_odd.py::test_int: pytest_hawzu_case_ids returned 7; *",
        "*test_odd.py::test_bad_id: pytest_hawzu_case_ids returned *'TCM-3', 5*; *",
        "*test_odd.py::test_raises: pytest_hawzu_case_ids raised KeyError: *catalogue*",
        "*test_odd.py::test_bare_marker: @pytest.mark.hawzu needs Hawzu case IDs *, got none;*",
    ]:
        result.stdout.fnmatch_lines([line])
    assert "got None" not in result.stdout.str()


ODD_RESULTS = """
import dataclasses

CHANGES = {
    "test_bytes_notes": {"notes": b"bytes"},
    "test_int_notes": {"notes": 123},
    "test_str_case_ids": {"case_ids": "TCM-7"},
    "test_bad_case_id": {"case_ids": ("TCM 1",)},
    "test_steps_text": {"steps": "setup, call"},
    "test_text_duration": {"duration": "1.5"},
}

def pytest_hawzu_result(result, report):
    name = result.nodeid.rsplit("::", 1)[-1]
    if name == "test_raising_hook":
        raise ValueError("the quarantine list is unreadable")
    change = CHANGES.get(name)
    return dataclasses.replace(result, **change) if change else None
"""


def test_a_result_hook_answer_with_wrong_fields_is_one_line_and_sent_unchanged(pytester, hawzu_env):
    pytester.makeconftest(ODD_RESULTS)
    names = [
        "test_bytes_notes",
        "test_int_notes",
        "test_str_case_ids",
        "test_bad_case_id",
        "test_steps_text",
        "test_text_duration",
        "test_raising_hook",
    ]
    body = "import pytest\n" + "".join(
        f'\n@pytest.mark.hawzu("TCM-{n}")\ndef {name}():\n    pass\n'
        for n, name in enumerate(names, start=1)
    )
    pytester.makepyfile(test_odd=body)
    result = pytester.runpytest(*FAST)
    assert result.ret == 0
    execution = only_execution(hawzu_env)
    assert statuses(execution) == {f"TCM-{n}": "PASSED" for n in range(1, len(names) + 1)}
    assert all(not r.get("notes") for r in execution["results"].values())
    assert execution["status"] == "COMPLETED"
    assert_clean(result)
    result.stdout.fnmatch_lines(
        [
            "Hawzu: pytest_hawzu_result returned notes = b'bytes' for *::test_bytes_notes; "
            "notes must be text; the result is sent unchanged",
            "Hawzu: pytest_hawzu_result returned notes = 123 for *",
            "Hawzu: pytest_hawzu_result returned case_ids = 'TCM-7' for *; case_ids must be "
            "a tuple of Hawzu case IDs*",
            "Hawzu: pytest_hawzu_result returned case_ids = ('TCM 1',) for *; case_ids must *",
            "Hawzu: pytest_hawzu_result returned steps = 'setup, call' for *",
            "Hawzu: pytest_hawzu_result returned duration = '1.5' for *",
            "Hawzu: pytest_hawzu_result raised ValueError: the quarantine list is unreadable "
            "for *::test_raising_hook; the result is sent unchanged",
        ],
        consecutive=False,
    )


MOVING_RESULTS = """
import dataclasses

def pytest_hawzu_result(result, report):
    name = result.nodeid.rsplit("::", 1)[-1]
    if name == "test_moved":
        return dataclasses.replace(result, case_ids=["TCM-8"])
    if name == "test_emptied":
        return dataclasses.replace(result, case_ids=())
    if name == "test_dropped":
        return False
    if name.startswith("test_renamed"):  # one platform's run of a shared suite, say
        return dataclasses.replace(result, nodeid="linux::" + result.nodeid)
    return None
"""

MOVING_SUITE = """
import pytest

@pytest.mark.hawzu("TCM-7")
def test_moved(): pass

@pytest.mark.hawzu("TCM-9")
def test_emptied(): pass

@pytest.mark.hawzu("TCM-10")
def test_dropped(): pass

@pytest.mark.hawzu("TCM-11")
def test_plain(): pass

@pytest.mark.hawzu("TCM-12")
@pytest.mark.parametrize("n", [1, 2])
def test_renamed(n): pass
"""


def test_a_test_the_result_hook_moves_empties_or_renames_leaves_its_case_alone(pytester, hawzu_env):
    # The test ran: its first case must not be told the run ended before it.
    pytester.makeconftest(MOVING_RESULTS)
    pytester.makepyfile(test_moving=MOVING_SUITE)
    pytester.runpytest(*FAST)
    assert statuses(only_execution(hawzu_env)) == {
        "TCM-8": "PASSED",
        "TCM-11": "PASSED",
        "TCM-12": "PASSED",
    }


def test_hawzu_upload_sends_what_the_run_would_have_after_a_hook_moved_or_dropped(
    pytester, hawzu_env
):
    pytester.makeconftest(MOVING_RESULTS)
    pytester.makepyfile(test_moving=MOVING_SUITE)
    hawzu_env.fail_next(503, 10_000, retry_after=60)
    pytester.runpytest(*FAST, "--hawzu-flush-timeout=0.5")
    hawzu_env.clear_faults()
    (journal,) = (pytester.path / ".hawzu").glob("*.jsonl")
    uploaded = pytester.run(HAWZU, "upload", str(journal), timeout=120)
    assert uploaded.ret == 0, uploaded.stdout.str()
    assert statuses(only_execution(hawzu_env)) == {
        "TCM-8": "PASSED",
        "TCM-11": "PASSED",
        "TCM-12": "PASSED",
    }


RAISING_LIFECYCLE = """
def pytest_hawzu_execution_created(execution):
    raise RuntimeError("the chat webhook is down")

def pytest_hawzu_session_finished(summary):
    raise RuntimeError("the dashboard is down")
"""


def test_lifecycle_hooks_that_raise_are_one_line_each_and_the_run_completes(pytester, hawzu_env):
    pytester.makeconftest(RAISING_LIFECYCLE)
    pytester.makepyfile(test_two=TWO)
    result = pytester.runpytest(*FAST)
    assert_clean(result)
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # test_two's own failure
    result.stdout.fnmatch_lines(
        [
            "Hawzu: pytest_hawzu_execution_created raised RuntimeError: the chat webhook is down",
        ]
    )
    result.stdout.fnmatch_lines(
        ["Hawzu: pytest_hawzu_session_finished raised RuntimeError: the dashboard is down"]
    )
    assert "internal error" not in result.stdout.str()
    assert only_execution(hawzu_env)["status"] == "COMPLETED"


# -- the checks themselves ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("TCM-1", ("TCM-1",)),
        (["TCM-1", "TCM-2", "TCM-1"], ("TCM-1", "TCM-2")),
        ((c for c in ["TCM-3"]), ("TCM-3",)),
        ([], ()),
        (7, None),
        (b"TCM-1", None),
        ({"TCM-1": 1}, None),
        (["TCM 1"], None),
        (["TCM-1", None], None),
    ],
)
def test_case_ids_from_a_hook_are_one_string_or_any_iterable_of_them(answer, expected):
    assert answers.as_case_ids(answer) == expected


OUTCOME = TestOutcome(nodeid="t.py::test", case_ids=("TCM-1",), status=Status.PASSED)


@pytest.mark.parametrize(
    "change",
    [
        {"duration": True},
        {"reruns": 1.5},
        {"started_at": "now"},
        {"started_at": 1.8e12},
        {"duration": float("nan")},
        {"duration": -5.0},
        {"reruns": -3},
        {"reruns": True},
        {"worker": 1},
        {"status": "PASSED"},
        {"nodeid": None},
        {"steps": (Step("call", "passed"),)},
        {"case_ids": ("TCM-1", 2)},
    ],
)
def test_a_changed_outcome_with_a_wrong_field_says_which(change):
    shown, why = answers.checked_outcome(dataclasses.replace(OUTCOME, **change))
    (name,) = change
    assert shown.startswith(f"{name} = ")
    assert why.startswith(f"{name} must be")


def test_lists_in_a_changed_outcome_are_taken_as_tuples():
    steps = [Step("call", Status.FAILED, "boom")]
    changed = dataclasses.replace(OUTCOME, case_ids=["TCM-2"], steps=steps)
    checked = answers.checked_outcome(changed)
    assert checked == dataclasses.replace(OUTCOME, case_ids=("TCM-2",), steps=tuple(steps))


OUTCOME_IN_HOOK = """
import os
import pytest

def _stop(hook):
    if os.environ["HOOK"] == hook:
        {call}

def pytest_hawzu_case_ids(item):
    _stop("case_ids")

def pytest_hawzu_result(result, report):
    _stop("result")

def pytest_hawzu_execution_created(execution):
    _stop("execution_created")

def pytest_hawzu_session_finished(summary):
    _stop("session_finished")
"""


@pytest.mark.parametrize(
    "call",
    [
        'pytest.skip("not here")',
        'pytest.fail("no")',
        'pytest.xfail("later")',
        'pytest.importorskip("no_such_module_anywhere")',
    ],
)
@pytest.mark.parametrize("hook", ["case_ids", "result", "execution_created", "session_finished"])
def test_pytest_outcomes_raised_in_a_hook_are_one_line_like_any_exception(
    pytester, hawzu_env, monkeypatch, hook, call
):
    """pytest.skip() and friends raise BaseExceptions; in a hook they are the hook's failure."""
    monkeypatch.setenv("HOOK", hook)
    pytester.makeconftest(OUTCOME_IN_HOOK.format(call=call))
    pytester.makepyfile(test_two=TWO)
    # -W default: this suite runs with warnings as errors, the inner session must not.
    result = pytester.runpytest(*FAST, "-W", "default")
    assert_clean(result)
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # the tests' own
    result.assert_outcomes(passed=1, failed=1, warnings=2 if hook == "case_ids" else 0)
    result.stdout.fnmatch_lines([f"*pytest_hawzu_{hook} raised *"])
    if hook == "case_ids":  # a warning for each test, which then reports nothing
        assert hawzu_env.executions() == []
    else:
        assert statuses(only_execution(hawzu_env)) == {"TCM-1": "PASSED", "TCM-2": "FAILED"}


@pytest.mark.parametrize("hook", ["case_ids", "result", "execution_created", "session_finished"])
def test_a_hook_s_multi_line_error_is_one_line(pytester, hawzu_env, monkeypatch, hook):
    """pytest rewrites a conftest's asserts into messages of several lines."""
    monkeypatch.setenv("HOOK", hook)
    call = 'ok = False\n        assert ok, "chat webhook failed"'
    pytester.makeconftest(OUTCOME_IN_HOOK.format(call=call))
    pytester.makepyfile(test_two=TWO)
    # -W default: this suite runs with warnings as errors, the inner session must not.
    result = pytester.runpytest(*FAST, "-W", "default")
    assert [line for line in result.outlines if "raised AssertionError: chat webhook" in line]
    assert not [line for line in result.outlines if "where False" in line]
    assert not [line for line in result.outlines if line.strip() == "assert False"]


def test_pytest_exit_in_a_hook_at_the_end_stops_with_its_code_after_reporting(pytester, hawzu_env):
    """The execution is announced during the end-of-session flush."""
    pytester.makeconftest(
        """
import pytest

def pytest_hawzu_execution_created(execution):
    pytest.exit("stop from hook", returncode=3)
"""
    )
    pytester.makepyfile(test_two=TWO)
    # Three start-up requests of 0.3 s each: the two tests are over long before
    # the execution opens. (Opened while tests run, the exit is pytest's own.)
    hawzu_env.set_latency(0.3)
    result = pytester.runpytest(*FAST)
    assert result.ret == 3
    assert "internal error" not in result.stdout.str()
    result.stdout.fnmatch_lines(["*- Hawzu -*", "execution exe_* (completed)*"])
    assert statuses(only_execution(hawzu_env)) == {"TCM-1": "PASSED", "TCM-2": "FAILED"}


def test_a_session_finished_hook_that_raises_is_in_the_summary_too(pytester, hawzu_env):
    pytester.makeconftest(
        """
def pytest_hawzu_session_finished(summary):
    raise RuntimeError("webhook down")
"""
    )
    pytester.makepyfile(test_two=TWO)
    result = pytester.runpytest(*FAST)
    line = "Hawzu: pytest_hawzu_session_finished raised RuntimeError: webhook down"
    # Where it happens, and again in the Hawzu section below it.
    result.stdout.fnmatch_lines([line, "*- Hawzu -*", line])


OPTIONAL_HOOKS = """
import pytest

@pytest.hookimpl(optionalhook=True)
def pytest_hawzu_case_ids(item):
    return ["TCM-1"]

@pytest.hookimpl(optionalhook=True)
def pytest_hawzu_result(result, report):
    return None

@pytest.hookimpl(optionalhook=True)
def pytest_hawzu_session_finished(summary):
    pass
"""


def test_hooks_marked_optional_as_the_readme_shows_load_with_the_plugin_disabled(pytester):
    pytester.makeconftest(OPTIONAL_HOOKS)
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest("-p", "no:hawzu")
    assert result.ret == pytest.ExitCode.OK


GENERATOR_ANSWER = """
import pytest

@pytest.hookimpl(optionalhook=True)
def pytest_hawzu_case_ids(item):
    # A generator: it runs, and raises, only when the answer is read.
    for line in item.function.__doc__.splitlines():
        if line.startswith("Hawzu:"):
            yield line.split(":", 1)[1].strip()
"""


def test_a_hook_answer_that_raises_while_read_is_a_warning_for_its_test(pytester, hawzu_env):
    pytester.makeconftest(GENERATOR_ANSWER)
    pytester.makepyfile(
        '''
        def test_doc():
            """Hawzu: TCM-1"""

        def test_nodoc():
            pass
        '''
    )
    # -W default: this suite runs with warnings as errors, the inner session must not.
    result = pytester.runpytest(*FAST, "-W", "default")
    result.assert_outcomes(passed=2, warnings=1)
    result.stdout.fnmatch_lines(["*test_nodoc: pytest_hawzu_case_ids raised AttributeError*"])
    assert statuses(only_execution(hawzu_env)) == {"TCM-1": "PASSED"}


NOTIFY_PLUGIN = """
def pytest_hawzu_execution_created(execution):
    print("NOTIFY created", execution.id)

def pytest_hawzu_session_finished(summary):
    print("NOTIFY finished", summary.execution_id)
"""

QUIET_PLUGIN = """
def pytest_hawzu_session_finished():  # pluggy lets it take fewer arguments
    print("NOTIFY finished, without arguments")
"""

BROKEN_CONFTEST = """
import pytest

@pytest.hookimpl(optionalhook=True)
def pytest_hawzu_execution_created(execution):
    raise RuntimeError("conftest bug (created)")

@pytest.hookimpl(optionalhook=True)
def pytest_hawzu_session_finished(summary):
    raise RuntimeError("conftest bug (finished)")
"""


def test_one_implementation_that_raises_does_not_keep_the_others_from_running(pytester, hawzu_env):
    pytester.makepyfile(notify=NOTIFY_PLUGIN, quiet=QUIET_PLUGIN)
    pytester.makeconftest(BROKEN_CONFTEST)
    pytester.makepyfile(
        test_one='import pytest\n\n@pytest.mark.hawzu("TCM-1")\ndef test_a():\n    pass\n'
    )
    pytester.syspathinsert()
    result = pytester.runpytest(*FAST, "-p", "notify", "-p", "quiet", "-s", "test_one.py")
    result.stdout.fnmatch_lines_random(
        [
            "NOTIFY created exe_1",
            "NOTIFY finished exe_1",
            "NOTIFY finished, without arguments",
            "Hawzu: pytest_hawzu_execution_created (*conftest.py) raised RuntimeError: "
            "conftest bug (created)",
            "Hawzu: pytest_hawzu_session_finished (*conftest.py) raised RuntimeError: "
            "conftest bug (finished)",
        ]
    )
