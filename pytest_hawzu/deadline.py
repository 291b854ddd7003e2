"""Waiting for a call no longer than a deadline, whatever the call is waiting on."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

GRACE = 0.5  # seconds past the deadline for an answer already on its way

T = TypeVar("T")


def within(fn: Callable[[], T], deadline: float, name: str = "hawzu-call") -> T:
    """`fn`'s answer, waiting no later than `deadline` (monotonic) for it.

    A timeout bounds each read of an answer, not the whole: a server that
    trickles its answer byte by byte would hold the caller for ever. So `fn`
    runs on a daemon thread, left behind if it outlives the deadline.
    TimeoutError then; `fn`'s own exception as it is.
    """
    answers: list[tuple[bool, Any]] = []
    done = threading.Event()

    def run() -> None:
        try:
            answers.append((True, fn()))
        except BaseException as exc:  # handed over to the waiting thread as it is
            answers.append((False, exc))
        finally:
            done.set()

    threading.Thread(target=run, name=name, daemon=True).start()
    if not done.wait(max(deadline - time.monotonic(), 0) + GRACE):
        raise TimeoutError
    ok, value = answers[0]
    if not ok:
        raise value
    return cast(T, value)
