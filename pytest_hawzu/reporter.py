"""The controller's side: folds reports, journals outcomes, feeds the uploader, sums up.

Exists only where every report arrives: the pytest process without xdist, or
the xdist controller. Workers never talk to Hawzu.
"""

from __future__ import annotations

import functools
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from pytest_hawzu import answers, deadline, title
from pytest_hawzu.aggregate import (
    ENDED_BEFORE_IT,
    ENDED_BEFORE_THEM,
    INTERRUPTED_IT,
    Aggregator,
    interrupted_while,
    not_executed,
    not_run,
)
from pytest_hawzu.attachments import Attachment, Inbox
from pytest_hawzu.cases import case_ids
from pytest_hawzu.client import Execution, HawzuClient, HawzuError
from pytest_hawzu.deadline import within
from pytest_hawzu.failures import HOOK_FAILURES, internal_error, raised
from pytest_hawzu.forks import InChild
from pytest_hawzu.journal import Journal, is_partial
from pytest_hawzu.model import TestOutcome, counted
from pytest_hawzu.outcome import RERUN, TestRecorder
from pytest_hawzu.retry import Retrier, RetryPolicy
from pytest_hawzu.settings import MIN_TIMEOUT, TOKEN_ENV, Settings
from pytest_hawzu.startup import (
    UNUSABLE_TOKEN,
    Plan,
    StartupError,
    describe,
    naming,
    open_execution,
    unusable_token,
)
from pytest_hawzu.status import StatusTable
from pytest_hawzu.stopping import sigterm_interrupts
from pytest_hawzu.summary import SessionSummary
from pytest_hawzu.tagger import (
    ATTEMPT_KEY,
    SCOPE_KEY,
    plan_scope,
    read_tag,
    shared_cases,
    unpack_scope,
)
from pytest_hawzu.text import hide, hiding
from pytest_hawzu.throttle import Throttle
from pytest_hawzu.uploader import Uploader

PROGRESS_AFTER = 2.0  # seconds of flushing before progress lines appear
STRICT_EXIT = pytest.ExitCode.USAGE_ERROR  # what pytest returns for a UsageError
SCOPE_CHUNK = 1000  # tests per scope line in the journal


class Reporter:
    """Registered as a plugin on the controller when reporting is on."""

    def __init__(
        self,
        config: pytest.Config,
        settings: Settings,
        url: str,
        token: str | None,
        spool_dir: Path,
        sandbox: Any = None,
    ) -> None:
        self.config = config
        self.sandbox = sandbox
        self.settings = settings
        self.spool_dir = spool_dir
        # A token copied with a line break around it still works; one with such
        # characters inside cannot be sent, and requests would quote it in its error.
        token = (token or "").strip()
        self.token_missing = not token
        self.token_unusable = unusable_token(token)
        # A test that forks, and whose child carries on with the session
        # (no os._exit), runs a copy of this reporter without its threads: a
        # lock one of them held at the fork is held in the child for ever. The
        # child's results are not the session's, so the copy does nothing.
        # Set by an at-fork hook rather than read from os.getpid() per report.
        self.copy = False
        _reporters.add(self)
        self.abort = threading.Event()
        self.throttle = Throttle(settings.rate)
        self.client = HawzuClient(
            url,
            "" if self.token_unusable else token,
            timeout=settings.timeout,
            observer=self.throttle.observe,
        )
        self.retrier = Retrier(
            self.throttle,
            RetryPolicy(max_retry_after=settings.max_retry_after),
            sleep=self.abort.wait,
            stop=self.abort,
        )
        # Should a test show the token (in its output, a message, its node ID),
        # nothing of ours shows it.
        self.secret = hiding(token)
        self.recorder = TestRecorder(
            StatusTable(settings.status_map), settings.notes_limit, secret=token
        )
        self.aggregator = Aggregator(settings.notes_limit)
        self.plan = self._plan(url)
        self.uploader = Uploader(
            client=self.client,
            retrier=self.retrier,
            opener=self._open,
            build=self.aggregator.result,
            batch_size=settings.batch_size,
            abort=self.abort,
            on_attachment=self._attachment_settled,
            on_delivered=self.aggregator.delivered,
            retry_startup=not settings.strict,
        )
        self.inbox = Inbox()
        # Node IDs whose result a `pytest_hawzu_result` hook dropped or moved to
        # other cases, or that a bug kept from being recorded: the end of the
        # session sends nothing for them.
        self.dropped: set[str] = set()
        self.journal: Journal | None = None
        # Selected tests per case: the items themselves without xdist, else
        # what the workers said.
        self.items: Sequence[pytest.Item] | None = None
        self.scope: dict[str, list[str]] = {}
        self.scope_known = False
        self.scopes_read: set[str] = set()
        self.crashed: list[Any] = []
        self.unmarked = 0
        # Tests without a case whose current attempt pytest-rerunfailures voided.
        self.void_attempts: set[str] = set()
        # The test without a case that last finished on each worker (None: this
        # process): flaky runs a test again within one run of its protocol, each
        # attempt with a teardown report, and the test counts once.
        self.last_unmarked: dict[Any, str] = {}
        self.announced = False
        self.completion_failed = False
        self.journal_failed = False  # said once
        # A bug in this plugin on pytest's thread: results may be missing.
        self.broken = False
        self.problems: list[str] = []
        self.summary: SessionSummary | None = None
        # pytest.exit() from a user's hook during the end of the session: obeyed
        # once the session's results are sent and summed up.
        self.finishing = False
        self.started = False  # the journal opened and the sender started (see start)
        self.exit: BaseException | None = None

    def _plan(self, url: str) -> Plan:
        s = self.settings
        name, description = naming(s.title or title.DEFAULT_TITLE, s.release or "", self.secret)
        return Plan(
            release=s.release,
            project=s.project,
            title=name,
            description=description,
            # Every created execution carries a key, so a retried POST never makes two.
            idempotency_key=None
            if s.execution
            else s.execution_key or f"pytest-hawzu-{uuid.uuid4()}",
            execution=s.execution,
        )

    # -- start -------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_sessionstart(self, session: pytest.Session) -> Generator[None, None, None]:
        yield
        # After every other implementation: pytest's header comes before any
        # line of ours, and a session that failed to start reports nothing.
        # Under xdist it has started already, before the workers (see XdistHooks).
        self.start()

    def start(self) -> None:
        """Open the journal and start the sender, once; in strict mode, stop
        unless the execution is open."""
        if self.started:
            return
        self.started = True
        # The in-process sandbox ends with the session: nothing could deliver a
        # journal naming it later, and `hawzu upload <dir>` would trip on it.
        self.journal = None if self.sandbox is not None else self._open_journal()
        self.uploader.named = self._named
        self.uploader.start()
        if self.settings.strict:
            self.strict_start()

    def _named(self, attachment: Attachment) -> bool:
        """The journal names the copy, for `hawzu upload` to send: it was written
        before the journal failed, if it did."""
        return self.journal is not None and self.journal.names(attachment.path)

    def strict_start(self) -> None:
        """Stop before any test runs unless the execution is open."""
        timeout = self.settings.flush_timeout
        self.uploader.want()  # checked before any test runs, whatever they are
        try:
            opened = self.uploader.wait_open(timeout)
        except KeyboardInterrupt:
            self.abort.set()
            self._close_journal(delivered=True)  # no test ran: nothing to keep
            raise
        delivery = self.uploader.delivery
        if delivery.execution is not None:
            return
        self.abort.set()
        if opened:
            error = delivery.startup_error or "start-up failed"
        else:
            error = self.uploader.stalled(f"after {timeout:g} s (--hawzu-flush-timeout)")
        # No test ran: the journal holds nothing to deliver later.
        self._close_journal(delivered=True)
        # A usage error, not pytest.exit(): pytest prints that one twice.
        raise pytest.UsageError(f"Hawzu (--hawzu-strict): {error}")

    def _open_journal(self) -> Journal | None:
        s = self.settings
        header = {
            "url": self.client.url,
            "release": s.release,
            "project": s.project,
            "title": self.plan.title,
            "description": self.plan.description,
            "idempotency_key": self.plan.idempotency_key,
            "execution": s.execution,
            "shared": s.shared,
            "complete": s.completes,
            "batch_size": s.batch_size,
            "notes_limit": s.notes_limit,
        }
        try:
            return Journal.create(self.spool_dir, header, secret=self.secret)
        except OSError as exc:
            self._problem(f"Hawzu: no journal in {self.spool_dir} ({exc}); results are not kept")
            return None

    def _open(self) -> Execution:
        """Runs on the sender thread, before any result goes out."""
        # In strict mode no test runs and nothing is kept: no promise of a journal.
        keeps = self.journal is not None and not self.settings.strict
        kept = " (results are kept in the journal)" if keeps else ""
        if self.token_missing:
            raise StartupError(
                f"{TOKEN_ENV} is not set: export the API token created in Hawzu's web "
                f"interface{kept}"
            )
        if self.token_unusable:
            raise StartupError(f"{UNUSABLE_TOKEN}{kept}")
        execution = open_execution(self.client, self.retrier.call, self.plan)
        if self.journal is not None:
            self.journal.execution(execution.id, execution.web_url, execution.release_id)
        return execution

    # -- per test: record and enqueue only ----------------------------------

    def forked(self) -> bool:
        """In a process forked by a test: a copy of the session, not the session."""
        return self.copy

    def items_planned(self, items: Sequence[pytest.Item]) -> None:
        """The selected tests, when collection happened in this process (no xdist)."""
        if self.forked():
            return
        self.items = items
        self.scope_known = True
        self.aggregator.plan(shared_cases(items))
        if any(case_ids(item) for item in items):
            self.uploader.want()
        if self.journal is None:
            return
        # In chunks, so that a large suite's scope never sits in memory whole.
        for start in range(0, len(items), SCOPE_CHUNK):
            chunk = plan_scope(items[start : start + SCOPE_CHUNK])
            if chunk:
                self.journal.scope(chunk)

    def add_packed_scope(self, packed: object) -> None:
        """A scope as an xdist worker packed it (see Tagger).

        Every worker sends the same one, twice: only the first is read, as
        reading one of a large suite costs milliseconds.
        """
        if not isinstance(packed, str) or packed in self.scopes_read:
            return
        self.scopes_read.add(packed)
        scope = unpack_scope(packed)
        if scope is not None:
            self.add_scope(scope)

    def add_scope(self, scope: Mapping[str, Sequence[str]]) -> None:
        """Selected tests per case, from this process or from any xdist worker."""
        if self.forked():
            return
        self.scope_known = True
        # Every worker sends the same scope (twice); journal each case once.
        added = {c: list(n) for c, n in scope.items() if c not in self.scope}
        self.scope.update(added)
        self.aggregator.plan(c for c, nodeids in added.items() if len(nodeids) > 1)
        if added:
            self.uploader.want()
        if added and self.journal is not None:
            self.journal.scope(added)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.forked():
            return
        try:
            self._take(report)
        except pytest.exit.Exception:
            raise
        except Exception as exc:  # a bug here must not stop the user's tests
            self.broken = True
            # It ran: not "not executed". The journal has it if it got that far.
            self.dropped.add(report.nodeid)
            self._problem(
                f"Hawzu: {internal_error(exc)} while recording {report.nodeid}; the journal "
                "keeps it: please report this"
            )

    def _take(self, report: pytest.TestReport) -> None:
        packed = getattr(report, SCOPE_KEY, None)
        if packed is not None:  # a worker's first report (see Tagger)
            self.add_packed_scope(packed)
        tag = read_tag(report)
        if tag is None:
            self._unmarked(report)
            return
        case_ids, extras = tag
        if "attachments" in extras:
            self.inbox.add(report.nodeid, extras["attachments"])
        outcome = self.recorder.add(report, case_ids, extras.get("steps", ()))
        if outcome is not None:
            self.record(outcome, report)
        elif report.outcome == RERUN or report.when == "teardown":
            # A void attempt (pytest-rerunfailures, or one whose setup or call
            # flaky hid): only the final attempt's files are sent. Its rerun
            # report drops them, as pytest-rerunfailures 14 sends no teardown
            # report after it; a teardown that did not finish the test drops
            # those attached in that teardown.
            self.inbox.drop(report.nodeid)

    def _unmarked(self, report: pytest.TestReport) -> None:
        if report.when in ("setup", "call", "teardown"):
            self._count_unmarked(report)
        elif report.outcome == RERUN:  # a crashed worker's test, run again (rerunfailures)
            self.recorder.rerun(report)
        else:
            self._crashed(report)
        self._announce()

    def _crashed(self, report: Any) -> None:
        """A crashed worker's test, recorded now when its cases are known: pytest has
        shown it failed, and a later kill -9 must not leave it out of the journal."""
        if not self._record_crash(report):  # no worker has said yet which cases it covers
            self.crashed.append(report)

    def _record_crash(self, report: Any) -> bool:
        """Record the crashed test's outcome; False when its cases are not known."""
        cases = self.recorder.case_ids_of(report) or tuple(
            case_id for case_id, nodeids in self.scope.items() if report.nodeid in nodeids
        )
        if cases:
            self.record(self.recorder.crashed(report, cases, str(report.longrepr)), report)
        return bool(cases)

    def _count_unmarked(self, report: pytest.TestReport) -> None:
        """Count each test once: a void attempt (pytest-rerunfailures) is not a test."""
        if report.when == "setup" and report.outcome != RERUN:
            # A new attempt: the void one may have had no teardown report.
            self.void_attempts.discard(report.nodeid)
            if not getattr(report, ATTEMPT_KEY, 0):  # a new run of the test
                self.last_unmarked.pop(getattr(report, "node", None), None)
        if report.when != "teardown":
            if report.outcome == RERUN:
                self.void_attempts.add(report.nodeid)
        elif report.outcome == RERUN or report.nodeid in self.void_attempts:
            self.void_attempts.discard(report.nodeid)  # the void attempt ends
        else:
            node = getattr(report, "node", None)
            # A later attempt (flaky) of the test counted last on this worker.
            later = getattr(report, ATTEMPT_KEY, 0) > 0
            if not (later and self.last_unmarked.get(node) == report.nodeid):
                self.unmarked += 1
            self.last_unmarked[node] = report.nodeid

    def record(self, outcome: TestOutcome, report: Any = None) -> None:
        kept = self._accept(outcome, report) if report is not None else outcome
        if kept is None or (kept.case_ids, kept.nodeid) != (outcome.case_ids, outcome.nodeid):
            # The selected test as it was named expects nothing more.
            self._drop(outcome.nodeid)
        if kept is None:
            self.inbox.drop(outcome.nodeid)
            return
        files, warnings = self.inbox.take(outcome.nodeid, kept.case_ids)
        for line in warnings:
            self._problem(line)
        if self.journal is not None:
            self.journal.test(kept)
            for attachment in files:
                self.journal.attachment(attachment)
        self.uploader.submit(self.aggregator.add(kept), files)
        self._announce()

    def _drop(self, nodeid: str) -> None:
        self.dropped.add(nodeid)
        if self.journal is not None:
            self.journal.dropped(nodeid)

    def _accept(self, outcome: TestOutcome, report: Any) -> TestOutcome | None:
        """The outcome as `pytest_hawzu_result` implementations left it; None to drop it."""
        hook = self.config.hook.pytest_hawzu_result
        if not hook.get_hookimpls():  # the usual case: no pluggy call per test
            return outcome
        try:
            answer = hook(result=outcome, report=report)
        except pytest.exit.Exception:
            raise
        except HOOK_FAILURES as exc:  # the user's hook: one line, and the run goes on
            return self._unchanged(outcome, f"raised {raised(exc)}")
        if answer is None or answer is True:
            return outcome
        if answer is False:
            return None
        checked = answers.checked_outcome(answer)
        if isinstance(checked, TestOutcome):
            return checked
        shown, why = checked
        return self._unchanged(outcome, f"returned {shown}", why)

    def _unchanged(self, outcome: TestOutcome, what: str, why: str = "") -> TestOutcome:
        because = f"{why}; " if why else ""
        self._problem(
            f"Hawzu: pytest_hawzu_result {what} for {outcome.nodeid}; "
            f"{because}the result is sent unchanged"
        )
        return outcome

    def _user_hook(self, name: str, **kwargs: Any) -> None:
        """Call users' implementations of one of our hooks: a failure is one line,
        and one implementation's failure does not keep the others from running."""
        hook = getattr(self.config.hook, name)
        impls = hook.get_hookimpls()
        if len(impls) < 2 or any(i.wrapper or i.hookwrapper for i in impls):
            # One call as pluggy makes it: a wrapper wraps all the others.
            calls = [("", functools.partial(hook, **kwargs))]
        else:
            calls = [
                # Each with the arguments it asks for, as pluggy passes them.
                (f" ({i.plugin_name})", functools.partial(i.function, *map(kwargs.get, i.argnames)))
                for i in reversed(impls)  # pluggy's order
            ]
        for where, call in calls:
            try:
                call()
            except pytest.exit.Exception as exc:
                if not self.finishing:
                    raise
                self.exit = self.exit or exc
                return
            except HOOK_FAILURES as exc:
                self._problem(f"Hawzu: {name}{where} raised {raised(exc)}")

    def _attachment_settled(self, attachment: Attachment, case_id: str) -> None:
        """On the sender thread: noted so that `hawzu upload` never sends it twice."""
        if self.journal is not None:
            self.journal.attachment_done(attachment, case_id)

    def _announce(self) -> None:
        if not self.announced and self.uploader.delivery.execution is not None:
            self.announced = True
            self._user_hook(
                "pytest_hawzu_execution_created", execution=self.uploader.delivery.execution
            )
        while self.uploader.problems:
            self._problem(self.uploader.problems.popleft())
        self._check_journal()
        while self.uploader.notices:
            self._line(self.uploader.notices.popleft())

    def _check_journal(self) -> None:
        """Say once that the journal stopped being written (a full disk)."""
        journal = self.journal
        if journal is None or journal.failure is None or self.journal_failed:
            return
        self.journal_failed = True
        self._problem(
            f"Hawzu: the journal {journal.path} could not be written ({journal.failure}); "
            "results are still sent, but those of tests finishing from now on are lost "
            "if they do not reach Hawzu"
        )

    # -- end ---------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.forked():
            return
        self.finishing = True
        try:
            self._finish()
        except pytest.exit.Exception:
            raise  # from a user's hook: the run stops as asked; unconfigure cleans up
        except Exception as exc:  # a bug here must not turn into pytest's INTERNALERROR
            self.broken = True
            self.abort.set()
            self._problem(
                f"Hawzu: {internal_error(exc)} at the end of the session; the journal is "
                "kept: please report this"
            )
            self._close_journal(delivered=False)
        else:
            self._user_hook("pytest_hawzu_session_finished", summary=self.summary)
            if self.summary is not None:  # with what that hook's failure added
                self.summary.problems = list(dict.fromkeys(self.problems))
        if self.settings.strict and session.exitstatus == 0 and not self._in_full():
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        self.client.close()
        if self.exit is not None:
            self._exit_as_asked(session, self.exit)

    @staticmethod
    def _exit_as_asked(session: pytest.Session, asked: BaseException) -> None:
        """What pytest does with pytest.exit() from a sessionfinish hook, without
        raising it here, which would keep every later hook from running (the
        terminal summary included)."""
        returncode = getattr(asked, "returncode", None)
        if returncode is not None:
            session.exitstatus = returncode
        sys.stderr.write(f"{type(asked).__name__}: {asked}\n")

    def _in_full(self) -> bool:
        """Every result reached Hawzu and was kept there: what --hawzu-strict asks for."""
        return not self.broken and self.uploader.delivery.in_full

    def _finish(self) -> None:
        self._resolve_crashes()
        for outcome, report in self.recorder.interrupted():
            self.record(outcome, report)  # as pytest_hawzu_result would have seen it
        self.inbox.drop_all()  # of tests that never finished: nothing sends them
        for line in self.inbox.untold():
            self._problem(line)
        if not self.settings.shared:
            self._send_not_executed()
        started = time.monotonic()
        delivery = self.uploader.finish(self.settings.flush_timeout, self._progress(started))
        self._announce()
        if delivery.complete and not self.broken and self.journal is not None:
            # Should the run die while completing, `hawzu upload` has only that left.
            self.journal.delivered()
        completed = self._complete(started + self.settings.flush_timeout)
        self._announce()
        delivered = delivery.complete and not self.completion_failed and not self.broken
        kept = self._close_journal(delivered=delivered)
        self.summary = SessionSummary(
            delivery=delivery,
            unmarked=self.unmarked,
            journal=kept,
            completed=completed,
            problems=list(dict.fromkeys(self.problems)),
        )

    def _resolve_crashes(self) -> None:
        for report in self.crashed:
            if self._record_crash(report):
                continue
            if self.scope_known:
                self.unmarked += 1  # it has no case: it sent no teardown to count it by
            else:
                self._problem(
                    f"Hawzu: {report.nodeid} crashed its worker before any worker said which "
                    "Hawzu cases its tests cover; it and the tests that never ran are not reported"
                )

    def _selected(self) -> Iterator[tuple[str, str]]:
        """(case ID, node ID) of every selected test."""
        if self.items is None:
            for case_id, nodeids in self.scope.items():
                for nodeid in nodeids:
                    yield case_id, nodeid
            return
        for item in self.items:
            for case_id in case_ids(item):
                yield case_id, item.nodeid

    def _never_finished(self) -> dict[str, list[str]]:
        """Selected tests that never finished, by case: all of a case's, or some."""
        missing: dict[str, list[str]] = {}
        # Only cases with several tests: a run of 100,000 must not build a
        # second index of them at its end.
        finished: dict[str, Counter[str]] = {}
        for case_id, nodeid in self._selected():
            if case_id in self.aggregator:
                done = finished.get(case_id)
                if done is None:
                    done = self.aggregator.finished(case_id)
                    if done is None:
                        continue  # its one test is in
                    finished[case_id] = done
                if done[nodeid]:
                    done[nodeid] -= 1  # one finished copy accounts for one selected copy
                    continue
            missing.setdefault(case_id, []).append(nodeid)
        return missing

    def _send_not_executed(self) -> None:
        unfinished = set(self.recorder.unfinished())
        if unfinished and self.journal is not None:
            # For `hawzu upload` to say so too, should these results not arrive.
            self.journal.interrupted(sorted(unfinished))
        for case_id, nodeids in self._never_finished().items():
            # A test dropped by a hook gets nothing, as asked.
            kept = [n for n in nodeids if n not in self.dropped]
            if not kept:
                continue
            running = [n for n in kept if n in unfinished]
            if case_id not in self.aggregator:
                reason = interrupted_while(running) if running else ENDED_BEFORE_THEM
                self.uploader.submit_result(not_executed(case_id, tuple(kept), reason))
                continue
            # Some of the case's tests ran: the rest join them, and the case is
            # not executed unless one of those failed or was blocked.
            for nodeid in kept:
                reason = INTERRUPTED_IT if nodeid in running else ENDED_BEFORE_IT
                self.aggregator.add(not_run(nodeid, case_id, reason))
            self.uploader.submit((case_id,))

    def _complete(self, deadline: float) -> bool:
        """Complete the execution within what is left of the flush timeout."""
        delivery = self.uploader.delivery
        execution = delivery.execution
        # Left open while a result is missing: a completed execution refuses the
        # results `hawzu upload` would deliver from the kept journal.
        if execution is None or not self.settings.completes or not delivery.complete:
            return False
        if self.broken:  # a result may be missing: the journal has it
            return False
        self.abort.clear()

        def attempt() -> Execution:
            # No longer than what is left of the flush timeout, however slow Hawzu is.
            left = max(deadline - time.monotonic(), MIN_TIMEOUT)
            return self.client.complete_execution(execution.id, timeout=left)

        try:
            with sigterm_interrupts():  # as in the flush
                within(
                    lambda: self.retrier.call(attempt, deadline=deadline),
                    deadline - time.monotonic(),
                    name="hawzu-complete",
                )
        except HawzuError as exc:
            self.completion_failed = True
            self._problem(f"Hawzu: completing execution {execution.id} failed: {describe(exc)}")
            return False
        except TimeoutError:
            self.abort.set()  # its retries, if it is retrying, stop
            self.completion_failed = True
            # Only a whole journal can: a partial one leaves the execution open.
            whole = self.journal is not None and self.journal.failure is None
            later = (
                "hawzu upload completes it from the kept journal"
                if whole
                else "complete it in Hawzu"
            )
            self._problem(
                f"Hawzu: completing execution {execution.id} did not finish within "
                f"--hawzu-flush-timeout; {later}"
            )
            return False
        except KeyboardInterrupt:
            # As in the flush: the user, or CI, stopped the waiting, and the kept
            # journal lets `hawzu upload` complete the execution later.
            self.completion_failed = True
            self._problem(f"Hawzu: completing execution {execution.id} was interrupted")
            return False
        return True

    def _close_journal(self, *, delivered: bool) -> Path | None:
        if self.journal is None:
            return None
        note = self.journal.close(delivered=delivered)
        if note is not None:
            self._problem(f"Hawzu: {note}")
        journal = self.journal
        kept = not (delivered or journal.lost or journal.foreign)
        # One that failed but is not named partial must not be offered as whole:
        # the note above says what to do with it.
        whole = journal.failure is None or is_partial(journal.path)
        return journal.path if kept and whole else None

    def _progress(self, started: float) -> Callable[[], None]:
        last = [started]

        def tick() -> None:
            self._announce()  # what the sender said comes before progress that follows it
            now = time.monotonic()
            if now - started >= PROGRESS_AFTER and now - last[0] >= PROGRESS_AFTER:
                last[0] = now
                left = self.uploader.pending()
                sent = len(self.uploader.delivery.delivered)
                files = self.uploader.files.count()
                also = f", {counted(files, 'attachment')} to send" if files else ""
                self._line(f"uploading results to Hawzu... {sent:,} sent, {left:,} waiting{also}")

        return tick

    def pytest_unconfigure(self) -> None:
        """Also reached when the session never finished (a strict start-up failure)."""
        if self.forked():
            return
        self.uploader.stop()
        if self.journal is not None:
            self.journal.close(delivered=False)
        self.client.close()
        deadline.release_idle()

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.summary is None or self.forked():
            return
        terminalreporter.write_sep("-", "Hawzu")
        for line in self.summary.lines():
            terminalreporter.write_line(hide(line, self.secret))
        if self.sandbox is not None and self.summary.execution_id is not None:
            terminalreporter.write_line(self._sandbox_line(self.summary.execution_id))

    def _sandbox_line(self, execution_id: str) -> str:
        """What the sandbox recorded, read back from it rather than from what was sent."""
        recorded = self.sandbox.execution(execution_id)
        by_status: dict[str, int] = {}
        for result in recorded["results"].values():
            by_status[result["status"]] = by_status.get(result["status"], 0) + 1
        listed = ", ".join(f"{n} {status}" for status, n in sorted(by_status.items()))
        return f"sandbox recorded {execution_id} ({recorded['status']}): {listed or 'no results'}"

    # -- output ------------------------------------------------------------

    def _problem(self, line: str) -> None:
        self.problems.append(line)
        self._line(line)

    def _line(self, line: str) -> None:
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        if terminal is None:
            return
        # With -q pytest writes progress dots without ending the line, and
        # write_line does not know: a line of ours would follow them.
        # (When pytest shows a file's name first, its own newline follows.)
        writer = getattr(terminal, "_tw", None)
        try:
            if getattr(writer, "width_of_current_line", 0) and not terminal.currentfspath:
                terminal.write("\n")
            terminal.write_line(hide(line, self.secret))
        except OSError:
            # Nobody reads any more (`pytest | head`, a full disk, a closed
            # terminal): pytest's own output fails too, and pytest deals with
            # that; the results still go to Hawzu, and a problem still reaches
            # the summary.
            pass


def _copy(reporter: Reporter) -> None:
    reporter.copy = True


# Reporters of this process: in a child forked from it, each is a copy.
_reporters = InChild(_copy)
