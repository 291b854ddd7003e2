"""The things the sandbox stores, and how each looks from outside."""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from typing import Any

from pytest_hawzu.sandbox.rules import RESULT_STATUSES

SEED_CREATED_AT = "2026-01-01T00:00:00Z"


@dataclass
class Project:
    id: str
    name: str
    code: str
    role: str = "PROJECT_MEMBER"


@dataclass
class Release:
    id: str
    name: str
    project_id: str
    status: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project_id": self.project_id,
            "name": self.name,
            "status": self.status,
            "created_at": SEED_CREATED_AT,
        }


@dataclass
class Case:
    id: str
    project_id: str
    title: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project_id": self.project_id,
            "title": self.title,
            "automation_status": "AUTOMATED",
        }


@dataclass
class Attachment:
    id: str
    filename: str
    content_type: str
    data: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "filename": self.filename,
            "size": len(self.data),
            "content_type": self.content_type,
            "sha256": hashlib.sha256(self.data).hexdigest(),
        }


@dataclass
class Execution:
    id: str
    release_id: str
    title: str
    description: str
    idempotency_key: str | None
    created_at: str
    test_case_ids: list[str]
    status: str = "IN_PROGRESS"
    completed_at: str | None = None
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Kept apart from results so that re-posting a result keeps its attachments.
    attachments: dict[str, list[Attachment]] = field(default_factory=dict)

    def summary(self) -> dict[str, int]:
        counts = dict.fromkeys(sorted(RESULT_STATUSES), 0)
        for item in self.results.values():
            counts[item["status"]] += 1
        return counts

    def snapshot(self) -> dict[str, Any]:
        results = {
            case_id: {
                **copy.deepcopy(item),
                "attachments": [a.to_json() for a in self.attachments.get(case_id, [])],
            }
            for case_id, item in self.results.items()
        }
        return {
            "id": self.id,
            "release_id": self.release_id,
            "title": self.title,
            "description": self.description,
            "status": self.status,
            "idempotency_key": self.idempotency_key,
            "created_at": self.created_at,
            "completed_at": self.completed_at,
            "test_case_ids": list(self.test_case_ids),
            "results": results,
        }
