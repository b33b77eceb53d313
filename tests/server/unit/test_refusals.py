"""The refusal log: one line per address at once, repeats folded, bounded however many attack."""

from __future__ import annotations

import logging

import pytest

from wirechat_server.refusals import RefusalLog

LOGGER = logging.getLogger("wirechat.test.refusals")


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records]


def test_an_address_is_logged_at_once_then_its_repeats_in_one_line_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    refused = RefusalLog(LOGGER, every=60.0)
    with caplog.at_level(logging.WARNING, logger=LOGGER.name):
        for second in range(3000):
            reason = "too_many_connections" if second % 3 else "server_full"
            refused.refused("203.0.113.7", reason, "no", now=second / 100)
        refused.refused("2001:db8::1", "server_full", "full", now=1.0)
        assert lines(caplog) == [
            "refuse 203.0.113.7 reason=server_full: no",
            "refuse 2001:db8::1 reason=server_full: full",
        ]
        refused.report(now=59.0)  # not over yet: nothing
        assert len(caplog.records) == 2
        refused.report(now=60.0)
        assert lines(caplog)[2:] == [
            "refuse 203.0.113.7: 2999 more refused connections in the last 60 s "
            "(too_many_connections x2000, server_full x999)"
        ]
        refused.report(now=61.0)  # the IPv6 one was refused once: nothing to add
        assert len(caplog.records) == 3
        refused.refused("203.0.113.7", "server_full", "again", now=70.0)  # a new interval
        assert lines(caplog)[-1] == "refuse 203.0.113.7 reason=server_full: again"


def test_past_the_tracked_addresses_refusals_share_one_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    refused = RefusalLog(LOGGER, every=60.0, max_tracked=10)
    with caplog.at_level(logging.WARNING, logger=LOGGER.name):
        for index in range(500):
            refused.refused(f"198.51.100.{index % 250}", "server_full", "full", now=0.0)
        assert len(caplog.records) == 10  # the first ten addresses, once each
        refused.report(now=60.0)
        assert lines(caplog)[-1] == (
            "refused 480 more connections from other addresses in the last 60 s "
            "(more than 10 addresses were being refused at once)"
        )
