"""Lines for the user on standard output, whether or not anyone reads them.

A command's output may go to a reader that is already gone: `hawzu upload
.hawzu | head -3`, or `| tee log` when Ctrl-C stops both. The command's work
must not end in a BrokenPipeError for that: what it would have printed then
goes nowhere, and so does Python's own flush at exit.
"""

from __future__ import annotations

import os
import sys


def say(line: str, *, flush: bool = False) -> None:
    """Print `line`; with nobody reading, carry on without it."""
    try:
        print(line, flush=flush)
    except BrokenPipeError:
        _nowhere()


def flush() -> None:
    """Hand what is buffered to the reader, if there still is one."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _nowhere()


def _nowhere() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
