"""Waiting for a call no longer than a deadline, whatever the call is waiting on."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

GRACE = 0.5  # seconds past the deadline for an answer already on its way

T = TypeVar("T")
# Bound once: a user's test that patches these for itself (mock.patch) must
# neither see the plugin's calls nor stall its requests.
_Thread = threading.Thread
_Event = threading.Event


def within(fn: Callable[[], T], timeout: float, name: str = "hawzu-call") -> T:
    """`fn`'s answer, waiting no longer than `timeout` seconds for it.

    A timeout bounds each read of an answer, not the whole: a server that
    trickles its answer byte by byte would hold the caller for ever. So `fn`
    runs on a daemon thread, left behind if it outlives the deadline.
    TimeoutError then; `fn`'s own exception as it is. A duration, not a
    deadline: no clock is read here, which a test's frozen clock could move.
    """
    answers: list[tuple[bool, Any]] = []
    done = _Event()

    def run() -> None:
        try:
            answers.append((True, fn()))
        except BaseException as exc:  # handed over to the waiting thread as it is
            answers.append((False, exc))
        finally:
            done.set()

    _Thread(target=run, name=name, daemon=True).start()
    if not done.wait(min(max(timeout, 0) + GRACE, threading.TIMEOUT_MAX)):
        raise TimeoutError
    ok, value = answers[0]
    if not ok:
        raise value
    return cast(T, value)
