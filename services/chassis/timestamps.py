"""Moments as the API and the PDFs write them."""
from __future__ import annotations

from datetime import datetime, timezone


def iso_utc(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC to the second with a ``Z`` (``2026-12-04T11:20:18Z``); a naive moment is
    taken as UTC, as every OpenCoO table stores it."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
