"""Source dates: every timestamp in an artifact comes from its inputs, never from the clock.

The upstream lock records one ``source_date`` per exporter (the newest member mtime of its
release archives); packages, images, catalog entries and repository metadata all take their
times from it, so the same inputs give byte-identical outputs.
"""

from __future__ import annotations

import calendar
import time

from hub.common.errors import HubError

SOURCE_DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # the lock's and the catalog's format, always UTC
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def parse_source_date(value: str | int) -> int:
    """Seconds since the epoch from an int, a string of digits (SOURCE_DATE_EPOCH style) or a
    UTC time like 2025-06-01T12:00:00Z. HubError for anything else."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise HubError(f"source date {value}: expected seconds since 1970 (>= 0)")
        return value
    text = value.strip() if isinstance(value, str) else None
    if text is not None and text.isdigit():
        return int(text)
    try:
        return calendar.timegm(time.strptime(text, SOURCE_DATE_FORMAT)) if text is not None else _refuse(value)
    except ValueError:
        return _refuse(value)


def _refuse(value: object) -> int:
    raise HubError(f"source date {value!r}: expected a UTC time like 2025-06-01T12:00:00Z or seconds since 1970")


def format_source_date(epoch: int) -> str:
    """Seconds since the epoch -> 2025-06-01T12:00:00Z."""
    return time.strftime(SOURCE_DATE_FORMAT, time.gmtime(int(epoch)))


def rfc2822_date(epoch: int) -> str:
    """APT's Date: format (RFC 2822 in UTC, English names, whatever the locale)."""
    t = time.gmtime(epoch)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} UTC"
    )
