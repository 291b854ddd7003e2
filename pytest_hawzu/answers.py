"""What users give the plugin through markers and hooks, checked before it is used.

A marker, a `pytest_hawzu_case_ids` or a `pytest_hawzu_result` implementation
is user code: a wrong value in it must become one line that says what was
wrong, never a crash somewhere later (a journal that cannot encode bytes, a
sender thread that cannot measure an int).
"""

from __future__ import annotations

import reprlib
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import cast

from pytest_hawzu.failures import raised
from pytest_hawzu.model import Status, Step, TestOutcome, is_seconds

_SHORT = reprlib.Repr()
_SHORT.maxstring = 60
_SHORT.maxother = 60
NOT_REPORTED = "this test is not reported"
CaseIds = tuple[str, ...]
Steps = tuple[Step, ...]


def short(value: object) -> str:
    """A repr that a huge value cannot make huge."""
    return _SHORT.repr(value)


def is_case_id(value: object) -> bool:
    """Any non-empty string of printable characters without whitespace."""
    return isinstance(value, str) and value.isprintable() and value.split() == [value]


def as_case_ids(value: object) -> tuple[str, ...] | None:
    """Case IDs from one string or any iterable of strings (read once), each once.

    None when something in it is not a case ID, or it is not iterable.
    """
    if isinstance(value, str):
        values: tuple[object, ...] = (value,)
    elif isinstance(value, tuple):
        values = value
    elif isinstance(value, Iterable) and not isinstance(value, (bytes, bytearray, dict)):
        values = tuple(value)
    else:
        return None
    if not all(is_case_id(v) for v in values):
        return None
    if any(type(v) is not str for v in values):
        # A str subclass (an enum of case IDs): its text, which xdist can carry.
        values = tuple(str.__str__(v) for v in values)
    unique = tuple(dict.fromkeys(values))
    # The marker's own tuple when it is already right: one less object per test.
    return values if unique == values else unique  # type: ignore[return-value]


def case_ids_problem(nodeid: str, answer: object) -> str:
    return (
        f"{nodeid}: pytest_hawzu_case_ids returned {short(answer)}; it must return Hawzu "
        f"case IDs (a list of non-empty strings without spaces) or None; {NOT_REPORTED}"
    )


def case_ids_raised(nodeid: str, exc: BaseException) -> str:
    return f"{nodeid}: pytest_hawzu_case_ids raised {raised(exc)}; {NOT_REPORTED}"


# -- pytest_hawzu_result --------------------------------------------------------------------


def _text(value: object) -> bool:
    return isinstance(value, str)


def _time(value: object) -> bool:
    # is_seconds: the rule the journal is read back with.
    return value is None or is_seconds(value)


def _steps(value: object) -> bool:
    return isinstance(value, tuple) and all(_is_step(s) for s in value)


def _is_step(step: object) -> bool:
    return (
        isinstance(step, Step)
        and isinstance(step.name, str)
        and isinstance(step.status, Status)
        and isinstance(step.notes, str)
    )


# Each field of TestOutcome: what a value must be, and the line that says so.
_RULES: dict[str, tuple[Callable[[object], bool], str]] = {
    "nodeid": (_text, "nodeid must be text"),
    "case_ids": (
        lambda v: v is not None,
        "case_ids must be a tuple of Hawzu case IDs, e.g. ('TCM-12',)",
    ),
    "status": (lambda v: isinstance(v, Status), "status must be a pytest_hawzu.Status"),
    "notes": (_text, "notes must be text"),
    "duration": (
        lambda v: is_seconds(v) and cast(float, v) >= 0,
        "duration must be a finite number of seconds, not negative",
    ),
    "started_at": (_time, "started_at must be a Unix time in seconds, or None"),
    "finished_at": (_time, "finished_at must be a Unix time in seconds, or None"),
    "steps": (_steps, "steps must be a tuple of pytest_hawzu.model.Step"),
    "worker": (lambda v: v is None or _text(v), "worker must be text or None"),
    "reruns": (
        lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "reruns must be a whole number, not negative",
    ),
}


def checked_outcome(answer: object) -> TestOutcome | tuple[str, str]:
    """`answer` as a TestOutcome the plugin can send, or (what it was, why it will not do).

    Lists are taken for tuples: the one liberty taken.
    """
    if not isinstance(answer, TestOutcome):
        return short(answer), "expected None, False or a TestOutcome with a Status"
    case_ids = _case_ids(answer.case_ids)
    steps = _tuple(answer.steps)
    fixed = {"case_ids": case_ids, "steps": steps}
    for name, (fits, why) in _RULES.items():
        if not fits(fixed.get(name, getattr(answer, name))):
            return f"{name} = {short(getattr(answer, name))}", why
    return replace(answer, case_ids=cast(CaseIds, case_ids), steps=cast(Steps, steps))


def _case_ids(value: object) -> tuple[str, ...] | None:
    # A string is refused here, unlike from pytest_hawzu_case_ids: a hook that
    # replaces a tuple with a string has made a mistake, not a choice.
    if not isinstance(value, (tuple, list)):
        return None
    return as_case_ids(value) if value else ()


def _tuple(value: object) -> object:
    return tuple(value) if isinstance(value, list) else value
