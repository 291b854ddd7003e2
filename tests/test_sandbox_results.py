"""Results and attachments on the sandbox, over raw HTTP and through the plugin's client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sandbox_helpers import Api, error_of

from pytest_hawzu.client import ApiError, HawzuClient
from pytest_hawzu.model import CaseResult, Status, Step
from pytest_hawzu.sandbox import Sandbox
from pytest_hawzu.sandbox.entities import Execution

TEN_MIB = 10 * 1024 * 1024


@pytest.fixture
def execution_id(api: Api) -> str:
    return str(api.new_execution()["id"])


def result(case_id: str = "TCM-1", status: str = "PASSED", **extra: Any) -> dict[str, Any]:
    return {"test_case_id": case_id, "status": status, **extra}


# -- posting results ----------------------------------------------------------


def test_results_are_stored_exactly_as_received(sb: Sandbox, api: Api, execution_id: str) -> None:
    item = result(
        "TCM-1",
        "FAILED",
        notes="AssertionError: expected 200, got 500",
        duration_ms=1834,
        started_at="2026-12-04T19:31:02.120Z",
        finished_at="2026-12-04T19:31:03.954Z",
        steps=[
            {"name": "setup", "status": "PASSED"},
            {"name": "call", "status": "FAILED", "notes": "boom"},
        ],
        automation={"nodeid": "tests/test_pay.py::test_refund[eur]", "worker": "gw1"},
        extra_field={"kept": True},
    )
    response = api.post_results(execution_id, item)
    assert response.status_code == 200
    assert response.json() == {"accepted": 1, "rejected": []}
    assert sb.execution(execution_id)["results"]["TCM-1"] == {**item, "attachments": []}


def test_a_batch_does_not_sum_up_the_execution(
    api: Api, execution_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch only needs its execution to exist: summing up every result held
    so far, per batch, made a 100,000-result run quadratic in the sandbox."""
    summed: list[str] = []
    real = Execution.summary
    monkeypatch.setattr(Execution, "summary", lambda self: summed.append(self.id) or real(self))
    for n in range(3):
        assert api.post_results(execution_id, result(f"TCM-{n + 1}")).status_code == 200
    assert summed == []
    assert api.post_results("exe_404", result()).status_code == 404


def test_posting_again_replaces_the_result(sb: Sandbox, api: Api, execution_id: str) -> None:
    api.post_results(execution_id, result(status="FAILED", notes="first"))
    api.post_results(execution_id, result(status="SKIPPED"))
    results = sb.execution(execution_id)["results"]
    assert results == {"TCM-1": {**result(status="SKIPPED"), "attachments": []}}


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (result("TCM-999"), ("TEST_CASE_NOT_FOUND", "TCM-999")),
        (result(status="passed"), ("INVALID_STATUS", "TCM-1")),
        (result(status="GREEN"), ("INVALID_STATUS", "TCM-1")),
        ({"status": "PASSED"}, ("MISSING_FIELD", None)),
        ({"test_case_id": "TCM-1"}, ("MISSING_FIELD", "TCM-1")),
        ({"test_case_id": "", "status": "PASSED"}, ("MISSING_FIELD", "")),
        ("TCM-1", ("INVALID_RESULT", None)),
        (result(duration_ms=-1), ("INVALID_FIELD", "TCM-1")),
        (result(duration_ms="fast"), ("INVALID_FIELD", "TCM-1")),
        (result(notes="x" * 65_536), ("INVALID_FIELD", "TCM-1")),
        (result(started_at="yesterday"), ("INVALID_FIELD", "TCM-1")),
        (result(started_at="2026-12-04T19:31:02.120"), ("INVALID_FIELD", "TCM-1")),
        (result(finished_at="2026-12-04"), ("INVALID_FIELD", "TCM-1")),
        (result(started_at="20261204T193102Z"), ("INVALID_FIELD", "TCM-1")),
        (result(started_at="2026-W49-5T19:31:02Z"), ("INVALID_FIELD", "TCM-1")),
        (result(started_at="2026-12-04T19:31:02+0000"), ("INVALID_FIELD", "TCM-1")),
        (result(started_at="2026-12-04T25:31:02Z"), ("INVALID_FIELD", "TCM-1")),
        (result("TCM-2", status="FAILED"), ("DUPLICATE_TEST_CASE", "TCM-2")),
        (result(steps={"name": "call"}), ("INVALID_FIELD", "TCM-1")),
        (result(steps=[{"name": "call", "status": "OK"}]), ("INVALID_FIELD", "TCM-1")),
        (result(automation="gw0"), ("INVALID_FIELD", "TCM-1")),
    ],
)
def test_a_bad_item_is_rejected_alone(
    sb: Sandbox, api: Api, execution_id: str, item: object, expected: tuple[str, str | None]
) -> None:
    code, case_id = expected
    response = api.post(
        f"/executions/{execution_id}/results", json={"results": [result("TCM-2"), item]}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 1
    [rejection] = body["rejected"]
    assert rejection["index"] == 1
    assert rejection.get("test_case_id") == case_id
    assert rejection["error"]["code"] == code
    assert rejection["error"]["message"]
    assert list(sb.execution(execution_id)["results"]) == ["TCM-2"]


@pytest.mark.parametrize(
    "moment",
    [
        "2026-12-04T19:31:02.120Z",
        "2026-12-04T20:31:02+01:00",
        # Whatever Python runs the sandbox: 3.10's own parser takes only 3 or 6 digits.
        "2026-12-04T19:31:02.12Z",
        "2026-12-04T19:31:02.123456789Z",
        "2026-12-04T19:31Z",
    ],
)
def test_a_timestamp_with_a_time_zone_is_accepted(api: Api, execution_id: str, moment: str) -> None:
    response = api.post_results(execution_id, result(started_at=moment, finished_at=moment))
    assert response.json() == {"accepted": 1, "rejected": []}


def test_notes_at_the_limit_are_accepted(api: Api, execution_id: str) -> None:
    response = api.post_results(execution_id, result(notes="x" * 65_535))
    assert response.json() == {"accepted": 1, "rejected": []}


def test_a_case_of_another_project_is_not_found(sb: Sandbox, api: Api, execution_id: str) -> None:
    sb.add_project("proj_202", "Payments", "PAY")
    sb.add_cases(["PAY-1"], project_id="proj_202")
    body = api.post_results(execution_id, result("PAY-1")).json()
    assert body["rejected"][0]["error"]["code"] == "TEST_CASE_NOT_FOUND"


def test_a_batch_of_100_is_fine_and_101_is_413(sb: Sandbox, api: Api, execution_id: str) -> None:
    hundred = [result(f"TCM-{n}") for n in range(1, 101)]
    assert api.post_results(execution_id, *hundred).json()["accepted"] == 100
    too_many = api.post_results(execution_id, *hundred, result("TCM-1", "FAILED"))
    assert too_many.status_code == 413
    assert error_of(too_many)["details"] == {"max": 100, "received": 101}
    assert sb.execution(execution_id)["results"]["TCM-1"]["status"] == "PASSED"


@pytest.mark.parametrize(
    "body", [{"results": []}, {"results": {"test_case_id": "TCM-1"}}, [result()], {}]
)
def test_a_body_that_is_not_a_list_of_results_is_422(
    api: Api, execution_id: str, body: object
) -> None:
    response = api.post(f"/executions/{execution_id}/results", json=body)
    assert response.status_code == 422
    assert error_of(response)["code"] == "VALIDATION_ERROR"


def test_results_after_completion_are_409(sb: Sandbox, api: Api, execution_id: str) -> None:
    api.patch(f"/executions/{execution_id}", json={"status": "COMPLETED"})
    response = api.post_results(execution_id, result())
    assert response.status_code == 409
    assert error_of(response)["code"] == "EXECUTION_LOCKED"
    assert sb.execution(execution_id)["results"] == {}


def test_results_in_a_locked_release_are_409(sb: Sandbox, api: Api, execution_id: str) -> None:
    sb.set_release_status("rel_7", "PAUSED")
    response = api.post_results(execution_id, result())
    assert response.status_code == 409
    assert error_of(response)["code"] == "RELEASE_LOCKED"


# -- attachments --------------------------------------------------------------


def attach(api: Api, execution_id: str, case_id: str, data: bytes, name: str = "log.txt") -> Any:
    return api.post(
        f"/executions/{execution_id}/results/{case_id}/attachments",
        files={"file": (name, data, "text/plain")},
    )


def test_attachment_is_stored(sb: Sandbox, api: Api, execution_id: str) -> None:
    api.post_results(execution_id, result())
    response = attach(api, execution_id, "TCM-1", b"hello log")
    assert response.status_code == 201
    assert response.json() == {"id": "att_1", "filename": "log.txt", "size": 9}
    [stored] = sb.execution(execution_id)["results"]["TCM-1"]["attachments"]
    assert (stored["id"], stored["filename"], stored["size"]) == ("att_1", "log.txt", 9)
    assert stored["content_type"] == "text/plain"
    assert sb.attachment("att_1") == b"hello log"


def test_attachments_survive_a_replaced_result(sb: Sandbox, api: Api, execution_id: str) -> None:
    api.post_results(execution_id, result(status="FAILED"))
    attach(api, execution_id, "TCM-1", b"trace")
    api.post_results(execution_id, result(status="FAILED", notes="retried"))
    stored = sb.execution(execution_id)["results"]["TCM-1"]
    assert stored["notes"] == "retried"
    assert [a["id"] for a in stored["attachments"]] == ["att_1"]


def test_not_executed_placeholder_takes_attachments(api: Api) -> None:
    execution_id = api.new_execution(test_case_ids=["TCM-5"])["id"]
    assert attach(api, execution_id, "TCM-5", b"x").status_code == 201


def test_attachment_without_a_result_is_404(api: Api, execution_id: str) -> None:
    for case_id in ("TCM-1", "TCM-404"):
        response = attach(api, execution_id, case_id, b"x")
        assert response.status_code == 404
        assert error_of(response)["code"] == "RESULT_NOT_FOUND"
    assert error_of(attach(api, "exe_404", "TCM-1", b"x"))["code"] == "EXECUTION_NOT_FOUND"


def test_attachment_of_exactly_10_mib_is_fine_and_more_is_413(
    sb: Sandbox, api: Api, execution_id: str
) -> None:
    api.post_results(execution_id, result())
    assert attach(api, execution_id, "TCM-1", b"\0" * TEN_MIB).json()["size"] == TEN_MIB
    response = attach(api, execution_id, "TCM-1", b"\0" * (TEN_MIB + 1))
    assert response.status_code == 413
    assert error_of(response)["code"] == "PAYLOAD_TOO_LARGE"
    way_too_big = attach(api, execution_id, "TCM-1", b"\0" * (TEN_MIB + 200_000))
    assert way_too_big.status_code == 413
    assert len(sb.execution(execution_id)["results"]["TCM-1"]["attachments"]) == 1


def test_attachment_without_a_file_field_is_422(api: Api, execution_id: str) -> None:
    api.post_results(execution_id, result())
    response = api.post(
        f"/executions/{execution_id}/results/TCM-1/attachments", files={"other": ("a", b"x")}
    )
    assert response.status_code == 422


def test_attachment_after_completion_is_409(api: Api, execution_id: str) -> None:
    api.post_results(execution_id, result())
    api.patch(f"/executions/{execution_id}", json={"status": "COMPLETED"})
    assert error_of(attach(api, execution_id, "TCM-1", b"x"))["code"] == "EXECUTION_LOCKED"


# -- through the plugin's own client ------------------------------------------


@pytest.fixture
def client(sb: Sandbox) -> Iterator[HawzuClient]:
    hawzu = HawzuClient(sb.url, sb.token, timeout=10)
    yield hawzu
    hawzu.close()


def test_a_whole_run_through_the_client(sb: Sandbox, client: HawzuClient) -> None:
    assert client.me().project_ids == ("proj_101",)
    [release] = client.find_releases("proj_101", "1.4.0")
    assert release.accepts_executions
    execution = client.create_execution(
        release.id, "pytest run", test_case_ids=["TCM-1", "TCM-2", "TCM-3"], idempotency_key="r1"
    )
    assert execution.created
    assert not client.create_execution(release.id, "pytest run", idempotency_key="r1").created
    outcome = client.post_results(
        execution.id,
        [
            CaseResult(
                "TCM-1",
                Status.FAILED,
                notes="boom",
                duration_ms=12,
                started_at=1_800_000_000.0,
                finished_at=1_800_000_000.012,
                steps=(Step("call", Status.FAILED, "boom"),),
                nodeids=("tests/test_a.py::test_one",),
                worker="gw0",
            ),
            CaseResult("TCM-2", Status.PASSED),
            CaseResult("TCM-404", Status.PASSED, nodeids=("tests/test_a.py::test_two",)),
        ],
    )
    assert outcome.accepted == 2
    [rejection] = outcome.rejected
    assert (rejection.case_id, rejection.code) == ("TCM-404", "TEST_CASE_NOT_FOUND")
    assert rejection.nodeids == ("tests/test_a.py::test_two",)
    assert client.upload_attachment(execution.id, "TCM-1", "out.txt", b"log") == "att_1"
    done = client.complete_execution(execution.id)
    assert done.status == "COMPLETED"
    assert done.summary_by_status() == {
        Status.PASSED: 1,
        Status.FAILED: 1,
        Status.BLOCKED: 0,
        Status.SKIPPED: 0,
        Status.NOT_EXECUTED: 1,
    }
    stored = sb.execution(execution.id)["results"]["TCM-1"]
    assert stored["automation"] == {"nodeid": "tests/test_a.py::test_one", "worker": "gw0"}
    assert stored["steps"] == [{"name": "call", "status": "FAILED", "notes": "boom"}]


def test_client_sees_locks_and_unknown_cases(sb: Sandbox, client: HawzuClient) -> None:
    with pytest.raises(ApiError) as locked:
        client.create_execution("rel_8", "t")
    assert (locked.value.status, locked.value.code) == (409, "RELEASE_LOCKED")
    with pytest.raises(ApiError) as unknown:
        client.create_execution("rel_7", "t", test_case_ids=["TCM-1", "NOPE-1"])
    assert client.unknown_case_ids(unknown.value) == ["NOPE-1"]
    execution = client.create_execution("rel_7", "t")
    client.complete_execution(execution.id)
    with pytest.raises(ApiError) as after:
        client.post_results(execution.id, [CaseResult("TCM-1", Status.PASSED)])
    assert after.value.code == "EXECUTION_LOCKED"


def test_client_reads_releases_and_cases_with_odd_ids(sb: Sandbox, client: HawzuClient) -> None:
    sb.add_cases(["QA/7"])
    assert client.get_test_case("QA/7")["id"] == "QA/7"
    assert client.get_release("rel_6").status == "COMPLETED"
    execution = client.create_execution("rel_7", "t")
    assert client.post_results(execution.id, [CaseResult("QA/7", Status.PASSED)]).accepted == 1
    assert client.upload_attachment(execution.id, "QA/7", "a.txt", b"x") == "att_1"
