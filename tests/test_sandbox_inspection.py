"""Looking at the sandbox: Python inspection, /_sandbox/ endpoints, the HTML page, lifecycle."""

from __future__ import annotations

import fnmatch
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests
from sandbox_helpers import Api, error_of

from pytest_hawzu.sandbox import RequestRecord, Sandbox
from tests.conftest import HAWZU, SIGINT_AS_USUAL

TOKEN = "tok-s3cr3t-value"


@pytest.fixture(scope="module")
def server() -> Iterator[Sandbox]:
    with Sandbox(token=TOKEN) as sandbox:
        yield sandbox


@pytest.fixture
def sb(server: Sandbox) -> Sandbox:
    server.reset()
    return server


@pytest.fixture
def api(sb: Sandbox) -> Iterator[Api]:
    client = Api(sb)
    yield client
    client.close()


def get(sb: Sandbox, path: str) -> requests.Response:
    return requests.get(sb.url + path, timeout=10)


# -- Python inspection --------------------------------------------------------


def test_executions_in_creation_order_with_results(sb: Sandbox, api: Api) -> None:
    first = api.new_execution(title="one", test_case_ids=["TCM-1"])["id"]
    second = api.new_execution(title="two")["id"]
    api.post_results(second, {"test_case_id": "TCM-2", "status": "BLOCKED"})
    executions = sb.executions()
    assert [e["id"] for e in executions] == [first, second]
    assert set(executions[0]) >= {
        "id",
        "release_id",
        "title",
        "description",
        "status",
        "idempotency_key",
        "created_at",
        "test_case_ids",
        "results",
    }
    assert executions[1]["results"]["TCM-2"]["status"] == "BLOCKED"


def test_inspection_returns_copies(sb: Sandbox, api: Api) -> None:
    execution_id = api.new_execution(test_case_ids=["TCM-1"])["id"]
    sb.execution(execution_id)["results"]["TCM-1"]["status"] = "PASSED"
    sb.executions()[0]["title"] = "changed"
    assert sb.execution(execution_id)["results"]["TCM-1"]["status"] == "NOT_EXECUTED"
    assert sb.execution(execution_id)["title"] == "pytest run"


def test_unknown_execution_is_a_key_error(sb: Sandbox) -> None:
    with pytest.raises(KeyError):
        sb.execution("exe_404")


def test_request_log(sb: Sandbox, api: Api) -> None:
    execution_id = api.new_execution()["id"]
    api.post(
        "/executions",
        json={"release_id": "rel_7", "title": "t"},
        headers={"Idempotency-Key": "key-1"},
    )
    item = {"test_case_id": "TCM-1", "status": "PASSED"}
    api.post_results(execution_id, item, item, item)
    api.get("/releases", params={"project_id": "proj_101", "name": "1.4.0"})
    get(sb, "/_sandbox/executions")
    records = sb.requests()
    assert all(isinstance(r, RequestRecord) for r in records)
    assert [(r.method, r.path, r.status) for r in records] == [
        ("POST", "/api/v1/executions", 201),
        ("POST", "/api/v1/executions", 201),
        ("POST", f"/api/v1/executions/{execution_id}/results", 200),
        ("GET", "/api/v1/releases", 200),
    ]
    assert [r.batch_size for r in records] == [None, None, 3, None]
    assert [r.idempotency_key for r in records] == [None, "key-1", None, None]
    assert records[3].query == "project_id=proj_101&name=1.4.0"
    assert records[0].time <= records[1].time <= records[2].time <= time.monotonic()
    assert abs(records[0].wall_time - time.time()) < 3600
    assert records[1].headers["Idempotency-Key"] == "key-1"


def test_request_log_never_holds_the_token(sb: Sandbox, api: Api) -> None:
    api.get("/me")
    requests.get(sb.url + "/api/v1/me", headers={"Authorization": "Bearer wrong"}, timeout=10)
    [ok, refused] = sb.requests()
    assert (ok.status, refused.status) == (200, 401)
    for record in (ok, refused):
        assert all(name.lower() != "authorization" for name in record.headers)
        assert TOKEN not in repr(record)
    assert TOKEN not in get(sb, "/_sandbox/requests").text


# -- inspection over HTTP -----------------------------------------------------


def test_executions_endpoint(sb: Sandbox, api: Api) -> None:
    execution_id = api.new_execution(test_case_ids=["TCM-1"])["id"]
    response = get(sb, "/_sandbox/executions")
    assert response.status_code == 200
    assert response.json() == {"data": sb.executions()}
    assert response.json()["data"][0]["id"] == execution_id


def test_requests_endpoint(sb: Sandbox, api: Api) -> None:
    execution_id = api.new_execution()["id"]
    api.post_results(execution_id, {"test_case_id": "TCM-1", "status": "PASSED"})
    data = get(sb, "/_sandbox/requests").json()["data"]
    assert [(r["method"], r["status"], r["batch_size"]) for r in data] == [
        ("POST", 201, None),
        ("POST", 200, 1),
    ]
    assert set(data[0]) >= {"method", "path", "status", "batch_size", "time", "wall_time"}
    assert "Authorization" not in json.dumps(data)


def test_reset_endpoint_restores_the_constructor_state(sb: Sandbox, api: Api) -> None:
    api.new_execution()
    sb.add_project("proj_202", "Payments", "PAY")
    sb.set_release_status("rel_7", "ARCHIVED")
    sb.set_latency(0.001)
    sb.fail_next(500, path="/nothing")
    response = requests.post(sb.url + "/_sandbox/reset", timeout=10)
    assert response.json() == {"reset": True}
    assert sb.executions() == []
    assert sb.requests() == []
    assert sb.pending_faults() == []
    assert get(sb, "/_sandbox/faults").json()["latency"] == 0.0
    assert [p["id"] for p in api.get("/me").json()["projects"]] == ["proj_101"]
    assert api.new_execution()["id"] == "exe_1"


def test_inspection_needs_no_token_and_unknown_paths_are_404(sb: Sandbox) -> None:
    assert get(sb, "/_sandbox/executions").status_code == 200
    missing = get(sb, "/_sandbox/secrets")
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "NOT_FOUND"
    assert requests.post(sb.url + "/_sandbox/executions", timeout=10).status_code == 404
    assert get(sb, "/favicon.ico").status_code == 404


# -- the HTML page ------------------------------------------------------------


def test_page_lists_executions_and_results_with_colours(sb: Sandbox, api: Api) -> None:
    execution_id = api.new_execution(title="Nightly", test_case_ids=["TCM-3"])["id"]
    api.post_results(
        execution_id,
        {"test_case_id": "TCM-1", "status": "PASSED", "duration_ms": 42},
        {"test_case_id": "TCM-2", "status": "FAILED", "notes": "boom"},
    )
    api.post(
        f"/executions/{execution_id}/results/TCM-2/attachments",
        files={"file": ("trace.txt", b"abc")},
    )
    response = get(sb, "/")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    page = response.text
    assert "Nightly" in page
    assert f"id='{execution_id}'" in page
    assert "1.4.0" in page
    for status in ("PASSED", "FAILED", "NOT_EXECUTED"):
        assert f"<span class='status {status}'>{status}</span>" in page
    assert "trace.txt (3 B)" in page
    assert ".FAILED { color:" in page


def test_page_escapes_everything(sb: Sandbox, api: Api) -> None:
    evil = "<script>alert('x')</script>"
    sb.add_cases([evil])
    execution_id = api.new_execution(title=evil)["id"]
    api.post_results(
        execution_id,
        {
            "test_case_id": evil,
            "status": "FAILED",
            "notes": evil,
            "automation": {"nodeid": evil},
        },
    )
    page = get(sb, "/").text
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page


def test_page_never_shows_the_token(sb: Sandbox, api: Api) -> None:
    api.new_execution()
    assert TOKEN not in get(sb, "/").text
    assert "No executions yet" not in get(sb, "/").text


def test_empty_page(sb: Sandbox) -> None:
    assert "No executions yet" in get(sb, "/").text


# -- lifecycle ----------------------------------------------------------------


def test_lifecycle() -> None:
    sb = Sandbox()
    with pytest.raises(RuntimeError, match="not running"):
        _ = sb.url
    assert repr(sb) == "Sandbox(stopped)"
    sb.start()
    try:
        assert sb.url.startswith("http://127.0.0.1:")
        assert not sb.url.endswith("/")
        assert repr(sb) == f"Sandbox({sb.url})"
        with pytest.raises(RuntimeError, match="already running"):
            sb.start()
        url = sb.url
    finally:
        sb.stop()
    sb.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/", timeout=10)


def test_a_stopped_sandbox_hangs_up_on_kept_alive_connections() -> None:
    # A test that stops the sandbox to play an outage must get one, even from a
    # client whose session still holds a connection to it.
    sb = Sandbox().start()
    api = Api(sb)
    try:
        assert api.get("/me").status_code == 200
        sb.stop()
        with pytest.raises(requests.ConnectionError):
            api.post("/executions", json={"release_id": "rel_7", "title": "after stop"})
        assert sb.executions() == []
    finally:
        sb.stop()
        api.close()


def test_sandboxes_run_side_by_side() -> None:
    with Sandbox() as one, Sandbox(case_count=1) as two:
        assert one.url != two.url
        assert get(two, "/").status_code == 200
        assert get(one, "/").status_code == 200


def _me(url: str) -> requests.Response:
    return requests.get(
        url + "/api/v1/me", headers={"Authorization": "Bearer cli-token"}, timeout=10
    )


def _interrupt(proc: subprocess.Popen[str]) -> str:
    """Ctrl-C, as a person stops the sandbox: a clean exit; its stderr."""
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    return stderr


def test_serve_runs_until_interrupted() -> None:
    code = f"{SIGINT_AS_USUAL}; from pytest_hawzu.sandbox import serve; serve(0, None, 'cli-token')"
    with subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.startswith("Hawzu sandbox on http://127.0.0.1:")
            assert line.rstrip().endswith("(token: cli-token); Ctrl-C to stop")
            assert _me(line.split()[3]).status_code == 200
            stderr = _interrupt(proc)
        finally:
            proc.kill()  # a failed check must not leave it serving
    assert "GET /api/v1/me" in stderr  # the access log a person watching relies on
    assert "cli-token" not in stderr


def test_a_sandbox_whose_output_nobody_reads_serves_all_the_same() -> None:
    # As under `hawzu sandbox --port N | true`: the reading end is gone first.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    read, write = os.pipe()
    os.close(read)
    # The command as `hawzu` runs it, with SIGINT as in a terminal (see SIGINT_AS_USUAL).
    code = f"{SIGINT_AS_USUAL}; from pytest_hawzu.cli import main; raise SystemExit(main())"
    with subprocess.Popen(
        [sys.executable, "-c", code, "sandbox", "--port", str(port), "--token", "cli-token"],
        stdout=write,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        os.close(write)
        try:
            answered = None
            end = time.monotonic() + 30
            while answered is None and proc.poll() is None and time.monotonic() < end:
                try:
                    answered = _me(f"http://127.0.0.1:{port}")
                except requests.ConnectionError:
                    time.sleep(0.05)  # until it listens
            assert answered is not None, proc.stderr.read() if proc.stderr else ""
            assert answered.status_code == 200
            assert "error" not in _interrupt(proc)
        finally:
            proc.kill()  # a failed check must not leave it serving


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "70000"], "--port: expected a port from 0 to 65535*"),
        (["--port", "-1"], "--port: expected a port from 0 to 65535*"),
        (["--port", "\u00b2"], "--port: expected a port from 0 to 65535*"),
        (["--port", "9" * 5000], "--port: expected a port from 0 to 65535*"),
        (["--port", ""], "--port: expected a port from 0 to 65535*"),
        (["--rate", "0"], "--rate: expected a number >= 0.01*"),
        (["--rate", "nan"], "--rate: expected a number >= 0.01*"),
        (["--token", "a b"], "--token: expected printable ASCII without spaces*"),
        (["--token", ""], "--token: expected printable ASCII without spaces*"),
    ],
)
def test_bad_sandbox_options_are_one_line(args: list[str], message: str) -> None:
    done = subprocess.run(
        [HAWZU, "sandbox", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert fnmatch.fnmatch(done.stderr.strip().splitlines()[-1], f"*{message}"), done.stderr


def test_a_sandbox_port_in_use_is_one_line() -> None:
    with Sandbox() as taken:
        port = taken.url.rsplit(":", 1)[1]
        done = subprocess.run(
            [HAWZU, "sandbox", "--port", port],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        f"hawzu: error: cannot listen on 127.0.0.1:{port} (Address already in use): "
        "pick another --port, or 0 for a free one"
    )
