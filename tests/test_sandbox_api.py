"""The sandbox's /api/v1 endpoints over real HTTP: identity, releases, cases, executions."""

from __future__ import annotations

import http.client
import json
import select
import socket
from urllib.parse import urlsplit

import pytest
import requests
from sandbox_helpers import Api, error_of

from pytest_hawzu.sandbox import Sandbox
from pytest_hawzu.sandbox.httpd import make_server

# -- authentication -----------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", "sandbox-token", "Basic sandbox-token", "Bearer ", "Bearer"],
)
def test_missing_or_wrong_token_is_401(sb: Sandbox, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = requests.get(sb.url + "/api/v1/me", headers=headers, timeout=10)
    assert response.status_code == 401
    assert error_of(response)["code"] == "UNAUTHORIZED"


def test_bearer_scheme_is_case_insensitive(sb: Sandbox) -> None:
    headers = {"Authorization": "bearer sandbox-token"}
    assert requests.get(sb.url + "/api/v1/me", headers=headers, timeout=10).status_code == 200


def test_401_comes_before_routing(sb: Sandbox) -> None:
    response = requests.get(sb.url + "/api/v1/nowhere", timeout=10)
    assert response.status_code == 401


def test_custom_token() -> None:
    with Sandbox(token="s3cret") as sb:
        assert sb.token == "s3cret"
        good, bad = Api(sb), Api(sb, token="sandbox-token")
        try:
            assert good.get("/me").status_code == 200
            assert bad.get("/me").status_code == 401
        finally:
            good.close()
            bad.close()


# -- identity, releases, test cases -------------------------------------------


def test_me_describes_workspace_and_projects(api: Api) -> None:
    response = api.get("/me")
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "TOKEN"
    assert body["workspace"] == {"id": "ws_001", "name": "Acme"}
    assert [(p["id"], p["name"], p["code"]) for p in body["projects"]] == [
        ("proj_101", "Checkout", "TCM")
    ]
    assert body["projects"][0]["role"] == "PROJECT_MEMBER"


def test_added_project_shows_in_me(sb: Sandbox, api: Api) -> None:
    sb.add_project("proj_202", "Payments", "PAY", role="PROJECT_ADMIN")
    projects = api.get("/me").json()["projects"]
    assert [p["id"] for p in projects] == ["proj_101", "proj_202"]
    assert projects[1]["role"] == "PROJECT_ADMIN"


@pytest.mark.parametrize(
    ("release_id", "name", "status"),
    [
        ("rel_7", "1.4.0", "IN_PROGRESS"),
        ("rel_6", "1.3.0", "COMPLETED"),
        ("rel_8", "1.5.0", "PAUSED"),
    ],
)
def test_seed_releases(api: Api, release_id: str, name: str, status: str) -> None:
    body = api.get(f"/releases/{release_id}").json()
    assert (body["id"], body["name"], body["status"], body["project_id"]) == (
        release_id,
        name,
        status,
        "proj_101",
    )
    assert body["created_at"]


def test_unknown_release_is_404(api: Api) -> None:
    response = api.get("/releases/rel_404")
    assert response.status_code == 404
    assert error_of(response)["code"] == "RELEASE_NOT_FOUND"


def test_find_releases_by_project_and_name(sb: Sandbox, api: Api) -> None:
    sb.add_project("proj_202", "Payments", "PAY")
    sb.add_release("rel_20", "1.4.0", "proj_202", "NOT_STARTED")
    found = api.get("/releases", params={"project_id": "proj_101", "name": "1.4.0"}).json()
    assert [r["id"] for r in found["data"]] == ["rel_7"]
    found = api.get("/releases", params={"project_id": "proj_202", "name": "1.4.0"}).json()
    assert [(r["id"], r["status"]) for r in found["data"]] == [("rel_20", "NOT_STARTED")]


def test_find_releases_without_match_is_an_empty_list(api: Api) -> None:
    response = api.get("/releases", params={"project_id": "proj_101", "name": "9.9.9"})
    assert response.status_code == 200
    assert response.json() == {"data": []}


def test_add_release_checks_its_arguments(sb: Sandbox) -> None:
    with pytest.raises(ValueError, match="unknown release status"):
        sb.add_release("rel_x", "x", "proj_101", "FROZEN")
    with pytest.raises(ValueError, match="unknown project"):
        sb.add_release("rel_x", "x", "proj_999", "IN_PROGRESS")


def test_test_case(api: Api) -> None:
    body = api.get("/testcases/TCM-100").json()
    assert body["id"] == "TCM-100"
    assert body["project_id"] == "proj_101"
    assert body["automation_status"] == "AUTOMATED"
    assert body["title"]


def test_unknown_test_case_is_404(api: Api) -> None:
    response = api.get("/testcases/TCM-101")
    assert response.status_code == 404
    assert error_of(response)["code"] == "TEST_CASE_NOT_FOUND"


def test_case_count_is_configurable() -> None:
    with Sandbox(case_count=3) as sb:
        api = Api(sb)
        try:
            assert api.get("/testcases/TCM-3").status_code == 200
            assert api.get("/testcases/TCM-4").status_code == 404
        finally:
            api.close()


def test_opaque_case_ids_with_slashes_and_unicode(sb: Sandbox, api: Api) -> None:
    sb.add_cases(["QA/7", "ÜX-1", "a%2Fb"])
    for case_id, encoded in [("QA/7", "QA%2F7"), ("ÜX-1", "%C3%9CX-1"), ("a%2Fb", "a%252Fb")]:
        response = api.get(f"/testcases/{encoded}")
        assert response.status_code == 200, case_id
        assert response.json()["id"] == case_id


def test_unknown_endpoint_and_wrong_method(api: Api) -> None:
    missing = api.get("/nothing/here")
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "NOT_FOUND"
    wrong = api.request("DELETE", "/executions/exe_1")
    assert wrong.status_code == 405
    assert error_of(wrong)["details"]["allow"] == ["GET", "PATCH"]
    assert wrong.headers["Allow"] == "GET, PATCH"  # RFC 9110 requires it on a 405


# -- creating executions ------------------------------------------------------


def test_create_execution(sb: Sandbox, api: Api) -> None:
    response = api.post(
        "/executions",
        json={"release_id": "rel_7", "title": "pytest · main", "description": "nightly"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["id"] == "exe_1"
    assert (body["release_id"], body["title"], body["status"]) == (
        "rel_7",
        "pytest · main",
        "IN_PROGRESS",
    )
    assert body["web_url"] == f"{sb.url}/#exe_1"
    assert body["created_at"].endswith("Z")
    stored = sb.execution("exe_1")
    assert stored["description"] == "nightly"
    assert stored["idempotency_key"] is None
    assert stored["results"] == {}


def test_idempotent_replay_returns_the_same_execution(sb: Sandbox, api: Api) -> None:
    body = {"release_id": "rel_7", "title": "run"}
    first = api.post("/executions", json=body, headers={"Idempotency-Key": "run-42"})
    again = api.post("/executions", json=body, headers={"Idempotency-Key": "run-42"})
    other = api.post("/executions", json=body, headers={"Idempotency-Key": "run-43"})
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 201)
    assert again.json()["id"] == first.json()["id"] == "exe_1"
    assert other.json()["id"] == "exe_2"
    assert [e["idempotency_key"] for e in sb.executions()] == ["run-42", "run-43"]


def test_replay_wins_even_after_the_release_locks(sb: Sandbox, api: Api) -> None:
    headers = {"Idempotency-Key": "k"}
    first = api.post("/executions", json={"release_id": "rel_7", "title": "t"}, headers=headers)
    sb.set_release_status("rel_7", "PAUSED")
    again = api.post("/executions", json={"release_id": "rel_7", "title": "t"}, headers=headers)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]


def test_failed_creation_does_not_burn_the_key(api: Api) -> None:
    headers = {"Idempotency-Key": "k"}
    locked = api.post("/executions", json={"release_id": "rel_8", "title": "t"}, headers=headers)
    assert locked.status_code == 409
    response = api.post("/executions", json={"release_id": "rel_7", "title": "t"}, headers=headers)
    assert response.status_code == 201


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there", "naïve"])
def test_malformed_idempotency_key_is_422(api: Api, key: str) -> None:
    response = api.post(
        "/executions",
        json={"release_id": "rel_7", "title": "t"},
        headers={"Idempotency-Key": key.encode().decode("latin-1")},
    )
    assert response.status_code == 422
    assert error_of(response)["details"]["field"] == "Idempotency-Key"


def test_test_case_ids_start_as_not_executed(sb: Sandbox, api: Api) -> None:
    body = api.new_execution(test_case_ids=["TCM-1", "TCM-2", "TCM-1"])
    assert body["summary"]["NOT_EXECUTED"] == 2
    stored = sb.execution(body["id"])
    assert stored["test_case_ids"] == ["TCM-1", "TCM-2"]
    assert stored["results"]["TCM-2"] == {
        "test_case_id": "TCM-2",
        "status": "NOT_EXECUTED",
        "attachments": [],
    }


def test_unknown_test_case_ids_are_422_with_details(sb: Sandbox, api: Api) -> None:
    response = api.post(
        "/executions",
        json={"release_id": "rel_7", "title": "t", "test_case_ids": ["TCM-1", "TCM-999", "X"]},
    )
    assert response.status_code == 422
    assert error_of(response)["details"] == {"unknown_test_case_ids": ["TCM-999", "X"]}
    assert sb.executions() == []


def test_cases_of_another_project_are_unknown(sb: Sandbox, api: Api) -> None:
    sb.add_project("proj_202", "Payments", "PAY")
    sb.add_cases(["PAY-1"], project_id="proj_202")
    response = api.post(
        "/executions", json={"release_id": "rel_7", "title": "t", "test_case_ids": ["PAY-1"]}
    )
    assert error_of(response)["details"] == {"unknown_test_case_ids": ["PAY-1"]}


@pytest.mark.parametrize(
    "body",
    [
        {"release_id": "rel_7"},
        {"release_id": "rel_7", "title": ""},
        {"release_id": "rel_7", "title": "x" * 256},
        {"release_id": "rel_7", "title": 7},
        {"title": "t"},
        {"release_id": "rel_7", "title": "t", "description": "d" * 10_001},
        {"release_id": "rel_7", "title": "t", "test_case_ids": "TCM-1"},
        {"release_id": "rel_7", "title": "t", "test_case_ids": [1]},
        ["rel_7", "t"],
    ],
)
def test_invalid_execution_is_422(sb: Sandbox, api: Api, body: object) -> None:
    response = api.post("/executions", json=body)
    assert response.status_code == 422
    assert error_of(response)["code"] == "VALIDATION_ERROR"
    assert sb.executions() == []


def test_title_of_255_characters_is_fine(api: Api) -> None:
    assert api.new_execution(title="x" * 255)["title"] == "x" * 255


def test_malformed_json_and_wrong_content_type_are_400(api: Api) -> None:
    bad_json = api.post("/executions", data=b"{nope", headers={"Content-Type": "application/json"})
    form = api.post("/executions", data={"release_id": "rel_7", "title": "t"})
    assert (bad_json.status_code, form.status_code) == (400, 400)
    assert error_of(bad_json)["code"] == error_of(form)["code"] == "BAD_REQUEST"


def test_execution_in_unknown_release_is_404(api: Api) -> None:
    response = api.post("/executions", json={"release_id": "rel_404", "title": "t"})
    assert response.status_code == 404
    assert error_of(response)["code"] == "RELEASE_NOT_FOUND"


@pytest.mark.parametrize("status", ["DRAFT", "REJECTED", "PAUSED", "COMPLETED", "ARCHIVED"])
def test_blocked_release_refuses_executions(sb: Sandbox, api: Api, status: str) -> None:
    sb.add_release("rel_x", "x", "proj_101", status)
    response = api.post("/executions", json={"release_id": "rel_x", "title": "t"})
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "RELEASE_LOCKED"
    assert error["details"]["release_status"] == status


@pytest.mark.parametrize("status", ["NOT_STARTED", "IN_PROGRESS", "IN_REVIEW", "APPROVED"])
def test_open_release_accepts_executions(sb: Sandbox, api: Api, status: str) -> None:
    sb.add_release("rel_x", "x", "proj_101", status)
    assert api.new_execution(release_id="rel_x")["release_id"] == "rel_x"


def test_seed_completed_and_paused_releases_are_locked(api: Api) -> None:
    for release_id in ("rel_6", "rel_8"):
        response = api.post("/executions", json={"release_id": release_id, "title": "t"})
        assert error_of(response)["code"] == "RELEASE_LOCKED"


# -- reading and completing executions ----------------------------------------


def test_get_execution_with_summary(api: Api) -> None:
    execution = api.new_execution(test_case_ids=["TCM-1", "TCM-2", "TCM-3"])
    api.post_results(
        execution["id"],
        {"test_case_id": "TCM-1", "status": "PASSED"},
        {"test_case_id": "TCM-2", "status": "FAILED"},
        {"test_case_id": "TCM-4", "status": "PASSED"},
    )
    body = api.get(f"/executions/{execution['id']}").json()
    assert body["summary"] == {
        "PASSED": 2,
        "FAILED": 1,
        "BLOCKED": 0,
        "SKIPPED": 0,
        "NOT_EXECUTED": 1,
    }


def test_unknown_execution_is_404(api: Api) -> None:
    for response in (
        api.get("/executions/exe_404"),
        api.patch("/executions/exe_404", json={"status": "COMPLETED"}),
        api.post_results("exe_404", {"test_case_id": "TCM-1", "status": "PASSED"}),
    ):
        assert response.status_code == 404
        assert error_of(response)["code"] == "EXECUTION_NOT_FOUND"


def test_complete_is_idempotent(sb: Sandbox, api: Api) -> None:
    execution_id = api.new_execution()["id"]
    first = api.patch(f"/executions/{execution_id}", json={"status": "COMPLETED"})
    again = api.patch(f"/executions/{execution_id}", json={"status": "COMPLETED"})
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json()["status"] == again.json()["status"] == "COMPLETED"
    assert first.json()["completed_at"] == again.json()["completed_at"]
    assert sb.execution(execution_id)["status"] == "COMPLETED"


@pytest.mark.parametrize("body", [{"status": "IN_PROGRESS"}, {}, ["COMPLETED"]])
def test_only_completion_is_a_valid_patch(api: Api, body: object) -> None:
    execution_id = api.new_execution()["id"]
    response = api.patch(f"/executions/{execution_id}", json=body)
    assert response.status_code == 422


def test_completing_in_a_read_only_release_is_refused(sb: Sandbox, api: Api) -> None:
    done = api.new_execution()["id"]
    api.patch(f"/executions/{done}", json={"status": "COMPLETED"})
    open_one = api.new_execution()["id"]
    sb.set_release_status("rel_7", "ARCHIVED")
    refused = api.patch(f"/executions/{open_one}", json={"status": "COMPLETED"})
    assert error_of(refused)["code"] == "RELEASE_LOCKED"
    # An execution already completed stays a no-op success.
    assert api.patch(f"/executions/{done}", json={"status": "COMPLETED"}).status_code == 200


def test_completing_in_a_paused_release_is_allowed(sb: Sandbox, api: Api) -> None:
    execution_id = api.new_execution()["id"]
    sb.set_release_status("rel_7", "PAUSED")
    response = api.patch(f"/executions/{execution_id}", json={"status": "COMPLETED"})
    assert response.status_code == 200


# -- keep-alive ---------------------------------------------------------------


def _connection(sb: Sandbox) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(urlsplit(sb.url).netloc, timeout=5)


def test_connections_are_kept_alive(sb: Sandbox) -> None:
    conn = _connection(sb)
    auth = {"Authorization": f"Bearer {sb.token}"}
    conn.request("GET", "/api/v1/me", headers=auth)
    first = conn.getresponse()
    first.read()
    sock = conn.sock
    assert first.getheader("Connection") != "close"
    assert sock is not None  # http.client drops the socket of a closing response
    conn.request("GET", "/api/v1/me", headers=auth)
    second = conn.getresponse()
    second.read()
    assert second.status == 200
    assert conn.sock is sock
    conn.close()


def test_a_body_the_sandbox_did_not_read_does_not_spoil_the_next_request(sb: Sandbox) -> None:
    # Refused before routing: the app never reads the body, the server must.
    conn = _connection(sb)
    conn.request("POST", "/api/v1/executions", body=b'{"release_id": "x"}' * 100)
    refused = conn.getresponse()
    refused.read()
    assert refused.status == 401
    conn.request("GET", "/api/v1/me", headers={"Authorization": f"Bearer {sb.token}"})
    after = conn.getresponse()
    assert after.status == 200
    assert json.loads(after.read())["name"]
    conn.close()


@pytest.mark.parametrize("length", ["abc", "-5"])
def test_a_body_length_that_is_no_length_is_a_400(sb: Sandbox, length: str) -> None:
    conn = _connection(sb)
    conn.putrequest("POST", "/api/v1/executions")
    conn.putheader("Content-Length", length)
    conn.endheaders()
    response = conn.getresponse()
    assert response.status == 400
    assert json.loads(response.read())["error"]["code"] == "BAD_REQUEST"
    # Where that body ends is unknown, so nothing after it can be read.
    assert response.getheader("Connection") == "close"
    conn.close()


def test_a_chunked_body_is_read_and_the_connection_lives_on(sb: Sandbox) -> None:
    # What a client streaming its body sends (requests does for a generator).
    body = json.dumps({"release_id": "rel_7", "title": "streamed"}).encode()
    conn = _connection(sb)
    auth = {"Authorization": f"Bearer {sb.token}", "Content-Type": "application/json"}
    conn.request("POST", "/api/v1/executions", body=iter([body[:9], body[9:]]), headers=auth)
    created = conn.getresponse()
    assert (created.status, json.loads(created.read())["title"]) == (201, "streamed")
    sock = conn.sock
    conn.request("GET", "/api/v1/me", headers=auth)
    after = conn.getresponse()
    after.read()
    assert (after.status, conn.sock) == (200, sock)
    conn.close()


def test_a_chunk_size_that_is_no_number_is_a_400(sb: Sandbox) -> None:
    conn = _connection(sb)
    conn.putrequest("POST", "/api/v1/executions")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders(b"zz\r\n{}\r\n0\r\n\r\n")
    response = conn.getresponse()
    assert response.status == 400
    assert json.loads(response.read())["error"]["code"] == "BAD_REQUEST"
    conn.close()


def test_a_burst_of_new_connections_is_queued_not_dropped() -> None:
    # Sessions and shards that start together connect at once. A connection
    # the listen queue has no room for loses its handshake and waits for a
    # retransmission: seconds of stall, or a client's timeout, for nothing.
    server = make_server("127.0.0.1", 0, Sandbox().app, access_log=False)  # not accepting yet
    clients = [socket.socket() for _ in range(32)]
    try:
        for client in clients:
            client.setblocking(False)
            client.connect_ex(("127.0.0.1", server.server_port))
        pending = set(clients)
        while pending:
            _, connected, _ = select.select([], list(pending), [], 10)
            if not connected:
                break
            pending -= set(connected)
        assert not pending
        assert all(c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0 for c in clients)
    finally:
        for client in clients:
            client.close()
        server.server_close()


def test_the_client_closing_its_connection_is_honoured(sb: Sandbox) -> None:
    conn = _connection(sb)
    conn.request("GET", "/api/v1/me", headers={"Connection": "close"})
    response = conn.getresponse()
    response.read()
    assert response.getheader("Connection") == "close"
    conn.close()


def test_a_bug_in_the_sandbox_is_a_500_and_the_connection_lives_on(
    sb: Sandbox, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(request: object, environ: object) -> None:
        raise RuntimeError("boom")

    conn = _connection(sb)
    auth = {"Authorization": f"Bearer {sb.token}"}
    with monkeypatch.context() as patch:
        patch.setattr(sb.app, "_route", broken)
        conn.request("GET", "/api/v1/me", headers=auth)
        failed = conn.getresponse()
        assert failed.status == 500
        assert json.loads(failed.read())["error"]["code"] == "INTERNAL"
    conn.request("GET", "/api/v1/me", headers=auth)
    assert conn.getresponse().status == 200
    conn.close()
    assert "boom" in caplog.text
