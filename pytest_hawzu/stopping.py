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
    raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt on this thread.

    Only where SIGTERM would otherwise end the process at once: a handler
    someone else installed is theirs, and only the main thread may set one.
    Use inside the `try` that catches KeyboardInterrupt, so that a signal
    landing while the handler is put back is caught too.
    """
    term = getattr(signal, "SIGTERM", None)
    if term is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    try:
        if signal.getsignal(term) is not signal.SIG_DFL:
            yield
            return
        signal.signal(term, _interrupt)
    except (ValueError, OSError):  # an interpreter that does not let us
        yield
        return
    try:
        yield
    finally:
        signal.signal(term, signal.SIG_DFL)
