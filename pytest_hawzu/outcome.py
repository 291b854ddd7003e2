"""Fold the phase reports of one test (setup, call, teardown, subtests, reruns) into one outcome.

Runs wherever reports arrive: in the pytest process without xdist, and on the
controller with it. Each report costs a dictionary lookup and a few
assignments; notes are built only for failures and skips.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pytest_hawzu import notes
from pytest_hawzu.model import PASSED_PHASES, Status, Step, TestOutcome
from pytest_hawzu.status import StatusTable
from pytest_hawzu.tagger import ATTEMPT_KEY
from pytest_hawzu.text import hide, hiding

PHASE_STATUS = {"passed": Status.PASSED, "failed": Status.FAILED, "skipped": Status.SKIPPED}
_PASSED_STEP = {step.name: step for step in PASSED_PHASES}
SUBTEST_REPORTS = frozenset({"SubtestReport", "SubTestReport"})
RERUN = "rerun"  # pytest-rerunfailures' outcome for a void attempt
# A running test: its node ID and the xdist worker running it (None without xdist).
_Key = tuple[str, Any]


class _Running:
    """What is known of a test between its setup and teardown reports."""

    __slots__ = (
        "called",
        "case_ids",
        "duration",
        "notes",
        "outcome",
        "plain",
        "report",
        "reruns",
        "started_at",
        "steps",
    )

    def __init__(self, case_ids: tuple[str, ...], reruns: int = 0) -> None:
        self.case_ids = case_ids
        self.outcome = "passed"
        self.notes: list[str] = []
        self.steps: list[Step] = []
        self.duration = 0.0
        self.started_at: float | None = None
        self.reruns = reruns
        self.plain = True
        self.called = False  # the test's own call report came (not a subtest's)
        self.report: Any = None  # the last phase report: what pytest_hawzu_result is shown


class TestRecorder:
    """Collects phase reports per test and yields a `TestOutcome` at teardown."""

    __test__ = False

    def __init__(self, table: StatusTable, notes_limit: int, secret: str = "") -> None:
        self.table = table
        self.notes_limit = notes_limit
        # The token, should a test show it: notes go to the journal and to Hawzu.
        self.secret = hiding(secret)
        self._running: dict[_Key, _Running] = {}
        # Reruns of tests whose worker crashed: the next attempt runs on another
        # worker, and the void one may have sent no report of its own
        # (pytest-rerunfailures holds an attempt's reports back).
        self._reruns: dict[str, int] = {}

    def add(
        self, report: Any, case_ids: tuple[str, ...], user_steps: Sequence[Any] = ()
    ) -> TestOutcome | None:
        """Take one report; return the test's outcome once its teardown arrived."""
        key = _key(report)
        # Not reset at a setup report: pytest-rerunfailures holds an attempt's
        # reports back until it ends, so its subtests' reports come first.
        state = self._running.get(key)
        if state is None:
            state = self._running[key] = self._started(report.nodeid, case_ids)
        elif state.outcome == RERUN and report.when == "setup" and report.outcome != RERUN:
            # The void attempt's teardown never came (pytest 8.0 with
            # pytest-rerunfailures 16): this setup begins the next attempt.
            state = self._void(key, state)
        state.duration += report.duration
        state.report = report
        if RERUN in (report.outcome, state.outcome):
            # This attempt is void; its teardown ends it.
            state.outcome = RERUN
            if report.when == "teardown":
                self._void(key, state)
            return None
        if _hidden(report, state):
            del self._running[key]
            return None
        when = report.when
        # A phase's user steps come before the phase's own step, in the order they ended.
        for step in user_steps:
            state.plain = False
            state.steps.append(self._user_step(Step.from_json(step)))
        if when == "setup":
            state.started_at = report.start
        if report.outcome == "passed" and when in _PASSED_STEP and _plain(report):
            # Most reports: a passed phase has nothing to note, and its step is shared.
            state.steps.append(_PASSED_STEP[when])
        elif when == "setup":
            self._setup(state, report)
        elif when == "call":
            self._call(state, report)
        elif when == "teardown":
            self._teardown(state, report)
        if when != "teardown":
            return None
        del self._running[key]
        return self._finish(report, state)

    def _void(self, key: _Key, state: _Running) -> _Running:
        """The test's current attempt is void and another one follows on the same worker."""
        fresh = self._running[key] = _Running(state.case_ids, reruns=state.reruns + 1)
        return fresh

    def rerun(self, report: Any) -> None:
        """The test's worker crashed and the test runs again, on another worker."""
        state = self._running.pop(_key(report), None)
        nodeid = report.nodeid
        reruns = state.reruns if state is not None else self._reruns.get(nodeid, 0)
        self._reruns[nodeid] = reruns + 1

    def _started(self, nodeid: str, case_ids: tuple[str, ...]) -> _Running:
        return _Running(case_ids, reruns=self._reruns.pop(nodeid, 0))

    def crashed(self, report: Any, case_ids: tuple[str, ...], note: str) -> TestOutcome:
        """The outcome of a test whose process died while it ran."""
        state = self._running.pop(_key(report), None) or self._started(report.nodeid, case_ids)
        state.outcome = "failed"
        state.plain = False
        self._note(state, f"{report.nodeid}: {note}")
        state.steps.append(Step("call", Status.FAILED, hide(note, self.secret)))
        return self._finish(report, state)

    def _setup(self, state: _Running, report: Any) -> None:
        if report.failed:
            state.outcome = "setup_error"
            self._note(state, self._failure(report.nodeid, report, "setup"))
        elif report.skipped:
            state.outcome = "xfail" if hasattr(report, "wasxfail") else "skip"
            self._note(state, notes.skip_reason(report))
        self._step(state, "setup", report)

    def _call(self, state: _Running, report: Any) -> None:
        if type(report).__name__ in SUBTEST_REPORTS:
            if report.failed:
                state.outcome = "failed"
                name = f"{report.nodeid} {notes.subtest(report)}"
                self._note(state, self._failure(name, report))
                self._step(state, "subtest", report)
            return
        if report.failed:
            # After a failed subtest, pytest's own "contains 1 failed subtest"
            # adds nothing; an exception of the test's own body does.
            if state.outcome != "failed" or _raised(report):
                self._note(state, self._failure(report.nodeid, report))
            state.outcome = "failed"
        elif report.skipped:
            if state.outcome != "failed":  # a skip after a failed subtest hides nothing
                state.outcome = "xfail" if hasattr(report, "wasxfail") else "skip"
            self._note(state, notes.skip_reason(report))
        elif hasattr(report, "wasxfail"):
            state.outcome = "xpass"
            self._note(state, f"xpass: {report.wasxfail}" if report.wasxfail else "xpass")
        self._step(state, "call", report)

    def _teardown(self, state: _Running, report: Any) -> None:
        if report.failed:
            # Only a broken setup (BLOCKED) or a failure says more than this error.
            if state.outcome not in ("setup_error", "failed"):
                state.outcome = "teardown_error"
            self._note(state, self._failure(report.nodeid, report, "teardown"))
        elif report.skipped and state.outcome in ("passed", "xpass"):
            # pytest counts a skipped (or xfailed) teardown too, --junitxml only it.
            state.outcome = "xfail" if hasattr(report, "wasxfail") else "skip"
            self._note(state, notes.skip_reason(report))
        self._step(state, "teardown", report)

    def _step(self, state: _Running, name: str, report: Any) -> None:
        status = PHASE_STATUS.get(report.outcome, Status.FAILED)
        if status is Status.PASSED:
            state.steps.append(_PASSED_STEP[name])  # shared: no allocation per test
            return
        state.plain = False
        state.steps.append(Step(name, status, state.notes[-1] if state.notes else ""))

    def _finish(self, report: Any, state: _Running) -> TestOutcome:
        # Attempts that ended before this one in the same run of the test's
        # protocol: voided by pytest-rerunfailures, or hidden by flaky.
        state.reruns = max(state.reruns, getattr(report, ATTEMPT_KEY, 0))
        if state.reruns:
            word = "rerun" if state.reruns == 1 else "reruns"
            self._note(state, f"{report.nodeid}: final attempt after {state.reruns} {word}")
        steps = PASSED_PHASES if state.plain else tuple(state.steps)
        return TestOutcome(
            nodeid=report.nodeid,
            case_ids=state.case_ids,
            status=self.table[state.outcome],
            notes=notes.join([n for n in state.notes if n], self.notes_limit),
            duration=state.duration,
            started_at=state.started_at,
            # xdist reports a crashed test with no end time: 0, not 1970.
            finished_at=getattr(report, "stop", None) or None,
            steps=steps,
            worker=_worker(report),
            reruns=state.reruns,
        )

    def _failure(self, name: str, report: Any, phase: str = "") -> str:
        return notes.failure(name, report, self.notes_limit, phase, self.secret)

    def _note(self, state: _Running, text: str) -> None:
        # Hidden now: notes are cut to fit later, and a cut could keep part of it.
        state.notes.append(hide(text, self.secret))

    def _user_step(self, step: Step) -> Step:
        # A worker cut its notes already, with the token hidden first; a name may hold it.
        if self.secret and (self.secret in step.name or self.secret in step.notes):
            return Step(hide(step.name, self.secret), step.status, hide(step.notes, self.secret))
        return step

    def case_ids_of(self, report: Any) -> tuple[str, ...]:
        """The case IDs of the report's test, if it started and has not finished."""
        state = self._running.get(_key(report))
        return state.case_ids if state is not None else ()

    def interrupted(self) -> list[tuple[TestOutcome, Any]]:
        """Running tests that had failed (or whose setup had) when the run ended
        (Ctrl-C, -x under xdist): pytest counts those failures, and their
        outcome is known without the teardown. Each with its last phase report."""
        known = [(key, state) for key, state in self._running.items() if state.outcome in _KNOWN]
        outcomes = []
        for (nodeid, node), state in known:
            del self._running[nodeid, node]
            self._note(state, f"{nodeid}: the run ended before its teardown")
            outcomes.append((self._finish(_Unfinished(nodeid, node), state), state.report))
        return outcomes

    def unfinished(self) -> list[str]:
        """Node IDs of tests that started and never finished (an interrupted run)."""
        return [nodeid for nodeid, _ in self._running]


# Outcomes the rest of a test cannot change: a failure, or a setup that failed.
_KNOWN = ("failed", "setup_error")


@dataclass(frozen=True)
class _Unfinished:
    """What `_finish` reads of a report, for a test whose teardown never came."""

    nodeid: str
    node: Any


def _key(report: Any) -> _Key:
    """A running test: its node ID alone does not tell two copies of it apart
    (--keep-duplicates) that two xdist workers run at once."""
    return report.nodeid, getattr(report, "node", None)


def _hidden(report: Any, state: _Running) -> bool:
    """The report ends an attempt that had neither a call nor a setup that kept
    it from running: flaky hid its failed setup or call (or a pass short of its
    min_passes) and runs the test again. Such an attempt is void."""
    when = report.when
    if when == "call":
        if type(report).__name__ not in SUBTEST_REPORTS:
            state.called = True
        return False
    return when == "teardown" and not state.called and state.outcome == "passed"


def _plain(report: Any) -> bool:
    """A phase report of the test itself, not of a subtest, and not an xpass."""
    return type(report).__name__ not in SUBTEST_REPORTS and not hasattr(report, "wasxfail")


def _raised(report: Any) -> bool:
    """The report is of an exception (it has a crash line), not a plugin's summary text."""
    return getattr(report.longrepr, "reprcrash", None) is not None


def _worker(report: Any) -> str | None:
    node = getattr(report, "node", None)
    worker_id = getattr(node, "gateway", None)
    return str(worker_id.id) if worker_id is not None else None
