"""Report pytest runs to Hawzu, the test management service."""

from __future__ import annotations

__version__ = "0.1.0"

# After __version__: the client module reads it while these import.
from pytest_hawzu.attachments import HawzuAttachWarning
from pytest_hawzu.cases import HawzuMarkerWarning
from pytest_hawzu.model import Status, TestOutcome
from pytest_hawzu.steps import HawzuStepWarning, hawzu_step

__all__ = [
    "HawzuAttachWarning",
    "HawzuMarkerWarning",
    "HawzuStepWarning",
    "Status",
    "TestOutcome",
    "__version__",
    "hawzu_step",
]
