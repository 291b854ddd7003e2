"""Runs where tests run (an xdist worker, or the only process): tags reports with case IDs.

The tags are plain JSON-safe attributes on the report, which xdist already
serialises to the controller; nothing here touches the network, and only
attachments (see `attachments.py`) touch the disk.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

import pytest

from pytest_hawzu import cases
from pytest_hawzu.attachments import ATTACHER

SCOPE_KEY = "hawzu_scope"
PLUGIN_NAME = "hawzu-tagger"
_STEPS = pytest.StashKey[list[dict[str, Any]]]()
# The item whose protocol is running, so that the module-level `hawzu_step` needs
# no fixture. A ContextVar rather than a global: plugins that run tests in other
# contexts (async runners) see their own value.
_CURRENT: ContextVar[pytest.Item | None] = ContextVar("hawzu_current_item", default=None)


class Tagger:
    """Registered in every process when reporting is on."""

    def __init__(
        self,
        config: pytest.Config,
        on_scope: Callable[[Mapping[str, Sequence[str]]], None] | None = None,
    ) -> None:
        self.config = config
        self.on_scope = on_scope
        self._unsent_scope: dict[str, list[str]] | None = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        cases.case_ids(item)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Generator[None, object, object]:
        token = _CURRENT.set(item)
        try:
            return (yield)
        finally:
            _CURRENT.reset(token)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        ids = cases.case_ids(item)
        # Steps and attachments go on the report of the phase they ended in.
        steps = item.stash.get(_STEPS, None)
        if steps is not None:
            del item.stash[_STEPS]
        if ids:
            tag: dict[str, Any] = {"cases": list(ids)}
            if steps:
                tag["steps"] = steps
            attacher = self.config.stash.get(ATTACHER, None)
            files = attacher.collect(item, report) if attacher is not None else None
            if files:
                tag["attachments"] = files
            report.hawzu = tag  # type: ignore[attr-defined]
        if self._unsent_scope is not None:
            # A worker's output arrives only when it shuts down cleanly; a worker
            # that crashes or is torn down by Ctrl-C never sends it. Its first
            # report carries the scope too, so the controller knows it early.
            setattr(report, SCOPE_KEY, self._unsent_scope)
            self._unsent_scope = None
        return report

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        scope = plan_scope(session.items)
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None:
            # Reaches the controller when this worker shuts down.
            workeroutput[SCOPE_KEY] = scope
            self._unsent_scope = scope
        elif self.on_scope is not None:
            self.on_scope(scope)


def plan_scope(items: Sequence[pytest.Item]) -> dict[str, list[str]]:
    """Case ID to node IDs for every selected test: what the execution should cover."""
    scope: dict[str, list[str]] = {}
    for item in items:
        for case_id in cases.peek(item):
            scope.setdefault(case_id, []).append(item.nodeid)
    return scope


def record_step(item: pytest.Item, step: dict[str, Any]) -> None:
    """Keep a user step (from `hawzu_step`) for the report of the current phase."""
    item.stash.setdefault(_STEPS, []).append(step)


def current_item() -> pytest.Item | None:
    """The test whose protocol is running in this process, if any."""
    return _CURRENT.get()
