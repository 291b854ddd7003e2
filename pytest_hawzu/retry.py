"""Which Hawzu failures to retry, how long to wait, and the loop that does it.

`RetryPolicy` is a small immutable object with pure methods, after urllib3's
`Retry`; `Retrier` runs the loop with injected clocks, randomness and an
interruptible sleep, so that every wait can be tested exactly and aborted.
"""

from __future__ import annotations

import enum
import math
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from pytest_hawzu.client import RETRY_AFTER, ApiError, HawzuError, SetupError, TransportError
from pytest_hawzu.throttle import Throttle, header, http_date, server_time

T = TypeVar("T")

_DELTA_SECONDS = re.compile(r"[0-9]+")
# Transient by nature: the server or a gateway in front of it may answer
# differently in a moment. 502 and 504 are what proxies say when the backend
# is unreachable, which the contract treats like 503.
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
# Statuses whose Retry-After speaks for the whole service, not this one request.
PAUSING_STATUSES = frozenset({429, 503})
UNAUTHORIZED = 401
TOO_MANY_REQUESTS = 429


class Verdict(enum.Enum):
    RETRY = "retry"
    FINAL = "final"
    STOP = "stop"  # the token is unusable: stop calling Hawzu for the session


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After value, or None if absent or garbage.

    `now` is wall-clock Unix time, used for HTTP dates. A date in the past means
    "now" (0.0). Huge values come back as they are; callers cap them.
    """
    if value is None:
        return None
    value = value.strip()
    if _DELTA_SECONDS.fullmatch(value):
        return float(value)
    moment = http_date(value)
    return None if moment is None else max(0.0, moment - now)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    max_retry_after: float = 300.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        for name in ("backoff_base", "backoff_max", "max_retry_after"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a non-negative number, got {value!r}")

    def verdict(self, error: HawzuError) -> Verdict:
        if isinstance(error, TransportError):
            return Verdict.RETRY
        if not isinstance(error, ApiError):
            return Verdict.FINAL
        if error.status == UNAUTHORIZED:
            return Verdict.STOP
        return Verdict.RETRY if error.status in RETRIED_STATUSES else Verdict.FINAL

    def backoff(self, attempt: int, rng: Callable[[], float]) -> float:
        """Full jitter; `attempt` is the 0-based number of the attempt that failed."""
        # Bounding the exponent keeps the power finite; the cap wins long before.
        ceiling = self.backoff_base * 2.0 ** min(max(attempt, 0), 1000)
        return rng() * min(self.backoff_max, ceiling)

    def delay(self, error: HawzuError, attempt: int, now: float, rng: Callable[[], float]) -> float:
        """The wait before the next attempt: Retry-After (capped) when the status
        honours it and the value parses, exponential backoff otherwise."""
        if pauses_service(error):
            headers = error.headers if isinstance(error, ApiError) else {}
            seconds = parse_retry_after(_retry_after(error), server_time(headers, now))
            if seconds is not None:
                return min(seconds, self.max_retry_after)
        return self.backoff(attempt, rng)


def pauses_service(error: HawzuError) -> bool:
    """Whether the wait after `error` applies to every request, not just this one."""
    if not isinstance(error, ApiError) or error.status not in PAUSING_STATUSES:
        return False
    # 429 always means the shared budget is spent; 503 only when it says for how long.
    return error.status == TOO_MANY_REQUESTS or _retry_after(error) is not None


def _retry_after(error: HawzuError) -> str | None:
    # Not `error.retry_after`: headers arrive as a plain dict in the server's case.
    return header(error.headers, RETRY_AFTER) if isinstance(error, ApiError) else None


NO_ATTEMPTS_LEFT = "no attempts left"
DEADLINE_REACHED = "deadline reached"
# A certificate, CA bundle or proxy setting that no wait can change (a SetupError).
SETTINGS_REFUSED = "the connection settings do not work"
ABORTED = "aborted"


class GaveUp(HawzuError):
    """Retrying stopped: attempts or deadline ran out, or the wait was aborted."""

    def __init__(self, last: HawzuError | None, *, attempts: int, reason: str) -> None:
        detail = f"; last error: {last}" if last is not None else ""
        super().__init__(f"gave up after {attempts} attempt(s): {reason}{detail}")
        self.last = last
        self.attempts = attempts
        self.reason = reason


class Retrier:
    """Runs one call under the session's throttle, retrying what is worth it."""

    def __init__(
        self,
        throttle: Throttle,
        policy: RetryPolicy,
        *,
        sleep: Callable[[float], bool],
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
        stop: threading.Event | None = None,
    ) -> None:
        self.throttle = throttle
        # Set when the caller gave up: no attempt starts after it, even when no
        # wait comes first to notice it in.
        self._stop = stop
        self.policy = policy
        self._sleep = sleep
        self._clock = clock
        self._wall = wall
        self._rng = rng
        # The error of the latest failed attempt, until an attempt succeeds:
        # what to say when a caller stops waiting for a call still retrying.
        self.last_error: HawzuError | None = None

    def call(self, fn: Callable[[], T], *, deadline: float | None = None) -> T:
        """Call `fn` until it succeeds, fails for good, or the budget runs out.

        FINAL and STOP errors propagate unchanged; everything else ends in GaveUp.
        `deadline` is monotonic: no attempt starts after it.
        """
        last: HawzuError | None = None
        for attempt in range(self.policy.max_attempts):
            self._wait_for_slot(deadline, attempt, last)
            if self._stop is not None and self._stop.is_set():
                raise GaveUp(last, attempts=attempt, reason=ABORTED) from last
            try:
                result = fn()
            except HawzuError as error:
                if isinstance(error, SetupError):
                    # Given up at once, as trying again cannot help; a GaveUp all
                    # the same, so that what was to be sent is kept for later.
                    self.last_error = None
                    raise GaveUp(error, attempts=attempt + 1, reason=SETTINGS_REFUSED) from None
                if self.policy.verdict(error) is not Verdict.RETRY:
                    # The call is over; its caller handles this (or expected it).
                    self.last_error = None
                    raise
                last = self.last_error = error
            else:
                self.last_error = None
                return result
            self._back_off(last, attempt, deadline)
        raise GaveUp(last, attempts=self.policy.max_attempts, reason=NO_ATTEMPTS_LEFT) from last

    def _back_off(self, error: HawzuError, attempt: int, deadline: float | None) -> None:
        delay = self.policy.delay(error, attempt, self._wall(), self._rng)
        if pauses_service(error):
            # Also after the last attempt: the pause is every call's, not just this one's.
            self.throttle.pause_until(self._clock() + delay)
        if attempt + 1 >= self.policy.max_attempts:
            return  # no further attempt to wait for
        self._wait(delay, deadline, attempt + 1, error)

    def _wait_for_slot(
        self, deadline: float | None, attempts: int, last: HawzuError | None
    ) -> None:
        self._wait(self.throttle.reserve(), deadline, attempts, last)
        # A pause may begin while we wait for our slot (another caller's 429):
        # wait that out too, so nothing starts inside it.
        while (pause := self.throttle.pause_remaining()) > 0:
            self._wait(pause, deadline, attempts, last)

    def _wait(
        self, seconds: float, deadline: float | None, attempts: int, last: HawzuError | None
    ) -> None:
        if deadline is not None and self._clock() + seconds > deadline:
            raise GaveUp(last, attempts=attempts, reason=DEADLINE_REACHED) from last
        if seconds > 0 and self._sleep(seconds):
            raise GaveUp(last, attempts=attempts, reason=ABORTED) from last


# A wait this long looks like a hang to someone watching a command.
LONG_WAIT = 2.0


def telling_sleep(say: Callable[[str], None]) -> Callable[[float], bool]:
    """A `Retrier` sleep for commands: says so before a long wait."""
    event = threading.Event()

    def sleep(seconds: float) -> bool:
        if seconds >= LONG_WAIT:
            say(
                f"  waiting {seconds:.0f} s before the next request to Hawzu (a retry or its limit)"
            )
        return event.wait(seconds)

    return sleep
