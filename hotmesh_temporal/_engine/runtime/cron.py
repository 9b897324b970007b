"""One parser and matcher for every recurring time: a workflow's ``cron_schedule`` and
a schedule's ``ScheduleSpec`` (calendars, intervals, cron expressions, skips).

Fields are held as Temporal's ranges, ``(start, end, step)`` triples, so a parsed cron
string becomes the same structured calendar a schedule's description shows. Calendar
times are matched in an IANA time zone (``zoneinfo``): a wall time that falls in a
spring-forward gap happens at the same instant an hour later on the clock (as Go's
``time.Date`` normalises it), and a wall time that occurs twice in the autumn happens
once, at its first occurrence.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Range = tuple[int, int, int]  # inclusive start, inclusive end, step

# Bounds of each calendar field, in the order of a 7-field cron string.
_BOUNDS = {
    "second": (0, 59),
    "minute": (0, 59),
    "hour": (0, 23),
    "day_of_month": (1, 31),
    "month": (1, 12),
    "day_of_week": (0, 6),
    "year": (1970, 2199),
}
_MONTHS = {
    n: i + 1 for i, n in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split())
}
_WEEKDAYS = {n: i for i, n in enumerate("SUN MON TUE WED THU FRI SAT".split())}
_SHORTHANDS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_MAX_SEARCH_DAYS = 366 * 5
UTC = timezone.utc


class CronError(ValueError):
    """A cron string or calendar spec that cannot be understood."""


# ------------------------------------------------------------------------ time zones


def zone(name: str | None) -> ZoneInfo | timezone:
    """The time zone called ``name`` (UTC when empty)."""
    if not name or name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise CronError(f"unknown time zone {name!r}") from err


# ------------------------------------------------------------------------ calendars


@dataclass(frozen=True)
class CalendarSpec:
    """A structured calendar, every field a tuple of ranges (Temporal's defaults: at
    second 0 of minute 0 of hour 0, on every day). An empty ``year`` means any year.
    ``dom_or_dow`` gives classic cron's rule: when both day fields are restricted, a
    day matching either one matches."""

    second: tuple[Range, ...] = ((0, 0, 1),)
    minute: tuple[Range, ...] = ((0, 0, 1),)
    hour: tuple[Range, ...] = ((0, 0, 1),)
    day_of_month: tuple[Range, ...] = ((1, 31, 1),)
    month: tuple[Range, ...] = ((1, 12, 1),)
    year: tuple[Range, ...] = ()
    day_of_week: tuple[Range, ...] = ((0, 6, 1),)
    comment: str = ""
    dom_or_dow: bool = False

    def compile(self) -> Calendar:
        return Calendar(self)


def _values(ranges: Sequence[Range], name: str) -> frozenset:
    low, high = _field_bounds(name)
    out: set[int] = set()
    for start, end, step in ranges:
        end = max(end, start)
        step = step or 1
        if start < low or end > high or step < 1:
            raise CronError(f"{name} range {start}-{end}/{step} is outside {low}-{high}")
        out.update(range(start, end + 1, step))
    if name == "day_of_week" and 7 in out:
        out.discard(7)
        out.add(0)  # 7 is Sunday too
    return frozenset(out)


def _field_bounds(name: str) -> tuple[int, int]:
    low, high = _BOUNDS[name]
    return (low, 7) if name == "day_of_week" else (low, high)


def _is_full(ranges: Sequence[Range], name: str) -> bool:
    return _values(ranges, name) == frozenset(range(_BOUNDS[name][0], _BOUNDS[name][1] + 1))


class Calendar:
    """A compiled calendar: which local wall times it matches."""

    def __init__(self, spec: CalendarSpec) -> None:
        self.spec = spec
        seconds = sorted(_values(spec.second, "second"))
        minutes = sorted(_values(spec.minute, "minute"))
        hours = sorted(_values(spec.hour, "hour"))
        self.days = _values(spec.day_of_month, "day_of_month")
        self.months = _values(spec.month, "month")
        self.years = _values(spec.year, "year") if spec.year else None
        self.weekdays = _values(spec.day_of_week, "day_of_week")
        self.any_day = _is_full(spec.day_of_month, "day_of_month")
        self.any_weekday = _is_full(spec.day_of_week, "day_of_week")
        # Every matching time of day, in order, as seconds since midnight.
        self.times = [h * 3600 + m * 60 + s for h in hours for m in minutes for s in seconds]
        if not (self.times and self.days and self.months and self.weekdays):
            raise CronError("calendar spec matches no time")

    def matches_day(self, d: date) -> bool:
        if d.month not in self.months or (self.years is not None and d.year not in self.years):
            return False
        dom = d.day in self.days
        dow = (d.isoweekday() % 7) in self.weekdays
        if self.spec.dom_or_dow and not (self.any_day or self.any_weekday):
            return dom or dow
        return dom and dow

    def matches(self, local: datetime) -> bool:
        tod = local.hour * 3600 + local.minute * 60 + local.second
        i = bisect.bisect_left(self.times, tod)
        return i < len(self.times) and self.times[i] == tod and self.matches_day(local.date())

    def next_after(self, after: datetime, tz: ZoneInfo | timezone) -> datetime | None:
        """The first matching instant strictly after ``after`` (UTC), or None."""
        local = after.astimezone(tz)
        day = local.date() - timedelta(days=1)  # a DST shift can move wall time back
        floor = local.replace(tzinfo=None) - timedelta(hours=3)
        last_year = max(self.years) if self.years is not None else None
        for _ in range(_MAX_SEARCH_DAYS):
            if last_year is not None and day.year > last_year:
                return None
            if self.matches_day(day):
                found = self._first_on(day, after, floor, tz)
                if found is not None:
                    return found
            day += timedelta(days=1)
        return None

    def _first_on(
        self, day: date, after: datetime, floor: datetime, tz: ZoneInfo | timezone
    ) -> datetime | None:
        start = 0
        if day == floor.date():
            # Wall times more than 3 hours before ``after`` cannot be after it.
            start = bisect.bisect_left(self.times, floor.hour * 3600 + floor.minute * 60)
        elif day < floor.date():
            return None
        midnight = datetime(day.year, day.month, day.day)
        for tod in self.times[start:]:
            wall = midnight + timedelta(seconds=tod)
            instant = wall.replace(tzinfo=tz).astimezone(UTC)
            if instant > after:
                return instant
        return None


# ------------------------------------------------------------------------ intervals


@dataclass(frozen=True)
class IntervalSpec:
    """Every ``every`` since the Unix epoch, shifted by ``offset`` (microseconds)."""

    every_us: int
    offset_us: int = 0

    def next_after(self, after: datetime) -> datetime:
        t = _epoch_us(after)
        n = (t - self.offset_us) // self.every_us + 1
        return _from_epoch_us(n * self.every_us + self.offset_us)


def _epoch_us(t: datetime) -> int:
    delta = t - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def _from_epoch_us(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)


def parse_duration(text: str) -> timedelta:
    """``90s``, ``5m``, ``1h30m``, ``2d``: a duration as cron's ``@every`` writes it."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise CronError(f"invalid duration {text!r} (use e.g. 30s, 5m, 1h30m, 2d)")
    return timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in parts))


# ------------------------------------------------------------------------ cron strings


@dataclass
class ParsedCron:
    """A cron string as a schedule spec holds it: calendars and intervals."""

    calendars: list[CalendarSpec] = field(default_factory=list)
    intervals: list[IntervalSpec] = field(default_factory=list)
    time_zone_name: str = ""


def parse_cron(text: str, *, classic: bool = False) -> ParsedCron:
    """Parse a cron string.

    ``classic`` is a workflow's ``cron_schedule`` (robfig/cron, as Temporal's server
    reads it): exactly 5 fields, and a day matching either restricted day field
    matches. Otherwise it is a schedule's cron expression: 5, 6 (with year) or 7 (with
    seconds first) fields, both day fields must match, and a ``# comment`` may follow.
    Both accept ``@hourly``-style shorthands, ``@every <duration>[/<offset>]`` and a
    ``CRON_TZ=<zone>`` or ``TZ=<zone>`` prefix.
    """
    if not isinstance(text, str) or not text.strip():
        raise CronError("empty cron string")
    body = text.strip()
    comment = ""
    if not classic and "#" in body:
        body, comment = (p.strip() for p in body.split("#", 1))
    out = ParsedCron()
    match = re.match(r"(?:CRON_TZ|TZ)=(\S+)\s+(.*)\Z", body)
    if match:
        out.time_zone_name = match.group(1)
        zone(out.time_zone_name)
        body = match.group(2).strip()
    if body.startswith("@every"):
        out.intervals.append(_parse_every(body))
        return out
    body = _SHORTHANDS.get(body.lower(), body)
    if body.startswith("@"):
        raise CronError(f"unknown cron shorthand {body.split()[0]!r}")
    fields = body.split()
    if classic and len(fields) != 5:
        raise CronError(f"cron string {text!r} must have 5 fields, has {len(fields)}")
    names = {
        5: ("minute", "hour", "day_of_month", "month", "day_of_week"),
        6: ("minute", "hour", "day_of_month", "month", "day_of_week", "year"),
        7: ("second", "minute", "hour", "day_of_month", "month", "day_of_week", "year"),
    }.get(len(fields))
    if names is None:
        raise CronError(f"cron string {text!r} must have 5, 6 or 7 fields, has {len(fields)}")
    parsed: dict[str, tuple[Range, ...]] = {"second": ((0, 0, 1),)}
    for name, value in zip(names, fields, strict=False):
        parsed[name] = _parse_field(value, name)
    spec = CalendarSpec(comment=comment, dom_or_dow=classic, **parsed)
    spec.compile()  # fail now on a spec that never matches
    out.calendars.append(spec)
    return out


def _parse_every(body: str) -> IntervalSpec:
    match = re.match(r"@every\s+([0-9.a-z]+)(?:/([0-9.a-z]+))?\s*\Z", body)
    if not match:
        raise CronError(f"invalid @every expression {body!r}")
    every = parse_duration(match.group(1))
    offset = parse_duration(match.group(2)) if match.group(2) else timedelta(0)
    if every <= timedelta(0):
        raise CronError("@every needs a positive duration")
    return IntervalSpec(_td_us(every), _td_us(offset))


def _td_us(td: timedelta) -> int:
    return (td.days * 86400 + td.seconds) * 1_000_000 + td.microseconds


def _parse_field(text: str, name: str) -> tuple[Range, ...]:
    low, high = _BOUNDS[name]
    top = _field_bounds(name)[1]
    if name == "year" and text in ("*", "?"):
        return ()
    ranges = []
    for item in text.split(","):
        part, _, step_text = item.partition("/")
        step = _number(step_text, name, item) if step_text else 1
        if part in ("*", "?"):
            start, end = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = _number(a, name, item), _number(b, name, item)
        else:
            start = _number(part, name, item)
            end = high if step_text else start  # "5/15" means from 5 to the end, every 15
        if start < low or end > top or start > end or step < 1:
            raise CronError(f"invalid {name} {item!r} (allowed {low}-{high})")
        ranges.append((start, end, step))
    return tuple(ranges)


def _number(text: str, name: str, item: str) -> int:
    names = _MONTHS if name == "month" else _WEEKDAYS if name == "day_of_week" else {}
    if text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise CronError(f"invalid {name} {item!r}")
    return int(text)


# ------------------------------------------------------------------------ schedules


@dataclass
class Spec:
    """A compiled schedule spec: the union of its calendars and intervals, minus the
    skip calendars, between ``start_at`` and ``end_at``, in ``tz``."""

    calendars: list[Calendar] = field(default_factory=list)
    intervals: list[IntervalSpec] = field(default_factory=list)
    skip: list[Calendar] = field(default_factory=list)
    tz: ZoneInfo | timezone = UTC
    start_at: datetime | None = None
    end_at: datetime | None = None
    jitter: timedelta = timedelta(0)

    def next_after(self, after: datetime) -> datetime | None:
        """The first nominal time strictly after ``after``."""
        if self.start_at is not None and after < self.start_at:
            after = self.start_at - timedelta(microseconds=1)
        for _ in range(10_000):
            found = [c.next_after(after, self.tz) for c in self.calendars]
            found += [i.next_after(after) for i in self.intervals]
            candidates = [t for t in found if t is not None]
            if not candidates:
                return None
            nominal = min(candidates)
            if self.end_at is not None and nominal > self.end_at:
                return None
            local = nominal.astimezone(self.tz)
            if not any(s.matches(local) for s in self.skip):
                return nominal
            after = nominal
        return None

    def times(self, after: datetime, until: datetime) -> Iterator[datetime]:
        """Nominal times in ``(after, until]``, in order."""
        t = self.next_after(after)
        while t is not None and t <= until:
            yield t
            t = self.next_after(t)

    def jittered(self, nominal: datetime, key: str) -> datetime:
        """The action time of ``nominal``: later by a stable pseudo-random share of
        the jitter, the same on every worker and after a restart. As on Temporal, the
        jitter never reaches the next nominal time, so actions keep their order."""
        if self.jitter <= timedelta(0):
            return nominal
        bound = self.jitter
        following = self.next_after(nominal)
        if following is not None:
            bound = min(bound, following - nominal)
        digest = hashlib.sha256(f"{key}|{nominal.isoformat()}".encode()).digest()
        share = int.from_bytes(digest[:8], "big") / 2**64
        return nominal + timedelta(microseconds=int(_td_us(bound) * share))


# ------------------------------------------------------------------ workflow cron


class CronSchedule:
    """A workflow's ``cron_schedule``: when its next run starts."""

    def __init__(self, text: str) -> None:
        parsed = parse_cron(text, classic=True)
        self.tz = zone(parsed.time_zone_name)
        self.calendar = parsed.calendars[0].compile() if parsed.calendars else None
        self.every = parsed.intervals[0] if parsed.intervals else None

    def next_after(self, after: datetime) -> datetime | None:
        if self.every is not None:
            # robfig's @every counts from the previous time, whole seconds.
            step = after + timedelta(microseconds=self.every.every_us)
            return step.replace(microsecond=0)
        assert self.calendar is not None
        return self.calendar.next_after(after, self.tz)

    def backoff(self, now: datetime) -> timedelta:
        """How long from ``now`` until the next run starts, in whole seconds (rounded
        up, as Temporal does)."""
        nxt = self.next_after(now)
        if nxt is None:
            raise CronError("cron schedule has no next time")
        seconds = (nxt - now).total_seconds()
        whole = int(seconds) if seconds == int(seconds) else int(seconds) + 1
        return timedelta(seconds=max(whole, 0))
