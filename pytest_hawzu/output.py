"""Lines for the user on standard output, whether or not anyone reads them.

A command's output may go to a reader that is already gone: `hawzu upload
.hawzu | head -3`, or `| tee log` when Ctrl-C stops both; or to a place that
takes nothing more: a log file on a full disk, a terminal that was closed.
The command's work must not end in an OSError for that: what it would have
printed then goes nowhere, and so does Python's own flush at exit.

Nor may it end for an output that cannot show every character: a CI log in
ASCII (`PYTHONIOENCODING=ascii`, a C locale) or Latin-1, and a name of a test
or an attachment in another script. Such a line is shown with escapes, as
Python shows it on standard error.
"""

from __future__ import annotations

import os
import sys


def say(line: str, *, flush: bool = False, vital: bool = False) -> None:
    """Print `line`; with nobody reading, or nowhere to write it, carry on without it.

    A `vital` line is what the command is for (an execution's ID): only a
    reader that is gone lets the command carry on without it.
    """
    try:
        try:
            print(line, flush=flush)
        except UnicodeEncodeError:  # raised before any of the line is written
            print(_showable(line), flush=flush)
    except BrokenPipeError:
        _nowhere()
    except OSError:  # ENOSPC, EIO
        _nowhere()  # Python's own flush at exit would fail again
        if vital:
            raise


def _showable(line: str) -> str:
    """`line` as standard output's encoding can show it: the rest escaped."""
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    return line.encode(encoding, "backslashreplace").decode(encoding)


def flush() -> None:
    """Hand what is buffered to the reader, if there still is one."""
    try:
        sys.stdout.flush()
    except OSError:
        _nowhere()


def _nowhere() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
