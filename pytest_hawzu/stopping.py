"""SIGTERM stops the end-of-session waiting on Hawzu as Ctrl-C does.

CI stops a job with SIGTERM (GitLab, Jenkins, a job timeout), or with SIGINT
and then SIGTERM a few seconds later (GitHub Actions), and kills it with
SIGKILL soon after. pytest does not handle SIGTERM, so a session still waiting
on Hawzu would die there, without pytest's summary or ours, and with the
signal in place of pytest's exit code. While it waits, SIGTERM raises
KeyboardInterrupt, which the waiting already takes as "stop waiting": what is
left stays in the journal, the summaries come, and the exit code is pytest's.

Ctrl-C must do the same after a debugger was used in the session: pdb's
`continue` (after `breakpoint()`, `--pdb`, `--trace`) leaves pdb's own SIGINT
handler in place until the debugger next stops, so Ctrl-C during the waiting
would open the debugger inside the plugin's wait, where quitting it ends the
session without the summary. While it waits, SIGINT raises KeyboardInterrupt
as it does in any Python program; the debugger's handler is put back after.
"""

from __future__ import annotations

import bdb
import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # Once: a second SIGTERM ends the process as it always did, even one that
    # lands before the wait has put the default back.
    signal.signal(signum, signal.SIG_DFL)
    raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt on this thread, and so
    does SIGINT when a debugger had left its own handler for it.

    SIGTERM only where it would otherwise end the process at once: a handler
    someone else installed is theirs, and only the main thread may set one.
    Use inside the `try` that catches KeyboardInterrupt, so that a signal
    landing while the handler is put in place is caught too. What the block
    raises passes through as it is.
    """
    debugger = _release_sigint()
    try:
        installed = _install()
        try:
            yield
        finally:
            if installed:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
    finally:
        if debugger is not None:
            _set(signal.SIGINT, debugger)


def _release_sigint() -> Any:
    """Put Python's own SIGINT handler in place of a debugger's; the debugger's
    handler, to put back, or None when there was none."""
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        handler = signal.getsignal(signal.SIGINT)
    except ValueError:
        return None
    # pdb's, pytest's wrapper of it, IPython's: each a bdb.Bdb.
    if not isinstance(getattr(handler, "__self__", None), bdb.Bdb):
        return None
    return handler if _set(signal.SIGINT, signal.default_int_handler) else None


def _set(signum: int, handler: Any) -> bool:
    try:
        signal.signal(signum, handler)
    except (ValueError, OSError):  # an interpreter that does not let us
        return False
    return True


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
