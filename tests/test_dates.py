"""Dates as people read them: one module for pages, readiness text, PDFs and messages."""
from datetime import UTC, date, datetime

import pytest

from fieldkit import dates


@pytest.mark.parametrize(("value", "options", "text"), [
    (date(2026, 12, 3), {}, "3 Dec 2026"),
    ("2026-12-03", {"year": 2026}, "3 Dec"),
    (date(2027, 1, 4), {"year": 2026}, "4 Jan 2027"),
    (date(2026, 12, 3), {"weekday": True}, "Thu 3 Dec 2026"),
    (date(2026, 12, 3), {"weekday": True, "year": 2026}, "Thu 3 Dec"),
    (datetime(2026, 12, 3, 23, 59, tzinfo=UTC), {}, "3 Dec 2026"),
])
def test_day(value, options, text):
    assert dates.day(value, **options) == text


@pytest.mark.parametrize(("options", "text"), [
    ({}, "3 Dec 2026, 14:09 UTC"), ({"year": False, "zone": False}, "3 Dec 14:09"),
    ({"year": False, "zone": False, "seconds": True}, "3 Dec 14:09:12")])
def test_moment_from_iso_text_or_datetime(options, text):
    assert dates.moment("2026-12-03T14:09:12+00:00", **options) == text
    assert dates.moment(datetime(2026, 12, 3, 14, 9, 12, tzinfo=UTC), **options) == text


@pytest.mark.parametrize(("today", "text"), [
    (date(2026, 11, 24), "Move-in is in 9 days (X)."), (date(2026, 12, 2), "Move-in is tomorrow (X)."),
    (date(2026, 12, 3), "Move-in is today (X)."), (date(2026, 12, 4), "Move-in was 1 day ago (X)."),
    (date(2026, 12, 6), "Move-in was 3 days ago (X).")])
def test_move_in_sentence(today, text):
    assert dates.move_in_sentence(date(2026, 12, 3), today, "X") == text
