"""The plugin with one part switched off, to show what each part costs (run.py --parts).

Copied next to the suite and loaded with `-p hawzu_parts`, beside the plugin
itself; HAWZU_BENCH_PART says which part is off:

- "unsent": every result is recorded and journalled, and none is sent;
- "unanswered": batches are made and encoded as for sending, and each is
  taken as accepted without a request.

Start-up and completion still go to the sandbox, so the run checks that it
holds one execution and no result: a part that was not switched off would
show there. Measurement only: such a run delivers nothing, and keeps its
journal.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

import pytest

PART_ENV = "HAWZU_BENCH_PART"
PARTS = ("unsent", "unanswered")


def _unsent(self: Any, case_ids: Iterable[str], attachments: Iterable[Any] = ()) -> None:
    self.want()  # start-up happens as in a real run


def _unanswered(self: Any, execution_id: str, results: Sequence[Any]) -> Any:
    from pytest_hawzu import client

    self._body({"results": [client.result_to_wire(r, self._redact) for r in results]})
    return client.BatchOutcome(accepted=len(results), rejected=())


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return  # only the controller sends: workers stay as they are
    part = os.environ.get(PART_ENV, "")
    if part == "unsent":
        from pytest_hawzu.uploader import Uploader

        Uploader.submit = _unsent  # type: ignore[method-assign]
    elif part == "unanswered":
        from pytest_hawzu.client import HawzuClient

        HawzuClient.post_results = _unanswered  # type: ignore[method-assign]
    else:
        raise pytest.UsageError(f"{PART_ENV} must be one of {', '.join(PARTS)}, got {part!r}")
