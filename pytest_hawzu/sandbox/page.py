"""A read-only HTML view of the sandbox's executions, for people watching a run.

Every value that reaches the page comes from a client and is escaped; the
token is never part of what the page is built from.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from pytest_hawzu.sandbox.rules import RESULT_STATUSES

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin-bottom: 2em; }
td, th { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
pre { margin: 0; white-space: pre-wrap; max-width: 60em; }
.status { font-weight: bold; }
.PASSED { color: #176f2c; } .FAILED { color: #b3261e; } .BLOCKED { color: #9a5b00; }
.SKIPPED { color: #5f6368; } .NOT_EXECUTED { color: #7b7b7b; } .unknown { color: #6a1b9a; }
"""

# Execution statuses borrow the colours of the result statuses they resemble.
STATUS_CLASSES = {
    **{s: s for s in RESULT_STATUSES},
    "IN_PROGRESS": "NOT_EXECUTED",
    "COMPLETED": "PASSED",
}


def render(executions: list[dict[str, Any]], release_names: Mapping[str, str]) -> str:
    sections = [_execution(e, release_names) for e in executions]
    body = "\n".join(sections) or "<p>No executions yet.</p>"
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta http-equiv='refresh' content='5'>"
        f"<title>Hawzu sandbox</title><style>{STYLE}</style></head>"
        f"<body><h1>Hawzu sandbox</h1>\n{body}\n</body></html>\n"
    )


def _execution(execution: Mapping[str, Any], release_names: Mapping[str, str]) -> str:
    release_id = str(execution["release_id"])
    release = release_names.get(release_id, release_id)
    rows = "\n".join(_result(case_id, r) for case_id, r in execution["results"].items())
    return (
        f"<section id='{escape(str(execution['id']))}'>"
        f"<h2>{escape(str(execution['title']))}</h2>"
        f"<p>{escape(str(execution['id']))} · release {escape(release)} · "
        f"{_status(str(execution['status']))} · created {escape(str(execution['created_at']))}"
        "</p>"
        "<table><tr><th>Test case</th><th>Status</th><th>Duration (ms)</th>"
        "<th>Test</th><th>Notes</th><th>Attachments</th></tr>\n"
        f"{rows}</table></section>"
    )


def _result(case_id: str, result: Mapping[str, Any]) -> str:
    automation = result.get("automation")
    nodeid = automation.get("nodeid", "") if isinstance(automation, dict) else ""
    attachments = ", ".join(
        f"{escape(str(a['filename']))} ({int(a['size'])} B)" for a in result.get("attachments", [])
    )
    return (
        f"<tr><td>{escape(case_id)}</td><td>{_status(str(result.get('status', '')))}</td>"
        f"<td>{escape(str(result.get('duration_ms', '')))}</td>"
        f"<td>{escape(str(nodeid))}</td>"
        f"<td><pre>{escape(str(result.get('notes', '')))}</pre></td>"
        f"<td>{attachments}</td></tr>"
    )


def _status(status: str) -> str:
    css = STATUS_CLASSES.get(status, "unknown")
    return f"<span class='status {css}'>{escape(status)}</span>"
