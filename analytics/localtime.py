"""Calendar months and days in the store's time zone, computed by the database.

Timestamps are stored in UTC, but a December order placed late on 31 December in a store
east of Greenwich belongs to January. PostgreSQL converts with ``timezone(zone, ts)`` (the
zone is a bound parameter). SQLite has no time zone data, so the UTC offsets in force over
the data's time span are worked out in Python and passed as a ``CASE`` of bound instants:
the same months and days on both backends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import (
    ColumnElement,
    Connection,
    Date,
    Integer,
    String,
    bindparam,
    case,
    cast,
    func,
    literal,
    select,
    type_coerce,
)

from models.base import UTCDateTime
from models.settings import get_settings

EPOCH_JULIAN = 2440587.5  # julianday('1970-01-01')


def store_zone(name: str | None = None) -> str:
    """The zone reports count months and days in: ``name``, else the store's setting."""
    name = name or get_settings().default_time_zone
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}; expected an IANA name such as Europe/London or UTC"
        ) from None
    return name


def local_midnight(day: date, zone: str) -> datetime:
    """The UTC instant at which ``day`` starts in ``zone``."""
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def month_index(day: date) -> int:
    """Months since 1970-01, the integer every month expression returns."""
    return (day.year - 1970) * 12 + day.month - 1


def month_label(index: int) -> str:
    return f"{1970 + index // 12:04d}-{index % 12 + 1:02d}"


def offsets(zone: str, start: datetime, end: datetime) -> list[tuple[datetime | None, int]]:
    """The zone's UTC offsets (seconds) over [start, end]: [(from_instant, offset), ...].

    The first entry has no start. Offsets are sampled every 6 hours and each change is
    narrowed to the second, so every transition in the span is found.
    """
    tz = ZoneInfo(zone)

    def offset(at: datetime) -> int:
        return int(at.astimezone(tz).utcoffset().total_seconds())  # type: ignore[union-attr]

    step = timedelta(hours=6)
    at = start.astimezone(UTC) - timedelta(days=1)
    stop = end.astimezone(UTC) + timedelta(days=1)
    out: list[tuple[datetime | None, int]] = [(None, offset(at))]
    while at < stop:
        nxt = at + step
        if offset(nxt) != out[-1][1]:
            lo, hi = at, nxt  # offset(lo) is the current one, offset(hi) the new one
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                lo, hi = (mid, hi) if offset(mid) == out[-1][1] else (lo, mid)
            out.append((hi.replace(microsecond=0), offset(hi)))
        at = nxt
    return out


@dataclass(frozen=True)
class LocalTime:
    """Month and day numbers of UTC timestamp columns in one zone, for one dialect."""

    dialect: str
    zone: str
    shifts: tuple[tuple[datetime | None, int], ...] = ((None, 0),)

    @classmethod
    def over(
        cls,
        conn: Connection,
        zone: str,
        *columns: ColumnElement[datetime],
        pad_days: int = 0,
    ) -> LocalTime:
        """For the span of ``columns`` (min to max, plus ``pad_days``) on this connection."""
        dialect = conn.dialect.name
        if dialect == "postgresql" or zone in ("UTC", "Etc/UTC"):
            return cls(dialect, zone)
        lows, highs = [], []
        for col in columns:
            low, high = conn.execute(select(func.min(col), func.max(col))).one()
            lows += [low] if low else []
            highs += [high] if high else []
        if not lows:
            now = datetime.now(UTC)
            lows, highs = [now], [now]
        start, end = _aware(min(lows)), _aware(max(highs)) + timedelta(days=pad_days)
        return cls(dialect, zone, tuple(offsets(zone, start, end)))

    def _zone(self) -> ColumnElement[str]:
        return bindparam("store_zone", self.zone, type_=String)

    def _modifier(self, col: ColumnElement[datetime]) -> ColumnElement[str] | None:
        """SQLite date modifier ('+3600 seconds') for the offset in force at ``col``."""
        if len(self.shifts) == 1 and self.shifts[0][1] == 0:
            return None

        def text(seconds: int) -> ColumnElement[str]:
            return literal(f"{seconds:+d} seconds", String)

        if len(self.shifts) == 1:
            return text(self.shifts[0][1])
        whens = [
            (col < literal(self.shifts[i + 1][0], UTCDateTime()), text(self.shifts[i][1]))
            for i in range(len(self.shifts) - 1)
        ]
        return case(*whens, else_=text(self.shifts[-1][1]))

    def month(self, col: ColumnElement[datetime]) -> ColumnElement[int]:
        """Months since 1970-01 of ``col`` in the zone (2010-12 is 491)."""
        if self.dialect == "postgresql":
            # date_part returns a float, a third faster than EXTRACT's numeric.
            local = func.timezone(self._zone(), col)
            year = cast(func.date_part("year", local), Integer)
            return (year - 1970) * 12 + cast(func.date_part("month", local), Integer) - 1
        mod = self._modifier(col)
        args = (col,) if mod is None else (col, mod)
        year = cast(func.strftime("%Y", *args), Integer)
        return (year - 1970) * 12 + cast(func.strftime("%m", *args), Integer) - 1

    def day(self, col: ColumnElement[datetime]) -> ColumnElement[int]:
        """Days since 1970-01-01 of ``col`` in the zone."""
        if self.dialect == "postgresql":
            days = cast(func.timezone(self._zone(), col), Date) - cast(literal("1970-01-01"), Date)
            return type_coerce(days, Integer)  # date - date is an integer in PostgreSQL
        mod = self._modifier(col)
        args = (col,) if mod is None else (col, mod)
        return cast(func.julianday(func.date(*args)) - EPOCH_JULIAN, Integer)


def _aware(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
