"""The text of a result's notes: what failed, where, and why, trimmed to fit.

Each failure's notes start with one line naming the test and its error; when
notes must be trimmed, that line stays and the traceback above the error goes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pytest_hawzu.text import hide

TRIM_MARK = "[... {n} characters trimmed ...]"
SEPARATOR = "\n\n"
MIN_SHARE = 200  # room for one test's line and a little of its traceback
# Colour and cursor codes: pytest colours assertion diffs when --color=yes or
# PY_COLORS=1, and they belong to a terminal, not to Hawzu.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
# What is left of a code that pytest's truncation of long output cut short.
_CUT_ESCAPES = re.compile(r"\x1b(\[[0-?]*[ -/]*)?")


def plain(text: str) -> str:
    if "\x1b" not in text:
        return text
    return _CUT_ESCAPES.sub("", _ESCAPES.sub("", text))


def middle_cut(text: str, limit: int) -> str:
    """Fit `text` in `limit` by cutting out its middle, keeping both ends (a failure's
    head line: the node ID at its start, the error at its end)."""
    if len(text) <= limit:
        return text
    marker = " [...] "
    keep = max(limit - len(marker), 0)
    return text[: keep // 2] + marker + text[len(text) - (keep - keep // 2) :]


def trim_tail(text: str, limit: int) -> str:
    """Keep the end of `text`: a traceback's last lines are where the error is."""
    if len(text) <= limit:
        return text
    marker = TRIM_MARK.format(n=len(text) - limit) + "\n"
    keep = max(limit - len(marker), 0)
    return marker + text[len(text) - keep :]


def trim_end(text: str, limit: int) -> str:
    """Keep the start of `text`: notes put the worst tests first."""
    if len(text) <= limit:
        return text
    marker = "\n" + TRIM_MARK.format(n=len(text) - limit)
    return text[: max(limit - len(marker), 0)] + marker


def keep_head(text: str, limit: int) -> str:
    """Fit `text` in `limit`: its first line, which names the test and its error, then its end."""
    if len(text) <= limit:
        return text
    head, newline, body = text.partition("\n")
    if not newline:  # one long line: its start and its end, in the whole limit
        marker = f" [... {len(text) - limit} characters trimmed ...] "
        keep = max(limit - len(marker), 0)
        return text[: keep // 2] + marker + text[len(text) - (keep - keep // 2) :]
    head = middle_cut(head, limit // 2)
    return head + "\n" + trim_tail(body, max(limit - len(head) - 1, 0))


def join(parts: Sequence[str], limit: int) -> str:
    """Notes of several failures (phases or tests) in `limit`, each keeping its first line.

    Short parts stay whole; the long ones share what is left. With more parts
    than fit even briefly, the last ones are cut: callers put the worst first.
    """
    text = SEPARATOR.join(parts)
    if len(text) <= limit:
        return text
    budget = limit - len(SEPARATOR) * (len(parts) - 1)
    shares = _shares([len(p) for p in parts], budget)
    fitted = SEPARATOR.join(
        keep_head(part, max(share, MIN_SHARE)) for part, share in zip(parts, shares, strict=True)
    )
    return trim_end(fitted, limit)


def _shares(lengths: list[int], budget: int) -> list[int]:
    """Each part's room: the shortest first take what they need, the rest split evenly."""
    shares = [0] * len(lengths)
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    left = budget
    for done, index in enumerate(order):
        fair = left // (len(order) - done)
        shares[index] = min(lengths[index], fair)
        left -= shares[index]
    return shares


def error_line(report: Any) -> str:
    """One line saying what went wrong: exception type and message."""
    longrepr = report.longrepr
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None:
        message = plain(str(crash.message)).strip()
        line = message.splitlines()[0] if message else ""
        # pytest drops the type from assertion messages it rewrote.
        return f"AssertionError: {line}" if line.startswith("assert ") else line
    text = traceback_text(report)
    return text.splitlines()[-1] if text else ""


def traceback_text(report: Any) -> str:
    """The failure as pytest prints it, without colour and without xdist's worker line.

    Not `report.longreprtext`: under xdist that starts with "[gw1] linux --
    Python ...", and the same failure's notes would differ with the worker.
    """
    longrepr = report.longrepr
    if longrepr is None:
        return ""
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # (path, line, message)
        return plain(str(longrepr[2])).strip()
    return plain(str(longrepr)).strip()


def failure(nodeid: str, report: Any, limit: int, phase: str = "", secret: str = "") -> str:
    """Node ID, error line and the end of the traceback; `secret` hidden before any cut,
    which could leave part of it."""
    where = f" (in {phase})" if phase else ""
    nodeid = hide(nodeid, secret)
    line = hide(error_line(report), secret)
    if len(line) > limit // 2:  # a huge message must not push the node ID out
        line = line[: limit // 2] + " [...]"
    # Nor a huge node ID (ids made from data) the message.
    head = f"{middle_cut(nodeid, limit // 4)}{where}: {line}"
    body = hide(traceback_text(report), secret)
    # A failure without a traceback (pytest.fail(pytrace=False), a strict
    # XPASS, a plugin's own text) is its message alone: said once.
    if not body or body == head or ("\n" not in body and line.endswith(body)):
        return head
    return head + "\n" + trim_tail(body, max(limit - len(head) - 1, 0))


def subtest(report: Any) -> str:
    """How pytest names a subtest: "[message] (key=value, ...)"."""
    context = getattr(report, "context", None)
    message = getattr(context, "msg", None)
    params = getattr(context, "kwargs", None) or {}
    parts = [f"[{message}]"] if message is not None else []
    if params:
        parts.append("(" + ", ".join(f"{k}={v}" for k, v in params.items()) + ")")
    return " ".join(parts) or "(<subtest>)"


def skip_reason(report: Any) -> str:
    """Why a test was skipped or xfailed."""
    wasxfail = getattr(report, "wasxfail", None)
    if wasxfail is not None:
        return f"xfail: {wasxfail}" if wasxfail else "xfail"
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        reason = str(longrepr[2])
        return reason.removeprefix("Skipped: ")
    return ""
