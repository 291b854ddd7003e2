"""Report pytest runs to Hawzu, the test management service."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
