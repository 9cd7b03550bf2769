"""Moments as the API and the PDFs write them, and the day it is in India."""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

INDIA = ZoneInfo("Asia/Kolkata")  # the calendar of fees, rates, numbers and issue dates


def iso_utc(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC to the second with a ``Z`` (``2026-12-04T11:20:18Z``); a naive moment is
    taken as UTC, as every OpenCoO table stores it."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_z(moment: datetime | None) -> str | None:
    """A naive UTC moment (as the tables store it) in ISO 8601 to the microsecond, with ``Z``:
    how the API and the operators' lists write moments of records."""
    return moment.isoformat() + "Z" if moment is not None else None


def today_in_india() -> date:
    return datetime.now(INDIA).date()
