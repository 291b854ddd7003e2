"""The log of API requests the sandbox received, for tests to assert on.

Records never hold credentials: the Authorization header (and any cookie) is
left out when the record is made, so nothing downstream can leak it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


def safe_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {name: value for name, value in headers if name.lower() not in SECRET_HEADERS}


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    status: int | None  # None: the connection was dropped without an answer
    batch_size: int | None  # number of items in a results post, else None
    time: float  # time.monotonic() on arrival
    wall_time: float  # time.time() on arrival
    idempotency_key: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    query: str = ""
    fault: str | None = None  # "fail" or "drop" when an injected fault answered
    client: str = ""  # "address:port" the request came from: one per connection

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class RequestLog:
    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._records: list[RequestRecord] = []

    def append(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def all(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
