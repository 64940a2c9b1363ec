"""Dates and times as people read them, the same in the readiness text, pages, PDFs and messages.

English month and weekday names are spelled out here, not taken from the process locale, so a server
set to another locale never changes what a client reads or what a sign-off snapshot says.
"""
from datetime import date, datetime

from .errors import ValidationError

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)  # of a move-in or a due date


def _as_date(value: date | str) -> date:
    if isinstance(value, datetime):
        return value.date()
    return date.fromisoformat(value) if isinstance(value, str) else value


def day(value: date | str, *, year: int | None = None, weekday: bool = False) -> str:
    """'3 Dec 2026'; with `year`, the year is left out when it is that one ('3 Dec'); with `weekday`,
    the day's name comes first ('Thu 3 Dec 2026')."""
    value = _as_date(value)
    text = f"{value.day} {MONTHS[value.month - 1]}"
    if value.year != year:
        text += f" {value.year}"
    return f"{WEEKDAYS[value.weekday()]} {text}" if weekday else text


def moment(value: datetime | str, *, year: bool = True, seconds: bool = False, zone: bool = True) -> str:
    """'3 Dec 2026, 14:09 UTC' for a UTC timestamp; shorter with year/zone off ('3 Dec 14:09')."""
    value = datetime.fromisoformat(value) if isinstance(value, str) else value
    clock = f"{value:%H:%M:%S}" if seconds else f"{value:%H:%M}"
    if not year:
        return f"{value.day} {MONTHS[value.month - 1]} {clock}" + (" UTC" if zone else "")
    return f"{day(value)}, {clock}" + (" UTC" if zone else "")


def move_in_sentence(move_in: date, today: date, when: str) -> str:
    """'Move-in is in 9 days (when).', '... tomorrow ...', '... today ...', 'Move-in was 2 days ago (when).'"""
    days = (move_in - today).days
    if days > 1:
        return f"Move-in is in {days} days ({when})."
    if days == 1:
        return f"Move-in is tomorrow ({when})."
    if days == 0:
        return f"Move-in is today ({when})."
    return f"Move-in was {-days} day{'' if days == -1 else 's'} ago ({when})."


def first_upper(text: str) -> str:
    return text[:1].upper() + text[1:]


def parse_date(value, field: str) -> date:
    """A YYYY-MM-DD string as a date, or a ValidationError that says what was wrong."""
    if not isinstance(value, str):
        raise ValidationError(f"'{field}' must be a date written YYYY-MM-DD.", "bad_date")
    try:
        if len(value) != 10:  # fromisoformat also takes 20261203 and 2026-W49-4
            raise ValueError
        parsed = date.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"'{field}' must be a date written YYYY-MM-DD, not '{value[:40]}'.",
                              "bad_date") from None
    if not FIRST_DAY <= parsed <= LAST_DAY:  # a typo such as 9999, and due dates past the calendar's end
        raise ValidationError(f"'{field}' must be a date between {FIRST_DAY.year} and {LAST_DAY.year}, not "
                              f"{value}.", "bad_date")
    return parsed
