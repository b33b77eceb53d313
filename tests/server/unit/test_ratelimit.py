"""The token bucket's arithmetic, on an explicit clock (catalogue D1, as Ergo's fakelag_test)."""

from __future__ import annotations

import pytest

from wirechat_server.ratelimit import TokenBucket


def test_burst_then_rate() -> None:
    bucket = TokenBucket(burst=3, rate=2.0, backlog=10.0, now=0.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.wait() == pytest.approx(0.5)
    assert not bucket.take(0.4)
    assert bucket.take(0.5)
    assert not bucket.take(0.5)


def test_tokens_refill_up_to_the_burst_only() -> None:
    bucket = TokenBucket(burst=2, rate=1.0, backlog=10.0, now=0.0)
    assert bucket.take(0.0)
    assert bucket.take(0.0)
    # An hour of silence buys the burst back, not 3,600 requests.
    assert [bucket.take(3600.0) for _ in range(3)] == [True, True, False]


def test_rate_zero_means_no_limit() -> None:
    bucket = TokenBucket(burst=1, rate=0.0, backlog=1.0, now=0.0)
    assert all(bucket.take(0.0) for _ in range(10_000))


@pytest.mark.parametrize(("queued", "cut"), [(20, False), (21, True)])
def test_backlog_is_measured_in_seconds_of_queued_requests(queued: int, cut: bool) -> None:
    bucket = TokenBucket(burst=10, rate=2.0, backlog=10.0, now=0.0)
    assert bucket.too_far_behind(queued) is cut
