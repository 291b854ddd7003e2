"""The end-of-session account: what reached Hawzu, what did not, and what to do next."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pytest_hawzu.journal import is_partial
from pytest_hawzu.model import Rejection, Status, counted
from pytest_hawzu.uploader import Delivery

ORDER = (Status.PASSED, Status.FAILED, Status.BLOCKED, Status.SKIPPED, Status.NOT_EXECUTED)
NAMES = {s: s.name.lower().replace("_", " ") for s in Status}


@dataclass
class SessionSummary:
    """Passed to `pytest_hawzu_session_finished` and printed in the terminal summary."""

    delivery: Delivery
    unmarked: int = 0
    journal: Path | None = None
    completed: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def execution_id(self) -> str | None:
        execution = self.delivery.execution
        return execution.id if execution is not None else None

    @property
    def sent(self) -> dict[Status, int]:
        return self.delivery.by_status()

    @property
    def rejected(self) -> list[Rejection]:
        return list(self.delivery.rejected.values())

    @property
    def undelivered(self) -> int:
        return len(self.delivery.undelivered)

    @property
    def ok(self) -> bool:
        return self.delivery.in_full and not self.problems

    def lines(self) -> Iterator[str]:
        yield from self._execution_lines()
        yield f"results sent: {counts(self.sent)}"
        for rejection in self.rejected:
            tests = ", ".join(rejection.nodeids) or "?"
            yield f"rejected: {rejection.case_id} ({tests}): {rejection.code} {rejection.message}"
        if self.undelivered:
            reasons = sorted(set(self.delivery.undelivered.values()))
            line = f"not delivered: {counted(self.undelivered, 'result')} ({'; '.join(reasons)})"
            outdated = len(self.delivery.outdated)
            if outdated:
                line += f"; Hawzu still shows an earlier result for {outdated} of them"
            yield line
        yield from self.problems
        if self.unmarked:
            word = "test has" if self.unmarked == 1 else "tests have"
            yield f"{self.unmarked} {word} no Hawzu case (add @pytest.mark.hawzu to report them)"
        if self.journal is not None:
            yield _kept(self.journal)

    def _execution_lines(self) -> Iterator[str]:
        delivery = self.delivery
        if delivery.idle:
            yield "no execution: no result to report"
        if delivery.startup_error:
            yield f"not reported: {delivery.startup_error}"
        execution = delivery.execution
        if execution is None:
            return
        state = "completed" if self.completed else "left open"
        if delivery.locked and not self.completed:
            state = "completed elsewhere"
        yield f"execution {execution.id} ({state}): {execution.title}"
        if execution.web_url:
            yield f"  {execution.web_url}"


def counts(by_status: dict[Status, int]) -> str:
    parts = [f"{by_status[s]} {NAMES[s]}" for s in ORDER if by_status.get(s)]
    return ", ".join(parts) or "none"


def _kept(path: Path) -> str:
    shown = _from_here(path)
    deliver = f"deliver it later with: hawzu upload {shlex.quote(shown)}"
    if not is_partial(path):
        return f"journal kept: {shown}; {deliver}"
    return (
        f"partial journal kept: {shown} (the tests that finished before it failed; the "
        f"results of later ones are lost unless they reached Hawzu); {deliver}"
    )


def _from_here(path: Path) -> str:
    """The path as typed from the current directory: relative when it is below it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
