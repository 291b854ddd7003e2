"""The sandbox's per-token rate limit: a token bucket on an injectable clock, so tests are exact."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from email.utils import parsedate_to_datetime

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
from sandbox_helpers import Api, FakeClock, error_of

from pytest_hawzu.sandbox import Sandbox
from pytest_hawzu.sandbox.faults import RateLimiter

START = 1_800_000_000.0


def limiter(rate: float | None, **options: object) -> tuple[RateLimiter, FakeClock]:
    clock = FakeClock(START)
    bucket = RateLimiter(threading.RLock(), clock=clock)
    bucket.configure(rate, **options)  # type: ignore[arg-type]
    return bucket, clock


# -- the limiter on its own ---------------------------------------------------


def test_off_by_default_allows_everything_without_headers() -> None:
    bucket, _ = limiter(None)
    verdicts = [bucket.check("t") for _ in range(1000)]
    assert all(v.allowed and v.headers == {} for v in verdicts)


def test_a_burst_of_one_second_then_429_until_refilled() -> None:
    bucket, clock = limiter(2)
    assert [bucket.check("t").allowed for _ in range(3)] == [True, True, False]
    clock.advance(0.5)
    assert [bucket.check("t").allowed for _ in range(2)] == [True, False]
    clock.advance(1.0)
    assert [bucket.check("t").allowed for _ in range(3)] == [True, True, False]


def test_headers_describe_the_bucket() -> None:
    bucket, _ = limiter(4)
    assert bucket.check("t").headers == {
        "X-RateLimit-Limit": "4",
        "X-RateLimit-Remaining": "3",
        "X-RateLimit-Reset": f"{START:.3f}",  # tokens left: the next request may go now
    }
    for _ in range(3):
        bucket.check("t")
    refused = bucket.check("t")
    assert not refused.allowed
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    # When the next token is whole, to the millisecond: a whole second would
    # hold a client pacing at 1 request/s to one every 2 s.
    assert refused.headers["X-RateLimit-Reset"] == f"{START + 0.25:.3f}"
    assert refused.headers["Retry-After"] == "1"


def test_retry_after_in_seconds_rounds_up() -> None:
    bucket, _ = limiter(0.25)
    assert bucket.check("t").allowed
    refused = bucket.check("t")
    assert refused.headers["Retry-After"] == "4"
    assert refused.headers["X-RateLimit-Limit"] == "1"
    assert refused.headers["X-RateLimit-Reset"] == f"{START + 4:.3f}"


def test_retry_after_as_an_http_date() -> None:
    bucket, clock = limiter(0.5, retry_after_style="date")
    bucket.check("t")
    clock.advance(0.5)
    refused = bucket.check("t")
    assert not refused.allowed
    moment = parsedate_to_datetime(refused.headers["Retry-After"])
    assert moment.timestamp() == START + 2  # a quarter token back, 1.5 s to go, rounded up
    assert refused.headers["Retry-After"].endswith(" GMT")


def test_retry_after_can_be_left_out() -> None:
    bucket, _ = limiter(1, retry_after_style=None)
    bucket.check("t")
    refused = bucket.check("t")
    assert not refused.allowed
    assert "Retry-After" not in refused.headers
    assert "X-RateLimit-Remaining" in refused.headers


def test_headers_can_be_turned_off() -> None:
    bucket, _ = limiter(1, headers=False)
    assert bucket.check("t").headers == {}
    assert bucket.check("t").headers == {"Retry-After": "1"}


def test_each_token_has_its_own_bucket() -> None:
    bucket, _ = limiter(1)
    assert [bucket.check(t).allowed for t in ("a", "b", "a", "b")] == [True, True, False, False]


def test_reconfiguring_starts_with_full_buckets() -> None:
    bucket, _ = limiter(1)
    bucket.check("t")
    bucket.configure(1)
    assert bucket.check("t").allowed


def test_a_clock_going_backwards_adds_nothing() -> None:
    bucket, clock = limiter(1)
    bucket.check("t")
    clock.advance(-10)
    assert not bucket.check("t").allowed


@pytest.mark.parametrize("rate", [0, -1])
def test_rate_must_be_positive(rate: float) -> None:
    with pytest.raises(ValueError, match="rate"):
        limiter(rate)


def test_unknown_retry_after_style_is_refused() -> None:
    with pytest.raises(ValueError, match="retry_after_style"):
        limiter(1, retry_after_style="minutes")


@given(
    rate=st.sampled_from([0.5, 1, 2.5, 10]),
    gaps=st.lists(st.floats(min_value=0, max_value=2, allow_nan=False), max_size=60),
)
def test_never_more_than_the_budget(rate: float, gaps: list[float]) -> None:
    """Over any span, allowed requests never exceed one burst plus the refill."""
    bucket, clock = limiter(rate)
    allowed = 0
    for gap in gaps:
        clock.advance(gap)
        allowed += bucket.check("t").allowed
    elapsed = clock.now - START
    assert allowed <= max(1.0, rate) + rate * elapsed + 1e-9


# -- the limit over HTTP ------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def limited(clock: FakeClock) -> Iterator[Sandbox]:
    with Sandbox(rate=2, clock=clock) as sandbox:
        yield sandbox


@pytest.fixture
def api(limited: Sandbox) -> Iterator[Api]:
    client = Api(limited)
    yield client
    client.close()


def test_429_with_retry_after_and_error_body(limited: Sandbox, api: Api, clock: FakeClock) -> None:
    first, second, third = (api.get("/me") for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (200, 200, 429)
    assert error_of(third)["code"] == "RATE_LIMITED"
    assert third.headers["Retry-After"] == "1"
    assert [first.headers["X-RateLimit-Remaining"], second.headers["X-RateLimit-Remaining"]] == [
        "1",
        "0",
    ]
    assert all(r.headers["X-RateLimit-Limit"] == "2" for r in (first, second, third))
    clock.advance(0.5)
    assert api.get("/me").status_code == 200
    assert [r.status for r in limited.requests()] == [200, 200, 429, 200]


def test_rate_limit_headers_on_errors_too(api: Api) -> None:
    response = api.get("/releases/rel_404")
    assert response.status_code == 404
    assert response.headers["X-RateLimit-Remaining"] == "1"


def test_http_date_style_over_http(limited: Sandbox, api: Api) -> None:
    limited.set_rate_limit(1, retry_after_style="date")
    api.get("/me")
    refused = api.get("/me")
    assert refused.status_code == 429
    assert parsedate_to_datetime(refused.headers["Retry-After"]).timestamp() == START + 1


def test_the_date_header_is_on_the_sandbox_clock(
    limited: Sandbox, api: Api, clock: FakeClock
) -> None:
    # A client reads Retry-After dates and X-RateLimit-Reset against the Date
    # header; on another clock they would ask it to wait for weeks.
    clock.advance(3600.5)
    limited.set_rate_limit(1, retry_after_style="date")
    api.get("/me")
    refused = api.get("/me")
    date = parsedate_to_datetime(refused.headers["Date"]).timestamp()
    assert date == START + 3600
    assert parsedate_to_datetime(refused.headers["Retry-After"]).timestamp() == date + 2
    assert float(refused.headers["X-RateLimit-Reset"]) == START + 3601.5


def test_no_headers_and_no_retry_after(limited: Sandbox, api: Api) -> None:
    limited.set_rate_limit(1, headers=False, retry_after_style=None)
    assert "X-RateLimit-Limit" not in api.get("/me").headers
    refused = api.get("/me")
    assert refused.status_code == 429
    assert not any(h.startswith(("X-RateLimit", "Retry-After")) for h in refused.headers)


def test_turning_the_limit_off(limited: Sandbox, api: Api) -> None:
    limited.set_rate_limit(None)
    assert all(api.get("/me").status_code == 200 for _ in range(5))


def test_unauthenticated_and_faulted_requests_spend_nothing(limited: Sandbox, api: Api) -> None:
    for _ in range(3):
        assert requests.get(limited.url + "/api/v1/me", timeout=10).status_code == 401
    limited.fail_next(503, count=3)
    for _ in range(3):
        assert api.get("/me").status_code == 503
    assert [api.get("/me").status_code for _ in range(3)] == [200, 200, 429]


def test_rate_limit_over_http(limited: Sandbox, api: Api) -> None:
    state = requests.post(
        limited.url + "/_sandbox/faults",
        json={"rate_limit": {"rate": 1, "retry_after_style": "date", "headers": False}},
        timeout=10,
    ).json()
    assert state["rate_limit"] == {"rate": 1.0, "headers": False, "retry_after_style": "date"}
    assert [api.get("/me").status_code for _ in range(2)] == [200, 429]


def test_reset_restores_the_constructor_rate(limited: Sandbox, api: Api) -> None:
    limited.set_rate_limit(None)
    limited.reset()
    assert [api.get("/me").status_code for _ in range(3)] == [200, 200, 429]


def test_no_rate_limit_by_default() -> None:
    with Sandbox() as sb:
        api = Api(sb)
        try:
            responses = [api.get("/me") for _ in range(20)]
        finally:
            api.close()
    assert all(r.status_code == 200 for r in responses)
    assert "X-RateLimit-Limit" not in responses[0].headers
