"""The suite's own HTTP fakes and log captures never see the plugin's requests.

Test suites fake HTTP by patching requests and urllib3 classes while a test
runs, and look at the log records a test made; the sender thread talks to
Hawzu at the same time. Each fake below patches what a popular library
patches, the way it does, and the test checks that the plugin's upload went
past it to the real server while the test's fake saw only what the test
itself sent (nothing).
"""

from __future__ import annotations

import pytest

from pytest_hawzu import transport
from tests.conftest import FAST, assert_clean, only_execution, statuses

SUITE = """
import json, os, time, urllib.request
from unittest import mock

import pytest
import requests
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

def stored(case_id):
    # urllib, not requests: this check must not pass through the fakes.
    url = os.environ["HAWZU_URL"] + "/_sandbox/executions"
    with urllib.request.urlopen(url, timeout=5) as answer:
        return any(case_id in e["results"] for e in json.load(answer)["data"])

def patches(fake):
    if TECHNIQUE == "responses":
        return [mock.patch("requests.adapters.HTTPAdapter.send", fake)]
    if TECHNIQUE == "requests-mock":
        return [mock.patch("requests.Session.send", fake),
                mock.patch("requests.Session.get_adapter", fake)]
    if TECHNIQUE == "session-request":
        return [mock.patch("requests.Session.request", fake)]
    if TECHNIQUE == "pool-urlopen":  # a hand-made mock one level down
        return [mock.patch.object(pool, name, fake)
                for pool in (HTTPConnectionPool, HTTPSConnectionPool)
                for name in ("urlopen", "_make_request")]
    # vcrpy and pytest-recording: urllib3's pools get other connections.
    return [mock.patch.object(pool, name, fake)
            for pool in (HTTPConnectionPool, HTTPSConnectionPool)
            for name in ("_get_conn", "_new_conn")]

@pytest.mark.hawzu("TCM-1")
def test_first():
    pass

@pytest.mark.hawzu("TCM-2")
def test_fakes_its_http():
    seen = []

    def fake(*args, **kwargs):
        seen.append(args)
        raise requests.ConnectionError("answered by the test's fake")

    active = patches(fake)
    for patch in active:
        patch.start()
    try:
        end = time.monotonic() + 15
        while not stored("TCM-1"):  # sent while the fake is in place
            assert time.monotonic() < end, "TCM-1 never reached Hawzu"
            time.sleep(0.02)
    finally:
        for patch in active:
            patch.stop()
    assert seen == []
"""


# The fake is in place from the moment its module is imported, before the
# plugin's first request: what it patches was bound when the plugin loaded.
FAKED_FROM_IMPORT = (
    SUITE.split("@pytest.mark.hawzu", maxsplit=1)[0]
    + """
SEEN = []

def fake(*args, **kwargs):
    SEEN.append(args)
    raise requests.ConnectionError("answered by the test's fake")

ACTIVE = patches(fake)
for patch in ACTIVE:
    patch.start()

@pytest.mark.hawzu("TCM-1")
def test_first():
    pass

@pytest.mark.hawzu("TCM-2")
def test_last():
    try:
        end = time.monotonic() + 15
        while not stored("TCM-1"):
            assert time.monotonic() < end, "TCM-1 never reached Hawzu"
            time.sleep(0.02)
    finally:
        for patch in ACTIVE:
            patch.stop()
    assert SEEN == []
"""
)


@pytest.mark.parametrize("suite", [SUITE, FAKED_FROM_IMPORT], ids=["in-a-test", "from-import"])
@pytest.mark.parametrize(
    "technique", ["responses", "requests-mock", "session-request", "pool-urlopen", "vcrpy"]
)
def test_the_suites_http_fakes_do_not_see_the_upload(pytester, hawzu_env, technique, suite):
    pytester.makepyfile(f"TECHNIQUE = {technique!r}\n" + suite)
    result = pytester.runpytest_subprocess(*FAST)
    assert_clean(result)
    assert result.ret == pytest.ExitCode.OK, result.outlines
    assert statuses(only_execution(hawzu_env)) == {"TCM-1": "PASSED", "TCM-2": "PASSED"}


LOGS = """
import json, logging, os, time, urllib.request
import pytest

def stored(case_id):
    url = os.environ["HAWZU_URL"] + "/_sandbox/executions"
    with urllib.request.urlopen(url, timeout=5) as answer:
        return any(case_id in e["results"] for e in json.load(answer)["data"])

@pytest.mark.hawzu("TCM-1")
def test_first():
    pass

@pytest.mark.hawzu("TCM-2")
def test_checks_its_own_logs(caplog):
    caplog.set_level(logging.DEBUG)
    end = time.monotonic() + 15
    while not stored("TCM-1"):  # the upload happens while this test runs
        assert time.monotonic() < end, "TCM-1 never reached Hawzu"
        time.sleep(0.02)
    logging.getLogger("app").info("hello")
    assert [r.getMessage() for r in caplog.records] == ["hello"]
"""


def test_a_tests_captured_logs_hold_no_record_of_the_upload(pytester, hawzu_env):
    pytester.makepyfile(LOGS)
    result = pytester.runpytest_subprocess(*FAST)
    assert_clean(result)
    assert result.ret == pytest.ExitCode.OK, result.outlines
    assert statuses(only_execution(hawzu_env)) == {"TCM-1": "PASSED", "TCM-2": "PASSED"}


@pytest.mark.parametrize(
    ("value", "shown"),
    [("1", True), ("yes", True), ("0", False), ("false", False), ("No", False), ("", False)],
)
def test_hawzu_log_http_is_off_for_0_false_no_and_empty(monkeypatch, value, shown):
    monkeypatch.setenv("HAWZU_LOG_HTTP", value)
    assert (transport.quieter() is not transport.quiet) is shown
