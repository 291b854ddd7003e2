"""The least a reporter can do and still lose nothing: the floor of figure (a).

Copied next to the suite and loaded with `-p hawzu_floor` (see run.py). It
looks each test's case up once, after collection, and hands one JSON line
per finished test to the OS with one write(2), as the plugin's journal does
so that a kill -9 loses nothing. It sends nothing, combines nothing and runs
no thread: any reporter that keeps the journal's promise costs at least this.
"""

from __future__ import annotations

import json
import os

import pytest

JOURNAL = "floor-journal.jsonl"  # in the suite's directory, rewritten by each run


class Floor:
    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
        self.cases: dict[str, tuple[object, ...]] = {}

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            marker = item.get_closest_marker("hawzu")
            if marker is not None:
                self.cases[item.nodeid] = marker.args

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "teardown":
            return
        case_ids = self.cases.get(report.nodeid)
        if case_ids is not None:
            line = json.dumps([case_ids, report.nodeid, report.outcome, report.duration])
            os.write(self.fd, (line + "\n").encode())

    def pytest_unconfigure(self) -> None:
        os.close(self.fd)


def pytest_configure(config: pytest.Config) -> None:
    path = str(config.rootpath / JOURNAL)
    config.pluginmanager.register(Floor(path), "hawzu-floor")
