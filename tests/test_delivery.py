"""Throttled delivery, end to end: real sessions streaming to a sandbox that misbehaves.

Each test runs a pytest session with pytester against the sandbox and then
looks at what the sandbox received and logged. Waits are bounded polls for an
event (a request logged, a result stored), never sleeps sized to the machine.
"""

from __future__ import annotations

import json
import os
import platform
import re
import socket
import time
from email.utils import formatdate
from typing import Any

import pytest
from werkzeug import Response

from pytest_hawzu import __version__
from pytest_hawzu.reporter import STRICT_EXIT
from tests.conftest import (
    DEBUG_LOGS,
    FAST,
    HAWZU,
    QUICK,
    assert_clean,
    assert_no_token,
    only_execution,
    result_posts,
    statuses,
    unremovable,
    upload_kept,
)

# Lets a test inside a session look at and steer the sandbox over its admin
# endpoints, so a suite can wait for what the uploader did while it still runs.
CONTROL = """
import json, os, time, urllib.request

HAWZU = os.environ["HAWZU_URL"]

def sandbox(path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        HAWZU + "/_sandbox/" + path, data=data, method="GET" if data is None else "POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)

def wait_for(what, predicate, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)

def executions():
    return sandbox("executions")["data"]

def stored(case_id):
    return any(case_id in e["results"] for e in executions())

def result_posts():
    return [r for r in sandbox("requests")["data"]
            if r["method"] == "POST" and r["path"].endswith("/results")]
"""

THREE = """
import pytest

@pytest.mark.hawzu("TCM-1")
def test_one():
    pass

@pytest.mark.hawzu("TCM-2")
def test_two():
    assert 1 == 2

@pytest.mark.hawzu("TCM-3")
def test_three():
    pass
"""
THREE_STATUSES = {"TCM-1": "PASSED", "TCM-2": "FAILED", "TCM-3": "PASSED"}


def run(pytester: pytest.Pytester, *args: str, subprocess: bool = False) -> Any:
    """A reporting session with debug logging on, checked for crashes and for the token."""
    if subprocess:  # with a timeout: a run that hangs fails instead of holding the suite
        result = pytester.runpytest_subprocess(*FAST, *DEBUG_LOGS, *args, timeout=120)
    else:
        result = pytester.runpytest(*FAST, *DEBUG_LOGS, *args)
    assert_clean(result)
    assert_no_token(result, pytester.path / ".hawzu")
    return result


def delivered_items(sandbox: Any) -> int:
    """Result items in results posts the sandbox answered 200: each was stored once."""
    return sum(r.batch_size or 0 for r in result_posts(sandbox) if r.status == 200)


def journals(pytester: pytest.Pytester) -> list[Any]:
    spool = pytester.path / ".hawzu"
    return sorted(spool.glob("*.jsonl")) if spool.exists() else []


# -- batching, coalescing, streaming ---------------------------------------------------


def cases_suite(count: int) -> str:
    """`count` passing tests, one case each: TCM-1 to TCM-<count>."""
    return f"""
import pytest

@pytest.mark.parametrize(
    "n", [pytest.param(n, marks=pytest.mark.hawzu(f"TCM-{{n}}")) for n in range(1, {count + 1})]
)
def test_case(n):
    pass
"""


@pytest.fixture
def body_limit(httpserver, hawzu_env):
    """A proxy in front of the sandbox that refuses bodies over 4 KiB with a 413,
    as many gateways do at 1 MiB: a batch of failures with long notes gets there."""
    import requests  # the proxy's own client, in the test process

    def forward(request):
        if len(request.get_data()) > 4096:
            return Response("request entity too large", status=413)
        answer = requests.request(
            request.method,
            hawzu_env.url + request.full_path.rstrip("?"),
            data=request.get_data(),
            headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
            timeout=30,
        )
        return Response(answer.content, status=answer.status_code, headers=dict(answer.headers))

    httpserver.expect_request(re.compile(".*")).respond_with_handler(forward)
    return httpserver.url_for("/").rstrip("/")


LONG_FAILURES = """
import pytest

@pytest.mark.parametrize(
    "n", [pytest.param(n, marks=pytest.mark.hawzu(f"TCM-{n}")) for n in range(1, 21)]
)
def test_case(n):
    assert n < 0, "x" * 600
"""


@pytest.mark.parametrize("how", ["session", "upload"])
def test_a_batch_too_large_for_a_proxy_is_sent_in_parts(
    pytester, hawzu_env, httpserver, body_limit, how, monkeypatch
):
    pytester.makepyfile(LONG_FAILURES)
    if how == "upload":  # the run could not deliver; its journal goes through the proxy
        hawzu_env.fail_next(503, 10_000, path="/results")
        run(pytester, "--hawzu-flush-timeout=0.5")
        hawzu_env.clear_faults()
        result = pytester.run(HAWZU, "upload", ".hawzu", "--url", body_limit, timeout=120)
        assert result.ret == 0, result.outlines
    else:
        monkeypatch.setenv("HAWZU_URL", body_limit)
        result = run(pytester)
        assert "not delivered" not in result.stdout.str()
    results = only_execution(hawzu_env)["results"]
    assert {r["status"] for r in results.values()} == {"FAILED"}
    assert len(results) == 20
    assert any(answer.status_code == 413 for _, answer in httpserver.log)


@pytest.fixture
def body_limit_then_refusal(httpserver, body_limit):
    """The proxy above, refusing the second part that fits with a final 400."""
    handler = httpserver.handlers[0].request_handler
    fitting = []

    def forward(request):
        small = request.method == "POST" and len(request.get_data()) <= 4096
        if small and request.path.endswith("/results"):
            fitting.append(request.path)
            if len(fitting) == 2:
                body = {"error": {"code": "VALIDATION_FAILED", "message": "refused here"}}
                return Response(json.dumps(body), status=400, content_type="application/json")
        return handler(request)

    httpserver.clear()
    httpserver.expect_request(re.compile(".*")).respond_with_handler(forward)
    return body_limit


@pytest.mark.parametrize("how", ["session", "upload"])
def test_the_parts_delivered_before_a_part_fails_count_as_delivered(
    pytester, hawzu_env, body_limit_then_refusal, how, monkeypatch
):
    # 20 long failures, too large whole and in halves; the second part that fits
    # is refused. The first part holds a case Hawzu does not know.
    pytester.makepyfile(LONG_FAILURES.replace('f"TCM-{n}"', 'f"TCM-{n}" if n > 1 else "TCM-404"'))
    if how == "upload":
        hawzu_env.fail_next(503, 10_000, path="/results")
        run(pytester, "--hawzu-flush-timeout=0.5")
        hawzu_env.clear_faults()
        result = pytester.run(HAWZU, "upload", ".hawzu", "--url", body_limit_then_refusal)
        assert result.ret == 1
    else:
        monkeypatch.setenv("HAWZU_URL", body_limit_then_refusal)
        result = run(pytester)
        stored = len(only_execution(hawzu_env)["results"])
        assert stored < 19
        said = result.stdout.str()
        assert f"{19 - stored} results not delivered" in said, said
    assert "TCM-404" in result.stdout.str()


def test_batches_never_exceed_the_configured_size(pytester, hawzu_env):
    pytester.makepyfile(cases_suite(20))
    run(pytester, "-o", "hawzu_batch_size=7")
    sizes = [r.batch_size for r in result_posts(hawzu_env)]
    assert sizes
    assert max(s or 0 for s in sizes) <= 7
    assert len(only_execution(hawzu_env)["results"]) == 20
    assert delivered_items(hawzu_env) == 20


@pytest.mark.skipif(
    pytest.version_tuple < (9, 2), reason="ini options of more than one type need pytest 9.2"
)
def test_numbers_in_native_toml_configuration_are_taken_as_numbers(pytester, hawzu_env):
    # pytest 9's [tool.pytest] table (and pytest.toml) is TOML proper: a
    # number is written as a number there, not as a string.
    pytester.makepyprojecttoml(
        """
        [tool.pytest]
        hawzu_batch_size = 7
        hawzu_rate = 1000
        hawzu_flush_timeout = 20.5
        hawzu_notes_limit = "1000"
        """
    )
    pytester.makepyfile(cases_suite(20))
    run(pytester)
    sizes = [r.batch_size for r in result_posts(hawzu_env)]
    assert max(s or 0 for s in sizes) == 7
    assert delivered_items(hawzu_env) == 20


def test_a_full_batch_of_one_hundred_goes_out_at_once(pytester, hawzu_env):
    hawzu_env.add_cases(f"TCM-{n}" for n in range(101, 151))
    pytester.makepyfile(cases_suite(150))
    run(pytester)
    sizes = [r.batch_size or 0 for r in result_posts(hawzu_env)]
    assert max(sizes) == 100
    assert delivered_items(hawzu_env) == 150
    assert set(statuses(only_execution(hawzu_env)).values()) == {"PASSED"}


@pytest.mark.parametrize("xdist", [(), ("-p", "xdist", "-n", "1")], ids=["no-xdist", "n1"])
def test_a_case_whose_tests_are_far_apart_combines_across_deliveries(pytester, hawzu_env, xdist):
    pytester.makepyfile(
        CONTROL
        + """
import pytest

@pytest.mark.hawzu("TCM-1")
def test_first():
    assert False, "the first one broke"

@pytest.mark.hawzu("TCM-2")
def test_between():
    wait_for("TCM-1 delivered", lambda: stored("TCM-1"))

@pytest.mark.hawzu("TCM-1")
def test_last():
    pass
"""
    )
    if xdist:  # one worker: the controller sees the tests in their order
        result = pytester.runpytest("--hawzu-release=1.4.0", "--hawzu-rate=1000", *QUICK, *xdist)
        assert_clean(result)
    else:
        run(pytester)
    result = only_execution(hawzu_env)["results"]["TCM-1"]
    assert result["status"] == "FAILED"
    assert "the first one broke" in result["notes"]
    assert result["automation"]["nodeid"].splitlines() == [
        "test_a_case_whose_tests_are_far_apart_combines_across_deliveries.py::test_first",
        "test_a_case_whose_tests_are_far_apart_combines_across_deliveries.py::test_last",
    ]


def test_batch_size_above_the_api_limit_is_a_usage_error(pytester, hawzu_env):
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest(*FAST, "-o", "hawzu_batch_size=101")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*hawzu_batch_size*between 1 and 100*"])
    assert hawzu_env.requests() == []


def test_updates_to_one_case_are_coalesced_into_its_combined_result(pytester, hawzu_env):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.hawzu("TCM-1")
        @pytest.mark.parametrize("n", range(300))
        def test_param(n):
            assert n != 150, "param 150 is broken"

        @pytest.mark.hawzu("TCM-2")
        def test_other():
            pass
        """
    )
    result = run(pytester)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    posts = result_posts(hawzu_env)
    # One post per 300 updates would be 300 posts; a few means they were merged.
    assert 1 <= len(posts) <= 10, len(posts)
    tcm1 = only_execution(hawzu_env)["results"]["TCM-1"]
    assert tcm1["status"] == "FAILED"
    assert "param 150 is broken" in tcm1["notes"]
    assert len(tcm1["automation"]["nodeid"].splitlines()) == 300
    assert len(tcm1["steps"]) == 300


def test_results_stream_while_the_suite_runs(pytester, hawzu_env):
    pytester.makepyfile(
        CONTROL
        + """
import pytest

def test_hawzu_is_ready():
    # From here on the sender is idle, waiting for something to send.
    wait_for("the execution", lambda: executions() != [])

@pytest.mark.hawzu("TCM-1")
def test_first():
    pass

@pytest.mark.hawzu("TCM-2")
def test_waits_until_the_first_result_reached_hawzu():
    wait_for("TCM-1 on the server", lambda: stored("TCM-1"))

@pytest.mark.hawzu("TCM-3")
def test_journal_already_holds_the_first(request):
    spool = request.config.rootpath / ".hawzu"
    text = "".join(p.read_text() for p in spool.glob("*.jsonl"))
    assert "test_first" in text
"""
    )
    result = run(pytester)
    assert result.ret == pytest.ExitCode.OK
    assert statuses(only_execution(hawzu_env)) == dict.fromkeys(
        ["TCM-1", "TCM-2", "TCM-3"], "PASSED"
    )
    assert len(result_posts(hawzu_env)) >= 2


def test_hooks_only_enqueue_while_hawzu_never_answers(pytester, hawzu_env, monkeypatch):
    # A server that takes connections and never answers: had any hook waited
    # for Hawzu, the suite could not finish before --hawzu-timeout (an hour).
    with socket.socket() as blackhole:
        blackhole.bind(("127.0.0.1", 0))
        blackhole.listen(64)
        monkeypatch.setenv("HAWZU_URL", f"http://127.0.0.1:{blackhole.getsockname()[1]}")
        pytester.makepyfile(
            """
            import pytest

            @pytest.mark.hawzu("TCM-1")
            @pytest.mark.parametrize("n", range(30))
            def test_many(n):
                pass
            """
        )
        result = run(pytester, "--hawzu-timeout=3600", "--hawzu-flush-timeout=0.5")
    # Closing the socket resets the connection the sender still waits on.
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=30)
    result.stdout.fnmatch_lines(["not delivered: 1 result (*flush*)", "journal kept: *"])
    assert hawzu_env.requests() == []


# -- 429 and Retry-After ----------------------------------------------------------------


def test_429_with_retry_after_seconds_pauses_every_request(pytester, hawzu_env):
    hawzu_env.fail_next(429, path="/results", retry_after=1)
    pytester.makepyfile(THREE)
    result = run(pytester)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    log = hawzu_env.requests()
    limited = next(i for i, r in enumerate(log) if r.status == 429)
    later = log[limited + 1 :]
    assert later, "nothing was sent after the 429"
    assert all(r.time - log[limited].time >= 1.0 for r in later), [
        (r.method, r.path, r.time - log[limited].time) for r in later
    ]
    assert statuses(only_execution(hawzu_env)) == THREE_STATUSES
    assert delivered_items(hawzu_env) == 3


def test_429_with_retry_after_date_waits_until_that_moment(pytester, hawzu_env):
    until = int(time.time()) + 2
    hawzu_env.fail_next(429, path="/me", retry_after=formatdate(until, usegmt=True))
    pytester.makepyfile(THREE)
    run(pytester)
    log = hawzu_env.requests()
    assert log[0].status == 429
    assert log[0].wall_time < until, "the date was already past: nothing was tested"
    assert all(r.wall_time >= until for r in log[1:]), [(r.path, r.wall_time) for r in log]
    assert statuses(only_execution(hawzu_env)) == THREE_STATUSES


def test_429_without_retry_after_backs_off_and_delivers(pytester, hawzu_env):
    hawzu_env.fail_next(429, count=2, path="/results")
    pytester.makepyfile(THREE)
    run(pytester)
    assert [r.status for r in result_posts(hawzu_env)] == [429, 429, 200]
    assert statuses(only_execution(hawzu_env)) == THREE_STATUSES


def test_retry_after_is_capped_by_the_ini_setting(pytester, hawzu_env):
    hawzu_env.fail_next(429, path="/me", retry_after=3600)
    pytester.makepyfile(THREE)
    run(pytester, "-o", "hawzu_max_retry_after=0.5")
    assert statuses(only_execution(hawzu_env)) == THREE_STATUSES


def test_a_rate_limited_server_gets_everything_and_no_request_inside_a_pause(pytester, hawzu_env):
    # The sandbox allows 5 requests a second and sends no X-RateLimit headers;
    # the plugin is told 1000. Only the 429s can bring it in line.
    hawzu_env.set_rate_limit(5, headers=False)
    pytester.makepyfile(cases_suite(24))
    run(pytester, "-o", "hawzu_batch_size=2")
    assert len(only_execution(hawzu_env)["results"]) == 24
    assert delivered_items(hawzu_env) == 24
    log = hawzu_env.requests()
    limited = [(i, r) for i, r in enumerate(log) if r.status == 429]
    assert limited, "the sandbox never limited: nothing was tested"
    # The sandbox's 429s say Retry-After: 1 at this rate (whole seconds, at least 1).
    for i, record in limited:
        assert all(r.time - record.time >= 1.0 for r in log[i + 1 :]), i


def test_the_configured_rate_keeps_within_the_server_limit(pytester, hawzu_env):
    # Below the server's limit with room for network jitter: never a 429.
    hawzu_env.set_rate_limit(5, headers=False)
    pytester.makepyfile(THREE)
    result = pytester.runpytest(
        "--hawzu-release=1.4.0",
        "--hawzu-rate=4",
        "-o",
        "hawzu_batch_size=1",
        "-p",
        "no:xdist",
        *QUICK,
    )
    assert_clean(result)
    assert [r.status for r in hawzu_env.requests() if r.status == 429] == []
    assert statuses(only_execution(hawzu_env)) == THREE_STATUSES


# -- transient trouble is retried; every result lands once --------------------------------

TRANSIENT = [
    pytest.param(("fail", 500, "/results", None), id="500-results"),
    pytest.param(("fail", 503, "/results", None), id="503-results"),
    pytest.param(("fail", 503, "/results", 1), id="503-retry-after-results"),
    pytest.param(("drop", None, "/results", None), id="drop-results"),
    pytest.param(("fail", 503, "/me", None), id="503-me"),
    pytest.param(("drop", None, "/executions", None), id="drop-create-execution"),
    pytest.param(("fail", 500, "/executions/exe_1", None), id="500-complete"),
]


@pytest.mark.parametrize("fault", TRANSIENT)
def test_transient_failures_are_retried_and_each_result_lands_once(pytester, hawzu_env, fault):
    kind, status, path, retry_after = fault
    if kind == "drop":
        hawzu_env.drop_next(2, path=path)
    else:
        hawzu_env.fail_next(status, 2, path=path, retry_after=retry_after)
    pytester.makepyfile(THREE)
    result = run(pytester)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    execution = only_execution(hawzu_env)  # a retried create made no second execution
    assert statuses(execution) == THREE_STATUSES
    assert execution["status"] == "COMPLETED"
    assert delivered_items(hawzu_env) == 3
    failed = [r for r in hawzu_env.requests() if r.fault is not None]
    assert len(failed) == 2, "both injected faults were met"
    assert hawzu_env.pending_faults() == []
    assert "not delivered" not in result.stdout.str()
    assert journals(pytester) == []


def test_timed_out_requests_are_retried(pytester, hawzu_env):
    # Once the execution exists, answers take longer than --hawzu-timeout; the
    # second test lifts that as soon as a results post was seen (and timed out).
    pytester.makepyfile(
        CONTROL
        + """
import pytest

@pytest.mark.hawzu("TCM-1")
def test_slows_hawzu_down():
    wait_for("the execution", lambda: executions() != [])
    sandbox("faults", {"latency": 0.6})

@pytest.mark.hawzu("TCM-2")
def test_speeds_it_up_after_a_timeout():
    wait_for("a results post", lambda: result_posts() != [])
    sandbox("faults", {"latency": 0})

@pytest.mark.hawzu("TCM-3")
def test_three():
    pass
"""
    )
    result = run(pytester, "--hawzu-timeout=0.25")
    assert result.ret == pytest.ExitCode.OK
    assert statuses(only_execution(hawzu_env)) == dict.fromkeys(
        ["TCM-1", "TCM-2", "TCM-3"], "PASSED"
    )
    assert len(result_posts(hawzu_env)) >= 3, "the timed-out post was sent again"
    assert journals(pytester) == []


# -- final errors: reported once, never retried ----------------------------------------


@pytest.mark.parametrize("status", [400, 403, 404, 409, 422])
def test_final_errors_on_results_are_reported_and_not_retried(pytester, hawzu_env, status):
    hawzu_env.fail_next(status, 1000, path="/results")
    pytester.makepyfile(THREE)
    result = run(pytester)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    posts = result_posts(hawzu_env)
    # Each case went out in exactly one request: nothing was sent twice.
    assert sum(r.batch_size or 0 for r in posts) == 3
    # Said when it happens, and once in the summary.
    result.stdout.fnmatch_lines(
        [
            f"Hawzu: 3 results not delivered: HTTP {status} *",
            "*- Hawzu -*",
            f"not delivered: 3 results (HTTP {status} *)",
            "journal kept: *; deliver it later with: hawzu upload *",
        ]
    )
    assert len([line for line in result.outlines if f"HTTP {status} " in line]) == 2
    assert len(journals(pytester)) == 1


LATER_RESULT_REFUSED = (
    CONTROL
    + """
import pytest

@pytest.mark.hawzu("TCM-1")
@pytest.mark.parametrize("n", [0, 1])
def test_p(n):
    if n == 1:
        # The case's PASSED is in Hawzu; its FAILED, from here on, is refused.
        wait_for("TCM-1 on the server", lambda: stored("TCM-1"))
        sandbox("faults", {"fail": {"status": 400, "count": 1000, "path": "/results"}})
        assert 0
"""
)


def test_a_case_whose_latest_result_was_not_delivered_is_not_counted_as_sent(pytester, hawzu_env):
    pytester.makepyfile(LATER_RESULT_REFUSED)
    result = run(pytester)
    assert statuses(only_execution(hawzu_env)) == {"TCM-1": "PASSED"}  # out of date
    result.stdout.fnmatch_lines(
        [
            "*- Hawzu -*",
            "results sent: none",
            "not delivered: 1 result (HTTP 400 *); Hawzu still shows an earlier result "
            "for 1 of them",
        ]
    )


@pytest.mark.parametrize("status", [400, 403, 404, 409, 422])
def test_final_errors_at_start_up_are_reported_and_not_retried(pytester, hawzu_env, status):
    hawzu_env.fail_next(status, 1000, path="/executions")
    pytester.makepyfile(THREE)
    result = run(pytester)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    creates = [r for r in hawzu_env.requests() if r.path.endswith("/executions")]
    assert len(creates) == 1
    assert result_posts(hawzu_env) == []
    result.stdout.fnmatch_lines([f"not reported: creating the execution failed: HTTP {status} *"])
    assert len(journals(pytester)) == 1


def test_401_at_start_stops_every_call(pytester, hawzu_env, monkeypatch):
    monkeypatch.setenv("HAWZU_API_TOKEN", "not-the-right-token")
    pytester.makepyfile(THREE)
    result = run(pytester)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert [(r.method, r.path, r.status) for r in hawzu_env.requests()] == [
        ("GET", "/api/v1/me", 401)
    ]
    result.stdout.fnmatch_lines(["not reported: checking the token * HTTP 401 *HAWZU_API_TOKEN*"])
    assert_no_token(result, pytester.path / ".hawzu", token="not-the-right-token")


@pytest.mark.parametrize("status", [401, 403])
def test_a_refusal_of_results_for_the_token_stops_every_later_call(pytester, hawzu_env, status):
    # Every batch goes to the same execution with the same token: a 403 on one
    # is a 403 on all, and sending the rest only repeats the line.
    hawzu_env.fail_next(status, 1000, path="/results")
    pytester.makepyfile(cases_suite(6))
    result = run(pytester, "-o", "hawzu_batch_size=1")
    assert result.ret == pytest.ExitCode.OK
    posts = [r for r in hawzu_env.requests() if r.path.endswith("/results")]
    assert [r.status for r in posts] == [status]
    result.stdout.fnmatch_lines([f"not delivered: 6 results (HTTP {status} *)"])
    assert len(journals(pytester)) == 1


def test_an_execution_completed_elsewhere_is_not_called_left_open(pytester, hawzu_env):
    hawzu_env.fail_next(409, 1000, path="/results", code="EXECUTION_LOCKED")
    pytester.makepyfile(cases_suite(3))
    result = run(pytester)
    result.stdout.fnmatch_lines(["execution * (completed elsewhere): *"])
    assert "left open" not in result.stdout.str()


# TCM-999 is not a case the sandbox knows: Hawzu rejects its result.
KNOWN_AND_UNKNOWN = """
import pytest

@pytest.mark.hawzu("TCM-1")
def test_known():
    pass

@pytest.mark.hawzu("TCM-999")
def test_unknown():
    pass
"""


def test_rejected_items_are_listed_with_case_test_and_reason(pytester, hawzu_env):
    pytester.makepyfile(KNOWN_AND_UNKNOWN)
    result = run(pytester)
    assert result.ret == pytest.ExitCode.OK
    assert statuses(only_execution(hawzu_env)) == {"TCM-1": "PASSED"}
    assert delivered_items(hawzu_env) == 2, "a rejected item is never sent again"
    result.stdout.fnmatch_lines(
        [
            "Hawzu rejected TCM-999 *",
            "*- Hawzu -*",
            "rejected: TCM-999 (test_rejected_items_are_listed_with_case_test_and_reason.py"
            "::test_unknown): TEST_CASE_NOT_FOUND *TCM-999*",
        ]
    )
    # Said when it happens, and once in the summary.
    assert len([line for line in result.outlines if "TEST_CASE_NOT_FOUND" in line]) == 2


# -- the build's exit code is the tests' own -----------------------------------------------

PROBLEMS = [
    pytest.param(lambda sb: None, id="healthy"),
    pytest.param(lambda sb: sb.fail_next(503, 1000, retry_after=0), id="down-503"),
    pytest.param(lambda sb: sb.fail_next(401, 1000), id="401"),
    pytest.param(lambda sb: sb.fail_next(400, 1000, path="/results"), id="400-results"),
    pytest.param(lambda sb: sb.fail_next(409, 1000, path="/executions"), id="409-create"),
    pytest.param(lambda sb: sb.drop_next(1000), id="dropped"),
]


@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("passing", [True, False], ids=["passing", "failing"])
def test_exit_code_is_what_it_would_be_without_the_plugin(pytester, hawzu_env, problem, passing):
    pytester.makepyfile(cases_suite(2) if passing else THREE)
    without = pytester.runpytest("-p", "no:hawzu", *QUICK).ret
    problem(hawzu_env)
    result = run(pytester, "--hawzu-flush-timeout=1")
    assert result.ret == without


# -- --hawzu-strict -------------------------------------------------------------------------


def test_strict_start_up_failure_aborts_before_any_test(pytester, hawzu_env):
    hawzu_env.fail_next(403, path="/me")
    pytester.makepyfile(
        """
        def test_must_not_run(tmp_path_factory):
            open("ran", "w").close()
        """
    )
    result = run(pytester, "--hawzu-strict")
    assert result.ret == STRICT_EXIT
    assert not (pytester.path / "ran").exists()
    result.stderr.fnmatch_lines(["*Hawzu (--hawzu-strict): checking the token * HTTP 403 *"])


def test_strict_start_up_failure_starts_no_xdist_worker(pytester, hawzu_env):
    # Long enough for workers to start, were they spawned before the check.
    hawzu_env.fail_next(503, 1000, path="/me")
    pytester.makeconftest(
        """
        def pytest_sessionstart(session):
            # Not PYTEST_XDIST_WORKER: this suite's own workers set it for the controller.
            worker = getattr(session.config, "workerinput", None)
            if worker is not None:
                open(f"started-{worker['workerid']}", "w").close()
        """
    )
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest(
        "--hawzu-release=1.4.0", "--hawzu-strict", "--hawzu-flush-timeout=3", "-n", "2"
    )
    assert result.ret == STRICT_EXIT
    assert not list(pytester.path.glob("started-*"))


def test_strict_start_up_waits_for_the_other_session_starts(pytester, hawzu_env):
    # A session that never started leaves nothing behind in Hawzu or the spool.
    pytester.makeconftest(
        """
        def pytest_sessionstart(session):
            raise RuntimeError("db not reachable")
        """
    )
    pytester.makepyfile(THREE)
    result = pytester.runpytest("--hawzu-release=1.4.0", "--hawzu-strict", "-p", "no:xdist")
    assert "db not reachable" in result.stdout.str() + result.stderr.str()
    assert hawzu_env.executions() == []
    assert journals(pytester) == []


def test_strict_fails_a_green_run_with_an_undelivered_result(pytester, hawzu_env):
    hawzu_env.fail_next(400, 1000, path="/results")
    pytester.makepyfile(cases_suite(2))
    result = run(pytester, "--hawzu-strict")
    assert result.ret != pytest.ExitCode.OK


def test_strict_fails_a_green_run_with_a_rejected_result(pytester, hawzu_env):
    # A typo in a case ID leaves that test's result out of Hawzu: the gap
    # --hawzu-strict exists to catch.
    pytester.makepyfile(KNOWN_AND_UNKNOWN)
    result = run(pytester, "--hawzu-strict")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert statuses(only_execution(hawzu_env)) == {"TCM-1": "PASSED"}
    result.stdout.fnmatch_lines(["rejected: TCM-999 *TEST_CASE_NOT_FOUND*"])


def test_strict_passes_a_green_run_that_was_delivered(pytester, hawzu_env):
    pytester.makepyfile(cases_suite(2))
    assert run(pytester, "--hawzu-strict").ret == pytest.ExitCode.OK


# -- the end-of-session flush -----------------------------------------------------------------


def test_flush_waits_at_most_the_flush_timeout_and_shows_progress(pytester, hawzu_env):
    # Hawzu says "come back in a minute" to everything: the flush must not wait for it.
    hawzu_env.fail_next(503, 1000, retry_after=60)
    pytester.makepyfile(THREE)
    started = time.monotonic()
    result = run(pytester, "--hawzu-flush-timeout=3.5")
    assert time.monotonic() - started < 30, "the flush waited for Hawzu, not for its timeout"
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["uploading results to Hawzu... 0 sent, * waiting"])
    result.stdout.fnmatch_lines(["not delivered: 3 results (*flush timed out after 3.5 s*)"])
    result.stdout.fnmatch_lines(["journal kept: *"])
    assert len(journals(pytester)) == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_copy_of_the_session_does_not_wait_for_a_sender_it_lacks(pytester, hawzu_env):
    # A test forks and its child, missing an os._exit, carries on with the
    # session: a copy of pytest without the sender thread, which must not sit
    # out the flush timeout waiting for it.
    pytester.makepyfile(
        """
        import os
        import pytest

        @pytest.mark.hawzu("TCM-1")
        def test_forks():
            pid = os.fork()
            if pid:
                os.waitpid(pid, 0)
        """
    )
    result = pytester.runpytest_subprocess(*FAST, "--hawzu-flush-timeout=60")
    assert "uploading results to Hawzu" not in result.stdout.str()
    assert statuses(only_execution(hawzu_env)) == {"TCM-1": "PASSED"}


FORKS_AND_CARRIES_ON = """
import os
import pytest

@pytest.mark.hawzu("TCM-1")
def test_forks():
    pid = os.fork()
    if pid:
        os.waitpid(pid, 0)

@pytest.mark.hawzu("TCM-2")
def test_last():
    pass
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_copy_of_the_session_leaves_the_sandbox_running(pytester):
    # The child's end of the session must not try to stop a sandbox whose
    # server thread it does not have: that waited for ever.
    pytester.makepyfile(FORKS_AND_CARRIES_ON)
    result = pytester.runpytest_subprocess(
        "--hawzu-sandbox", "--hawzu-release=1.4.0", "-p", "no:xdist", timeout=60
    )
    result.stdout.fnmatch_lines(["sandbox recorded exe_1 (COMPLETED): 2 PASSED"])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_copy_of_the_session_writes_nothing_into_the_journal(pytester, hawzu_env):
    pytester.makepyfile(FORKS_AND_CARRIES_ON)
    hawzu_env.fail_next(503, 10_000, retry_after=60)  # the journal is kept
    result = pytester.runpytest_subprocess(*FAST, "--hawzu-flush-timeout=0.5")
    (kept,) = journals(pytester)
    # Only the session names it: the child's copy does not tell the user to upload it.
    assert result.stdout.str().count("journal kept:") == 1
    kinds = [json.loads(line)["type"] for line in kept.read_text().splitlines()]
    assert kinds.count("test") == 2, kinds  # the session's own two tests, once each
    assert kinds.count("end") == 1, kinds


def test_a_batch_in_flight_when_the_flush_times_out_is_not_counted_delivered(pytester, hawzu_env):
    # The results post hangs on a slow Hawzu past the flush timeout. Nobody
    # knows whether it arrived, so the journal must be kept for `hawzu upload`.
    pytester.makepyfile(
        CONTROL
        + """
import pytest

@pytest.mark.hawzu("TCM-1")
def test_slows_hawzu_down():
    wait_for("the execution", lambda: executions() != [])
    sandbox("faults", {"latency": 4})

@pytest.mark.hawzu("TCM-2")
def test_two():
    pass
"""
    )
    result = run(pytester, "--hawzu-flush-timeout=1", subprocess=True)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["not delivered: 2 results (*)"])
    result.stdout.fnmatch_lines(["journal kept: *"])
    assert len(journals(pytester)) == 1
    assert only_execution(hawzu_env)["status"] != "COMPLETED"


def test_completing_the_execution_stays_within_the_flush_timeout(pytester, hawzu_env):
    # Every result is in when Hawzu turns slow: the completion must not take
    # its own --hawzu-timeout (30 s) past the end of the flush (3 s).
    pytester.makepyfile(
        CONTROL
        + """
import pytest

@pytest.mark.hawzu("TCM-1")
def test_one():
    pass

@pytest.mark.hawzu("TCM-2")
def test_slows_hawzu_down_after_the_first_result():
    wait_for("the first result", lambda: result_posts() != [])
    sandbox("faults", {"latency": 2})
"""
    )
    result = run(pytester, "--hawzu-flush-timeout=3", "--hawzu-timeout=30", subprocess=True)
    # Its last read waited only what was left of the 3 s, under the 2 s the
    # sandbox takes: the sandbox may still complete it after pytest exits.
    result.stdout.fnmatch_lines(
        ["Hawzu: completing execution * failed: *PATCH /executions/*: ReadTimeout:*"]
    )
    assert len(journals(pytester)) == 1  # hawzu upload completes it later


@pytest.mark.parametrize("journal", [True, False], ids=["journal", "no-journal"])
def test_a_completion_that_never_returns_does_not_hold_the_session(pytester, hawzu_env, journal):
    # Stands in for a server that trickles its answer a byte at a time: each
    # read stays under --hawzu-timeout, the request as a whole never ends.
    pytester.makeconftest(
        """
        import time
        from pytest_hawzu import client

        def never_returns(self, execution_id, **kwargs):
            time.sleep(3600)

        client.HawzuClient.complete_execution = never_returns
        """
    )
    pytester.makepyfile(cases_suite(2))
    (pytester.path / "afile").write_text("a file where the spool directory should be")
    spool = [] if journal else ["--hawzu-spool-dir=afile/spool"]
    result = run(pytester, "--hawzu-flush-timeout=2", *spool, subprocess=True)
    result.stdout.fnmatch_lines(
        ["Hawzu: completing execution * did not finish within --hawzu-flush-timeout*"]
    )
    if journal:
        result.stdout.fnmatch_lines(["*; hawzu upload completes it from the kept journal"])
        result.stdout.fnmatch_lines(["journal kept: *"])
    else:
        assert "hawzu upload" not in result.stdout.str()


# -- transport: loopback-only http, and a User-Agent that says who calls -------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com",
        "http://10.1.2.3:8080",
        "ftp://localhost",
        "http://127.0.0.1:99999",
        "https://api.hawzu.com/api/v1/",
    ],
)
def test_plain_http_is_a_usage_error_except_on_loopback(pytester, hawzu_env, url):
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest(*FAST, f"--hawzu-url={url}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--hawzu-url={url!r}:*"])
    assert_clean(result)
    assert hawzu_env.requests() == []


def test_plain_http_to_localhost_is_accepted(pytester, hawzu_env, monkeypatch):
    monkeypatch.setenv("HAWZU_URL", hawzu_env.url.replace("127.0.0.1", "localhost"))
    pytester.makepyfile(THREE)
    run(pytester)
    assert statuses(only_execution(hawzu_env)) == THREE_STATUSES


def test_user_agent_names_the_plugin_python_and_pytest(pytester, hawzu_env):
    pytester.makepyfile(THREE)
    run(pytester)
    expected = (
        f"pytest-hawzu/{__version__} Python/{platform.python_version()} pytest/{pytest.__version__}"
    )
    agents = {r.headers.get("User-Agent") for r in hawzu_env.requests()}
    assert agents == {expected}


def simulated_bug(target: str, params: str, when: str = "True") -> str:
    """A conftest that makes `target` (module.attribute) raise while the inner session runs:
    any bug in the plugin's own code, at that place."""
    module = target.split(".", maxsplit=1)[0]
    return f"""
from pytest_hawzu import {module}

original = {target}

def broken({params}):
    if {when}:
        raise RuntimeError("simulated bug")
    return original({params})

def pytest_configure(config):
    {target} = broken

def pytest_unconfigure(config):
    {target} = original
"""


# -- a bug on the sender thread ----------------------------------------------------------------


def test_a_crash_on_the_sender_thread_loses_nothing_and_breaks_nothing(pytester, hawzu_env):
    # Stands in for any bug in the plugin's own code while a batch is built:
    # combining TCM-2's result raises. No traceback, the exit code is the
    # tests' own, and nothing is counted as delivered that was not.
    pytester.makeconftest(
        simulated_bug("aggregate.combine", "case_id, tests, notes_limit", when='case_id == "TCM-2"')
    )
    pytester.makepyfile(THREE)
    result = run(pytester)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*internal error in pytest-hawzu (RuntimeError: simulated bug)*"])
    result.stdout.fnmatch_lines(["journal kept: *"])
    # The others still went out; the execution stays open for `hawzu upload`.
    assert statuses(only_execution(hawzu_env)) == {"TCM-1": "PASSED", "TCM-3": "PASSED"}
    assert only_execution(hawzu_env)["status"] != "COMPLETED"
    assert len(journals(pytester)) == 1


def test_a_crash_while_sending_keeps_every_result_for_upload(pytester, hawzu_env):
    pytester.makeconftest(
        simulated_bug("client.HawzuClient.post_results", "self, execution_id, results")
    )
    pytester.makepyfile(THREE)
    result = run(pytester)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["not delivered: 3 results (internal error in pytest-hawzu *)"])
    assert only_execution(hawzu_env)["results"] == {}
    assert len(journals(pytester)) == 1


# -- a process that can start no thread ------------------------------------------------------


def no_thread(name: str) -> str:
    """A conftest under which a thread of that name cannot start, as under a low
    `ulimit -u`, or a `ulimit -v` that leaves no room for a thread's stack."""
    return f"""
import threading

original = threading.Thread.start

def start(self):
    if self.name == {name!r}:
        raise RuntimeError("can't start new thread")
    return original(self)

def pytest_configure(config):
    threading.Thread.start = start

def pytest_unconfigure(config):
    threading.Thread.start = original
"""


NO_SENDER_THREAD = no_thread("hawzu-sender")


def test_a_sender_thread_that_cannot_start_keeps_the_results_for_upload(pytester, hawzu_env):
    pytester.makeconftest(NO_SENDER_THREAD)
    pytester.makepyfile(THREE)
    result = run(pytester)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        ["not reported: its sender thread could not start (can't start new thread)"]
    )
    result.stdout.fnmatch_lines(["journal kept: *"])
    assert hawzu_env.executions() == []

    ok, said = upload_kept(pytester.path / ".hawzu", hawzu_env)
    assert ok, said
    assert statuses(only_execution(hawzu_env)) == THREE_STATUSES


def test_a_sender_thread_that_cannot_start_stops_a_strict_run(pytester, hawzu_env):
    pytester.makeconftest(NO_SENDER_THREAD)
    pytester.makepyfile(THREE)
    result = run(pytester, "--hawzu-strict")
    assert result.ret == STRICT_EXIT
    result.stderr.fnmatch_lines(
        ["ERROR: Hawzu (--hawzu-strict): its sender thread could not start (*)"]
    )
    assert journals(pytester) == []


def test_requests_that_cannot_have_a_thread_of_their_own_are_made_all_the_same(pytester, hawzu_env):
    # The sender started; the threads that guard each request's deadline cannot.
    pytester.makeconftest(no_thread("hawzu-call"))
    pytester.makepyfile(THREE)
    result = run(pytester)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert_clean(result)
    assert "Hawzu:" not in result.stdout.str()
    execution = only_execution(hawzu_env)
    assert statuses(execution) == THREE_STATUSES
    assert execution["status"] == "COMPLETED"


# -- a bug on pytest's thread -------------------------------------------------------------------


def test_a_bug_while_recording_a_test_is_one_line_and_the_run_goes_on(pytester, hawzu_env):
    # Combining TCM-2's test raises on pytest's own thread: every test still
    # runs, the exit code is the tests', and the journal (written first) is
    # kept with the execution open, so `hawzu upload` can finish the job.
    pytester.makeconftest(
        simulated_bug(
            "aggregate.Aggregator.add", "self, outcome", when='outcome.case_ids == ("TCM-2",)'
        )
    )
    pytester.makepyfile(THREE)
    result = run(pytester)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "Hawzu: internal error in pytest-hawzu (RuntimeError: simulated bug) while "
            "recording *::test_two; the journal keeps it: please report this"
        ]
    )
    result.stdout.fnmatch_lines(["journal kept: *"])
    execution = only_execution(hawzu_env)
    assert statuses(execution) == {"TCM-1": "PASSED", "TCM-3": "PASSED"}
    assert execution["status"] != "COMPLETED"


ATTACHING = """
import pytest

@pytest.mark.hawzu("TCM-1")
def test_one(hawzu_attach):
    hawzu_attach(b"one", name="one.txt")

@pytest.mark.hawzu("TCM-2")
def test_two(hawzu_attach):
    hawzu_attach(b"two", name="two.txt")
    assert 1 == 2
"""


@pytest.mark.parametrize(
    ("target", "params", "when", "line", "kept"),
    [
        pytest.param(
            "attachments.Attacher.collect",
            "self, item, report",
            'item.name == "test_two" and report.when == "teardown"',
            "Hawzu: attachments of *::test_two (teardown) were not kept: internal error in "
            "pytest-hawzu (RuntimeError: simulated bug): please report this",
            ("TCM-1", "one.txt"),
            id="collecting",
        ),
        pytest.param(
            "client.HawzuClient.upload_attachment",
            "self, execution_id, case_id, filename, data",
            'filename == "one.txt"',
            "Hawzu: attachment one.txt of TCM-1 (*::test_one) not sent: internal error in "
            "pytest-hawzu (RuntimeError: simulated bug): please report this",
            ("TCM-2", "two.txt"),
            id="sending",
        ),
    ],
)
def test_a_bug_with_attachments_costs_only_those_attachments(
    pytester, hawzu_env, target, params, when, line, kept
):
    pytester.makeconftest(simulated_bug(target, params, when=when))
    pytester.makepyfile(ATTACHING)
    result = run(pytester)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([line])
    execution = only_execution(hawzu_env)
    assert statuses(execution) == {"TCM-1": "PASSED", "TCM-2": "FAILED"}
    assert execution["status"] == "COMPLETED"
    case_id, name = kept
    assert [a["filename"] for a in execution["results"][case_id]["attachments"]] == [name]


def test_a_delivered_journal_that_cannot_be_removed_is_one_line(pytester, hawzu_env):
    pytester.makeconftest(unremovable('self.suffix == ".jsonl"'))
    pytester.makepyfile(THREE)
    result = run(pytester)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "Hawzu: every result was delivered, but the journal * could not be removed "
            "(*denied*): delete it",
            "results sent: 2 passed, 1 failed",
        ]
    )
    assert "internal error" not in result.stdout.str()
    assert statuses(only_execution(hawzu_env)) == THREE_STATUSES


def test_a_bug_at_the_end_of_the_session_is_one_line_and_keeps_the_journal(pytester, hawzu_env):
    pytester.makeconftest(simulated_bug("reporter.Reporter._never_finished", "self"))
    pytester.makepyfile(THREE)
    result = run(pytester)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "Hawzu: internal error in pytest-hawzu (RuntimeError: simulated bug) at the end "
            "of the session; the journal is kept: please report this"
        ]
    )
    assert len(journals(pytester)) == 1
    # Left open, if the sender got as far as opening it before the end.
    assert all(e["status"] != "COMPLETED" for e in hawzu_env.executions())


def test_a_url_with_a_password_is_a_usage_error_that_does_not_show_it(pytester, hawzu_env):
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest(*FAST, "--hawzu-url=https://ci:hunter2@api.hawzu.com")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--hawzu-url='https://***@api.hawzu.com': *user or password*"])
    assert "hunter2" not in result.stdout.str() + result.stderr.str()


@pytest.mark.parametrize(
    "url", ["https://ci:hunter2@[::1", "https://[api.hawzu.com", "ci:hunter2@api.hawzu.com"]
)
def test_a_url_python_cannot_split_is_a_usage_error(pytester, hawzu_env, url):
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest(*FAST, f"--hawzu-url={url}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert_clean(result)
    result.stderr.fnmatch_lines(["*--hawzu-url=*: *"])
    assert "hunter2" not in result.stdout.str() + result.stderr.str()


@pytest.mark.parametrize("quiet", [["-q"], ["-qq"], []], ids=["q", "qq", "default"])
def test_lines_said_during_the_run_start_on_a_line_of_their_own(pytester, hawzu_env, quiet):
    # With -q pytest writes its progress dots without ending the line.
    pytester.makepyfile(KNOWN_AND_UNKNOWN)
    result = pytester.runpytest(*FAST, *quiet)  # no live logs: they would end the line
    result.stdout.fnmatch_lines(["Hawzu rejected TCM-999 *"])
    lines = result.stdout.lines
    said = next(i for i, line in enumerate(lines) if line.startswith("Hawzu rejected"))
    assert lines[said - 1].strip(), "a blank line before it"


# -- outages that end, and flushes that run out of time ------------------------------------


def test_a_batch_that_ran_out_of_retries_is_sent_again_once_hawzu_is_back(pytester, hawzu_env):
    # Six 503s in a row use up one batch's attempts; Hawzu answers again at once.
    hawzu_env.fail_next(503, 6, path="/results", retry_after=0)
    pytester.makepyfile(cases_suite(5))
    result = run(pytester)
    execution = only_execution(hawzu_env)
    assert statuses(execution) == {f"TCM-{n}": "PASSED" for n in range(1, 6)}
    assert execution["status"] == "COMPLETED"
    assert journals(pytester) == []
    assert "not delivered" not in result.stdout.str()


def test_a_flush_that_runs_out_of_time_says_so_once(pytester, hawzu_env):
    pytester.makepyfile(cases_suite(300))
    result = run(pytester, "-o", "hawzu_batch_size=10", "--hawzu-rate=2", "--hawzu-flush-timeout=1")
    text = result.stdout.str()
    not_delivered = [line for line in text.splitlines() if "not delivered" in line]
    assert len(not_delivered) == 1, not_delivered
    assert "--hawzu-flush-timeout" in not_delivered[0]
    assert "check --hawzu-url" not in text
    assert "0 attempt(s)" not in text


def test_a_case_rejected_again_on_each_resend_is_said_once(pytester, hawzu_env):
    # A case with several tests is resent as each of them finishes; Hawzu refuses
    # it each time for the same reason, which is one problem, not one per batch.
    pytester.makepyfile(
        CONTROL
        + """
import pytest

@pytest.mark.hawzu("NOPE-1")
@pytest.mark.parametrize("n", range(3))
def test_unknown_case(n):
    if n:  # wait until the case so far has been sent (and refused)
        wait_for("a batch", lambda: len(result_posts()) >= n)
"""
    )
    result = run(pytester, subprocess=True)
    assert len([r for r in hawzu_env.requests() if r.path.endswith("/results")]) >= 3
    rejected = [line for line in result.stdout.lines if line.startswith("Hawzu rejected NOPE-1")]
    assert len(rejected) == 1, rejected


SANDBOX_RUN = """
import os
import pytest

@pytest.mark.hawzu("TCM-1")
def test_attaches(hawzu_attach):
    hawzu_attach(b"data", name="d.txt")
    print("some output")
    assert 0

@pytest.mark.hawzu("TCM-2")
def test_dies():
    if os.environ.get("KILL"):
        os.kill(os.getpid(), 9)
"""


@pytest.mark.parametrize("killed", [False, True], ids=["ends", "killed"])
def test_a_run_against_the_in_process_sandbox_keeps_nothing_nobody_could_deliver(
    pytester, monkeypatch, killed
):
    # The sandbox ends with the session: a journal or copy naming its port is
    # undeliverable, and `hawzu upload .hawzu` would trip on it every time.
    if killed:
        monkeypatch.setenv("KILL", "1")
    pytester.makepyfile(SANDBOX_RUN)
    result = pytester.runpytest_subprocess(
        "--hawzu-sandbox", "--hawzu-release=1.5.0", "-p", "no:xdist", timeout=60
    )
    spool = pytester.path / ".hawzu"
    assert not list(spool.glob("*.jsonl"))
    if killed:
        return
    result.stdout.fnmatch_lines(["not reported: *PAUSED*", "Hawzu: 2 attachments not sent"])
    assert "journal" not in result.stdout.str()
    assert not list((spool / "attachments").glob("*"))
