"""Retry policy and retry loop, driven by fake time: exact, instant, no sleeping."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_hawzu.client import RETRY_AFTER, ApiError, HawzuError, TransportError
from pytest_hawzu.retry import GaveUp, Retrier, RetryPolicy, Verdict, parse_retry_after
from pytest_hawzu.throttle import Throttle

NOW = 1_796_412_600.0  # Fri, 04 Dec 2026 19:30:00 GMT
HTTP_NOW = "Fri, 04 Dec 2026 19:30:00 GMT"


class FakeTime:
    """Monotonic and wall clocks that move only when the code under test sleeps."""

    def __init__(self, abort_after: int | None = None) -> None:
        self.now = 0.0
        self.waits: list[float] = []
        self.abort_after = abort_after  # abort the wait after this many sleeps
        self.on_sleep: Callable[[], None] = lambda: None

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return NOW + self.now

    def sleep(self, seconds: float) -> bool:
        if self.abort_after is not None and len(self.waits) >= self.abort_after:
            return True
        self.waits.append(seconds)
        self.on_sleep()
        self.now += seconds
        return False


class Script:
    """A call that fails with the given errors, in order, then returns "ok"."""

    def __init__(self, time: FakeTime, errors: Iterable[HawzuError]) -> None:
        self.time = time
        self.errors = list(errors)
        self.starts: list[float] = []

    def __call__(self) -> str:
        self.starts.append(self.time.now)
        if len(self.starts) <= len(self.errors):
            raise self.errors[len(self.starts) - 1]
        return "ok"


def api(status: int, retry_after: str | None = None) -> ApiError:
    headers = {} if retry_after is None else {RETRY_AFTER: retry_after}
    return ApiError(status, f"E{status}", "failed", headers=headers)


def setup(
    policy: RetryPolicy | None = None, rate: float = 1000.0, abort_after: int | None = None
) -> tuple[Retrier, FakeTime]:
    time = FakeTime(abort_after)
    throttle = Throttle(rate, clock=time.monotonic, wall=time.wall, margin=0.0)
    retrier = Retrier(
        throttle,
        policy or RetryPolicy(),
        sleep=time.sleep,
        clock=time.monotonic,
        wall=time.wall,
        rng=lambda: 1.0,  # the top of the jitter range, so waits are predictable
    )
    return retrier, time


# -- parse_retry_after --------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", 7.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("86400", 86400.0),
        ("Fri, 04 Dec 2026 19:30:07 GMT", 7.0),
        ("Friday, 04-Dec-26 19:30:07 GMT", 7.0),  # RFC 850, obsolete but allowed
        ("Fri Dec  4 19:30:07 2026", 7.0),  # asctime, obsolete but allowed
        (HTTP_NOW, 0.0),
        ("Fri, 04 Dec 2026 19:29:00 GMT", 0.0),  # in the past: go now
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0),
    ],
)
def test_parse_retry_after(value: str, expected: float) -> None:
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize(
    "value",
    [None, "", "  ", "soon", "-7", "7.5", "1e3", "7s", "٣", "Fri, 32 Dec 2026 25:00:00 GMT"],
)
def test_parse_retry_after_garbage(value: str | None) -> None:
    assert parse_retry_after(value, NOW) is None


@given(st.text(), st.floats(min_value=0, max_value=4e9))
def test_parse_retry_after_never_raises_nor_goes_negative(value: str, now: float) -> None:
    seconds = parse_retry_after(value, now)
    assert seconds is None or seconds >= 0


@given(st.integers(min_value=0, max_value=10**12))
def test_parse_retry_after_reads_any_delta(seconds: int) -> None:
    assert parse_retry_after(str(seconds), NOW) == seconds


# -- verdicts -----------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_transient_statuses_are_retried(status: int) -> None:
    assert RetryPolicy().verdict(api(status)) is Verdict.RETRY


@pytest.mark.parametrize("status", [400, 402, 403, 404, 405, 409, 410, 413, 418, 422, 451, 501])
def test_other_errors_are_final(status: int) -> None:
    assert RetryPolicy().verdict(api(status)) is Verdict.FINAL


def test_unauthorized_stops_the_session() -> None:
    assert RetryPolicy().verdict(api(401)) is Verdict.STOP


def test_transport_errors_are_retried() -> None:
    assert RetryPolicy().verdict(TransportError("connection refused")) is Verdict.RETRY


def test_unknown_errors_are_final() -> None:
    assert RetryPolicy().verdict(HawzuError("bad JSON")) is Verdict.FINAL


# -- backoff and delay --------------------------------------------------------


def test_backoff_doubles_up_to_the_cap() -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_max=30.0)
    ceilings = [policy.backoff(attempt, lambda: 1.0) for attempt in range(9)]
    assert ceilings == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


def test_backoff_is_full_jitter() -> None:
    policy = RetryPolicy(backoff_base=0.5)
    assert policy.backoff(3, lambda: 0.0) == 0.0
    assert policy.backoff(3, lambda: 0.25) == 1.0


@given(
    attempt=st.integers(min_value=0, max_value=10**6),
    draw=st.floats(min_value=0.0, max_value=1.0),
    base=st.floats(min_value=0.0, max_value=100.0),
    cap=st.floats(min_value=0.0, max_value=1000.0),
)
def test_backoff_stays_within_zero_and_the_cap(
    attempt: int, draw: float, base: float, cap: float
) -> None:
    policy = RetryPolicy(backoff_base=base, backoff_max=cap)
    assert 0.0 <= policy.backoff(attempt, lambda: draw) <= cap


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (api(429, "7"), 7.0),
        (api(429, "Fri, 04 Dec 2026 19:30:12 GMT"), 12.0),
        (api(429, "Fri, 04 Dec 2026 19:00:00 GMT"), 0.0),  # date in the past
        (api(429, "100000"), 300.0),  # capped
        (api(429, "Sat, 04 Dec 2027 19:30:00 GMT"), 300.0),  # capped
        (api(429), 4.0),  # no header: backoff
        (api(429, "soon"), 4.0),  # garbage: backoff
        (api(429, "-7"), 4.0),  # negative: backoff
        (api(503, "7"), 7.0),
        (api(503), 4.0),
        (api(500, "7"), 4.0),  # only 429 and 503 honour Retry-After
        (TransportError("reset"), 4.0),
    ],
)
def test_delay(error: HawzuError, expected: float) -> None:
    assert RetryPolicy().delay(error, 3, NOW, lambda: 1.0) == expected


def test_delay_finds_retry_after_in_any_case() -> None:
    error = ApiError(429, "RATE_LIMITED", "slow down", headers={"retry-after": "7"})
    assert RetryPolicy().delay(error, 0, NOW, lambda: 1.0) == 7.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"backoff_base": -1.0},
        {"backoff_max": float("nan")},
        {"max_retry_after": float("inf")},
    ],
)
def test_policy_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


# -- the loop -----------------------------------------------------------------


def test_success_needs_no_wait() -> None:
    retrier, time = setup()
    assert retrier.call(lambda: 42) == 42
    assert time.waits == []


def test_transient_errors_are_retried_with_growing_backoff() -> None:
    retrier, time = setup()
    script = Script(time, [TransportError("refused"), api(500), api(503), api(502)])
    assert retrier.call(script) == "ok"
    assert time.waits == [0.5, 1.0, 2.0, 4.0]
    assert script.starts == [0.0, 0.5, 1.5, 3.5, 7.5]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413, 422])
def test_final_errors_propagate_as_they_are(status: int) -> None:
    retrier, time = setup()
    error = api(status)
    script = Script(time, [error])
    with pytest.raises(ApiError) as raised:
        retrier.call(script)
    assert raised.value is error
    assert script.starts == [0.0]


def test_gives_up_after_max_attempts() -> None:
    retrier, time = setup(RetryPolicy(max_attempts=3))
    last = api(500)
    script = Script(time, [api(503), TransportError("timeout"), last])
    with pytest.raises(GaveUp, match=r"after 3 attempt\(s\): no attempts left") as raised:
        retrier.call(script)
    assert raised.value.last is last
    assert raised.value.__cause__ is last
    assert raised.value.attempts == 3
    assert len(script.starts) == 3
    assert time.waits == [0.5, 1.0]  # no pointless wait after the last attempt


def test_single_attempt_policy_never_waits() -> None:
    retrier, time = setup(RetryPolicy(max_attempts=1))
    with pytest.raises(GaveUp, match="1 attempt"):
        retrier.call(Script(time, [api(500)]))
    assert time.waits == []


def test_deadline_stops_retries_that_would_start_too_late() -> None:
    retrier, time = setup()
    script = Script(time, [api(500)] * 10)
    with pytest.raises(GaveUp, match=r"after 3 attempt\(s\): deadline reached"):
        retrier.call(script, deadline=3.0)
    # Attempts at 0, 0.5 and 1.5; the next would start at 3.5.
    assert script.starts == [0.0, 0.5, 1.5]
    assert time.now <= 3.0


def test_an_attempt_may_start_exactly_at_the_deadline() -> None:
    retrier, time = setup()
    script = Script(time, [api(500)])
    assert retrier.call(script, deadline=0.5) == "ok"
    assert script.starts == [0.0, 0.5]


def test_deadline_already_passed_makes_no_attempt() -> None:
    retrier, time = setup()
    time.now = 10.0
    script = Script(time, [])
    with pytest.raises(GaveUp, match=r"after 0 attempt\(s\): deadline reached") as raised:
        retrier.call(script, deadline=9.0)
    assert raised.value.last is None
    assert script.starts == []


def test_deadline_covers_the_throttle_wait() -> None:
    retrier, time = setup(rate=1.0)
    retrier.throttle.pause_until(60.0)
    script = Script(time, [])
    with pytest.raises(GaveUp, match="deadline reached"):
        retrier.call(script, deadline=30.0)
    assert script.starts == []
    assert time.waits == []


def test_abort_stops_the_backoff() -> None:
    retrier, time = setup(abort_after=1)
    last = api(503)
    script = Script(time, [api(500), last, api(500)])
    with pytest.raises(GaveUp, match=r"after 2 attempt\(s\): aborted") as raised:
        retrier.call(script)
    assert raised.value.last is last
    assert script.starts == [0.0, 0.5]


def test_abort_stops_the_throttle_wait() -> None:
    retrier, time = setup(abort_after=0)
    retrier.throttle.pause_until(5.0)
    script = Script(time, [])
    with pytest.raises(GaveUp, match="aborted"):
        retrier.call(script)
    assert script.starts == []


def test_calls_wait_for_the_throttle() -> None:
    retrier, time = setup(rate=2.0)
    starts = []
    for _ in range(4):
        retrier.call(lambda: starts.append(time.now))
    assert starts == [0.0, 0.0, 0.5, 1.0]


# -- 429 and Retry-After: the whole throttle pauses ---------------------------


def test_429_waits_retry_after() -> None:
    retrier, time = setup()
    script = Script(time, [api(429, "7")])
    assert retrier.call(script) == "ok"
    assert script.starts == [0.0, 7.0]
    assert retrier.throttle.paused_until == 7.0


def test_429_as_http_date() -> None:
    retrier, time = setup()
    script = Script(time, [api(429, "Fri, 04 Dec 2026 19:30:09 GMT")])
    assert retrier.call(script) == "ok"
    assert script.starts == [0.0, 9.0]


def test_429_without_retry_after_backs_off_and_pauses_everyone() -> None:
    retrier, time = setup()
    script = Script(time, [api(429), api(429, "garbage")])
    assert retrier.call(script) == "ok"
    assert script.starts == [0.0, 0.5, 1.5]
    assert retrier.throttle.paused_until == 1.5


@pytest.mark.parametrize("status", [429, 503])
def test_the_last_attempts_retry_after_still_pauses_everyone(status: int) -> None:
    """Giving up on this call does not lift the pause the server asked of every call."""
    retrier, time = setup(RetryPolicy(max_attempts=2))
    with pytest.raises(GaveUp):
        retrier.call(Script(time, [api(status, "3"), api(status, "7")]))
    assert time.now == 3.0  # no pointless wait after the last attempt
    assert retrier.throttle.paused_until == 10.0
    next_call = Script(time, [])
    assert retrier.call(next_call) == "ok"
    assert next_call.starts == [10.0]


def test_503_with_retry_after_pauses_everyone() -> None:
    retrier, time = setup()
    assert retrier.call(Script(time, [api(503, "4")])) == "ok"
    assert retrier.throttle.paused_until == 4.0


def test_503_without_retry_after_pauses_only_its_own_call() -> None:
    # Without a Retry-After a 503 says nothing of the service: only this call backs off.
    retrier, time = setup()
    assert retrier.call(Script(time, [api(503)])) == "ok"
    assert retrier.throttle.paused_until < 0


def test_500_pauses_only_its_own_call() -> None:
    retrier, time = setup()
    assert retrier.call(Script(time, [api(500)])) == "ok"
    assert retrier.throttle.paused_until < 0


def test_no_caller_starts_before_a_429s_retry_after() -> None:
    time = FakeTime()
    throttle = Throttle(1.0, burst=1, clock=time.monotonic, wall=time.wall, margin=0.0)

    def retrier() -> Retrier:
        return Retrier(
            throttle,
            RetryPolicy(),
            sleep=time.sleep,
            clock=time.monotonic,
            wall=time.wall,
            rng=lambda: 1.0,
        )

    first = Script(time, [api(429, "7")])
    second = Script(time, [])
    # The first caller gets its 429 and is then aborted mid-wait ...
    time.abort_after = 0
    with pytest.raises(GaveUp):
        retrier().call(first)
    time.abort_after = None
    # ... yet a second caller on the same throttle still starts no earlier than 7 s.
    retrier().call(second)
    assert first.starts == [0.0]
    assert second.starts == [7.0]


def test_a_pause_that_begins_while_waiting_for_a_slot_is_honoured() -> None:
    time = FakeTime()
    throttle = Throttle(1.0, burst=1, clock=time.monotonic, wall=time.wall, margin=0.0)
    throttle.reserve()  # someone else sends now; our slot is at 1.0
    retrier = Retrier(throttle, RetryPolicy(), sleep=time.sleep, clock=time.monotonic)
    # While we wait for that slot, another caller meets a 429 with Retry-After: 7.
    time.on_sleep = lambda: throttle.pause_until(7.0)  # idempotent: fires once in effect
    script = Script(time, [])
    retrier.call(script)
    assert script.starts == [7.0]
    assert time.waits == [1.0, 6.0]


@given(
    retry_after=st.integers(min_value=0, max_value=300),
    callers=st.integers(min_value=1, max_value=5),
)
def test_429_holds_back_every_later_call(retry_after: int, callers: int) -> None:
    retrier, time = setup(rate=5.0)
    script = Script(time, [api(429, str(retry_after))])
    retrier.call(script)
    starts = []
    for _ in range(callers):
        retrier.call(lambda: starts.append(time.now))
    assert script.starts[1] == retry_after
    assert all(start >= retry_after for start in starts)


def test_a_stopped_retrier_makes_no_further_attempt() -> None:
    # The session gave up on start-up: its remaining steps must not go out,
    # even with the throttle's burst left (no wait to notice the stop in).
    stop = threading.Event()
    retrier = Retrier(Throttle(1000), RetryPolicy(), sleep=stop.wait, stop=stop)
    stop.set()
    calls: list[int] = []
    with pytest.raises(GaveUp, match="aborted"):
        retrier.call(lambda: calls.append(1))
    assert calls == []


@pytest.mark.parametrize("skew", [-3600.0, 0.0, 86_400.0])
def test_a_retry_after_date_is_read_against_the_servers_clock(skew: float) -> None:
    retrier, time = setup()
    time.now = skew  # this machine's idea of the time is off by `skew`
    error = ApiError(
        429,
        "E429",
        "slow down",
        headers={RETRY_AFTER: "Fri, 04 Dec 2026 19:30:07 GMT", "Date": HTTP_NOW},
    )
    script = Script(time, [error])
    assert retrier.call(script) == "ok"
    assert script.starts == [skew, skew + 7.0]


def test_a_call_makes_six_attempts_by_default() -> None:
    retrier, time = setup()
    script = Script(time, [api(503)] * 6)
    with pytest.raises(GaveUp):
        retrier.call(script)
    assert len(script.starts) == 6


def test_a_final_error_after_retries_leaves_no_error_to_tell() -> None:
    retrier, time = setup()
    with pytest.raises(ApiError):
        retrier.call(Script(time, [api(503), api(404)]))
    assert retrier.last_error is None


def test_a_final_error_is_not_what_a_later_call_is_still_retrying() -> None:
    """A 404 the caller expects (a release looked up by ID, then by name) must not be
    named as the reason start-up has not finished while the next call waits its turn."""
    retrier, time = setup()
    with pytest.raises(ApiError):
        retrier.call(Script(time, [api(404)]))
    assert retrier.last_error is None
    with pytest.raises(GaveUp):
        retrier.call(Script(time, [api(503)] * 6))
    assert isinstance(retrier.last_error, ApiError)
    assert retrier.last_error.status == 503
