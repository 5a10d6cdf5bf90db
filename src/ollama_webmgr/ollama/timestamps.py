"""RFC 3339 timestamps as Ollama writes them.

Go prints nanoseconds (trailing zeros trimmed) and either ``Z`` or a local
offset. Python 3.11's ``datetime.fromisoformat`` accepts offsets but not nine
fraction digits, hence this small parser: the fraction is cut to microseconds.

>>> parse_timestamp("2026-08-21T10:15:30.123456789+02:00")
datetime.datetime(2026, 8, 21, 10, 15, 30, 123456, tzinfo=datetime.timezone(datetime.timedelta(seconds=7200)))
>>> parse_timestamp("2026-08-21T08:15:30Z")
datetime.datetime(2026, 8, 21, 8, 15, 30, tzinfo=datetime.timezone.utc)
>>> parse_timestamp("2026-08-21T08:15:30.5-07:00").isoformat()
'2026-08-21T08:15:30.500000-07:00'

"Forever" keep-alive shows up in ``/api/ps`` around the year 2318; Go's zero
time is year 1. Both fit in a ``datetime``:

>>> parse_timestamp("2318-03-01T12:00:00.000000001Z").year
2318
>>> parse_timestamp("0001-01-01T00:00:00Z").year
1

A naive time, an impossible date or a year past 9999 is rejected:

>>> parse_timestamp("2026-08-21T08:15:30")
Traceback (most recent call last):
...
ValueError: not an RFC 3339 timestamp: '2026-08-21T08:15:30'
>>> parse_timestamp("2026-02-30T00:00:00Z")
Traceback (most recent call last):
...
ValueError: not an RFC 3339 timestamp: '2026-02-30T00:00:00Z'
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})"
    r"(?:\.(\d{1,9}))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)


def parse_timestamp(text: str) -> datetime:
    """Parse an RFC 3339 timestamp into an aware ``datetime`` (microsecond precision)."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, zulu, sign, off_h, off_m = match.groups()[6:]
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    tz = UTC if zulu else _offset(sign, int(off_h), int(off_m))
    try:
        return datetime(year, month, day, hour, minute, second, micros, tzinfo=tz)
    except ValueError:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}") from None


def _offset(sign: str, hours: int, minutes: int) -> timezone:
    if hours > 23 or minutes > 59:
        raise ValueError(f"invalid UTC offset {sign}{hours:02}:{minutes:02}")
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if sign == "-" else delta)
