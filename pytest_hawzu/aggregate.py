"""Combine the outcomes of every test that maps to one case into the case's one result.

Hawzu keeps one result per case and a later write replaces an earlier one, so
what is sent is always the combination so far: the worst status wins
(FAILED over BLOCKED over NOT_EXECUTED over PASSED over SKIPPED), durations
add up, and the notes name each test that failed.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Sequence

from pytest_hawzu import notes
from pytest_hawzu.model import SEVERITY, CaseResult, Status, Step, TestOutcome, worst

LET_GO = "(an earlier test, already delivered)"
# Why tests never finished, in the session and in `hawzu upload` alike.
ENDED_BEFORE_THEM = "not executed: the run ended before these tests ran"
ENDED_BEFORE_IT = "not executed: the run ended before it ran"
INTERRUPTED_IT = "not executed: the run was interrupted while it ran"


def interrupted_while(running: Sequence[str]) -> str:
    """The note of a case none of whose tests finished, some running at Ctrl-C."""
    return f"not executed: the run was interrupted while {', '.join(running)} ran"


class Aggregator:
    """Outcomes per case. Shared by pytest's thread (add) and the sender (result).

    Most cases have one test, so a case holds its outcome as it is and becomes
    a list only when a second test arrives: the per-case cost stays one slot.
    """

    def __init__(self, notes_limit: int) -> None:
        self.notes_limit = notes_limit
        self.lock = threading.Lock()
        # A Status: the case's one test was delivered and let go (see `delivered`).
        self._cases: dict[str, TestOutcome | list[TestOutcome] | Status] = {}
        # Cases that several selected tests report to; None until the selection
        # is known. Any other case is complete once its one test is in.
        self._shared: set[str] | None = None

    def plan(self, shared: Iterable[str]) -> None:
        """The selection is known: these cases have several tests, every other case one."""
        if self._shared is None:
            self._shared = set()
        self._shared.update(shared)

    def add(self, outcome: TestOutcome) -> tuple[str, ...]:
        """Record a finished test; return the case IDs whose result changed."""
        cases = self._cases
        with self.lock:
            for case_id in outcome.case_ids:
                held = cases.get(case_id)
                if held is None:
                    cases[case_id] = outcome
                elif isinstance(held, list):
                    held.append(outcome)
                elif isinstance(held, Status):  # a test the selection did not announce
                    cases[case_id] = [_let_go(case_id, held), outcome]
                else:
                    cases[case_id] = [held, outcome]
        return outcome.case_ids

    def delivered(self, case_id: str) -> None:
        """The case's result reached Hawzu: results are not kept after delivery.

        A case that no other test can change keeps only its status, for the
        summary and for a test the selection did not announce.
        """
        shared = self._shared
        if shared is None or case_id in shared:
            return
        with self.lock:
            held = self._cases.get(case_id)
            if isinstance(held, TestOutcome):
                self._cases[case_id] = held.status

    def finished(self, case_id: str) -> Counter[str] | None:
        """How often each test of a case several tests report to finished, by node ID.

        Counted: --keep-duplicates selects a test once per copy, all under one
        node ID, and one copy that finished says nothing of the others.
        None for any other case: its one test is in, or nothing is.
        """
        shared = self._shared
        if shared is None or case_id not in shared:
            return None
        with self.lock:
            held = self._cases.get(case_id)
            tests = held if isinstance(held, list) else [held]
            return Counter(t.nodeid for t in tests if isinstance(t, TestOutcome))

    def outcomes_kept(self) -> int:
        with self.lock:
            held = [h if isinstance(h, list) else [h] for h in self._cases.values()]
        return len({id(o) for tests in held for o in tests if isinstance(o, TestOutcome)})

    def __contains__(self, case_id: str) -> bool:
        return case_id in self._cases

    def case_ids(self) -> list[str]:
        with self.lock:
            return list(self._cases)

    def __len__(self) -> int:
        return len(self._cases)

    def result(self, case_id: str) -> CaseResult:
        with self.lock:
            held = self._cases[case_id]
            if isinstance(held, Status):
                tests = [_let_go(case_id, held)]
            else:
                tests = list(held) if isinstance(held, list) else [held]
        return combine(case_id, tests, self.notes_limit)


def combine(case_id: str, tests: list[TestOutcome], notes_limit: int) -> CaseResult:
    """The one result of a case from the outcomes of its tests."""
    if len(tests) == 1:
        return _single(case_id, tests[0], notes_limit)
    status = tests[0].status
    for test in tests[1:]:
        status = worst(status, test.status)
    starts = [t.started_at for t in tests if t.started_at is not None]
    ends = [t.finished_at for t in tests if t.finished_at is not None]
    return CaseResult(
        case_id=case_id,
        status=status,
        notes=_notes(tests, notes_limit),
        duration_ms=round(sum(t.duration for t in tests) * 1000),
        started_at=min(starts) if starts else None,
        finished_at=max(ends) if ends else None,
        steps=tuple(_test_step(t) for t in tests),
        nodeids=tuple(t.nodeid for t in tests),
        worker=tests[-1].worker,
    )


def _single(case_id: str, test: TestOutcome, notes_limit: int) -> CaseResult:
    """The usual case, one test, without the bookkeeping of a combination."""
    return CaseResult(
        case_id=case_id,
        status=test.status,
        notes=notes.keep_head(test.notes, notes_limit) if test.notes else "",
        duration_ms=round(test.duration * 1000),
        started_at=test.started_at,
        finished_at=test.finished_at,
        steps=test.steps,
        nodeids=(test.nodeid,),
        worker=test.worker,
    )


def _let_go(case_id: str, status: Status) -> TestOutcome:
    """Stands in for a delivered test whose details were let go."""
    return TestOutcome(nodeid=LET_GO, case_ids=(case_id,), status=status)


def not_executed(case_id: str, nodeids: tuple[str, ...], reason: str) -> CaseResult:
    """The result of a case that was in scope but whose tests never ran."""
    return CaseResult(case_id=case_id, status=Status.NOT_EXECUTED, notes=reason, nodeids=nodeids)


def not_run(nodeid: str, case_id: str, reason: str) -> TestOutcome:
    """A selected test that never finished, in a case whose other tests did."""
    return TestOutcome(
        nodeid=nodeid, case_ids=(case_id,), status=Status.NOT_EXECUTED, notes=f"{nodeid}: {reason}"
    )


def _notes(tests: list[TestOutcome], limit: int) -> str:
    # The worst tests first, so a failure is never trimmed away behind a skip.
    noted = sorted((t for t in tests if t.notes), key=lambda t: -SEVERITY[t.status])
    return notes.join([_named(t) for t in noted], limit)


def _named(test: TestOutcome) -> str:
    """A test's notes, saying which test they are from (a skip reason does not)."""
    if test.notes.startswith(test.nodeid) or test.nodeid == LET_GO:
        return test.notes
    return f"{test.nodeid}: {test.notes}"


def _test_step(test: TestOutcome) -> Step:
    first_line = test.notes.split("\n", 1)[0] if test.notes else ""
    # All of the node ID after the file: "TestCard::test_refund", "test_path[a::b]".
    return Step(test.nodeid.split("::", 1)[-1], test.status, first_line)
