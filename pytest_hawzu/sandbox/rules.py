"""The validation rules of the Hawzu API that do not depend on stored state.

Everything here follows the API contract (hawzu-api.md). Where the contract is
silent (which code a malformed result item gets, for instance) the sandbox
picks the strictest reasonable answer, so that a sloppy client fails here
rather than against the real service.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

RESULT_STATUSES = frozenset({"PASSED", "FAILED", "BLOCKED", "SKIPPED", "NOT_EXECUTED"})
RELEASE_STATUSES = frozenset(
    {
        "NOT_STARTED",
        "IN_PROGRESS",
        "IN_REVIEW",
        "APPROVED",
        "DRAFT",
        "REJECTED",
        "PAUSED",
        "COMPLETED",
        "ARCHIVED",
    }
)
# No new executions and no results under these.
BLOCKED_RELEASE_STATUSES = frozenset({"DRAFT", "REJECTED", "PAUSED", "COMPLETED", "ARCHIVED"})
# Under these even existing executions are frozen, so completing one is refused too.
READ_ONLY_RELEASE_STATUSES = frozenset({"COMPLETED", "ARCHIVED"})

MAX_BATCH = 100
MAX_TITLE = 255
MAX_DESCRIPTION = 10_000
MAX_NOTES = 65_535
MAX_IDEMPOTENCY_KEY = 255
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
# A moment, not a local reading or a day: the API's form is ...T19:31:02.120Z.
# Spelled out, because datetime.fromisoformat() takes more on Python 3.11
# (basic format, week dates) and less on 3.10 (fractions of 3 or 6 digits
# only), and the sandbox must answer the same on every Python.
TIMESTAMP = re.compile(
    r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.(\d+))?)?)(Z|[+-]\d{2}:\d{2})", re.ASCII
)


class ApiFailure(Exception):
    """An error answer: raised anywhere below the router, rendered once."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


def invalid(message: str, **details: Any) -> ApiFailure:
    return ApiFailure(422, "VALIDATION_ERROR", message, details)


@dataclass(frozen=True)
class NewExecution:
    release_id: str
    title: str
    description: str
    test_case_ids: tuple[str, ...]


def parse_new_execution(body: Any) -> NewExecution:
    if not isinstance(body, dict):
        raise invalid("the body must be a JSON object")
    release_id = body.get("release_id")
    if not isinstance(release_id, str) or not release_id:
        raise invalid("release_id is required", field="release_id")
    title = body.get("title")
    if not isinstance(title, str) or not 1 <= len(title) <= MAX_TITLE:
        raise invalid(f"title is required, 1 to {MAX_TITLE} characters", field="title")
    description = body.get("description", "")
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        raise invalid(
            f"description must be a string of at most {MAX_DESCRIPTION} characters",
            field="description",
        )
    ids = body.get("test_case_ids", [])
    if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
        raise invalid("test_case_ids must be a list of test case IDs", field="test_case_ids")
    return NewExecution(release_id, title, description, tuple(dict.fromkeys(ids)))


def check_idempotency_key(key: str) -> None:
    printable = all(" " <= c <= "~" for c in key)
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY or not printable:
        raise invalid(
            f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters",
            field="Idempotency-Key",
        )


def parse_completion(body: Any) -> None:
    if not isinstance(body, dict) or body.get("status") != "COMPLETED":
        raise invalid('the only supported change is {"status": "COMPLETED"}', field="status")


def parse_results_batch(body: Any) -> list[Any]:
    results = body.get("results") if isinstance(body, dict) else None
    if not isinstance(results, list) or not results:
        raise invalid('the body must be {"results": [...]} with at least one result')
    if len(results) > MAX_BATCH:
        raise ApiFailure(
            413,
            "PAYLOAD_TOO_LARGE",
            f"at most {MAX_BATCH} results per request, got {len(results)}",
            {"max": MAX_BATCH, "received": len(results)},
        )
    return results


def item_problem(item: Any) -> tuple[str, str] | None:
    """Why one result item is unacceptable, as (code, message), or None when it is fine."""
    if not isinstance(item, dict):
        return "INVALID_RESULT", "a result must be a JSON object"
    for name in ("test_case_id", "status"):
        value = item.get(name)
        if not isinstance(value, str) or not value:
            return "MISSING_FIELD", f"{name} is required"
    if item["status"] not in RESULT_STATUSES:
        return "INVALID_STATUS", f"unknown status {item['status']!r}"
    problem = _optional_field_problem(item)
    return ("INVALID_FIELD", problem) if problem else None


def _optional_field_problem(item: Mapping[str, Any]) -> str | None:
    notes = item.get("notes", "")
    if not isinstance(notes, str) or len(notes) > MAX_NOTES:
        return f"notes must be a string of at most {MAX_NOTES} characters"
    duration = item.get("duration_ms", 0)
    if isinstance(duration, bool) or not isinstance(duration, int) or duration < 0:
        return "duration_ms must be a non-negative integer"
    for name in ("started_at", "finished_at"):
        if name in item and not _is_timestamp(item[name]):
            return f"{name} must be an ISO 8601 timestamp with a time zone"
    if not isinstance(item.get("automation", {}), dict):
        return "automation must be an object"
    return _steps_problem(item.get("steps", []))


def _steps_problem(steps: Any) -> str | None:
    if not isinstance(steps, list):
        return "steps must be a list"
    for n, step in enumerate(steps):
        if not isinstance(step, dict) or not isinstance(step.get("name"), str):
            return f"steps[{n}] must be an object with a name"
        if step.get("status") not in RESULT_STATUSES:
            return f"steps[{n}].status must be one of {sorted(RESULT_STATUSES)}"
    return None


def _is_timestamp(value: Any) -> bool:
    match = TIMESTAMP.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return False
    moment, fraction, zone = match.groups()
    if fraction:  # to the 6 digits every fromisoformat() takes
        moment = moment[: -len(fraction)] + (fraction + "000000")[:6]
    try:  # ranges: no month 13, no hour 25
        datetime.fromisoformat(moment + ("+00:00" if zone == "Z" else zone))
    except ValueError:
        return False
    return True
