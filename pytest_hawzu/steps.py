"""User steps: `with hawzu_step("pay with saved card"):` inside a test or fixture.

Runs where tests run. A step is a JSON-safe dict kept on the item until the
report of the phase it finished in is made; the tagger then moves it onto that
report, which xdist already carries to the controller. Outside a reported
session (no release, no case IDs) a step only runs its block.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from pytest_hawzu import cases, tagger
from pytest_hawzu.client import MAX_STEP_NOTES
from pytest_hawzu.model import Status
from pytest_hawzu.settings import token_secret
from pytest_hawzu.text import hide, valid


class HawzuStepWarning(UserWarning):
    """A step that no test's result can take: it is not recorded."""


@contextmanager
def hawzu_step(name: str) -> Iterator[None]:
    """Record a named step of the current test: PASSED, or FAILED if the block raised.

    The exception is re-raised unchanged. Steps are listed in the order they end.
    """
    item = tagger.current_item()
    if item is None or not _runs_now(item):
        # Outside any test, in a thread a test started (nothing tells which test
        # it belongs to; the fixture does), or in a test of a nested session
        # without the plugin. Not a warning: under -W error that would fail the
        # user's test.
        yield
        return
    with step_of(item, name):
        yield


def _runs_now(item: pytest.Item) -> bool:
    # pytest names the test whose phase runs now, in any session, with or
    # without this plugin: "<node ID> (call)".
    return os.environ.get("PYTEST_CURRENT_TEST", "").rpartition(" ")[0] == item.nodeid


@contextmanager
def step_of(item: pytest.Item, name: str) -> Iterator[None]:
    """`hawzu_step` for a known item (the fixture's form)."""
    try:
        yield
    except BaseException as exc:
        _record(item, name, _status_of(exc), _describe(exc))
        raise
    _record(item, name, Status.PASSED, "")


def _record(item: pytest.Item, name: str, status: Status, notes: str) -> None:
    if not _reported(item):
        return
    if not tagger.is_running(item):
        # Its reports are made: nothing would carry the step to Hawzu.
        if cases.case_ids(item):  # for a test without cases it did nothing anyway
            _warn(f"hawzu_step({name!r}) of {item.nodeid} ended after that test: not recorded")
        return
    # Valid text: execnet refuses a lone surrogate (a name that is not UTF-8).
    step = {"name": valid(str(name)), "status": status.value, "notes": valid(notes)}
    tagger.record_step(item, step)


def _reported(item: pytest.Item) -> bool:
    # Without the tagger nothing would move the step onto a report.
    return item.config.pluginmanager.has_plugin(tagger.PLUGIN_NAME)


def _warn(text: str) -> None:
    # stacklevel: the user's `with` statement, past contextlib and this module.
    warnings.warn(hide(valid(text), token_secret()), HawzuStepWarning, stacklevel=5)


def _status_of(exc: BaseException) -> Status:
    # pytest.skip() and pytest.xfail() inside a step end the test as skipped.
    skipped = (pytest.skip.Exception, pytest.xfail.Exception)
    return Status.SKIPPED if isinstance(exc, skipped) else Status.FAILED


def _describe(exc: BaseException) -> str:
    message = str(exc).strip()
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    # The token hidden before the cut, which could leave part of it.
    secret = token_secret()
    # Cut here already (the client's limit): the step travels through execnet.
    return hide(text, secret)[:MAX_STEP_NOTES]
