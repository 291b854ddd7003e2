"""How the plugin words what went wrong: an OS error's reason, and a bug of its own."""

from __future__ import annotations

import pytest

# What a user's implementation of one of the plugin's hooks may raise and the
# run survive: pytest.skip(), fail(), xfail() and importorskip() raise
# BaseExceptions, which `except Exception` lets through to an INTERNALERROR.
# pytest.exit() is not among them: it stops the run, as asked.
HOOK_FAILURES = (Exception, pytest.skip.Exception, pytest.fail.Exception)


def why(exc: OSError) -> str:
    """The OS's reason ("Permission denied"), without the errno and path around it."""
    return exc.strerror or str(exc)


def raised(exc: BaseException) -> str:
    """ "ValueError: its message" on one line: the first of the message's lines
    (pytest rewrites a conftest's asserts into several)."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def internal_error(exc: Exception) -> str:
    """A bug in this plugin, named as one: the start of its one line."""
    return f"internal error in pytest-hawzu ({type(exc).__name__}: {exc})"
