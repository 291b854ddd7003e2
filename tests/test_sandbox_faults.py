"""Fault injection: error answers, dropped connections and latency, from Python and over HTTP."""

from __future__ import annotations

import pytest
import requests
from sandbox_helpers import Api, error_of

from pytest_hawzu.client import HawzuClient, TransportError
from pytest_hawzu.sandbox import Sandbox


def statuses(sb: Sandbox) -> list[int | None]:
    return [r.status for r in sb.requests()]


# -- injected error answers ---------------------------------------------------


def test_fail_next_answers_the_status_then_recovers(sb: Sandbox, api: Api) -> None:
    sb.fail_next(503, count=2)
    first, second, third = (api.get("/me") for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (503, 503, 200)
    assert error_of(first)["code"] == "SERVICE_UNAVAILABLE"
    assert "Retry-After" not in first.headers
    assert [r.fault for r in sb.requests()] == ["fail", "fail", None]


def test_fail_next_with_retry_after_and_code(sb: Sandbox, api: Api) -> None:
    sb.fail_next(429, retry_after=7, code="SLOW_DOWN")
    response = api.get("/me")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert error_of(response)["code"] == "SLOW_DOWN"


def test_fail_next_with_an_http_date(sb: Sandbox, api: Api) -> None:
    sb.fail_next(503, retry_after="Fri, 04 Dec 2026 19:30:00 GMT")
    assert api.get("/me").headers["Retry-After"] == "Fri, 04 Dec 2026 19:30:00 GMT"


@pytest.mark.parametrize(
    ("status", "code"), [(500, "INTERNAL_ERROR"), (401, "UNAUTHORIZED"), (418, "HTTP_418")]
)
def test_default_codes(sb: Sandbox, api: Api, status: int, code: str) -> None:
    sb.fail_next(status)
    response = api.get("/me")
    assert response.status_code == status
    assert error_of(response)["code"] == code


def test_path_filter_only_hits_matching_requests(sb: Sandbox, api: Api) -> None:
    execution_id = api.new_execution()["id"]
    sb.fail_next(500, count=1, path="/results")
    assert api.get("/me").status_code == 200
    assert api.get(f"/executions/{execution_id}").status_code == 200
    item = {"test_case_id": "TCM-1", "status": "PASSED"}
    assert api.post_results(execution_id, item).status_code == 500
    assert api.post_results(execution_id, item).status_code == 200
    assert sb.pending_faults() == []


def test_faults_queue_in_order(sb: Sandbox, api: Api) -> None:
    sb.fail_next(502)
    sb.fail_next(504, path="/me")
    sb.fail_next(500)
    codes = [api.get("/me").status_code for _ in range(4)]
    assert codes == [502, 504, 500, 200]


def test_faults_come_before_authentication(sb: Sandbox) -> None:
    sb.fail_next(503)
    assert requests.get(sb.url + "/api/v1/me", timeout=10).status_code == 503


def test_injected_failure_changes_nothing(sb: Sandbox, api: Api) -> None:
    sb.fail_next(500, path="/executions")
    assert api.post("/executions", json={"release_id": "rel_7", "title": "t"}).status_code == 500
    assert sb.executions() == []


def test_faults_never_touch_the_inspection_api(sb: Sandbox) -> None:
    sb.fail_next(500, count=5)
    sb.drop_next(5)
    assert requests.get(sb.url + "/_sandbox/requests", timeout=10).status_code == 200
    assert requests.get(sb.url + "/", timeout=10).status_code == 200
    assert len(sb.pending_faults()) == 2


@pytest.mark.parametrize(("status", "count"), [(99, 1), (600, 1), (503, 0), (100, 1), (199, 1)])
def test_fail_next_checks_its_arguments(sb: Sandbox, status: int, count: int) -> None:
    # A 1xx is never a final answer: the client would wait for the real one until it timed out.
    with pytest.raises(ValueError, match=r"status|count"):
        sb.fail_next(status, count)


# -- dropped connections ------------------------------------------------------


def test_dropped_connection_is_a_connection_error(sb: Sandbox, api: Api) -> None:
    sb.drop_next()
    with pytest.raises(requests.ConnectionError, match="Remote end closed connection"):
        api.get("/me")
    assert api.get("/me").status_code == 200
    assert statuses(sb) == [None, 200]
    assert sb.requests()[0].fault == "drop"


def test_drop_next_count_and_path(sb: Sandbox, api: Api) -> None:
    execution_id = api.new_execution()["id"]
    sb.drop_next(2, path="/results")
    item = {"test_case_id": "TCM-1", "status": "PASSED"}
    assert api.get(f"/executions/{execution_id}").status_code == 200
    for _ in range(2):
        with pytest.raises(requests.ConnectionError):
            api.post_results(execution_id, item, item)
    assert api.post_results(execution_id, item).status_code == 200
    dropped = [r for r in sb.requests() if r.status is None]
    assert [r.batch_size for r in dropped] == [2, 2]
    assert sb.execution(execution_id)["results"]["TCM-1"]["status"] == "PASSED"


def test_dropped_request_is_not_applied(sb: Sandbox, api: Api) -> None:
    sb.drop_next(path="/executions")
    with pytest.raises(requests.ConnectionError):
        api.post("/executions", json={"release_id": "rel_7", "title": "t"})
    assert sb.executions() == []


def test_client_reports_a_drop_as_transport_error(sb: Sandbox) -> None:
    client = HawzuClient(sb.url, sb.token, timeout=10)
    try:
        sb.drop_next()
        with pytest.raises(TransportError) as caught:
            client.me()
        assert sb.token not in str(caught.value)
        assert client.me().workspace == "Acme"
    finally:
        client.close()


# -- latency ------------------------------------------------------------------


def test_latency_is_applied_to_every_api_request() -> None:
    slept: list[float] = []
    with Sandbox(latency=0.25, sleep=slept.append) as sb:
        api = Api(sb)
        try:
            sb.fail_next(503)
            assert api.get("/me").status_code == 503
            assert api.get("/me").status_code == 200
            sb.set_latency(1.5)
            api.get("/releases/rel_7")
            requests.get(sb.url + "/_sandbox/requests", timeout=10)
        finally:
            api.close()
    assert slept == [0.25, 0.25, 1.5]


def test_no_latency_means_no_sleep() -> None:
    slept: list[float] = []
    with Sandbox(sleep=slept.append) as sb:
        assert requests.get(sb.url + "/api/v1/me", timeout=10).status_code == 401
    assert slept == []


def test_real_latency_still_answers(sb: Sandbox, api: Api) -> None:
    sb.set_latency(0.001)
    assert api.get("/me").status_code == 200


@pytest.mark.parametrize("seconds", [-1, float("nan"), float("inf"), 1e10])
def test_a_latency_no_request_could_wait_is_refused(sb: Sandbox, seconds: float) -> None:
    # Beyond what a sleep can take, every request would fail with a 500 instead.
    with pytest.raises(ValueError, match="latency"):
        sb.set_latency(seconds)
    with pytest.raises(ValueError, match="latency"):
        Sandbox(latency=seconds)


# -- the same over HTTP -------------------------------------------------------


def post_faults(sb: Sandbox, body: object) -> requests.Response:
    return requests.post(sb.url + "/_sandbox/faults", json=body, timeout=10)


def test_inject_faults_over_http(sb: Sandbox, api: Api) -> None:
    response = post_faults(
        sb,
        {
            "fail": [
                {"status": 503, "count": 1, "retry_after": 3},
                {"status": 500, "path": "/releases", "code": "OOPS"},
            ],
            "drop": {"count": 1, "path": "/testcases"},
        },
    )
    assert response.status_code == 200
    assert [f["kind"] for f in response.json()["pending"]] == ["fail", "fail", "drop"]
    first = api.get("/me")
    assert (first.status_code, first.headers["Retry-After"]) == (503, "3")
    assert error_of(api.get("/releases/rel_7"))["code"] == "OOPS"
    with pytest.raises(requests.ConnectionError):
        api.get("/testcases/TCM-1")
    assert api.get("/testcases/TCM-1").status_code == 200


def test_latency_and_clear_over_http() -> None:
    slept: list[float] = []
    with Sandbox(sleep=slept.append) as sb:
        sb.fail_next(500)
        state = post_faults(sb, {"latency": 0.5, "clear": True}).json()
        assert (state["latency"], state["pending"]) == (0.5, [])
        assert requests.get(sb.url + "/api/v1/me", timeout=10).status_code == 401
        current = requests.get(sb.url + "/_sandbox/faults", timeout=10).json()
        assert current["latency"] == 0.5
    assert slept == [0.5]


@pytest.mark.parametrize(
    "body",
    [
        {},
        [],
        {"explode": True},
        {"fail": {"count": 1}},
        {"fail": {"status": "503"}},
        {"fail": {"status": 503, "count": 0}},
        {"fail": {"status": 101}},
        {"fail": ["nope"]},
        {"drop": {"status": 500}},
        {"latency": -2},
        {"latency": 1e10},
        {"latency": "slow"},
        {"rate_limit": 5},
        {"rate_limit": {"rate": 0}},
        {"rate_limit": {"rate": 1, "retry_after_style": "minutes"}},
        {"fail": {"status": 503, "path": 5}},
        {"drop": {"path": ["/me"]}},
        {"fail": {"status": 503, "code": 7}},
        {"clear": True, "fail": {"status": 500}, "latency": -1},
        {"fail": {"status": 503}, "drop": {}, "rate_limit": {"rate": 0}},
    ],
)
def test_bad_fault_requests_are_422_and_change_nothing(sb: Sandbox, api: Api, body: object) -> None:
    sb.fail_next(418, path="/releases")
    before = requests.get(sb.url + "/_sandbox/faults", timeout=10).json()
    response = post_faults(sb, body)
    assert response.status_code == 422
    assert error_of(response)["code"] == "VALIDATION_ERROR"
    assert requests.get(sb.url + "/_sandbox/faults", timeout=10).json() == before
    assert api.get("/me").status_code == 200


@pytest.mark.parametrize(
    ("path", "code"), [(5, None), (None, 503), (b"/me", None)], ids=["path", "code", "bytes"]
)
def test_fail_next_refuses_what_no_request_could_match(
    sb: Sandbox, api: Api, path: object, code: object
) -> None:
    with pytest.raises(TypeError, match="must be a string"):
        sb.fail_next(503, path=path, code=code)  # type: ignore[arg-type]
    assert sb.pending_faults() == []
    assert api.get("/me").status_code == 200


def test_fault_request_that_is_not_json_is_400(sb: Sandbox) -> None:
    response = requests.post(sb.url + "/_sandbox/faults", data=b"{", timeout=10)
    assert response.status_code == 400
