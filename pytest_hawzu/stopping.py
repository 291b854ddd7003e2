"""SIGTERM stops the end-of-session waiting on Hawzu as Ctrl-C does.

CI stops a job with SIGTERM (GitLab, Jenkins, a job timeout), or with SIGINT
and then SIGTERM a few seconds later (GitHub Actions), and kills it with
SIGKILL soon after. pytest does not handle SIGTERM, so a session still waiting
on Hawzu would die there, without pytest's summary or ours, and with the
signal in place of pytest's exit code. While it waits, SIGTERM raises
KeyboardInterrupt, which the waiting already takes as "stop waiting": what is
left stays in the journal, the summaries come, and the exit code is pytest's.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # Once: a second SIGTERM ends the process as it always did, even one that
    # lands before the wait has put the default back.
    signal.signal(signum, signal.SIG_DFL)
    raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt on this thread.

    Only where SIGTERM would otherwise end the process at once: a handler
    someone else installed is theirs, and only the main thread may set one.
    Use inside the `try` that catches KeyboardInterrupt, so that a signal
    landing while the handler is put in place is caught too. What the block
    raises passes through as it is.
    """
    installed = _install()
    try:
        yield
    finally:
        if installed:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _install() -> bool:
    """Put `_interrupt` in place where SIGTERM has its default action; whether it did."""
    term = getattr(signal, "SIGTERM", None)
    if term is None or threading.current_thread() is not threading.main_thread():
        return False
    try:
        if signal.getsignal(term) is not signal.SIG_DFL:
            return False
        signal.signal(term, _interrupt)
    except (ValueError, OSError):  # an interpreter that does not let us
        return False
    return True
