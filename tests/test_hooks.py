"""The extension hooks, each through a conftest in a real session."""

from __future__ import annotations

import json

import pytest

from tests.conftest import FAST, QUICK, only_execution, statuses

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
