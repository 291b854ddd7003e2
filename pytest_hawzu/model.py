"""What the plugin knows about a result, independent of how Hawzu spells it."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Any, TypeVar


class Status(enum.Enum):
    """A Hawzu result status. The wire spelling lives in the client module."""

    PASSED = "passed"
    FAILED = "failed"
    BLOCKED = "blocked"
    SKIPPED = "skipped"
    NOT_EXECUTED = "not_executed"


# When several tests map to one case the worst one wins, in this order.
# A case is only as good as its worst test; one that never ran leaves the
# case not executed, however its other tests passed.
SEVERITY: dict[Status, int] = {
    Status.SKIPPED: 0,
    Status.PASSED: 1,
    Status.NOT_EXECUTED: 2,
    Status.BLOCKED: 3,
    Status.FAILED: 4,
}


def worst(a: Status, b: Status) -> Status:
    """The status that wins when two tests of one case are combined."""
    return a if SEVERITY[a] >= SEVERITY[b] else b


@dataclass(frozen=True, slots=True)
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


# The steps of a plain passing test; one shared tuple keeps memory flat.
PASSED_PHASES = (
    Step("setup", Status.PASSED),
    Step("call", Status.PASSED),
    Step("teardown", Status.PASSED),
)


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


@dataclass(frozen=True, slots=True)
class TestOutcome:
    """The result of one finished test, before it is combined per case."""

    __test__ = False  # a model, not a test class, whatever its name says

    nodeid: str
    case_ids: tuple[str, ...]
    status: Status
    notes: str = ""
    duration: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    steps: tuple[Step, ...] = ()
    worker: str | None = None
    reruns: int = 0

    def to_json(self) -> dict[str, Any]:
        """The journal's form: runs once per test on pytest's thread, so kept lean."""
        data: dict[str, Any] = {
            "nodeid": self.nodeid,
            "case_ids": self.case_ids,
            "status": self.status.value,
            # Whole: rounded, a sum could fall on the other side of a millisecond
            # than the run's, and `hawzu upload` send another duration.
            "duration": self.duration,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }
        if self.notes:
            data["notes"] = self.notes
        if self.worker:
            data["worker"] = self.worker
        if self.reruns:
            data["reruns"] = self.reruns
        if self.steps is not PASSED_PHASES:  # the usual steps are implied
            data["steps"] = [s.to_json() for s in self.steps]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TestOutcome:
        """A journal's record; TypeError or ValueError for one that is damaged."""
        case_ids = data["case_ids"]
        if not isinstance(case_ids, (list, tuple)) or not all(isinstance(c, str) for c in case_ids):
            raise TypeError(f"case_ids must be a list of strings, got {case_ids!r}")
        return cls(
            nodeid=_of(str, data["nodeid"], "nodeid"),
            case_ids=tuple(case_ids),
            status=Status(data["status"]),
            notes=_of(str, data.get("notes", ""), "notes"),
            duration=_seconds(data.get("duration", 0.0), "duration"),
            started_at=_time(data.get("started_at"), "started_at"),
            finished_at=_time(data.get("finished_at"), "finished_at"),
            steps=(
                tuple(Step.from_json(s) for s in data["steps"])
                if "steps" in data
                else PASSED_PHASES
            ),
            worker=None if data.get("worker") is None else _of(str, data["worker"], "worker"),
            reruns=_of(int, data.get("reruns", 0), "reruns"),
        )


T = TypeVar("T")


def _of(kind: type[T], value: Any, name: str) -> T:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"{name} must be {kind.__name__}, got {value!r}")
    return value


MAX_SECONDS = 1e11  # past the year 5000; a time in milliseconds is 1.7e12


def is_seconds(value: object) -> bool:
    """A duration or Unix time in seconds: finite, and not milliseconds by mistake."""
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and -MAX_SECONDS < value < MAX_SECONDS
    )


def _seconds(value: Any, name: str) -> float:
    """The journal's encoder writes NaN and Infinity as they are: refused here."""
    if not is_seconds(value):
        raise ValueError(f"{name} must be a finite number of seconds, got {value!r}")
    return float(value)


def _time(value: Any, name: str) -> float | None:
    return None if value is None else _seconds(value, name)


def counted(count: int, noun: str) -> str:
    """'1 result', '3 results': for the summary's and the problems' lines."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"
