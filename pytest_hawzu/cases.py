"""Which Hawzu test cases a test reports to: its `hawzu` marker, or a hook's answer."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

import pytest

MARKER = "hawzu"
MARKER_HELP = (
    f"{MARKER}(*case_ids): report this test's result to these Hawzu test cases, e.g. "
    f'@pytest.mark.{MARKER}("TCM-12")'
)
_CASES = pytest.StashKey[tuple[str, ...]]()


class HawzuMarkerWarning(UserWarning):
    """A `hawzu` marker with a value that is not a case ID."""


def case_ids(item: pytest.Item) -> tuple[str, ...]:
    """The item's case IDs, resolved once and cached on the item.

    Called first from `pytest_runtest_setup`, so that a warning about a bad
    marker is raised where pytest expects warnings (with `-W error` it fails
    that test's setup, as any other warning would), never inside a report hook.
    """
    cached = item.stash.get(_CASES, None)
    if cached is None:
        cached, bad = _resolve(item)
        item.stash[_CASES] = cached
        if bad:
            warnings.warn(_bad_message(item, bad), HawzuMarkerWarning, stacklevel=1)
    return cached


def peek(item: pytest.Item) -> tuple[str, ...]:
    """Like `case_ids`, without warnings: for planning the scope at collection."""
    cached = item.stash.get(_CASES, None)
    return cached if cached is not None else _resolve(item)[0]


def _resolve(item: pytest.Item) -> tuple[tuple[str, ...], list[object]]:
    answer = item.config.hook.pytest_hawzu_case_ids(item=item)
    values = answer if answer is not None else _marker_args(item)
    if values is None:
        return (), []
    bad = [v for v in values if not is_case_id(v)] if values else [None]
    if bad:
        return (), bad
    return tuple(dict.fromkeys(values)), []


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


def is_case_id(value: object) -> bool:
    """Any non-empty string of printable characters without whitespace."""
    return (
        isinstance(value, str)
        and bool(value)
        and value.isprintable()
        and not any(c.isspace() for c in value)
    )


def _bad_message(item: pytest.Item, bad: Iterable[object]) -> str:
    values = ", ".join(repr(v) for v in bad)
    return (
        f"{item.nodeid}: @pytest.mark.{MARKER} needs Hawzu case IDs (non-empty strings "
        f"without spaces), got {values}; this test is not reported"
    )
