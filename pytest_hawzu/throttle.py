"""One token bucket for the whole session, so Hawzu never sees more than it allows.

The bucket is kept in its "virtual scheduling" form (GCRA): instead of counting
tokens it remembers the earliest time the next request may start once the
burst is spent, and lets idle time build up to `burst` requests' worth of
credit. `reserve()` never blocks: it hands out a start time and the caller does
the waiting, with whatever interruptible sleep it owns. Both clocks are
injected so that tests are exact and instant.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from datetime import timezone
from email.utils import parsedate_to_datetime

from pytest_hawzu.client import RATE_LIMIT_REMAINING, RATE_LIMIT_RESET

# A reset further ahead than this is taken for garbage (milliseconds sent as
# seconds, a broken server clock), not for an instruction to stall for days.
MAX_RESET_AHEAD = 3600.0
# How far under the configured rate requests are paced. A server whose budget
# refills at exactly that rate is left a fraction short of a token by any
# request that arrives a few milliseconds early; it then says no budget is
# left until its next whole second (X-RateLimit-Reset), or refuses outright.
# Against a sandbox that gave its reset in whole seconds, a session's 55
# requests at 2 requests/s took 34 s paced at exactly the rate, 28 s at 2 %
# under.
PACE_MARGIN = 0.02


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Look a header up regardless of case: responses arrive as plain dicts."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def server_time(headers: Mapping[str, str], wall: float) -> float:
    """The server's Unix time from its Date header, else `wall` (ours).

    Retry-After dates and X-RateLimit-Reset are on the server's clock: read
    against it, a client clock that is off (a skewed CI host, a test faking
    time.time) waits as long as the server meant. The Date header counts
    whole seconds, truncated: a `wall` inside that second agrees with it and
    is the finer reading (read against the Date alone, a reset waited up to a
    second longer than meant); outside it, the clocks disagree and the Date
    counts.
    """
    value = header(headers, "Date")
    moment = None if value is None else http_date(value)
    if moment is None or moment <= wall < moment + 1:
        return wall
    return moment


def http_date(value: str) -> float | None:
    """Unix time from an HTTP date (any of its three forms); None for garbage."""
    try:
        moment = parsedate_to_datetime(value)
    # Python 3.10 raises TypeError on garbage, later versions ValueError.
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:  # "-0000": UTC without a claim about local time
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _number(value: str | None) -> float | None:
    """A finite, non-negative number, or None for anything else."""
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


class Throttle:
    """Thread-safe token bucket with a global pause for 429s."""

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        burst: int | None = None,
        margin: float = PACE_MARGIN,
    ) -> None:
        if not (math.isfinite(rate) and rate > 0):
            raise ValueError(f"rate must be a positive number, got {rate!r}")
        # Default: one second's worth, as "N per second" limiters allow.
        self.burst = max(1, int(rate)) if burst is None else burst
        if self.burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst!r}")
        if not 0 <= margin < 1:
            raise ValueError(f"margin must be at least 0 and under 1, got {margin!r}")
        self.rate = rate
        self._pace = rate * (1.0 - margin)  # requests per second actually paced
        self._clock = clock
        self._wall = wall
        self._lock = threading.Lock()
        self._next = -math.inf  # earliest start for the next request, burst spent
        self._paused_until = -math.inf
        # Rate and burst the server's headers asked for, and until when (monotonic).
        self._server_rate = self._pace
        self._server_burst = self.burst
        self._server_until = -math.inf

    @property
    def paused_until(self) -> float:
        """Monotonic time before which no request may start."""
        with self._lock:
            return self._paused_until

    def pause_remaining(self) -> float:
        """Seconds left of the current pause; lets a caller that already holds a
        slot notice a pause that began while it was waiting for that slot."""
        with self._lock:
            return max(0.0, self._paused_until - self._clock())

    def reserve(self) -> float:
        """Take a slot; return how long the caller must wait before sending."""
        with self._lock:
            now = self._clock()
            rate, burst = self._limits(now)
            interval = 1.0 / rate
            start = max(now, self._paused_until, self._next)
            # Idle time counts as credit, but never more than `burst` slots of it.
            self._next = max(self._next, start - (burst - 1) * interval) + interval
            return start - now

    def pause_until(self, when: float) -> None:
        """No request may start before `when` (monotonic); never shortens a pause."""
        with self._lock:
            self._pause(when)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Adapt to X-RateLimit-Remaining/-Reset; fall back to `rate` without them."""
        remaining = _number(header(headers, RATE_LIMIT_REMAINING))
        reset = _number(header(headers, RATE_LIMIT_RESET))
        with self._lock:
            now = self._clock()
            window = None if reset is None else reset - server_time(headers, self._wall())
            if remaining is None or window is None or not 0 < window <= MAX_RESET_AHEAD:
                self._server_until = -math.inf
                return
            if remaining < 1:
                self._pause(now + window)
                return
            # Never let a burst spend more than is left. The steady rate stays the
            # configured one: spreading `remaining` over the time to the reset
            # would ignore what the server refills meanwhile (a token bucket's
            # reset is when it is full again), and halved throughput in practice.
            self._server_rate = self._pace
            self._server_burst = max(1, min(self.burst, int(remaining)))
            self._server_until = now + window

    def _limits(self, now: float) -> tuple[float, int]:
        if now < self._server_until:
            return self._server_rate, self._server_burst
        return self._pace, self.burst

    def _pause(self, when: float) -> None:
        if when <= self._paused_until:
            return
        self._paused_until = when
        # Empty the bucket at `when`: the server has just said we sent too much,
        # so resume at the steady rate instead of with a full burst.
        self._next = max(self._next, when)
