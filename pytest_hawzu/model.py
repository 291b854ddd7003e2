"""What the plugin knows about a result, independent of how Hawzu spells it."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Status(enum.Enum):
    """A Hawzu result status. The wire spelling lives in the client module."""

    PASSED = "passed"
    FAILED = "failed"
    BLOCKED = "blocked"
    SKIPPED = "skipped"
    NOT_EXECUTED = "not_executed"


# When several tests map to one case the worst one wins, in this order.
SEVERITY: dict[Status, int] = {
    Status.NOT_EXECUTED: 0,
    Status.SKIPPED: 1,
    Status.PASSED: 2,
    Status.BLOCKED: 3,
    Status.FAILED: 4,
}


def worst(a: Status, b: Status) -> Status:
    """The status that wins when two tests of one case are combined."""
    return a if SEVERITY[a] >= SEVERITY[b] else b


@dataclass(frozen=True)
class Step:
    """One step of a result: a test phase or a user step."""

    name: str
    status: Status
    notes: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status.value, "notes": self.notes}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Step:
        return cls(str(data["name"]), Status(data["status"]), str(data.get("notes", "")))


@dataclass(frozen=True)
class CaseResult:
    """The combined result of one test case, ready to send."""

    case_id: str
    status: Status
    notes: str = ""
    duration_ms: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    steps: tuple[Step, ...] = ()
    nodeids: tuple[str, ...] = ()
    worker: str | None = None


@dataclass(frozen=True)
class Rejection:
    """A result that Hawzu refused; final, never resent."""

    case_id: str
    code: str
    message: str
    nodeids: tuple[str, ...] = field(default=())
