"""Local time for the synthetic store, vectorised: UTC offsets per zone and ISO 8601 text.

Timestamps are written in each customer's local time with its offset
(``2026-11-23T09:30:00+03:00``), as a store's export would be. Offsets come from an
hourly table per zone built once from :mod:`zoneinfo`, so daylight-saving changes are
right without a Python call per timestamp.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np

HOUR = 3600
DAY = 86_400


class OffsetTable:
    """UTC offsets in seconds of several zones, hour by hour over ``[start, stop)`` (epoch s)."""

    def __init__(self, zones: list[str], start: float, stop: float) -> None:
        self.start = int(start // DAY * DAY)
        days = int((stop - self.start) // DAY) + 2
        self.table = np.zeros((len(zones), days * 24), dtype=np.int32)
        for z, name in enumerate(zones):
            zone = ZoneInfo(name)

            def offset(epoch: int, zone: ZoneInfo = zone) -> int:
                local = datetime.fromtimestamp(epoch, UTC).astimezone(zone)
                return int(local.utcoffset().total_seconds())  # type: ignore[union-attr]

            daily = np.array([offset(self.start + d * DAY) for d in range(days + 1)])
            self.table[z] = np.repeat(daily[:-1], 24)
            for d in np.flatnonzero(daily[:-1] != daily[1:]):  # a change happens that day
                for h in range(24):
                    self.table[z, d * 24 + h] = offset(self.start + int(d) * DAY + h * HOUR)

    def offsets(self, zone: np.ndarray, utc: np.ndarray) -> np.ndarray:
        hour = ((utc - self.start) // HOUR).astype(np.int64)
        return self.table[zone, np.clip(hour, 0, self.table.shape[1] - 1)]

    def local_day(self, zone: np.ndarray, utc: np.ndarray) -> np.ndarray:
        """Start of the local calendar day holding each instant, as local epoch seconds."""
        return (utc + self.offsets(zone, utc)) // DAY * DAY

    def at_local(self, zone: np.ndarray, local: np.ndarray) -> np.ndarray:
        """The UTC instant of a local wall-clock time (the offset of the nearby instant)."""
        return local - self.offsets(zone, local - self.offsets(zone, local))

    def iso(self, zone: np.ndarray, utc: np.ndarray) -> np.ndarray:
        """``YYYY-MM-DDTHH:MM:SS+HH:MM`` in each zone's local time; always the same instant."""
        if not len(utc):
            return np.array([], dtype=str)
        utc = np.floor(utc).astype(np.int64)
        off = self.offsets(zone, utc)
        text = np.datetime_as_string((utc + off).astype("datetime64[s]"), unit="s")
        values, inverse = np.unique(off, return_inverse=True)
        suffixes = np.array([_suffix(int(v)) for v in values])
        return np.char.add(text, suffixes[inverse])


def _suffix(seconds: int) -> str:
    sign = "-" if seconds < 0 else "+"
    minutes = abs(seconds) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
