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
_BAD = pytest.StashKey[list[object]]()  # only on items with a bad marker: rare


class HawzuMarkerWarning(UserWarning):
    """A `hawzu` marker with a value that is not a case ID."""


def case_ids(item: pytest.Item) -> tuple[str, ...]:
    """The item's case IDs, resolved once (usually at collection) and cached on the item."""
    stash = item.stash
    # `in` first: Stash.get pays for a raised KeyError on every miss.
    if _CASES in stash:
        return stash[_CASES]
    ids, bad = _resolve(item)
    stash[_CASES] = ids
    if bad:
        stash[_BAD] = bad
    return ids


def warn_if_bad(item: pytest.Item) -> None:
    """Warn once about a bad marker, from `pytest_runtest_setup`.

    There a warning is where pytest expects warnings: with `-W error` it fails
    that test's setup, as any other warning would, never a report hook.
    """
    case_ids(item)
    if _BAD in item.stash:
        bad = item.stash[_BAD]
        del item.stash[_BAD]
        warnings.warn(_bad_message(item, bad), HawzuMarkerWarning, stacklevel=1)


def _resolve(item: pytest.Item) -> tuple[tuple[str, ...], list[object]]:
    answer = item.config.hook.pytest_hawzu_case_ids(item=item)
    values = answer if answer is not None else _marker_args(item)
    if values is None:
        return (), []
    bad = [v for v in values if not is_case_id(v)] if values else [None]
    if bad:
        return (), bad
    unique = tuple(dict.fromkeys(values))
    # Reuse the marker's own tuple when it is already right: one less object per test.
    return (values if unique == values else unique), []


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
    return isinstance(value, str) and value.isprintable() and value.split() == [value]


def _bad_message(item: pytest.Item, bad: Iterable[object]) -> str:
    values = ", ".join(repr(v) for v in bad)
    return (
        f"{item.nodeid}: @pytest.mark.{MARKER} needs Hawzu case IDs (non-empty strings "
        f"without spaces), got {values}; this test is not reported"
    )
