"""Hooks that conftest files and plugins can implement to adapt pytest-hawzu."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_hawzu.client import Execution
    from pytest_hawzu.summary import SessionSummary


@pytest.hookspec(firstresult=True)
def pytest_hawzu_case_ids(item: pytest.Item) -> list[str] | tuple[str, ...] | None:
    """Return the Hawzu case IDs of ``item``, or None to use its ``hawzu`` marker.

    Runs where the test runs: on the xdist worker, or in the only process.

    :param item: the test item.
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
