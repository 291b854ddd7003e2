"""Hooks that conftest files and plugins can implement to adapt pytest-hawzu."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_hawzu.client import Execution
    from pytest_hawzu.model import TestOutcome
    from pytest_hawzu.summary import SessionSummary


@pytest.hookspec(firstresult=True)
def pytest_hawzu_case_ids(item: pytest.Item) -> list[str] | tuple[str, ...] | None:
    """Return the Hawzu case IDs of ``item``, or None to use its ``hawzu`` marker.

    Runs where the test runs: on the xdist worker, or in the only process.

    :param item: the test item.
    """


@pytest.hookspec(firstresult=True)
def pytest_hawzu_result(
    result: TestOutcome, report: pytest.TestReport
) -> TestOutcome | bool | None:
    """Inspect, change or drop one test's result before it is journaled and queued.

    Runs on the controller (the only process without xdist), on pytest's main
    thread, once per finished test, before its result is combined with other
    tests of the same case.

    ``result`` is frozen. Return:

    - ``None`` to keep it as it is;
    - a changed copy to send that instead, e.g.
      ``dataclasses.replace(result, status=Status.BLOCKED, notes=...)``
      (``Status`` and ``TestOutcome`` are importable from ``pytest_hawzu``);
    - ``False`` to drop it: nothing is sent for this test, and its attachments
      are discarded.

    The first implementation that returns something other than ``None`` decides.

    :param result: the test's outcome: ``nodeid``, ``case_ids``, ``status``,
        ``notes``, ``steps``, ``duration``, ``reruns``, ``worker``.
    :param report: the test's last report as the controller received it: its
        teardown report, or xdist's report when the worker running it died.
        ``report.user_properties`` and ``report.sections`` are there.
    """


@pytest.hookspec
def pytest_hawzu_execution_created(execution: Execution) -> None:
    """Called once the session's execution exists (created or joined).

    Runs on the controller, on pytest's main thread, before the next test
    result is recorded or at the session's end, whichever comes first.

    :param execution: the execution, with ``id``, ``title`` and ``web_url``.
    """


@pytest.hookspec
def pytest_hawzu_session_finished(summary: SessionSummary) -> None:
    """Called at the end of the session, after the last upload.

    Runs on the controller.

    :param summary: what was sent, rejected and kept; see ``SessionSummary``.
    """
