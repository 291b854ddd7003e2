"""Hooks that exist only with pytest-xdist; registered only when it is installed."""

from __future__ import annotations

from typing import Any

from pytest_hawzu.reporter import Reporter
from pytest_hawzu.settings import SPOOL_DIR_KEY
from pytest_hawzu.tagger import SCOPE_KEY


class XdistHooks:
    """On the controller: start reporting before the workers, give each the spool
    directory, and take its planned scope when it shuts down."""

    def __init__(self, reporter: Reporter) -> None:
        self.reporter = reporter

    def pytest_xdist_setupnodes(self) -> None:
        # After the other session starts (xdist's is the last), before any worker
        # runs: strict mode refuses a run with no worker started.
        self.reporter.start()

    def pytest_configure_node(self, node: Any) -> None:
        # A worker may run in another directory (--tx popen//chdir=...).
        node.workerinput[SPOOL_DIR_KEY] = str(self.reporter.spool_dir)

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        output = getattr(node, "workeroutput", None) or {}
        self.reporter.add_packed_scope(output.get(SCOPE_KEY))
