"""Hooks that exist only with pytest-xdist; registered only when it is installed."""

from __future__ import annotations

from typing import Any

from pytest_hawzu.reporter import Reporter
from pytest_hawzu.tagger import SCOPE_KEY, unpack_scope


class XdistHooks:
    """On the controller: take each worker's planned scope when it shuts down."""

    def __init__(self, reporter: Reporter) -> None:
        self.reporter = reporter

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        output = getattr(node, "workeroutput", None) or {}
        scope = unpack_scope(output.get(SCOPE_KEY))
        if scope is not None:
            self.reporter.add_scope(scope)
