"""Waiting for a call no longer than a deadline, whatever the call is waiting on."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

GRACE = 0.5  # seconds past the deadline for an answer already on its way
# Threads kept waiting for the next call: a request, and the completion whose
# retries wait on requests of their own.
MAX_IDLE = 2
# How often a kept thread looks whether it was taken and then never given its
# call (its caller interrupted in between, by Ctrl-C or SIGTERM): it then ends.
ORPHANED_AFTER = 30.0

T = TypeVar("T")
# Bound once: a user's test that patches these for itself (mock.patch) must
# neither see the plugin's calls nor stall its requests.
_Thread = threading.Thread
_Event = threading.Event
_Lock = threading.Lock
_getpid = os.getpid


class _Call:
    """One call to make, and what became of it."""

    def __init__(self, fn: Callable[[], Any], name: str) -> None:
        self.fn = fn
        self.name = name
        self.answer: tuple[bool, Any] | None = None
        self.done = _Event()
        # Both under the pool's lock: whether the caller stopped waiting, or the call ended first.
        self.abandoned = False
        self.finished = False


class _Worker:
    """A daemon thread that makes calls one at a time, kept between them.

    A thread per call cost more than the call: its start and end are hand-overs
    of the interpreter lock between cores, while pytest's thread runs tests.
    """

    def __init__(self, call: _Call) -> None:
        self.pid = _getpid()
        # Given before the thread starts: a caller interrupted later leaves no
        # thread waiting for a call that will not come.
        self._call: _Call | None = call
        self._given = _Event()
        self._given.set()
        self.thread = _Thread(target=self._serve, name="hawzu-call", daemon=True)
        self.thread.start()

    def give(self, call: _Call | None) -> None:
        """Make `call`; None ends the thread. A call under the pool's lock, as taking it."""
        self._call = call
        self._given.set()

    def usable(self) -> bool:
        # A forked child has the parent's idle workers, but not their threads.
        return self.pid == _getpid() and self.thread.is_alive()

    def _next_call(self) -> _Call | None:
        """The next call to make; None to end."""
        while True:
            if self._given.wait(ORPHANED_AFTER):
                self._given.clear()
                call, self._call = self._call, None
                return call
            with _pool.lock:  # which `give` holds: it has given all or nothing
                call, self._call = self._call, None
                self._given.clear()
                if call is not None or self not in _pool.idle:
                    # A call whose wake-up was missed; or taken, and never given one.
                    return call

    def _serve(self) -> None:
        while True:
            call = self._next_call()
            if call is None:
                return
            self.thread.name = call.name
            try:
                call.answer = (True, call.fn())
            except BaseException as exc:  # handed over to the waiting thread as it is
                call.answer = (False, exc)
            call.fn = _nothing  # let go of what the call held
            with _pool.lock:
                call.finished = True
                # One left behind ends: whoever waited on it has moved on.
                keep = not call.abandoned and len(_pool.idle) < MAX_IDLE
                if keep:
                    _pool.idle.append(self)
            done = call.done
            # And of the call itself, before its caller wakes: kept while this
            # thread waits for the next, it would hold its answer, a response
            # and the body it sent, or an exception and, through its traceback,
            # the frames of the call and of the caller that raised it.
            call = None
            done.set()
            if not keep:
                return


def _nothing() -> None:
    return None


class _Pool:
    def __init__(self) -> None:
        self.lock = _Lock()
        self.idle: list[_Worker] = []

    def reset(self) -> None:
        """In a forked child: the lock may be held by a thread the child lacks."""
        self.lock = _Lock()
        self.idle = []

    def hand(self, call: _Call) -> None:
        """Give `call` to an idle worker, or to a new one."""
        with self.lock:
            while self.idle:
                worker = self.idle.pop()
                if worker.usable():
                    worker.give(call)
                    return
        _Worker(call)


_pool = _Pool()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_pool.reset)


def release_idle() -> None:
    """End the threads waiting for calls: the session that made them is over."""
    with _pool.lock:
        idle = list(_pool.idle)
        _pool.idle.clear()
    for worker in idle:
        worker.give(None)  # one left out ends all the same, on finding itself out of the list


def within(fn: Callable[[], T], timeout: float, name: str = "hawzu-call") -> T:
    """`fn`'s answer, waiting no longer than `timeout` seconds for it.

    A timeout bounds each read of an answer, not the whole: a server that
    trickles its answer byte by byte would hold the caller for ever. So `fn`
    runs on a daemon thread kept for such calls, left behind if it outlives
    the deadline (on the caller's own thread where no thread can start).
    TimeoutError then; `fn`'s own exception as it is. A duration, not a
    deadline: no clock is read here, which a test's frozen clock could move.
    """
    call = _Call(fn, name)
    try:
        _pool.hand(call)
    except RuntimeError:
        # The process may start no more threads (a limit on processes): the call
        # is made here, guarded by its read timeouts alone, rather than not at all.
        return fn()
    if not call.done.wait(min(max(timeout, 0) + GRACE, threading.TIMEOUT_MAX)):
        with _pool.lock:
            if not call.finished:
                call.abandoned = True
                raise TimeoutError
        call.done.wait()  # ended as the wait did: its answer is a moment away
    assert call.answer is not None
    ok, value = call.answer
    if not ok:
        raise value
    return cast(T, value)
