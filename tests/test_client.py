"""The HTTP client's transport: connections, proxies and the environment, over real HTTP."""

from __future__ import annotations

import importlib.util
import json
import re
import socket
import socketserver
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from test_delivery import cases_suite, run

from pytest_hawzu.client import (
    MAX_NOTES,
    MAX_STEPS,
    ApiError,
    BatchOutcome,
    HawzuClient,
    SetupError,
    TransportError,
    in_parts,
    result_to_wire,
)
from pytest_hawzu.model import CaseResult, Status, Step
from pytest_hawzu.sandbox import Sandbox
from tests.conftest import FAST, HAWZU

# Never resolvable (RFC 6761): only a proxy can reach it.
UNREACHABLE = "http://hawzu.invalid"


def test_a_session_reuses_one_connection(pytester, hawzu_env):
    pytester.makepyfile(cases_suite(250))
    run(pytester, "-o", "hawzu_batch_size=10")
    records = hawzu_env.requests()
    assert len(records) > 25
    assert len({r.client for r in records}) == 1


def test_proxy_variables_are_honoured(sb: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", sb.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = HawzuClient(UNREACHABLE, sb.token)
    assert client.me().project_ids
    assert client.me().project_ids  # and again, on the resolved settings
    client.close()
    assert [r.path for r in sb.requests()] == ["/api/v1/me", "/api/v1/me"]


def test_no_proxy_is_honoured(sb: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", sb.url)
    monkeypatch.setenv("NO_PROXY", "hawzu.invalid")
    client = HawzuClient(UNREACHABLE, sb.token, timeout=5)
    with pytest.raises(TransportError):
        client.me()
    client.close()
    assert sb.requests() == []


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    return monkeypatch


def test_a_ca_bundle_that_is_not_there_says_so(no_proxy_env, tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    no_proxy_env.setenv("REQUESTS_CA_BUNDLE", str(missing))
    client = HawzuClient("https://127.0.0.1:1", SECRET, timeout=5)
    with pytest.raises(SetupError, match=f"CA bundle {re.escape(str(missing))} .*does not exist"):
        client.me()
    client.close()


def test_an_empty_ca_bundle_says_so(no_proxy_env, tmp_path: Path) -> None:
    empty = tmp_path / "empty.pem"
    empty.write_text("")
    no_proxy_env.setenv("REQUESTS_CA_BUNDLE", str(empty))
    with socket.create_server(("127.0.0.1", 0)) as listener:  # connects; never answers
        client = HawzuClient(f"https://127.0.0.1:{listener.getsockname()[1]}", SECRET, timeout=5)
        with pytest.raises(SetupError, match="holds no usable certificate"):
            client.me()
        client.close()


class _AsksForAPassword(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        while self.rfile.readline() not in (b"\r\n", b""):
            pass
        self.wfile.write(
            b"HTTP/1.1 407 Proxy Authentication Required\r\n"
            b'Proxy-Authenticate: Basic realm="proxy"\r\nContent-Length: 0\r\n\r\n'
        )


def test_a_proxy_that_wants_a_password_says_so_and_not_the_password(no_proxy_env) -> None:
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), _AsksForAPassword) as proxy:
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        port = proxy.server_address[1]
        no_proxy_env.setenv("HTTPS_PROXY", f"http://someone:pr0xy-pa55@127.0.0.1:{port}")
        client = HawzuClient("https://hawzu.invalid", SECRET, timeout=5)
        with pytest.raises(SetupError, match="407 Proxy Authentication Required") as caught:
            client.me()
        client.close()
        proxy.shutdown()
    assert "pr0xy-pa55" not in str(caught.value)


def test_a_socks_proxy_without_pysocks_says_what_to_install(no_proxy_env) -> None:
    if importlib.util.find_spec("socks") is not None:
        pytest.skip("PySocks is installed")
    no_proxy_env.setenv("HTTPS_PROXY", "socks5://someone:pr0xy-pa55@127.0.0.1:1")
    client = HawzuClient("https://hawzu.invalid", SECRET, timeout=5)
    with pytest.raises(SetupError, match=re.escape("pip install 'requests[socks]'")) as caught:
        client.me()
    client.close()
    assert "pr0xy-pa55" not in str(caught.value)


def test_netrc_never_replaces_the_token(
    sb: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login someone password other\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    client = HawzuClient(sb.url, sb.token)
    assert client.me().project_ids  # a Basic header from .netrc would be a 401
    client.close()


# -- answers that are not the API's ---------------------------------------------------------

SIGN_IN = "<html><body>Please sign in to continue</body></html>"


@pytest.fixture
def sign_in_page(httpserver):
    """What a proxy or a single sign-on gateway in front of a wrong URL answers: 200, HTML."""
    httpserver.expect_request(re.compile(".*")).respond_with_data(
        SIGN_IN, status=200, content_type="text/html"
    )
    return httpserver


def test_a_200_that_is_not_json_is_not_taken_for_delivery(sign_in_page):
    client = HawzuClient(sign_in_page.url_for("/").rstrip("/"), "token")
    result = CaseResult(case_id="TCM-1", status=Status.PASSED)
    with pytest.raises(ApiError) as raised:
        client.post_results("exe_1", [result])
    client.close()
    error = raised.value
    assert error.code == "NOT_THE_API"
    assert "text/html" in error.message
    assert "Please sign in" in error.message


@pytest.mark.parametrize(
    ("call", "body"),
    [
        ("results", {"ok": True}),
        ("execution", {"ok": True}),
        ("complete", {}),
        ("release", {"name": "1.4.0"}),
    ],
)
def test_json_without_what_the_api_answers_is_refused(httpserver, call, body):
    httpserver.expect_request(re.compile(".*")).respond_with_json(body)
    client = HawzuClient(httpserver.url_for("/").rstrip("/"), "token")
    calls = {
        "results": lambda: client.post_results("exe_1", [CaseResult("TCM-1", Status.PASSED)]),
        "execution": lambda: client.get_execution("exe_1"),
        "complete": lambda: client.complete_execution("exe_1"),
        "release": lambda: client.get_release("rel_7"),
    }
    with pytest.raises(ApiError, match="NOT_THE_API"):
        calls[call]()
    client.close()


def test_upload_to_a_sign_in_page_keeps_the_journal(pytester, hawzu_env, sign_in_page):
    pytester.makepyfile(cases_suite(3))
    hawzu_env.fail_next(503, 10_000, retry_after=60)
    pytester.runpytest(*FAST, "--hawzu-flush-timeout=0.5")
    (journal,) = (pytester.path / ".hawzu").glob("*.jsonl")
    url = sign_in_page.url_for("/").rstrip("/")
    result = pytester.run(HAWZU, "upload", str(journal), "--url", url, timeout=120)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*not delivered: *NOT_THE_API*; the journal is kept*"])
    assert journal.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"accepted": 4, "rejected": ["TCM-1"]},
        {"accepted": 4, "rejected": {"TCM-1": "no"}},
        {"accepted": "4"},
        # Counts that do not add up to the batch: nothing says the result was kept.
        {"accepted": 0},
        {"accepted": 2},
        {"accepted": 0, "rejected": []},
        {"accepted": True},
        {"rejected": None},
        {"accepted": 1, "rejected": [{"index": 0, "error": "no such case"}]},
    ],
)
def test_a_batch_answer_of_the_wrong_shape_is_not_the_api(httpserver, body):
    httpserver.expect_request(re.compile(".*")).respond_with_json(body)
    client = HawzuClient(httpserver.url_for("/").rstrip("/"), "token")
    with pytest.raises(ApiError, match="NOT_THE_API"):
        client.post_results("exe_1", [CaseResult("TCM-1", Status.PASSED)])
    client.close()


def test_odd_but_usable_answers_are_read_as_far_as_they_go(httpserver):
    httpserver.expect_request("/api/v1/me").respond_with_json(
        {"workspace": "w", "projects": [{"id": "proj_101"}, "junk"]}
    )
    httpserver.expect_request("/api/v1/executions/exe_1/results").respond_with_json(
        {"accepted": 0, "rejected": [{"index": 0, "error": "no such case"}]}
    )
    client = HawzuClient(httpserver.url_for("/").rstrip("/"), "token")
    assert client.me().project_ids == ("proj_101",)
    outcome = client.post_results("exe_1", [CaseResult("TCM-1", Status.PASSED)])
    client.close()
    (rejection,) = outcome.rejected
    assert (rejection.case_id, rejection.message) == ("TCM-1", "no such case")


# -- what Hawzu may answer within its published rules ---------------------------------------


def _client(httpserver) -> HawzuClient:
    return HawzuClient(httpserver.url_for("/").rstrip("/"), "token")


def _releases(*named: tuple[str, str]) -> dict[str, object]:
    return {
        "data": [
            {"id": f"rel_{n}", "name": name, "project_id": project, "status": "IN_PROGRESS"}
            for n, (name, project) in enumerate(named)
        ]
    }


def test_a_release_search_keeps_only_the_name_asked_for(httpserver):
    # The name filter is not published: a server that ignores it must not turn
    # a mistyped release into whatever release the project has.
    httpserver.expect_request("/api/v1/releases").respond_with_json(
        _releases(("2.0", "proj_101"), ("1.4.0", "proj_101"), ("1.4.0", "proj_999"))
    )
    client = _client(httpserver)
    assert [r.id for r in client.find_releases("proj_101", "1.4.0")] == ["rel_1"]
    assert client.find_releases("proj_101", "9.9.9") == []
    client.close()


@pytest.mark.parametrize(
    ("status", "accepts"),
    [
        ("IN_PROGRESS", True),
        ("PLANNING", True),  # new in v1 some day: Hawzu's 409 decides, not a guess
        ("", True),
        ("DRAFT", False),
        ("PAUSED", False),
        ("COMPLETED", False),
        ("ARCHIVED", False),
        ("REJECTED", False),
    ],
)
def test_only_a_status_known_to_lock_a_release_is_refused_before_asking(
    httpserver, status, accepts
):
    body = {"id": "rel_7", "name": "1.4.0", "project_id": "proj_101", "status": status}
    httpserver.expect_request("/api/v1/releases/rel_7").respond_with_json(body)
    client = _client(httpserver)
    assert client.get_release("rel_7").accepts_executions is accepts
    client.close()


def test_a_completion_answered_with_no_content_is_a_completion(httpserver):
    httpserver.expect_request("/api/v1/executions/exe_1", method="PATCH").respond_with_data(
        b"", status=204
    )
    client = _client(httpserver)
    execution = client.complete_execution("exe_1")
    client.close()
    assert (execution.id, execution.completed) == ("exe_1", True)


def test_an_answer_without_what_is_needed_names_its_own_status(httpserver):
    httpserver.expect_request("/api/v1/executions").respond_with_json({"ok": 1}, status=201)
    client = _client(httpserver)
    with pytest.raises(ApiError, match=r"^HTTP 201 NOT_THE_API: POST /executions .*'id'"):
        client.create_execution("rel_7", "title")
    client.close()


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        ('{"error": {"code": "FORBIDDEN", "message": "Role too low"}}', "json", "Role too low"),
        ('{"error": "Token revoked"}', "json", "Token revoked"),
        ('{"message": "Token revoked"}', "json", "Token revoked"),
        ("<html><h1>502 Bad Gateway</h1></html>", "html", "502 Bad Gateway"),
        ("", "json", "no error message in the response"),
    ],
)
def test_an_error_says_what_the_answer_said(httpserver, body, content_type, message):
    mime = "application/json" if content_type == "json" else "text/html"
    httpserver.expect_request("/api/v1/me").respond_with_data(body, status=403, content_type=mime)
    client = _client(httpserver)
    with pytest.raises(ApiError) as raised:
        client.me()
    client.close()
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_flat_rejected_item_keeps_its_code_and_message(httpserver):
    httpserver.expect_request("/api/v1/executions/exe_1/results").respond_with_json(
        {
            "accepted": 0,
            "rejected": [
                {"index": 0, "code": "TEST_CASE_NOT_FOUND", "message": "no test case TCM-1"}
            ],
        }
    )
    client = _client(httpserver)
    outcome = client.post_results("exe_1", [CaseResult("TCM-1", Status.PASSED)])
    client.close()
    (rejection,) = outcome.rejected
    assert (rejection.code, rejection.message) == ("TEST_CASE_NOT_FOUND", "no test case TCM-1")


def _rejected(
    httpserver: HTTPServer, answer: Mapping[str, object], results: list[CaseResult]
) -> BatchOutcome:
    httpserver.expect_request("/api/v1/executions/exe_1/results").respond_with_json(answer)
    client = _client(httpserver)
    outcome = client.post_results("exe_1", results)
    client.close()
    return outcome


def test_a_rejected_item_without_a_code_still_says_it_was_rejected(httpserver: HTTPServer) -> None:
    answer = {"accepted": 0, "rejected": [{"index": 0, "message": "no test case TCM-1"}]}
    outcome = _rejected(httpserver, answer, [CaseResult("TCM-1", Status.PASSED)])
    (rejection,) = outcome.rejected
    assert (rejection.code, rejection.message) == ("REJECTED", "no test case TCM-1")


def test_a_rejected_item_names_its_case_and_tests_by_its_index(httpserver: HTTPServer) -> None:
    results = [CaseResult(f"TCM-{n}", Status.PASSED, nodeids=(f"t.py::t{n}",)) for n in (1, 2)]
    answer = {"rejected": [{"index": 1, "error": {"code": "NOT_FOUND", "message": "no"}}]}
    outcome = _rejected(httpserver, answer, results)
    assert outcome.accepted == 1
    (rejection,) = outcome.rejected
    assert (rejection.case_id, rejection.code, rejection.nodeids) == (
        "TCM-2",
        "NOT_FOUND",
        ("t.py::t2",),
    )


def test_a_rejected_item_with_an_index_outside_the_batch_keeps_what_it_says(
    httpserver: HTTPServer,
) -> None:
    answer = {"accepted": 0, "rejected": [{"index": 1, "test_case_id": "TCM-9", "code": "X"}]}
    outcome = _rejected(httpserver, answer, [CaseResult("TCM-1", Status.PASSED)])
    (rejection,) = outcome.rejected
    assert (rejection.case_id, rejection.code, rejection.nodeids) == ("TCM-9", "X", ())


def test_a_rejected_item_that_names_its_case_is_taken_at_its_word(httpserver: HTTPServer) -> None:
    results = [CaseResult(f"TCM-{n}", Status.PASSED) for n in (1, 2)]
    answer = {"accepted": 1, "rejected": [{"index": 0, "test_case_id": "TCM-2"}]}
    (rejection,) = _rejected(httpserver, answer, results).rejected
    assert rejection.case_id == "TCM-2"


# -- the wire form --------------------------------------------------------------------------


def test_notes_are_cut_to_what_hawzu_takes() -> None:
    wire = result_to_wire(CaseResult("TCM-1", Status.FAILED, notes="x" * (MAX_NOTES + 10)))
    assert len(wire["notes"]) == MAX_NOTES


def test_times_are_sent_to_the_nearest_millisecond() -> None:
    wire = result_to_wire(CaseResult("TCM-1", Status.PASSED, started_at=1_800_000_000.1239))
    assert wire["started_at"] == "2027-01-15T08:00:00.124Z"


def test_past_the_step_limit_the_worst_steps_are_kept_first() -> None:
    skipped = [Step(f"test[{n}]", Status.SKIPPED) for n in range(MAX_STEPS + 20)]
    steps = [*skipped, Step("test[broken]", Status.FAILED, "boom")]
    wire = result_to_wire(CaseResult("TCM-1", Status.FAILED, steps=tuple(steps)))["steps"]
    assert wire[-2]["name"] == "test[broken]"


def test_the_step_standing_for_the_rest_has_the_worst_status_among_them() -> None:
    passed = [Step(f"passed[{n}]", Status.PASSED) for n in range(10)]
    skipped = [Step(f"skipped[{n}]", Status.SKIPPED) for n in range(MAX_STEPS + 20)]
    wire = result_to_wire(CaseResult("TCM-1", Status.PASSED, steps=(*passed, *skipped)))["steps"]
    assert wire[-1]["status"] == "PASSED"
    assert wire[-1]["notes"] == "10 PASSED, 21 SKIPPED"


def test_exactly_the_step_limit_is_sent_as_it_is() -> None:
    steps = tuple(Step(f"test[{n}]", Status.PASSED) for n in range(MAX_STEPS))
    wire = result_to_wire(CaseResult("TCM-1", Status.PASSED, steps=steps))["steps"]
    assert [s["name"] for s in wire] == [s.name for s in steps]


def test_one_step_past_the_limit_is_told_in_one_more() -> None:
    steps = tuple(Step(f"test[{n}]", Status.PASSED) for n in range(MAX_STEPS + 1))
    wire = result_to_wire(CaseResult("TCM-1", Status.PASSED, steps=steps))["steps"]
    assert len(wire) == MAX_STEPS
    assert wire[-1]["name"] == "2 more steps"


def test_past_the_step_limit_the_failures_are_kept_and_one_step_stands_for_the_rest():
    passed = [Step(f"test[{n}]", Status.PASSED) for n in range(MAX_STEPS + 50)]
    steps = [*passed[:300], Step("test[broken]", Status.FAILED, "boom"), *passed[300:]]
    wire = result_to_wire(CaseResult("TCM-1", Status.FAILED, steps=tuple(steps)))["steps"]
    assert len(wire) == MAX_STEPS
    names = [s["name"] for s in wire]
    # The failed one kept in its place, then the first of the others.
    assert names[299:302] == ["test[299]", "test[broken]", "test[300]"]
    assert names[-2] == f"test[{MAX_STEPS - 3}]"
    left = len(steps) - (MAX_STEPS - 1)
    assert wire[-1] == {"name": f"{left} more steps", "status": "PASSED", "notes": f"{left} PASSED"}


def test_past_the_step_limit_a_skipped_step_is_kept_before_passed_ones():
    passed = [Step(f"test[{n}]", Status.PASSED) for n in range(MAX_STEPS + 50)]
    steps = [*passed, Step("test[skipped]", Status.SKIPPED, "no db")]
    wire = result_to_wire(CaseResult("TCM-1", Status.PASSED, steps=tuple(steps)))["steps"]
    assert wire[-2]["name"] == "test[skipped]"
    assert wire[-1]["notes"].endswith("PASSED")


def test_a_redirect_is_not_followed(httpserver, sandbox):
    """Results go where the user said, or nowhere: a redirect (a moved API, a
    captive portal) is reported, and the other host gets nothing."""
    elsewhere = f"{sandbox.url}/api/v1/executions/exe_1/results"
    httpserver.expect_request(re.compile(".*")).respond_with_data(
        "", status=307, headers={"Location": elsewhere}
    )
    client = HawzuClient(httpserver.url_for("/").rstrip("/"), "token", timeout=5)
    with pytest.raises(ApiError) as raised:
        client.post_results("exe_1", [CaseResult("TCM-1", Status.PASSED)])
    client.close()
    assert raised.value.code == "NOT_THE_API"
    assert "redirect" in raised.value.message
    assert elsewhere in raised.value.message
    assert sandbox.requests() == []


# -- the body as sent -----------------------------------------------------------------------

SECRET = "s3cret-token-value"


def _posted(httpserver, results: list[CaseResult], token: str = SECRET) -> tuple[bytes, str]:
    """The raw body and Content-Type the server received for one batch."""
    httpserver.expect_request("/api/v1/executions/exe_1/results").respond_with_json(
        {"accepted": len(results), "rejected": []}
    )
    client = HawzuClient(httpserver.url_for("/").rstrip("/"), token)
    client.post_results("exe_1", results)
    client.close()
    (request, _), *_ = httpserver.log
    return request.get_data(), request.headers["Content-Type"]


def _strings(value: object) -> list[str]:
    """Every string in decoded JSON, keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *_strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_a_clean_batch_is_sent_as_utf8_json(httpserver):
    result = CaseResult("TCM-1", Status.FAILED, notes='café ☕ 𝄞 "quoted" \\ tab\t')
    body, content_type = _posted(httpserver, [result])
    assert content_type == "application/json"
    sent = json.loads(body.decode("utf-8"))
    assert sent["results"][0]["notes"] == result.notes
    assert sent["results"][0]["test_case_id"] == "TCM-1"


@pytest.mark.parametrize("field", ["case_id", "notes", "step_name", "step_notes", "nodeid"])
@pytest.mark.parametrize(
    ("token", "bad", "shown"),
    [
        (SECRET, SECRET, "***"),
        ('tok"en\\with-quote', 'tok"en\\with-quote', "***"),
        (SECRET, "\x00", "\ufffd"),
        (SECRET, "\udce9", "\ufffd"),
    ],
    ids=["token", "token-escaped-in-json", "nul", "lone-surrogate"],
)
def test_nothing_unsendable_reaches_the_server(httpserver, field, token, bad, shown):
    """The token, NUL and lone surrogates, in any string of a batch, never go out."""
    parts = dict.fromkeys(["case_id", "notes", "step_name", "step_notes", "nodeid"], "x")
    parts[field] = f"before {bad} after"
    result = CaseResult(
        parts["case_id"],
        Status.FAILED,
        notes=parts["notes"],
        steps=(Step(parts["step_name"], Status.FAILED, parts["step_notes"]),),
        nodeids=(parts["nodeid"],),
    )
    body, _ = _posted(httpserver, [CaseResult("TCM-2", Status.PASSED), result], token)
    received = _strings(json.loads(body.decode("utf-8")))  # strict UTF-8
    assert f"before {shown} after" in received
    assert not [s for s in received if token in s or "\x00" in s]


def test_a_json_answer_with_a_byte_order_mark_is_read(httpserver):
    """RFC 8259 lets a parser ignore a BOM; a proxy or framework may add one."""
    body = b"\xef\xbb\xbf" + json.dumps({"accepted": 1, "rejected": []}).encode()
    httpserver.expect_request("/api/v1/executions/exe_1/results").respond_with_data(
        body, content_type="application/json"
    )
    client = HawzuClient(httpserver.url_for("/").rstrip("/"), "token")
    assert client.post_results("exe_1", [CaseResult("TCM-1", Status.PASSED)]).accepted == 1
    client.close()


@pytest.mark.parametrize("status", [200, 204])
def test_an_empty_answer_to_the_token_check_is_not_the_api(httpserver, status):
    httpserver.expect_request("/api/v1/me").respond_with_data(b"", status=status)
    client = HawzuClient(httpserver.url_for("/").rstrip("/"), "token")
    with pytest.raises(ApiError, match="NOT_THE_API: GET /me was answered with an empty body"):
        client.me()
    client.close()


# -- a whole answer within the timeout ------------------------------------------------------


@pytest.fixture
def trickling() -> Iterator[str]:
    """A server that answers with headers, then one byte of body every 0.1 s, forever."""
    stop = threading.Event()

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.recv(65536)
            self.request.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100000\r\n\r\n"
            )
            try:
                while not stop.wait(0.1):
                    self.request.sendall(b" ")
            except OSError:
                pass  # the client gave up and closed

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    stop.set()
    server.shutdown()
    server.server_close()


def test_an_answer_that_never_ends_is_cut_at_the_timeout(trickling):
    """The timeout bounds the whole request, not each read: a trickle never trips a read's."""
    client = HawzuClient(trickling, "token", timeout=1)
    raised: list[BaseException] = []

    def post() -> None:
        try:
            client.post_results("exe_1", [CaseResult("TCM-1", Status.PASSED)])
        except BaseException as exc:  # handed to the test's thread
            raised.append(exc)

    caller = threading.Thread(target=post, daemon=True)
    caller.start()
    caller.join(60)  # only a guard against the hang this test is about
    assert not caller.is_alive(), "the request was still running after 60 s"
    (exc,) = raised
    assert isinstance(exc, TransportError)
    assert "POST /executions/exe_1/results: no complete answer within 1 s" in str(exc)
    client.close()


def test_reading_an_answer_logs_nothing(httpserver, caplog):
    """An answer without a charset is decoded without guessing, which would log."""
    httpserver.expect_request("/api/v1/me").respond_with_data(
        json.dumps({"id": "tok_1"}).encode(), content_type="application/problem+json"
    )
    client = HawzuClient(httpserver.url_for("/").rstrip("/"), "token")
    with caplog.at_level("DEBUG"):
        client.me()
    client.close()
    assert [r for r in caplog.records if not r.name.startswith("werkzeug")] == []


def test_a_batch_is_halved_while_the_answer_is_413_and_one_result_too_large_is_rejected():
    sent: list[list[str]] = []

    def post(part):
        sent.append([r.case_id for r in part])
        if len(part) > 2 or "TCM-3" in sent[-1]:
            raise ApiError(413, "PAYLOAD_TOO_LARGE", "too large")
        return BatchOutcome(len(part), ())

    batch = [CaseResult(f"TCM-{n}", Status.FAILED, nodeids=(f"t.py::t{n}",)) for n in range(1, 5)]
    answered: list[tuple[Sequence[CaseResult], BatchOutcome]] = []
    in_parts(post, batch, answered)
    assert [[r.case_id for r in part] for part, _ in answered] == [
        ["TCM-1", "TCM-2"],
        ["TCM-3"],
        ["TCM-4"],
    ]
    assert sent == [
        ["TCM-1", "TCM-2", "TCM-3", "TCM-4"],
        ["TCM-1", "TCM-2"],
        ["TCM-3", "TCM-4"],
        ["TCM-3"],
        ["TCM-4"],
    ]
    assert sum(outcome.accepted for _, outcome in answered) == 3
    (rejection,) = answered[1][1].rejected
    assert (rejection.case_id, rejection.code, rejection.nodeids) == (
        "TCM-3",
        "PAYLOAD_TOO_LARGE",
        ("t.py::t3",),
    )
    assert "hawzu_notes_limit" in rejection.message


def test_the_parts_answered_before_a_part_fails_are_kept():
    def post(part):
        if len(part) > 1:
            raise ApiError(413, "PAYLOAD_TOO_LARGE", "too large")
        if part[0].case_id == "TCM-2":
            raise ApiError(400, "VALIDATION_FAILED", "refused")
        return BatchOutcome(1, ())

    batch = [CaseResult(f"TCM-{n}", Status.PASSED) for n in range(1, 4)]
    answered: list[tuple[Sequence[CaseResult], BatchOutcome]] = []
    with pytest.raises(ApiError):
        in_parts(post, batch, answered)
    assert [[r.case_id for r in part] for part, _ in answered] == [["TCM-1"]]


def test_a_batch_refused_for_another_reason_than_its_size_is_not_split() -> None:
    sent: list[int] = []

    def post(part: Sequence[CaseResult]) -> BatchOutcome:
        sent.append(len(part))
        raise ApiError(400, "VALIDATION_ERROR", "bad batch")

    batch = [CaseResult(f"TCM-{n}", Status.FAILED) for n in range(1, 5)]
    with pytest.raises(ApiError, match="VALIDATION_ERROR"):
        in_parts(post, batch, [])
    assert sent == [4]


def test_an_error_in_the_flat_shape_keeps_its_code(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/v1/me").respond_with_json(
        {"error": "Token revoked", "code": "TOKEN_REVOKED"}, status=403
    )
    client = _client(httpserver)
    with pytest.raises(ApiError) as raised:
        client.me()
    client.close()
    assert (raised.value.code, raised.value.message) == ("TOKEN_REVOKED", "Token revoked")


def test_a_release_named_in_another_case_is_found_when_it_is_the_only_one(httpserver):
    # Exact first; a server whose filter ignores case may still have one match.
    httpserver.expect_request("/api/v1/releases").respond_with_json(
        _releases(("RC-1.4", "proj_101"), ("rc-1.5", "proj_101"))
    )
    client = _client(httpserver)
    assert [r.id for r in client.find_releases("proj_101", "rc-1.4")] == ["rel_0"]
    assert [r.id for r in client.find_releases("proj_101", " RC-1.5 ")] == ["rel_1"]
    client.close()


def test_a_bug_of_ours_inside_a_request_is_not_taken_for_the_network(sb, monkeypatch):
    def broken(self, payload):
        raise TypeError("a bug")

    monkeypatch.setattr(HawzuClient, "_body", broken)
    client = HawzuClient(sb.url, sb.token)
    with pytest.raises(TypeError, match="a bug"):
        client.create_execution("rel_7", "t")
    client.close()
