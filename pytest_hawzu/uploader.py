"""The sender thread: opens the execution, then streams results in batches.

pytest's thread only marks cases as changed (`submit`), which is a dict
assignment under a lock. Everything that talks to Hawzu happens here, through
one throttle and one retry policy. Several updates to a case waiting in the
queue become one: the combination is read when its batch goes out.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import islice

from pytest_hawzu.attachments import Attachment, AttachmentQueue, send
from pytest_hawzu.client import (
    EXECUTION_LOCKED,
    RELEASE_LOCKED,
    ApiError,
    BatchOutcome,
    Execution,
    HawzuClient,
    HawzuError,
    in_parts,
)
from pytest_hawzu.failures import internal_error, why
from pytest_hawzu.model import CaseResult, Rejection, Status, counted
from pytest_hawzu.retry import DEADLINE_REACHED, NO_ATTEMPTS_LEFT, GaveUp, Retrier
from pytest_hawzu.startup import describe, may_pass
from pytest_hawzu.stopping import sigterm_interrupts

SEND_INTERVAL = 1.0  # seconds a partial batch may wait, so progress shows while tests run
# Seconds between rounds of start-up attempts that failed in a way that may
# pass (an outage, a rate limit shared with other shards) while tests run.
STARTUP_PAUSE = 5.0


@dataclass
class Delivery:
    """What happened to the results: the summary's source."""

    execution: Execution | None = None
    # Nothing to report (no selected test has a case): no execution was opened.
    idle: bool = False
    # Someone completed the execution while this session reported into it.
    locked: bool = False
    startup_error: str | None = None
    stopped: str | None = None
    delivered: dict[str, Status] = field(default_factory=dict)
    rejected: dict[str, Rejection] = field(default_factory=dict)
    undelivered: dict[str, str] = field(default_factory=dict)
    # Undelivered cases for which Hawzu keeps an earlier result of this session.
    outdated: set[str] = field(default_factory=set)
    requests: int = 0
    attachments_sent: int = 0
    # "case: name (copy)" of each attachment kept for `hawzu upload`, and why.
    attachments_unsent: dict[str, str] = field(default_factory=dict)

    def undeliver(self, case_id: str, reason: str) -> None:
        """The case's latest result did not reach Hawzu: it is not counted as sent."""
        self.undelivered[case_id] = reason
        if self.delivered.pop(case_id, None) is not None:
            self.outdated.add(case_id)

    def by_status(self) -> dict[Status, int]:
        counts: dict[Status, int] = {}
        for status in self.delivered.values():
            counts[status] = counts.get(status, 0) + 1
        return counts

    @property
    def complete(self) -> bool:
        """True when every submitted result reached Hawzu (rejections are final, not lost)."""
        return self.idle or (
            self.execution is not None
            and self.startup_error is None
            and self.stopped is None
            and not self.undelivered
            and not self.attachments_unsent
        )

    @property
    def in_full(self) -> bool:
        """Complete, and Hawzu kept every result: what --hawzu-strict asks for."""
        return self.complete and not self.rejected


class Uploader:
    """Owns the sender thread and the queue of changed cases."""

    def __init__(
        self,
        *,
        client: HawzuClient,
        retrier: Retrier,
        opener: Callable[[], Execution],
        build: Callable[[str], CaseResult],
        batch_size: int,
        abort: threading.Event,
        interval: float = SEND_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        on_attachment: Callable[[Attachment, str], None] | None = None,
        on_delivered: Callable[[str], None] | None = None,
        retry_startup: bool = True,
    ) -> None:
        self.client = client
        self.retrier = retrier
        self.opener = opener
        self.build = build
        self.batch_size = batch_size
        self.interval = interval
        self.clock = clock
        self.delivery = Delivery()
        self.problems: deque[str] = deque()
        # Said when they happen only: the summary states them in its own lines
        # (not reported, rejected, not delivered).
        self.notices: deque[str] = deque()
        self.files = AttachmentQueue()
        # Whether a journal names the copy, for `hawzu upload`: else nothing can send it.
        self.named: Callable[[Attachment], bool] = lambda attachment: True
        self._unnamed = 0  # of the attachments not sent
        self._unreadable = False  # said that a copy could not be read, once
        # Called on the sender thread once an attachment is settled for a case.
        self.on_attachment = on_attachment
        # Called on the sender thread for each case whose result Hawzu accepted.
        self.on_delivered = on_delivered
        # Off in strict mode, where a failed start-up stops the run before any test.
        self.retry_startup = retry_startup
        self._abort = abort
        self._cond = threading.Condition()
        self._pending: dict[str, CaseResult | None] = {}
        self._oldest: float | None = None
        self._finishing = False
        self._deadline: float | None = None
        # The batch being sent, and whether finish() gave up on it: a late answer
        # must not turn "not delivered" into "delivered" after the summary was made.
        self._in_flight: tuple[str, ...] = ()
        self._closed = False
        self._retrying = False  # said that sending failed, until a batch gets through
        self._opened = threading.Event()
        # Start-up waits until there is something to report, so that a run with
        # nothing selected leaves no empty execution behind.
        self._wanted = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hawzu-sender", daemon=True)
        # Set when the sender thread ends, to wait on: a Thread.join that Ctrl-C
        # interrupts marks a running thread as stopped (Python 3.11).
        self._done = threading.Event()

    # -- pytest's thread ---------------------------------------------------

    def start(self) -> None:
        try:
            self._thread.start()
        except RuntimeError as exc:
            # The process may start no more threads (a limit on processes, or no
            # memory for a stack): nothing is sent, the journal keeps the results.
            reason = f"its sender thread could not start ({exc})"
            self.delivery.startup_error = reason
            self._notice(f"Hawzu: {reason}")
            self._abort.set()
            self._opened.set()
            self._done.set()

    def stop(self) -> None:
        """The session ends without finish() (a start-up refused in strict mode):
        a sender still waiting for something to report ends too."""
        self._abort.set()
        self._wanted.set()
        with self._cond:
            self._cond.notify()

    def want(self) -> None:
        """Something will be reported: start-up may begin."""
        if not self._wanted.is_set():  # a plain read, once per test
            self._wanted.set()

    def submit(self, case_ids: Iterable[str], attachments: Iterable[Attachment] = ()) -> None:
        """Mark cases as changed; their combined result is read when sent.

        Attachments wait for the next accepted batch holding their case, since
        Hawzu refuses attachments to a case without a result.
        """
        self.want()
        with self._cond:
            for attachment in attachments:
                self.files.hold(attachment)
            for case_id in case_ids:
                self._pending[case_id] = None
            self._wake()

    def submit_result(self, result: CaseResult) -> None:
        """Queue a result that does not come from the aggregator (NOT_EXECUTED)."""
        self.want()
        with self._cond:
            self._pending[result.case_id] = result
            self._wake()

    def wait_open(self, timeout: float | None) -> bool:
        return self._opened.wait(timeout)

    def stalled(self, when: str) -> str:
        """Why start-up had not finished by `when`: its last failure, or none yet."""
        last = self.retrier.last_error
        if last is not None:
            return f"start-up had not finished {when}; its last attempt: {describe(last)}"
        return (
            f"start-up had not finished {when} (no answer yet, or requests waiting their "
            "turn under --hawzu-rate)"
        )

    def pending(self) -> int:
        """Results not yet delivered: queued, or in the batch on the wire."""
        with self._cond:
            return len(self._pending) + len(self._in_flight)

    def finish(self, timeout: float, tick: Callable[[], None] | None = None) -> Delivery:
        """Send what is left, waiting at most `timeout` seconds; then stop."""
        with self._cond:
            self._finishing = True
            self._deadline = self.clock() + timeout
            self.delivery.idle = not self._wanted.is_set()
            self._cond.notify()
        self._wanted.set()  # an idle sender ends now
        cut = f"the end-of-session flush timed out after {timeout:g} s"
        try:
            with sigterm_interrupts():  # CI's SIGTERM stops the waiting as Ctrl-C does
                self._wait_for_sender(self.clock() + timeout, tick)
        except KeyboardInterrupt:
            # The user, or CI, stopped waiting, not the tests: the journal keeps
            # what is left and the summary still comes.
            cut = "the end-of-session flush was interrupted"
        if not self._ended():
            # Closed first: a sender woken by the abort must find the flush over,
            # and not report its own "aborted" in place of the reason.
            self._close(cut)
            self._abort.set()
            if self.delivery.execution is None and self.delivery.startup_error is None:
                self.delivery.startup_error = self.stalled(f"when {cut}")
                self._notice(f"Hawzu: {self.delivery.startup_error}")
            self._give_up_pending(cut)
        reason = self.delivery.stopped or self.delivery.startup_error
        self._give_up_pending(reason or "not sent")
        self._keep_attachments(reason or "their results were not delivered")
        return self.delivery

    def _wait_for_sender(self, end: float, tick: Callable[[], None] | None) -> None:
        while not self._ended() and self.clock() < end:
            self._done.wait(min(0.5, max(end - self.clock(), 0)))
            if tick is not None and not self._ended():
                tick()

    def _ended(self) -> bool:
        # is_alive() too: in a child forked from pytest the thread never runs,
        # and `_done` would never be set.
        return self._done.is_set() or not self._thread.is_alive()

    def _close(self, reason: str) -> None:
        """Count the batch on the wire as not delivered: nobody knows if it arrived."""
        with self._cond:
            self._closed = True
            for case_id in self._in_flight:
                self.delivery.undeliver(case_id, reason)

    def _wake(self) -> None:
        first = self._oldest is None
        if first:
            self._oldest = self.clock()
        # An idle sender waits without a deadline: the first change must wake
        # it to start the SEND_INTERVAL clock, or nothing streams until a batch fills.
        if first or len(self._pending) >= self.batch_size:
            self._cond.notify()

    # -- the sender thread -------------------------------------------------

    def _run(self) -> None:
        try:
            self._serve()
        except Exception as exc:
            # A bug in this plugin, not trouble with Hawzu: it must neither reach
            # pytest as a thread traceback nor let a result pass for delivered.
            reason = self._internal_error(exc, self._in_flight)
            if self.delivery.execution is None and self.delivery.startup_error is None:
                self.delivery.startup_error = reason
            self.delivery.stopped = reason
            self._abort.set()
            self._give_up_pending(reason)
            self._opened.set()
        finally:
            self._done.set()

    def _internal_error(self, exc: Exception, case_ids: Iterable[str]) -> str:
        reason = f"{internal_error(exc)}; the journal keeps the results: please report this"
        for case_id in case_ids:
            self.delivery.undeliver(case_id, reason)
        self._report(f"Hawzu: {reason}")
        return reason

    def _serve(self) -> None:
        self._wanted.wait()
        if self.delivery.idle or self._abort.is_set():
            self._opened.set()
            return
        try:
            self.delivery.execution = self._start()
        finally:
            self._opened.set()
        if self.delivery.execution is None:
            return
        while (batch := self._next_batch()) is not None:
            if batch:
                self._send(batch)
            self._send_attachments()

    def _start(self) -> Execution | None:
        """The execution. A failure that may pass is tried again every few seconds
        until the tests end, then once more: a short outage at the start must not
        cost the whole run, nor a wrong URL the whole flush timeout."""
        retried = False
        while True:
            with self._cond:
                last = self._finishing  # a round begun after the tests ended is the last
            try:
                execution = self.opener()
            except HawzuError as exc:
                if not last and self._another_round(exc):
                    if not retried:
                        self._notice(f"Hawzu: {exc}; {self._next_rounds()}")
                    retried = True
                    self._pause_startup()
                    if not self._abort.is_set():
                        continue
                with self._cond:
                    # After finish() gave up waiting, it has said why; this is only
                    # the retrier noticing the abort.
                    if not self._closed:
                        self.delivery.startup_error = str(exc)
                        # Said already, as it first happened; the summary says it again.
                        if not retried:
                            self._notice(f"Hawzu: {exc}")
                return None
            if retried:
                self._notice("Hawzu: start-up went through on a later attempt")
            return execution

    def _another_round(self, exc: HawzuError) -> bool:
        """Whether start-up tries again after a round that began while tests ran."""
        return self.retry_startup and may_pass(exc) and not self._abort.is_set()

    def _next_rounds(self) -> str:
        with self._cond:
            ended = self._finishing
        if ended:
            return "trying once more"
        return "trying again every few seconds until the tests end, then once more"

    def _pause_startup(self) -> None:
        """Wait before the next round, but not once the session is ending. Results
        arriving meanwhile wake the sender too: they do not end the pause."""
        end = self.clock() + STARTUP_PAUSE
        with self._cond:
            while not self._finishing and not self._abort.is_set() and self.clock() < end:
                self._cond.wait(end - self.clock())

    def _next_batch(self) -> list[CaseResult] | None:
        with self._cond:
            while not self._ready():
                if (self._finishing and not self._pending) or self._abort.is_set():
                    return None
                self._cond.wait(self._wait_time())
            # islice: a backlog of many thousands must not be copied per batch.
            taken = list(islice(self._pending.items(), self.batch_size))
            for case_id, _ in taken:
                del self._pending[case_id]
            self._oldest = self.clock() if self._pending else None
            self._in_flight = tuple(case_id for case_id, _ in taken)
        batch = []
        for case_id, result in taken:
            try:
                batch.append(result or self.build(case_id))
            except Exception as exc:  # a bug: keep it to this one case
                self._internal_error(exc, (case_id,))
        return batch

    def _ready(self) -> bool:
        if not self._pending or self._abort.is_set():
            return False
        if self._finishing or len(self._pending) >= self.batch_size:
            return True
        return self._oldest is not None and self.clock() - self._oldest >= self.interval

    def _wait_time(self) -> float | None:
        if self._oldest is None:
            return None
        return max(self.interval - (self.clock() - self._oldest), 0.01)

    def _send(self, batch: list[CaseResult]) -> None:
        execution = self.delivery.execution
        assert execution is not None
        error: HawzuError | None = None
        sent: list[tuple[Sequence[CaseResult], BatchOutcome]] = []
        try:
            in_parts(self._post_to(execution.id), batch, sent)
        except (ApiError, GaveUp) as exc:
            error = exc
        with self._cond:
            self._in_flight = ()
            if self._closed:
                return  # finish() has already counted this batch as not delivered
            for part, outcome in sent:
                self._delivered(part, outcome)
            rest = batch[sum(len(part) for part, _ in sent) :]
            if isinstance(error, ApiError):
                self._failed(rest, error, stop=_stops_results(error))
            elif isinstance(error, GaveUp) and self._worth_again(error):
                self._again(rest, error)
            elif error is not None:
                self._failed(rest, error, stop=self._abort.is_set())
            else:
                self._retrying = False

    def _post_to(self, execution_id: str) -> Callable[[Sequence[CaseResult]], BatchOutcome]:
        def post(part: Sequence[CaseResult]) -> BatchOutcome:
            return self.retrier.call(
                lambda: self.client.post_results(execution_id, part), deadline=self._deadline
            )

        return post

    def _told(self, rejection: Rejection) -> bool:
        """Whether the case was refused before, for the same reason."""
        before = self.delivery.rejected.get(rejection.case_id)
        return before is not None and (before.code, before.message) == (
            rejection.code,
            rejection.message,
        )

    def _delivered(self, batch: Sequence[CaseResult], outcome: BatchOutcome) -> None:
        self.delivery.requests += 1
        rejected = {r.case_id: r for r in outcome.rejected}
        # A case resent as its tests finish is refused again each time: said once.
        told = {r.case_id for r in outcome.rejected if self._told(r)}
        for result in batch:
            self.delivery.undelivered.pop(result.case_id, None)
            self.delivery.outdated.discard(result.case_id)
            if result.case_id in rejected:
                self.delivery.rejected[result.case_id] = rejected[result.case_id]
                self.delivery.delivered.pop(result.case_id, None)
                self._settle_all(result.case_id, self.files.discard(result.case_id))
            else:
                self.delivery.rejected.pop(result.case_id, None)
                self.delivery.delivered[result.case_id] = result.status
                self.files.release(result.case_id)
                if self.on_delivered is not None:
                    self.on_delivered(result.case_id)
        for rejection in outcome.rejected:
            if rejection.case_id in told:
                continue
            tests = ", ".join(rejection.nodeids) or "?"
            self._notice(
                f"Hawzu rejected {rejection.case_id} ({tests}): {rejection.code} "
                f"{rejection.message}".rstrip()
            )

    def _worth_again(self, error: GaveUp) -> bool:
        """Retries ran out, but not the session's time: an outage may be over by then."""
        return error.reason == NO_ATTEMPTS_LEFT and not self._abort.is_set()

    def _again(self, batch: list[CaseResult], error: GaveUp) -> None:
        """Put the batch back in the queue, behind what is waiting (under the lock)."""
        if not self._retrying:  # once per outage, not once per batch
            self._retrying = True
            self._notice(f"Hawzu: sending failed ({describe(error)}); the results stay queued")
        for result in batch:
            # A newer change to the case, if any, is already waiting.
            self._pending.setdefault(result.case_id, result)
        if self._oldest is None:
            self._oldest = self.clock()

    def _failed(self, batch: list[CaseResult], exc: HawzuError, *, stop: bool) -> None:
        if isinstance(exc, ApiError) and exc.code == EXECUTION_LOCKED:
            self.delivery.locked = True
        reason = describe(exc)
        for result in batch:
            self.delivery.undeliver(result.case_id, reason)
        if not (isinstance(exc, GaveUp) and exc.reason == DEADLINE_REACHED):
            # When the flush runs out of time, the summary says it once for all.
            self._notice(f"Hawzu: {counted(len(batch), 'result')} not delivered: {reason}")
        if stop:
            self.delivery.stopped = reason
            self._abort.set()
            self._give_up_pending(reason)

    def _give_up_pending(self, reason: str) -> None:
        with self._cond:
            for case_id in self._pending:
                self.delivery.undeliver(case_id, reason)
            self._pending.clear()
            self._cond.notify()

    def _report(self, line: str) -> None:
        self.problems.append(line)

    def _notice(self, line: str) -> None:
        self.notices.append(line)

    # -- attachments (sender thread) -----------------------------------------

    def _send_attachments(self) -> None:
        execution = self.delivery.execution
        assert execution is not None
        while not self._abort.is_set() and (job := self.files.next()) is not None:
            case_id, attachment = job
            self._send_attachment(execution.id, case_id, attachment)
            self.files.finished()

    def _send_attachment(self, execution_id: str, case_id: str, attachment: Attachment) -> None:
        what = f"attachment {attachment.name} of {case_id} ({attachment.nodeid})"
        try:
            self.retrier.call(
                lambda: send(self.client, execution_id, case_id, attachment),
                deadline=self._deadline,
            )
        except FileNotFoundError as exc:
            self._report(f"Hawzu: {what} not sent: its file is gone ({why(exc)})")
        except OSError as exc:
            # The copy is there, but this process cannot read it now (too many
            # open files, say): kept for `hawzu upload`, not removed as sent.
            if not self._unreadable:
                self._unreadable = True
                self._report(f"Hawzu: {what} not sent: its copy could not be read ({why(exc)})")
            self._keep(case_id, attachment, f"its copy could not be read ({why(exc)})")
            return
        except ApiError as exc:
            if _stops_everything(exc) and exc.status != 404:
                self.delivery.locked = self.delivery.locked or exc.code == EXECUTION_LOCKED
                self._keep(case_id, attachment, describe(exc))
                self.delivery.stopped = describe(exc)
                self._abort.set()
                return
            # Final: 413 (over the size limit), 404, 422... resending cannot help.
            self._report(f"Hawzu did not take {what}: {describe(exc)}")
        except GaveUp as exc:
            self._keep(case_id, attachment, describe(exc))
            return
        except Exception as exc:  # a bug: keep it to this one attachment
            self._report(f"Hawzu: {what} not sent: {internal_error(exc)}: please report this")
        else:
            self.delivery.attachments_sent += 1
        self._settle_all(case_id, [attachment])

    def _settle_all(self, case_id: str, attachments: list[Attachment]) -> None:
        for attachment in attachments:
            # Noted first: should anything follow fail, it is still never sent twice.
            if self.on_attachment is not None:
                self.on_attachment(attachment, case_id)
            failed = self.files.settle(attachment)
            if failed is not None:
                self._report(
                    f"Hawzu: could not remove the sent copy {attachment.path} ({failed}): delete it"
                )

    def _keep(self, case_id: str, attachment: Attachment, reason: str) -> None:
        # The copy's path too: tests may attach several files of one name.
        self.delivery.attachments_unsent[f"{case_id}: {attachment.name} ({attachment.path})"] = (
            reason
        )
        if not self.named(attachment):  # nothing could send the copy later
            self._unnamed += 1
            self.files.settle(attachment)

    def _keep_attachments(self, reason: str) -> None:
        left = self.files.remaining()
        for case_id, attachment in left:
            self._keep(case_id, attachment, reason)
        count = len(self.delivery.attachments_unsent)
        if not count:
            return
        kept = count - self._unnamed
        if kept == count:
            where = ", kept with the journal"
        else:
            where = f" ({kept} kept with the journal)" if kept else ""
        self._report(f"Hawzu: {counted(count, 'attachment')} not sent{where}")


def _stops_everything(exc: ApiError) -> bool:
    """Errors after which every later request would fail the same way."""
    return exc.status in (401, 404) or exc.code in (EXECUTION_LOCKED, RELEASE_LOCKED)


def _stops_results(exc: ApiError) -> bool:
    """Every batch goes to one execution with one token: a 403 for one is a 403
    for all. (Attachments may need a role of their own: not for them.)"""
    return exc.status == 403 or _stops_everything(exc)
