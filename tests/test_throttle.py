"""The throttle, driven by a fake clock: every expectation is exact."""

from __future__ import annotations

import threading
import time
from email.utils import formatdate

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_hawzu.client import RATE_LIMIT_REMAINING, RATE_LIMIT_RESET
from pytest_hawzu.throttle import MAX_RESET_AHEAD, PACE_MARGIN, Throttle, header

EPOCH = 1_796_412_600.0  # wall-clock time when the fake monotonic clock reads 0


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return EPOCH + self.now


def make(
    rate: float = 5.0, burst: int | None = None, margin: float = 0.0
) -> tuple[Throttle, FakeClock]:
    """Paced at exactly `rate` unless told otherwise: the margin has tests of its own."""
    clock = FakeClock()
    throttle = Throttle(rate, clock=clock.monotonic, wall=clock.wall, burst=burst, margin=margin)
    return throttle, clock


def send(throttle: Throttle, clock: FakeClock) -> float:
    """Reserve, wait as told, and return when the request starts."""
    clock.now += throttle.reserve()
    return clock.now


def limits(remaining: object, reset: object) -> dict[str, str]:
    return {RATE_LIMIT_REMAINING: str(remaining), RATE_LIMIT_RESET: str(reset)}


# -- steady rate and burst --------------------------------------------------


def test_first_request_goes_at_once() -> None:
    throttle, _ = make()
    assert throttle.reserve() == 0.0


def test_steady_rate_without_burst() -> None:
    throttle, clock = make(rate=4.0, burst=1)
    assert [send(throttle, clock) for _ in range(5)] == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_burst_then_steady_rate() -> None:
    throttle, _ = make(rate=2.0, burst=3)
    assert [throttle.reserve() for _ in range(6)] == [0.0, 0.0, 0.0, 0.5, 1.0, 1.5]


def test_default_burst_is_one_seconds_worth() -> None:
    assert make(rate=5.0)[0].burst == 5
    assert make(rate=2.7)[0].burst == 2
    assert make(rate=0.5)[0].burst == 1


def test_idle_time_refills_the_burst_but_no_further() -> None:
    throttle, clock = make(rate=2.0, burst=3)
    for _ in range(3):
        throttle.reserve()
    clock.now = 100.0
    assert [throttle.reserve() for _ in range(4)] == [0.0, 0.0, 0.0, 0.5]


def test_partial_refill() -> None:
    throttle, clock = make(rate=1.0, burst=2)
    throttle.reserve()
    throttle.reserve()
    clock.now = 1.0  # one slot back
    assert [throttle.reserve() for _ in range(2)] == [0.0, 1.0]


def test_paced_a_little_under_the_configured_rate() -> None:
    """A server whose budget refills at exactly the rate is never left a fraction
    short of a token by a request that arrives a little early."""
    throttle, clock = make(rate=2.0, burst=1, margin=PACE_MARGIN)
    starts = [send(throttle, clock) for _ in range(3)]
    assert starts == pytest.approx([0.0, 0.5 / (1 - PACE_MARGIN), 1.0 / (1 - PACE_MARGIN)])
    assert 0 < PACE_MARGIN <= 0.05  # under the rate, by little


def test_the_margin_holds_under_rate_limit_headers_too() -> None:
    throttle, clock = make(rate=2.0, burst=2, margin=PACE_MARGIN)
    throttle.observe(limits(remaining=5, reset=EPOCH + 30))
    starts = [send(throttle, clock) for _ in range(4)]
    assert starts[3] - starts[2] == pytest.approx(0.5 / (1 - PACE_MARGIN))


@pytest.mark.parametrize("margin", [-0.1, 1.0, 2.0])
def test_margin_must_be_a_fraction(margin: float) -> None:
    with pytest.raises(ValueError, match="margin"):
        Throttle(1.0, margin=margin)


@pytest.mark.parametrize("rate", [0.0, -1.0, float("nan"), float("inf")])
def test_rate_must_be_positive_and_finite(rate: float) -> None:
    with pytest.raises(ValueError, match="rate"):
        Throttle(rate)


def test_burst_must_be_at_least_one() -> None:
    with pytest.raises(ValueError, match="burst"):
        Throttle(1.0, burst=0)


def test_reserve_is_thread_safe() -> None:
    throttle, _ = make(rate=10.0, burst=2)  # the clock never moves
    waits: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(50):
            wait = throttle.reserve()
            with lock:
                waits.append(wait)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Every slot handed out exactly once: 0, 0, then one per 0.1 s.
    expected = [0.0, 0.0] + [(k + 1) / 10 for k in range(398)]
    assert sorted(waits) == pytest.approx(expected)


@given(
    rate=st.floats(min_value=0.1, max_value=50.0),
    burst=st.integers(min_value=1, max_value=10),
    gaps=st.lists(st.floats(min_value=0.0, max_value=3.0), min_size=1, max_size=60),
)
def test_never_more_than_rate_times_t_plus_burst(
    rate: float, burst: int, gaps: list[float]
) -> None:
    throttle, clock = make(rate=rate, burst=burst)
    starts = []
    for gap in gaps:
        clock.now += gap
        wait = throttle.reserve()
        assert wait >= 0.0
        starts.append(clock.now + wait)
    assert starts == sorted(starts)
    for i in range(len(starts)):
        for j in range(i, len(starts)):
            let_through = j - i + 1
            assert let_through <= rate * (starts[j] - starts[i]) + burst + 1e-6


# -- pause_until --------------------------------------------------------------


def test_pause_holds_every_request() -> None:
    throttle, clock = make(rate=5.0)
    throttle.pause_until(7.0)
    assert throttle.paused_until == 7.0
    assert throttle.pause_remaining() == 7.0
    assert send(throttle, clock) == 7.0
    assert throttle.pause_remaining() == 0.0


def test_pause_resumes_at_steady_rate_not_with_a_burst() -> None:
    throttle, clock = make(rate=2.0, burst=4)
    throttle.pause_until(10.0)
    assert [send(throttle, clock) for _ in range(3)] == [10.0, 10.5, 11.0]


def test_pause_is_never_shortened() -> None:
    throttle, clock = make()
    throttle.pause_until(30.0)
    throttle.pause_until(5.0)
    assert throttle.paused_until == 30.0
    assert send(throttle, clock) == 30.0


def test_pause_can_be_lengthened() -> None:
    throttle, clock = make()
    throttle.pause_until(5.0)
    throttle.pause_until(30.0)
    assert send(throttle, clock) == 30.0


def test_pause_in_the_past_changes_nothing() -> None:
    throttle, clock = make(rate=1.0, burst=1)
    clock.now = 50.0
    throttle.pause_until(10.0)
    assert throttle.reserve() == 0.0


def test_slots_taken_before_a_pause_start_after_it() -> None:
    throttle, _ = make(rate=1.0, burst=1)
    throttle.reserve()
    throttle.pause_until(7.0)
    assert throttle.reserve() == 7.0


@given(
    pauses=st.lists(st.floats(min_value=0.0, max_value=1000.0), min_size=1, max_size=10),
    reserves=st.integers(min_value=1, max_value=20),
)
def test_nothing_starts_before_the_longest_pause(pauses: list[float], reserves: int) -> None:
    throttle, _ = make()
    for when in pauses:
        throttle.pause_until(when)
    assert all(throttle.reserve() >= max(pauses) for _ in range(reserves))


# -- adapting to X-RateLimit-* ----------------------------------------------


def test_budget_left_keeps_the_configured_rate() -> None:
    # Spreading "remaining" over the time to the reset would ignore what the
    # server refills meanwhile; only an exhausted budget slows the throttle.
    throttle, clock = make(rate=5.0, burst=1)
    throttle.observe(limits(remaining=10, reset=int(EPOCH) + 20))
    assert [send(throttle, clock) for _ in range(3)] == [0.0, 0.2, 0.4]


def test_header_names_are_case_insensitive() -> None:
    throttle, clock = make(rate=5.0, burst=1)
    throttle.observe({"x-ratelimit-remaining": "0", "X-RATELIMIT-RESET": str(EPOCH + 20)})
    assert send(throttle, clock) == 20.0


def test_headers_never_speed_past_the_configured_rate() -> None:
    throttle, clock = make(rate=2.0, burst=1)
    throttle.observe(limits(remaining=1000, reset=EPOCH + 10))
    assert [send(throttle, clock) for _ in range(3)] == [0.0, 0.5, 1.0]


def test_a_burst_never_spends_more_than_remains() -> None:
    throttle, _ = make(rate=5.0, burst=5)
    throttle.observe(limits(remaining=2, reset=EPOCH + 1))
    assert [throttle.reserve() for _ in range(3)] == [0.0, 0.0, 0.2]


def test_remaining_zero_waits_until_reset() -> None:
    throttle, clock = make(rate=5.0)
    clock.now = 100.0
    throttle.observe(limits(remaining=0, reset=EPOCH + 112))
    assert throttle.paused_until == 112.0
    assert throttle.reserve() == 12.0


def test_adaptation_ends_when_the_window_restarts() -> None:
    throttle, clock = make(rate=4.0, burst=1)
    throttle.observe(limits(remaining=1, reset=EPOCH + 10))
    assert send(throttle, clock) == 0.0
    clock.now = 10.0
    assert [send(throttle, clock) for _ in range(3)] == [10.0, 10.25, 10.5]


def test_the_full_burst_returns_once_the_window_restarts() -> None:
    # The server's bucket is full again at its reset: a burst may spend it all.
    throttle, clock = make(rate=4.0, burst=4)
    throttle.observe(limits(remaining=2, reset=EPOCH + 10))
    assert [send(throttle, clock) for _ in range(3)] == [0.0, 0.0, 0.25]
    clock.now = 10.0
    assert [send(throttle, clock) for _ in range(5)] == [10.0, 10.0, 10.0, 10.0, 10.25]


def test_headers_without_rate_limits_restore_the_configured_burst() -> None:
    throttle, clock = make(rate=4.0, burst=4)
    throttle.observe(limits(remaining=2, reset=EPOCH + 100))
    throttle.observe({"Content-Type": "application/json"})
    assert [send(throttle, clock) for _ in range(5)] == [0.0, 0.0, 0.0, 0.0, 0.25]


def test_headers_without_rate_limits_fall_back_to_the_configured_rate() -> None:
    throttle, clock = make(rate=4.0, burst=1)
    throttle.observe(limits(remaining=1, reset=EPOCH + 100))
    throttle.observe({"Content-Type": "application/json"})
    assert [send(throttle, clock) for _ in range(3)] == [0.0, 0.25, 0.5]


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="none"),
        pytest.param({RATE_LIMIT_REMAINING: "1"}, id="reset-missing"),
        pytest.param({RATE_LIMIT_RESET: str(EPOCH + 100)}, id="remaining-missing"),
        pytest.param(limits("lots", EPOCH + 100), id="remaining-not-a-number"),
        pytest.param(limits(-3, EPOCH + 100), id="remaining-negative"),
        pytest.param(limits("nan", EPOCH + 100), id="remaining-nan"),
        pytest.param(limits(1, "soon"), id="reset-not-a-number"),
        pytest.param(limits(1, ""), id="reset-empty"),
        pytest.param(limits(1, -5), id="reset-negative"),
        pytest.param(limits(1, "inf"), id="reset-infinite"),
        pytest.param(limits(1, EPOCH - 30), id="reset-in-the-past"),
        pytest.param(limits(1, EPOCH), id="reset-now"),
        pytest.param(limits(1, EPOCH + MAX_RESET_AHEAD + 1), id="reset-absurdly-far"),
        pytest.param(limits(1, (EPOCH + 10) * 1000), id="reset-in-milliseconds"),
        pytest.param(limits(1, 10), id="reset-as-delta"),
        pytest.param(limits(0, EPOCH - 30), id="exhausted-reset-in-the-past"),
        pytest.param(limits(0, EPOCH + 10**9), id="exhausted-reset-absurdly-far"),
        pytest.param(limits(0, "garbage"), id="exhausted-reset-garbage"),
    ],
)
def test_missing_or_malformed_headers_keep_the_configured_rate(
    headers: dict[str, str],
) -> None:
    throttle, clock = make(rate=4.0, burst=1)
    throttle.observe(headers)
    assert throttle.paused_until < 0
    assert [send(throttle, clock) for _ in range(3)] == [0.0, 0.25, 0.5]


@given(st.dictionaries(st.sampled_from([RATE_LIMIT_REMAINING, RATE_LIMIT_RESET]), st.text()))
def test_observe_never_raises_nor_stalls_on_garbage(headers: dict[str, str]) -> None:
    throttle, _ = make(rate=4.0, burst=1)
    throttle.observe(headers)
    assert 0.0 <= throttle.reserve() <= MAX_RESET_AHEAD


def test_header_lookup() -> None:
    headers = {"retry-after": "7"}
    assert header(headers, "Retry-After") == "7"
    assert header(headers, "X-Other") is None


@pytest.mark.parametrize("skew", [-3600.0, 0.0, 86_400.0])
def test_the_reset_is_read_against_the_servers_clock_when_it_says_the_time(skew: float) -> None:
    """A client clock that is wrong (a skewed CI host, a test faking time.time) waits
    as long as the server meant: the reset and the Date header share one clock."""
    throttle, clock = make(rate=5.0)
    clock.now = 100.0 + skew  # what this machine believes; the server is at EPOCH + 100
    server_now = EPOCH + 100
    throttle.observe(
        {**limits(remaining=0, reset=server_now + 12), "Date": formatdate(server_now, usegmt=True)}
    )
    assert throttle.paused_until == clock.now + 12.0


def test_a_clock_within_the_dates_second_reads_it_finer() -> None:
    """The Date header counts whole seconds: a clock inside that second is the
    same time read to a finer grain, and waits no longer than the server meant
    (at 1 request/s the sandbox paced one per 2 s by the truncated Date)."""
    throttle, clock = make(rate=5.0)
    clock.now = 100.7  # this machine: EPOCH + 100.7; the server's Date: EPOCH + 100
    date = formatdate(EPOCH + 100, usegmt=True)
    throttle.observe({**limits(remaining=0, reset=EPOCH + 101), "Date": date})
    assert throttle.paused_until == pytest.approx(101.0)


@pytest.mark.parametrize("ahead", [-0.2, 1.0, 1.5])
def test_a_clock_outside_the_dates_second_waits_by_the_date(ahead: float) -> None:
    """Outside that second the clocks disagree: the server's is the one that counts."""
    throttle, clock = make(rate=5.0)
    clock.now = 100.0 + ahead
    date = formatdate(EPOCH + 100, usegmt=True)
    throttle.observe({**limits(remaining=0, reset=EPOCH + 101), "Date": date})
    assert throttle.paused_until == pytest.approx(clock.now + 1.0)


def test_a_date_without_a_zone_is_utc_whatever_the_local_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # "-0000" says UTC without a claim about local time: a host in another zone
    # must not move the reset by its offset.
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        throttle, _ = make(rate=5.0)
        date = formatdate(EPOCH, usegmt=True).replace("GMT", "-0000")
        throttle.observe({**limits(remaining=0, reset=EPOCH + 12), "Date": date})
        assert throttle.paused_until == 12.0
    finally:
        monkeypatch.undo()
        time.tzset()
