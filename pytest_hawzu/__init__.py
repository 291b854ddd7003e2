"""Report pytest runs to Hawzu, the test management service."""

from __future__ import annotations

__version__ = "0.1.0"

# After __version__: the client module reads it while these import.
from pytest_hawzu.model import Status, TestOutcome
from pytest_hawzu.steps import hawzu_step

__all__ = ["Status", "TestOutcome", "__version__", "hawzu_step"]
