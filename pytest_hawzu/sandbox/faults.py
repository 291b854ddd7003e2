"""Trouble on demand: injected error answers, dropped connections, latency, a rate limit.

Faults form a queue of rules. Each API request takes one unit from the first
rule whose path filter matches it (a substring of the request path; no filter
matches everything); a rule disappears once its count is spent.

The rate limit is a token bucket per token: it holds up to ``max(1, rate)``
requests and refills at ``rate`` requests per second, so a client pacing
itself at ``rate`` never sees a 429 and a burst of one second's worth is
allowed. The X-RateLimit headers describe that bucket: Limit is its size,
Remaining the whole requests left in it, Reset the Unix time (rounded up) at
which the next request will be let through: now while one is left, not when
the bucket is full again.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any, Literal

RetryAfterStyle = Literal["seconds", "date"]
MAX_LATENCY = 86_400

DEFAULT_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    502: "BAD_GATEWAY",
    503: "SERVICE_UNAVAILABLE",
    504: "GATEWAY_TIMEOUT",
}


def default_code(status: int) -> str:
    return DEFAULT_CODES.get(status, f"HTTP_{status}")


@dataclass
class Fault:
    kind: Literal["fail", "drop"]
    remaining: int
    path: str | None = None
    status: int = 503
    retry_after: str | None = None
    code: str | None = None

    def __post_init__(self) -> None:
        if self.remaining < 1:
            raise ValueError("a fault needs a count of at least 1")
        # A 1xx only announces the real answer: the client would wait for it.
        if not 200 <= self.status <= 599:
            raise ValueError(f"a fault's status must be a final one, 200 to 599: {self.status}")
        # Checked now, not when a request meets it: a path that is no string
        # would fail every later request with the sandbox's own 500.
        for name in ("path", "code"):
            if not isinstance(getattr(self, name), (str, type(None))):
                raise TypeError(f"a fault's {name} must be a string")

    def matches(self, path: str) -> bool:
        return self.path is None or self.path in path

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "remaining": self.remaining,
            "path": self.path,
            "status": self.status if self.kind == "fail" else None,
            "retry_after": self.retry_after,
            "code": self.code,
        }


def check_latency(seconds: float) -> None:
    # time.sleep() overflows long before infinity; a day outlasts any client's
    # timeout, so it stands for "never answers" as well.
    if not 0 <= seconds <= MAX_LATENCY:
        raise ValueError(f"latency must be from 0 to {MAX_LATENCY} seconds")


def check_rate_limit(rate: float | None, retry_after_style: str | None) -> None:
    if rate is not None and not rate > 0:
        raise ValueError("rate must be a positive number of requests per second, or None")
    if retry_after_style not in ("seconds", "date", None):
        raise ValueError(f"unknown retry_after_style {retry_after_style!r}")


class FaultPlan:
    def __init__(self, lock: threading.RLock, *, latency: float = 0.0) -> None:
        self._lock = lock
        self._faults: list[Fault] = []
        self._latency = 0.0
        self.latency = latency

    @property
    def latency(self) -> float:
        with self._lock:
            return self._latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        check_latency(seconds)
        with self._lock:
            self._latency = float(seconds)

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def take(self, path: str) -> Fault | None:
        """The fault this request suffers, spending one unit of it."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(path):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_json() for f in self._faults]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token bucket per token; ``clock`` returns Unix seconds and is injectable for tests."""

    def __init__(self, lock: threading.RLock, clock: Callable[[], float] = time.time) -> None:
        self._lock = lock
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self.rate: float | None = None
        self.headers = True
        self.retry_after_style: RetryAfterStyle | None = "seconds"

    def configure(
        self,
        rate: float | None,
        *,
        headers: bool = True,
        retry_after_style: RetryAfterStyle | None = "seconds",
    ) -> None:
        check_rate_limit(rate, retry_after_style)
        with self._lock:
            self.rate = rate
            self.headers = headers
            self.retry_after_style = retry_after_style
            self._buckets.clear()

    @property
    def capacity(self) -> float:
        return max(1.0, self.rate or 0.0)

    def check(self, key: str) -> Verdict:
        with self._lock:
            rate = self.rate
            if rate is None:
                return Verdict(allowed=True)
            now = self._clock()
            bucket = self._refill(key, now, rate)
            allowed = bucket.tokens >= 1.0
            if allowed:
                bucket.tokens -= 1.0
            headers = self._limit_headers(bucket, now, rate) if self.headers else {}
            if not allowed:
                headers.update(self._retry_after(bucket, now, rate))
            return Verdict(allowed, headers)

    def _refill(self, key: str, now: float, rate: float) -> _Bucket:
        bucket = self._buckets.setdefault(key, _Bucket(self.capacity, now))
        elapsed = max(0.0, now - bucket.updated)
        bucket.tokens = min(self.capacity, bucket.tokens + elapsed * rate)
        bucket.updated = now
        return bucket

    def _limit_headers(self, bucket: _Bucket, now: float, rate: float) -> dict[str, str]:
        # Reset is when the next request will be let through: for a token bucket
        # that is the next whole token, not the moment the bucket is full again,
        # which would keep a client that waits for it idle for no reason. To the
        # millisecond: rounded up to a whole second, a bucket of one token held
        # a client pacing at 1 request/s to one request every 2 s.
        next_at = now + max(0.0, 1.0 - bucket.tokens) / rate
        return {
            "X-RateLimit-Limit": str(math.floor(self.capacity)),
            "X-RateLimit-Remaining": str(math.floor(bucket.tokens)),
            "X-RateLimit-Reset": f"{next_at:.3f}",
        }

    def _retry_after(self, bucket: _Bucket, now: float, rate: float) -> dict[str, str]:
        wait = (1.0 - bucket.tokens) / rate
        if self.retry_after_style == "seconds":
            return {"Retry-After": str(max(1, math.ceil(wait)))}
        if self.retry_after_style == "date":
            return {"Retry-After": formatdate(math.ceil(now + wait), usegmt=True)}
        return {}
