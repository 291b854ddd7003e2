"""Which Hawzu test cases a test reports to: its `hawzu` marker, or a hook's answer."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from pytest_hawzu import answers
from pytest_hawzu.failures import HOOK_FAILURES
from pytest_hawzu.settings import token_secret
from pytest_hawzu.text import hide

MARKER = "hawzu"
MARKER_HELP = (
    f"{MARKER}(*case_ids): report this test's result to these Hawzu test cases, e.g. "
    f'@pytest.mark.{MARKER}("TCM-12")'
)
_CASES = pytest.StashKey[tuple[str, ...]]()
_BAD = pytest.StashKey[str]()  # only on items with a bad marker or answer: rare


class HawzuMarkerWarning(UserWarning):
    """A `hawzu` marker with a value that is not a case ID."""


def case_ids(item: pytest.Item) -> tuple[str, ...]:
    """The item's case IDs, resolved once (usually at collection) and cached on the item."""
    stash = item.stash
    # `in` first: Stash.get pays for a raised KeyError on every miss.
    if _CASES in stash:
        return stash[_CASES]
    ids, problem = _resolve(item)
    stash[_CASES] = ids
    if problem is not None:
        stash[_BAD] = problem
    return ids


def warn_if_bad(item: pytest.Item) -> None:
    """Warn once about a bad marker or hook answer, from `pytest_runtest_setup`.

    There a warning is where pytest expects warnings: with `-W error` it fails
    that test's setup, as any other warning would, never a report hook.
    """
    case_ids(item)
    if _BAD in item.stash:
        problem = item.stash[_BAD]
        del item.stash[_BAD]
        # The plugin's words, about a node ID or a hook's error that may show the token.
        warnings.warn(hide(problem, token_secret()), HawzuMarkerWarning, stacklevel=1)


def _resolve(item: pytest.Item) -> tuple[tuple[str, ...], str | None]:
    """The case IDs, and what is wrong with them when something is."""
    hook = item.config.hook.pytest_hawzu_case_ids
    try:
        answer = hook(item=item) if hook.get_hookimpls() else None
        # Read here too: a generator's code runs only as it is read.
        ids = answers.as_case_ids(answer) if answer is not None else None
    except pytest.exit.Exception:
        raise
    except HOOK_FAILURES as exc:  # the user's hook: a warning for its test, not a crash
        return (), answers.case_ids_raised(item.nodeid, exc)
    if answer is not None:
        if ids is None:
            return (), answers.case_ids_problem(item.nodeid, _concealed(answer))
        return ids, None
    values = _marker_args(item)
    if values is None:
        return (), None
    ids = answers.as_case_ids(values) if values else None
    if not ids:
        return (), _bad_message(item, _concealed(values))
    return ids, None


class _Shown:
    """A value as it is quoted, with the token hidden."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _concealed(value: Any) -> Any:
    """`value` with the token hidden, before a quote of it is cut (a cut through
    the token would keep part of it): whatever its type, sets and bytes too."""
    secret = token_secret()
    if not secret or secret not in repr(value):  # rare: keep the value as it is
        return value
    if isinstance(value, (tuple, list)):  # the marker's values are quoted one by one
        return type(value)(_concealed(v) for v in value)
    return _Shown(hide(repr(value), secret))


def _marker_args(item: pytest.Item) -> tuple[Any, ...] | None:
    """The closest marker wins: param over function over class over module.

    pytest lists a function's own markers with its decorators first and its
    `pytest.param(marks=...)` and `add_marker` markers after, so on each node
    the last one is the closest.
    """
    for node in reversed(item.listchain()):
        own = [m for m in node.own_markers if m.name == MARKER]
        if own:
            return tuple(own[-1].args)
    return None


def _bad_message(item: pytest.Item, values: tuple[Any, ...]) -> str:
    given = ", ".join(answers.short(v) for v in values) or "none"
    return (
        f"{item.nodeid}: @pytest.mark.{MARKER} needs Hawzu case IDs (non-empty strings "
        f"without spaces), got {given}; {answers.NOT_REPORTED}"
    )
