"""The sandbox's in-memory Hawzu: workspace, projects, releases, cases, executions.

Every public method takes the one sandbox lock, so the threaded HTTP server,
the inspection endpoints and the test thread all see consistent state.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any

from pytest_hawzu.sandbox.entities import (
    SEED_CREATED_AT,
    Attachment,
    Case,
    Execution,
    Project,
    Release,
)
from pytest_hawzu.sandbox.rules import (
    BLOCKED_RELEASE_STATUSES,
    READ_ONLY_RELEASE_STATUSES,
    RELEASE_STATUSES,
    ApiFailure,
    NewExecution,
    item_problem,
)

WORKSPACE = {"id": "ws_001", "name": "Acme"}
DEFAULT_PROJECT = "proj_101"


def _iso(ts: float) -> str:
    moment = datetime.fromtimestamp(ts, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Store:
    def __init__(
        self,
        lock: threading.RLock,
        *,
        case_count: int = 100,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._lock = lock
        self._case_count = case_count
        self._clock = clock
        self.reset()

    # -- seed data -------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self._projects: dict[str, Project] = {}
            self._releases: dict[str, Release] = {}
            self._cases: dict[str, Case] = {}
            self._executions: dict[str, Execution] = {}
            self._by_key: dict[str, str] = {}
            self._attachments: dict[str, Attachment] = {}
            self._next_id = {"exe": 1, "att": 1}
            self.add_project(DEFAULT_PROJECT, "Checkout", "TCM")
            self.add_release("rel_7", "1.4.0", DEFAULT_PROJECT, "IN_PROGRESS")
            self.add_release("rel_6", "1.3.0", DEFAULT_PROJECT, "COMPLETED")
            self.add_release("rel_8", "1.5.0", DEFAULT_PROJECT, "PAUSED")
            self.add_cases(f"TCM-{n}" for n in range(1, self._case_count + 1))

    def add_project(self, id: str, name: str, code: str, role: str = "PROJECT_MEMBER") -> None:
        with self._lock:
            self._projects[id] = Project(id, name, code, role)

    def add_release(self, id: str, name: str, project_id: str, status: str) -> None:
        with self._lock:
            self._check_release_status(status)
            if project_id not in self._projects:
                raise ValueError(f"unknown project {project_id!r}; add it first")
            self._releases[id] = Release(id, name, project_id, status)

    def set_release_status(self, release_id: str, status: str) -> None:
        with self._lock:
            self._check_release_status(status)
            self._releases[release_id].status = status

    def add_cases(self, ids: Iterable[str], project_id: str = DEFAULT_PROJECT) -> None:
        with self._lock:
            if project_id not in self._projects:
                raise ValueError(f"unknown project {project_id!r}; add it first")
            for case_id in ids:
                self._cases[case_id] = Case(case_id, project_id, f"Sandbox case {case_id}")

    @staticmethod
    def _check_release_status(status: str) -> None:
        if status not in RELEASE_STATUSES:
            raise ValueError(f"unknown release status {status!r}")

    # -- reads -----------------------------------------------------------

    def identity(self) -> dict[str, Any]:
        with self._lock:
            projects = [
                {"id": p.id, "name": p.name, "code": p.code, "role": p.role}
                for p in self._projects.values()
            ]
        return {
            "id": "tok_1",
            "type": "TOKEN",
            "name": "Sandbox token",
            "workspace": dict(WORKSPACE),
            "projects": projects,
            "created_at": SEED_CREATED_AT,
        }

    def release(self, release_id: str) -> dict[str, Any]:
        with self._lock:
            return self._release(release_id).to_json()

    def find_releases(self, project_id: str | None, name: str | None) -> list[dict[str, Any]]:
        with self._lock:
            return [
                r.to_json()
                for r in self._releases.values()
                if project_id in (None, r.project_id) and name in (None, r.name)
            ]

    def case(self, case_id: str) -> dict[str, Any]:
        with self._lock:
            case = self._cases.get(case_id)
            if case is None:
                raise ApiFailure(404, "TEST_CASE_NOT_FOUND", f"no test case {case_id!r}")
            return case.to_json()

    def execution(self, execution_id: str, base_url: str) -> dict[str, Any]:
        with self._lock:
            return self._view(self._execution(execution_id), base_url)

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [e.snapshot() for e in self._executions.values()]

    def snapshot_one(self, execution_id: str) -> dict[str, Any]:
        with self._lock:
            return self._executions[execution_id].snapshot()

    def release_names(self) -> dict[str, str]:
        with self._lock:
            return {r.id: r.name for r in self._releases.values()}

    def attachment_data(self, attachment_id: str) -> bytes:
        with self._lock:
            return self._attachments[attachment_id].data

    # -- writes ----------------------------------------------------------

    def create_execution(
        self, new: NewExecution, key: str | None, base_url: str
    ) -> tuple[bool, dict[str, Any]]:
        """(created, execution); created is False when the key replays an earlier request."""
        with self._lock:
            if key is not None and key in self._by_key:
                return False, self._view(self._executions[self._by_key[key]], base_url)
            release = self._release(new.release_id)
            self._check_open(release)
            unknown = [i for i in new.test_case_ids if not self._case_in(i, release.project_id)]
            if unknown:
                raise ApiFailure(
                    422,
                    "VALIDATION_ERROR",
                    f"{len(unknown)} unknown test case ID(s)",
                    {"unknown_test_case_ids": unknown},
                )
            execution = Execution(
                id=self._new_id("exe"),
                release_id=release.id,
                title=new.title,
                description=new.description,
                idempotency_key=key,
                created_at=_iso(self._clock()),
                test_case_ids=list(new.test_case_ids),
            )
            for case_id in new.test_case_ids:
                execution.results[case_id] = {"test_case_id": case_id, "status": "NOT_EXECUTED"}
            self._executions[execution.id] = execution
            if key is not None:
                self._by_key[key] = execution.id
            return True, self._view(execution, base_url)

    def complete(self, execution_id: str, base_url: str) -> dict[str, Any]:
        with self._lock:
            execution = self._execution(execution_id)
            if execution.status != "COMPLETED":
                release = self._releases[execution.release_id]
                if release.status in READ_ONLY_RELEASE_STATUSES:
                    raise _release_locked(release)
                execution.status = "COMPLETED"
                execution.completed_at = _iso(self._clock())
            return self._view(execution, base_url)

    def check_exists(self, execution_id: str) -> None:
        """404 for an unknown execution, without summing up a known one's results."""
        with self._lock:
            self._execution(execution_id)

    def check_writable(self, execution_id: str) -> None:
        """404 or 409 before the body is even looked at, as the real service would."""
        with self._lock:
            self._writable(execution_id)

    def post_results(self, execution_id: str, items: list[Any]) -> dict[str, Any]:
        with self._lock:
            execution = self._writable(execution_id)
            project_id = self._releases[execution.release_id].project_id
            rejected: list[dict[str, Any]] = []
            seen: set[str] = set()
            for index, item in enumerate(items):
                problem = item_problem(item)
                if problem is None and not self._case_in(item["test_case_id"], project_id):
                    problem = ("TEST_CASE_NOT_FOUND", f"no test case {item['test_case_id']!r}")
                if problem is None and item["test_case_id"] in seen:
                    # Stricter than Hawzu may be: a client must send one combined
                    # result per case, and last-one-wins would hide that it did not.
                    problem = ("DUPLICATE_TEST_CASE", "a case may appear once per batch")
                if problem is None:
                    seen.add(item["test_case_id"])
                if problem is not None:
                    rejected.append(_rejection(index, item, *problem))
                    continue
                # Kept as parsed: the request's own body, which nothing else holds.
                # (A deep copy here was most of the sandbox's work per batch.)
                execution.results[item["test_case_id"]] = item
            return {"accepted": len(items) - len(rejected), "rejected": rejected}

    def add_attachment(
        self, execution_id: str, case_id: str, filename: str, content_type: str, data: bytes
    ) -> dict[str, Any]:
        with self._lock:
            execution = self._writable(execution_id)
            if case_id not in execution.results:
                raise ApiFailure(
                    404,
                    "RESULT_NOT_FOUND",
                    f"test case {case_id!r} has no result in execution {execution_id!r} yet",
                )
            attachment = Attachment(self._new_id("att"), filename, content_type, data)
            execution.attachments.setdefault(case_id, []).append(attachment)
            self._attachments[attachment.id] = attachment
            return {"id": attachment.id, "filename": filename, "size": len(data)}

    # -- helpers (lock held) ---------------------------------------------

    def _new_id(self, prefix: str) -> str:
        number = self._next_id[prefix]
        self._next_id[prefix] = number + 1
        return f"{prefix}_{number}"

    def _release(self, release_id: str) -> Release:
        release = self._releases.get(release_id)
        if release is None:
            raise ApiFailure(404, "RELEASE_NOT_FOUND", f"no release {release_id!r}")
        return release

    def _execution(self, execution_id: str) -> Execution:
        execution = self._executions.get(execution_id)
        if execution is None:
            raise ApiFailure(404, "EXECUTION_NOT_FOUND", f"no execution {execution_id!r}")
        return execution

    def _writable(self, execution_id: str) -> Execution:
        execution = self._execution(execution_id)
        if execution.status == "COMPLETED":
            raise ApiFailure(409, "EXECUTION_LOCKED", f"execution {execution_id!r} is completed")
        self._check_open(self._releases[execution.release_id])
        return execution

    def _case_in(self, case_id: str, project_id: str) -> bool:
        case = self._cases.get(case_id)
        return case is not None and case.project_id == project_id

    @staticmethod
    def _check_open(release: Release) -> None:
        if release.status in BLOCKED_RELEASE_STATUSES:
            raise _release_locked(release)

    @staticmethod
    def _view(execution: Execution, base_url: str) -> dict[str, Any]:
        return {
            "id": execution.id,
            "release_id": execution.release_id,
            "title": execution.title,
            "description": execution.description,
            "status": execution.status,
            "created_at": execution.created_at,
            "completed_at": execution.completed_at,
            "web_url": f"{base_url}/#{execution.id}",
            "summary": execution.summary(),
        }


def _release_locked(release: Release) -> ApiFailure:
    return ApiFailure(
        409,
        "RELEASE_LOCKED",
        f"release {release.name!r} is {release.status}",
        {"release_id": release.id, "release_status": release.status},
    )


def _rejection(index: int, item: Any, code: str, message: str) -> dict[str, Any]:
    rejection: dict[str, Any] = {"index": index, "error": {"code": code, "message": message}}
    case_id = item.get("test_case_id") if isinstance(item, dict) else None
    if isinstance(case_id, str):
        rejection["test_case_id"] = case_id
    return rejection
