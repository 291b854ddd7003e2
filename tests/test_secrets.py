"""The API token never leaves the Authorization header.

Every failure path runs with requests' and urllib3's debug logging on, the
plugin's own requests included (HAWZU_LOG_HTTP), shown live and also written
out record by record, and then stdout, stderr, the log records and every file
in the spool directory are searched for the token.
"""

from __future__ import annotations

import re
import socket
import threading
from typing import Any

import pytest

from pytest_hawzu.client import ApiError, HawzuClient, HawzuError
from pytest_hawzu.model import CaseResult, Status
from pytest_hawzu.retry import Retrier, RetryPolicy
from pytest_hawzu.sandbox import Sandbox
from pytest_hawzu.startup import Plan, open_execution
from pytest_hawzu.throttle import Throttle
from tests.conftest import (
    DEBUG_LOGS,
    FAST,
    HAWZU,
    QUICK,
    TOKEN,
    assert_clean,
    assert_no_token,
    only_execution,
    spool_files,
    statuses,
)

# Every log record of the session, whatever its level or thread, with its
# traceback if it has one: more than log_cli shows.
RECORDER = """
import logging

class Everything(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.stream = open("records.log", "w")

    def emit(self, record):
        text = self.format(record)
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        self.stream.write(repr(record.args) + " " + text + "\\n")
        self.stream.flush()

handler = Everything()

def pytest_configure(config):
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.DEBUG)

def pytest_unconfigure(config):
    logging.getLogger().removeHandler(handler)
    handler.stream.close()
"""

SUITE = """
import pytest

@pytest.mark.hawzu("TCM-1")
def test_one():
    pass

@pytest.mark.hawzu("TCM-2")
def test_two():
    assert 1 == 2

@pytest.mark.hawzu("TCM-999")
def test_unknown_case():
    pass
"""


@pytest.fixture(autouse=True)
def log_the_plugins_http(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAWZU_LOG_HTTP", "1")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def check(
    pytester: pytest.Pytester, result: Any, token: str = TOKEN, *, connected: bool = True
) -> None:
    assert_clean(result)
    assert_no_token(result, pytester.path / ".hawzu", token=token)
    records = pytester.path / "records.log"
    if records.exists():
        text = records.read_text()
        assert "127.0.0.1" in text or not connected, "the recorder saw no connection"
        assert token not in text


def session(pytester: pytest.Pytester, *args: str, subprocess: bool = False) -> Any:
    pytester.makeconftest(RECORDER)
    pytester.makepyfile(SUITE)
    runner = pytester.runpytest_subprocess if subprocess else pytester.runpytest
    return runner(*FAST, *DEBUG_LOGS, "--hawzu-flush-timeout=1", *args)


FAILURES = [
    pytest.param(lambda sb: None, id="healthy-with-rejection"),
    pytest.param(lambda sb: sb.fail_next(429, 2, retry_after=0), id="429"),
    pytest.param(
        lambda sb: sb.fail_next(429, 1, retry_after="Thu, 01 Jan 1970 00:00:00 GMT"), id="429-date"
    ),
    pytest.param(lambda sb: sb.fail_next(500, 2), id="500"),
    pytest.param(lambda sb: sb.fail_next(503, 2, retry_after=0), id="503"),
    pytest.param(lambda sb: sb.drop_next(2), id="dropped"),
    pytest.param(lambda sb: sb.fail_next(400, 1000, path="/results"), id="400"),
    pytest.param(lambda sb: sb.fail_next(401, 1000, path="/results"), id="401-results"),
    pytest.param(lambda sb: sb.fail_next(401, 1000), id="401-start"),
    pytest.param(lambda sb: sb.fail_next(403, 1000, path="/executions"), id="403"),
    pytest.param(lambda sb: sb.fail_next(404, 1000, path="/results"), id="404"),
    pytest.param(lambda sb: sb.fail_next(409, 1000, code="RELEASE_LOCKED"), id="409"),
    pytest.param(lambda sb: sb.fail_next(422, 1000, path="/executions"), id="422"),
    pytest.param(lambda sb: sb.fail_next(503, 10_000, retry_after=60), id="down"),
]


@pytest.mark.parametrize("failure", FAILURES)
def test_no_failure_path_shows_the_token(pytester, hawzu_env, failure):
    failure(hawzu_env)
    result = session(pytester)
    check(pytester, result)
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_timeouts_do_not_show_the_token(pytester, hawzu_env):
    hawzu_env.set_latency(0.5)
    result = session(pytester, "--hawzu-timeout=0.1", "--hawzu-flush-timeout=1")
    check(pytester, result)


def test_an_unreachable_hawzu_does_not_show_the_token(pytester, hawzu_env, monkeypatch):
    monkeypatch.setenv("HAWZU_URL", f"http://127.0.0.1:{closed_port()}")
    result = session(pytester, "--hawzu-flush-timeout=1")
    check(pytester, result)
    result.stdout.fnmatch_lines(["journal kept: *"])


def test_strict_abort_does_not_show_the_token(pytester, hawzu_env):
    hawzu_env.fail_next(401, 1000)
    result = session(pytester, "--hawzu-strict")
    check(pytester, result)
    assert result.ret != 0


def test_a_separate_process_does_not_show_the_token(pytester, hawzu_env):
    # Output as CI logs capture it: the real stdout and stderr of a pytest process.
    hawzu_env.fail_next(503, 2)
    hawzu_env.fail_next(401, 1000, path="/results")
    result = session(pytester, subprocess=True)
    check(pytester, result)


def test_hawzu_upload_does_not_show_the_token(pytester, hawzu_env):
    hawzu_env.fail_next(503, 10_000, retry_after=60)
    session(pytester, "--hawzu-flush-timeout=0.5")
    hawzu_env.clear_faults()
    hawzu_env.fail_next(401, 1)
    refused = pytester.run(HAWZU, "upload", ".hawzu", timeout=120)
    check(pytester, refused)
    assert refused.ret == 1
    delivered = pytester.run(HAWZU, "upload", ".hawzu", timeout=120)
    check(pytester, delivered)
    assert delivered.ret == 0


# -- tokens that cannot go into a header --------------------------------------------------

# A copied token may carry a line break or an invisible character. requests
# refuses such a header and quotes it in its error; http.client cannot encode
# non-Latin-1 at all. Either way the token must not be printed.
ODD_TOKENS = [
    pytest.param(TOKEN + "\n", id="trailing-newline"),
    pytest.param(" " + TOKEN + "\r\n", id="surrounding-whitespace"),
]
BAD_TOKENS = [
    pytest.param(TOKEN[:6] + "\n" + TOKEN[6:], id="inner-newline"),
    pytest.param(TOKEN[:6] + "\u200b" + TOKEN[6:], id="zero-width-space"),
    pytest.param(TOKEN[:6] + "\u00e9" + TOKEN[6:], id="non-ascii"),
    pytest.param(TOKEN[:6] + " " + TOKEN[6:], id="inner-space"),
    # A byte that is not UTF-8: Python holds it as a lone surrogate.
    pytest.param(TOKEN[:6] + "\udcff" + TOKEN[6:], id="not-utf-8"),
]


@pytest.mark.parametrize("token", ODD_TOKENS)
def test_surrounding_whitespace_of_the_token_is_ignored(pytester, hawzu_env, monkeypatch, token):
    monkeypatch.setenv("HAWZU_API_TOKEN", token)
    result = session(pytester)
    check(pytester, result, token=TOKEN)
    assert statuses(only_execution(hawzu_env)) == {"TCM-1": "PASSED", "TCM-2": "FAILED"}


@pytest.mark.parametrize("token", BAD_TOKENS)
def test_a_token_that_cannot_be_sent_is_one_clear_line(pytester, hawzu_env, monkeypatch, token):
    monkeypatch.setenv("HAWZU_API_TOKEN", token)
    result = session(pytester)
    for part in (TOKEN[:6], TOKEN[6:]):
        check(pytester, result, token=part, connected=False)
    result.stdout.fnmatch_lines(["not reported: HAWZU_API_TOKEN *"])
    assert hawzu_env.requests() == []
    assert result.ret == pytest.ExitCode.TESTS_FAILED


@pytest.mark.parametrize("token", BAD_TOKENS)
def test_hawzu_upload_with_a_token_that_cannot_be_sent(pytester, hawzu_env, monkeypatch, token):
    session(pytester, "--hawzu-flush-timeout=0.5", "--hawzu-url=http://127.0.0.1:9")
    monkeypatch.setenv("HAWZU_API_TOKEN", token)
    result = pytester.run(HAWZU, "upload", ".hawzu", "--url", hawzu_env.url, timeout=60)
    for part in (TOKEN[:6], TOKEN[6:]):
        check(pytester, result, token=part)
    assert result.ret == 2
    assert result.errlines[0].startswith("hawzu: error: HAWZU_API_TOKEN ")
    assert hawzu_env.requests() == []


# -- the objects themselves -------------------------------------------------------------------


def test_client_repr_and_error_messages_hold_no_token(hawzu_env):
    with Sandbox(token="another-token") as other:
        client = HawzuClient(other.url, TOKEN, timeout=2)
        assert TOKEN not in repr(client)
        with pytest.raises(HawzuError) as refused:
            client.me()
        client.close()
    unreachable = HawzuClient(f"http://127.0.0.1:{closed_port()}", TOKEN, timeout=2)
    with pytest.raises(HawzuError) as transport:
        unreachable.me()
    unreachable.close()
    retrier = Retrier(
        Throttle(1000), RetryPolicy(max_attempts=2, backoff_base=0), sleep=threading.Event().wait
    )
    gone = HawzuClient(f"http://127.0.0.1:{closed_port()}", TOKEN, timeout=2)
    with pytest.raises(HawzuError) as startup:
        open_execution(gone, retrier.call, Plan(release="1.4.0", project=None, title="t"))
    gone.close()
    for error in (refused.value, transport.value, startup.value):
        assert TOKEN not in str(error)
        assert TOKEN not in repr(error)
        assert all(TOKEN not in str(arg) for arg in error.args)


def test_the_sandbox_never_logs_the_authorization_header(pytester, hawzu_env):
    result = session(pytester, *QUICK)
    check(pytester, result)
    for record in hawzu_env.requests():
        assert "Authorization" not in record.headers
        assert TOKEN not in repr(record)


# -- what a server says back ------------------------------------------------------------------


def _echoing(httpserver: Any) -> HawzuClient:
    return HawzuClient(httpserver.url_for("/").rstrip("/"), TOKEN, timeout=5)


def test_an_error_that_echoes_the_token_in_any_field_does_not_show_it(httpserver):
    httpserver.expect_request(re.compile(".*")).respond_with_json(
        {
            "error": {
                "code": f"BAD_{TOKEN}",
                "message": f"token {TOKEN} is invalid",
                "details": {"token": TOKEN, "seen": [TOKEN]},
            }
        },
        status=401,
    )
    client = _echoing(httpserver)
    with pytest.raises(ApiError) as raised:
        client.me()
    client.close()
    error = raised.value
    assert TOKEN not in str(error)
    assert TOKEN not in error.code
    assert TOKEN not in repr(dict(error.details))


def test_rejected_items_that_echo_the_token_do_not_show_it(httpserver):
    httpserver.expect_request(re.compile(".*")).respond_with_json(
        {
            "accepted": 0,
            "rejected": [
                {
                    "index": 0,
                    "test_case_id": "TCM-1",
                    "error": {"code": f"X_{TOKEN}", "message": TOKEN},
                }
            ],
        }
    )
    client = _echoing(httpserver)
    outcome = client.post_results("exe_1", [CaseResult("TCM-1", Status.PASSED)])
    client.close()
    (rejection,) = outcome.rejected
    assert TOKEN not in repr(rejection)


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(lambda r: r.respond_with_json({"echo": TOKEN}), id="json"),
        pytest.param(
            # The token just past the excerpt's cut: cut first, it would show in part.
            lambda r: r.respond_with_data("x" * 70 + TOKEN, content_type="text/html"),
            id="html",
        ),
    ],
)
def test_an_answer_that_is_not_the_api_does_not_show_the_token(httpserver, answer):
    answer(httpserver.expect_request(re.compile(".*")))
    client = _echoing(httpserver)
    with pytest.raises(ApiError) as raised:
        client.get_release("rel_7")
    client.close()
    assert raised.value.code == "NOT_THE_API"
    assert TOKEN[:8] not in str(raised.value)


def test_a_loopback_url_is_never_sent_through_a_proxy(sb, monkeypatch):
    """Plain HTTP is for loopback only; through a proxy the token would cross the
    network in clear, and a sandbox run behind a company proxy would fail."""
    with socket.socket() as proxy:
        proxy.bind(("127.0.0.1", 0))
        proxy.listen()
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.getsockname()[1]}")
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.getsockname()[1]}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        client = HawzuClient(sb.url, sb.token, timeout=5)
        assert client.me().project_ids
        client.close()
    assert [r.path for r in sb.requests()] == ["/api/v1/me"]


# -- a test that shows the token itself ----------------------------------------------------------

SHOWS_THE_TOKEN = """
import os
import pytest
from pytest_hawzu import hawzu_step

TOKEN = os.environ["HAWZU_API_TOKEN"]

@pytest.mark.hawzu("TCM-1")
def test_prints_its_environment():
    print("environment:", TOKEN)
    with hawzu_step(f"log in as {TOKEN}"):
        assert TOKEN == "expected", f"wrong token {TOKEN}"

@pytest.mark.hawzu("TCM-2")
@pytest.mark.parametrize("token", [TOKEN, "other"])
def test_named_after_it(token):
    print("environment:", token)
    assert 0

@pytest.mark.hawzu("TCM-3")
def test_fails_with_it_where_the_notes_are_cut():
    # The error line is cut at half the notes limit (8,000): the token across it.
    raise ValueError("x" * (4000 - len("ValueError: ") - 10) + TOKEN)

@pytest.mark.hawzu("TCM-4")
def test_fails_with_it_where_a_step_is_cut():
    with hawzu_step("long"):
        raise ValueError("x" * (2000 - len("ValueError: ") - 10) + TOKEN)
"""


@pytest.mark.parametrize("outage", [False, True], ids=["delivered", "journal-kept"])
def test_a_test_that_shows_the_token_does_not_put_it_in_hawzu_or_the_spool(
    pytester, hawzu_env, outage
):
    """pytest's own output is the user's; what the plugin keeps and sends is not."""
    if outage:
        hawzu_env.fail_next(503, 10_000, path="/results", retry_after=60)
    pytester.makepyfile(SHOWS_THE_TOKEN)
    result = pytester.runpytest(*FAST, "--hawzu-flush-timeout=1")
    result.assert_outcomes(failed=5)
    # Whole or in part: cut text must not keep the token's start.
    part = TOKEN[:6]
    for path in spool_files(pytester.path / ".hawzu"):
        assert part.encode() not in path.read_bytes(), path
        assert part not in path.name
    for line in result.outlines:
        if line.startswith(("Hawzu", "rejected", "not ")):
            assert part not in line
    if outage:
        assert spool_files(pytester.path / ".hawzu")
        return
    found = only_execution(hawzu_env)["results"]
    assert {r["status"] for r in found.values()} == {"FAILED"}
    assert "wrong token ***" in found["TCM-1"]["notes"]
    assert part not in repr(found)
    for result_ in found.values():
        for attachment in result_.get("attachments", []):
            assert part not in attachment["filename"]
            assert part.encode() not in hawzu_env.attachment(attachment["id"])
    contents = b"".join(hawzu_env.attachment(a["id"]) for a in found["TCM-1"]["attachments"])
    assert b"environment: ***" in contents


def test_a_token_too_short_to_be_a_secret_does_not_garble_messages():
    client = HawzuClient(f"http://127.0.0.1:{closed_port()}", "e", timeout=2)
    with pytest.raises(HawzuError) as raised:
        client.me()
    client.close()
    assert "GET /me" in str(raised.value)
    assert "Connection" in str(raised.value)


MARKER_WARNINGS_WITH_THE_TOKEN = """
import os
import pytest

TOKEN = os.environ["HAWZU_API_TOKEN"]

@pytest.mark.hawzu("")
@pytest.mark.parametrize("token", [TOKEN])
def test_named_after_it(token):
    pass

def test_looked_up():
    pass

def test_answered():
    pass

def test_answered_a_set():
    pass
"""

LOOKUP_SHOWS_THE_TOKEN = """
import os

def pytest_hawzu_case_ids(item):
    token = os.environ["HAWZU_API_TOKEN"]
    if item.name == "test_looked_up":
        raise RuntimeError("lookup failed for " + token)
    if item.name == "test_answered":
        # Long enough to be cut when quoted: a cut through the token hides nothing.
        return "no case for " + "x" * 40 + token + " (HTTP 401)"
    if item.name == "test_answered_a_set":
        return {"bad id " + token + "p" * 40}
"""


def test_the_plugin_s_warnings_about_case_ids_do_not_show_the_token(pytester, hawzu_env):
    pytester.makeconftest(LOOKUP_SHOWS_THE_TOKEN)
    pytester.makepyfile(MARKER_WARNINGS_WITH_THE_TOKEN)
    # -W default: this suite runs with warnings as errors, the inner session must not.
    result = pytester.runpytest(*FAST, "-W", "default")
    result.assert_outcomes(passed=4, warnings=4)
    said = [line for line in result.outlines if "not reported" in line]
    assert len(said) == 4, result.outlines
    assert all(TOKEN[:6] not in line and TOKEN[-6:] not in line for line in said), said
    assert "lookup failed for ***" in "\n".join(said)
