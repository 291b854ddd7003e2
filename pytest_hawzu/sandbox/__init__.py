"""A local, in-memory Hawzu server for tests, demos and offline development.

Needs werkzeug (the ``sandbox`` extra). The plugin imports this package only
when a sandbox is asked for, so a plain install never needs werkzeug.
"""

from __future__ import annotations

from pytest_hawzu.sandbox.records import RequestRecord
from pytest_hawzu.sandbox.server import DEFAULT_TOKEN, Sandbox, serve

__all__ = ["DEFAULT_TOKEN", "RequestRecord", "Sandbox", "serve"]
