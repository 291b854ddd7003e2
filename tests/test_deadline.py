"""`within`: a call's answer, waited for no longer than a deadline.

Each request to Hawzu goes through it, so it must not start a thread per call:
on two cores, a new thread per request cost the tests about a sixth of their
speed (see the README's Performance section).
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import threading
import weakref
from unittest import mock

import pytest

from pytest_hawzu import deadline
from pytest_hawzu.deadline import within


def test_the_answer_and_the_exception_come_back_as_they_are() -> None:
    assert within(lambda: 42, 5.0) == 42
    with pytest.raises(KeyError, match="gone"):
        within(lambda: {}["gone"], 5.0)


def test_a_process_that_can_start_no_thread_makes_the_call_itself(monkeypatch) -> None:
    # A low limit on processes: the call is made on the caller's thread, guarded
    # by its own read timeouts only, rather than not at all.
    class NoStart(threading.Thread):
        def start(self) -> None:
            raise RuntimeError("can't start new thread")

    deadline.release_idle()
    monkeypatch.setattr(deadline, "_Thread", NoStart)
    assert within(threading.current_thread, 5.0) is threading.current_thread()
    with pytest.raises(KeyError, match="gone"):
        within(lambda: {}["gone"], 5.0)


def test_calls_one_after_another_run_on_kept_threads() -> None:
    # Thread objects, not idents: a new thread may get an ended one's ident. At
    # most two: a sender thread left over from another test may take one.
    ran_on = {within(threading.current_thread, 5.0) for _ in range(6)}
    assert len(ran_on) <= 2
    assert threading.current_thread() not in ran_on


def test_the_thread_is_named_for_each_call() -> None:
    assert within(lambda: threading.current_thread().name, 5.0, name="hawzu-x") == "hawzu-x"
    assert within(lambda: threading.current_thread().name, 5.0, name="hawzu-y") == "hawzu-y"


def test_a_call_past_its_deadline_is_left_behind_and_the_next_one_runs_elsewhere() -> None:
    release = threading.Event()
    stuck_on: list[threading.Thread] = []

    def stuck() -> None:
        stuck_on.append(threading.current_thread())
        release.wait(30)

    with pytest.raises(TimeoutError):
        within(stuck, 0.0)
    try:
        # The stuck call still holds its thread: this one must not queue behind it.
        assert within(threading.current_thread, 5.0) is not stuck_on[0]
    finally:
        release.set()


def test_a_call_left_behind_does_not_come_back_to_serve_others() -> None:
    release = threading.Event()
    finished = threading.Event()
    stuck_on: list[threading.Thread] = []

    def stuck() -> None:
        stuck_on.append(threading.current_thread())
        release.wait(30)
        finished.set()

    with pytest.raises(TimeoutError):
        within(stuck, 0.0)
    release.set()
    finished.wait(5)
    assert all(within(threading.current_thread, 5.0) is not stuck_on[0] for _ in range(5))


def test_callers_at_the_same_time_each_get_their_own_answer() -> None:
    answers: dict[int, int] = {}
    gate = threading.Barrier(4)

    def caller(n: int) -> None:
        gate.wait(5)
        answers[n] = within(lambda: n * n, 5.0)

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert answers == {0: 0, 1: 1, 2: 4, 3: 9}
    # Only a few stay to serve later calls.
    assert len(deadline._pool.idle) <= deadline.MAX_IDLE


def test_a_call_made_from_a_call_gets_a_thread_of_its_own() -> None:
    # Completing an execution: its retries wait on their own requests.
    assert within(lambda: within(lambda: 7, 5.0), 5.0) == 7


def test_idle_threads_end_when_released() -> None:
    worker = within(threading.current_thread, 5.0)
    deadline.release_idle()
    worker.join(5)
    assert not worker.is_alive()
    assert within(lambda: 7, 5.0) == 7  # and the next call starts another


class _Held:
    pass


def _call_holding(held: _Held, raises: bool) -> None:
    def call() -> _Held:
        if raises:
            raise LookupError(held)
        return held

    with pytest.raises(LookupError) if raises else contextlib.nullcontext():
        within(call, 5.0)


@pytest.mark.parametrize("raises", [False, True], ids=["answer", "exception"])
def test_a_thread_waiting_for_the_next_call_keeps_nothing_of_the_last(raises: bool) -> None:
    # An upload's response holds the body it sent; an exception, through its
    # traceback, the frames of the call and of whoever raised it.
    held = _Held()
    kept = weakref.ref(held)
    _call_holding(held, raises)
    del held
    gc.collect()
    assert kept() is None


def test_a_test_spying_on_getpid_sees_no_call_of_ours() -> None:
    within(lambda: None, 5.0)  # a thread waits for the next call, as in a session
    with mock.patch("os.getpid", wraps=os.getpid) as spy:
        assert within(lambda: 7, 5.0) == 7
    spy.assert_not_called()


def test_a_thread_taken_and_never_given_its_call_ends(monkeypatch) -> None:
    # Ctrl-C or SIGTERM (KeyboardInterrupt) can land in the caller between taking
    # a thread and giving it the call: nothing would ever give it one, and the
    # idle list, which release_idle ends, no longer holds it.
    monkeypatch.setattr(deadline, "ORPHANED_AFTER", 0.05, raising=False)
    deadline.release_idle()
    worker = within(threading.current_thread, 5.0)
    with deadline._pool.lock:
        deadline._pool.idle.remove(next(w for w in deadline._pool.idle if w.thread is worker))
    worker.join(5)
    assert not worker.is_alive()


def test_an_idle_thread_waits_on_for_the_next_call(monkeypatch) -> None:
    monkeypatch.setattr(deadline, "ORPHANED_AFTER", 0.01, raising=False)
    deadline.release_idle()
    first = within(threading.current_thread, 5.0)
    first.join(0.2)  # twenty looks
    assert first.is_alive()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_forked_child_still_gets_answers() -> None:
    within(lambda: None, 5.0)  # a thread waits in the parent, which the child lacks
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's coverage is not collected
        try:
            code = 0 if within(lambda: 7, 5.0) == 7 else 1
        except BaseException:
            code = 2
        sys.stdout.flush()
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
