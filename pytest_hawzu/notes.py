"""The text of a result's notes: what failed, where, and why, trimmed to fit."""

from __future__ import annotations

from typing import Any

TRIM_MARK = "[... {n} characters trimmed ...]\n"


def trim_tail(text: str, limit: int) -> str:
    """Keep the end of `text`: a traceback's last lines are where the error is."""
    if len(text) <= limit:
        return text
    marker = TRIM_MARK.format(n=len(text) - limit)
    keep = max(limit - len(marker), 0)
    return marker + text[len(text) - keep :]


def error_line(report: Any) -> str:
    """One line saying what went wrong: exception type and message."""
    longrepr = report.longrepr
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None:
        message = str(crash.message).strip()
        line = message.splitlines()[0] if message else ""
        # pytest drops the type from assertion messages it rewrote.
        return f"AssertionError: {line}" if line.startswith("assert ") else line
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    text = str(report.longreprtext or "").strip()
    return text.splitlines()[-1] if text else ""


def failure(nodeid: str, report: Any, limit: int, phase: str = "") -> str:
    """Node ID, error line and the end of the traceback."""
    where = f" (in {phase})" if phase else ""
    line = error_line(report)
    if len(line) > limit // 2:  # a huge message must not push the node ID out
        line = line[: limit // 2] + " [...]"
    head = f"{nodeid}{where}: {line}"
    traceback = str(report.longreprtext or "")
    if not traceback or traceback.strip() == head:
        return head
    return head + "\n" + trim_tail(traceback, max(limit - len(head) - 1, 0))


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
