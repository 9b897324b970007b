"""The one cron parser and matcher behind cron_schedule and schedule specs."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from hotmesh_temporal._engine.runtime.cron import (
    CalendarSpec,
    CronError,
    CronSchedule,
    IntervalSpec,
    Spec,
    parse_cron,
    parse_duration,
    zone,
)
from hotmesh_temporal._engine.service import schedules

UTC = timezone.utc
T0 = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)  # a Saturday


def spec_of(text: str, **kw) -> Spec:
    parsed = parse_cron(text)
    return Spec(
        calendars=[c.compile() for c in parsed.calendars],
        intervals=parsed.intervals,
        tz=zone(parsed.time_zone_name or kw.pop("tz", None)),
        **kw,
    )


def upcoming(spec: Spec, n: int, after: datetime = T0) -> list:
    out, t = [], after
    for _ in range(n):
        t = spec.next_after(t)
        out.append(t)
    return out


def test_fields_ranges_steps_lists_and_names():
    cal = parse_cron("5,10-20/5 */6 1 JAN-mar MON").calendars[0]
    assert cal.minute == ((5, 5, 1), (10, 20, 5))
    assert cal.hour == ((0, 23, 6),)
    assert cal.month == ((1, 3, 1),)
    assert cal.day_of_week == ((1, 1, 1),)
    assert parse_cron("0 0 * * 7").calendars[0].compile().weekdays == {0}  # 7 is Sunday
    assert parse_cron("15/20 * * * *").calendars[0].minute == ((15, 59, 20),)


def test_six_and_seven_field_forms_and_comment():
    six = parse_cron("0 12 * * * 2030").calendars[0]
    assert six.year == ((2030, 2030, 1),) and six.second == ((0, 0, 1),)
    seven = parse_cron("30 0 12 * * * * # half past").calendars[0]
    assert seven.second == ((30, 30, 1),) and seven.year == () and seven.comment == "half past"


def test_shorthands():
    assert upcoming(spec_of("@hourly"), 2) == [T0 + timedelta(hours=1), T0 + timedelta(hours=2)]
    assert spec_of("@daily").next_after(T0) == datetime(2026, 3, 8, tzinfo=UTC)
    assert spec_of("@weekly").next_after(T0) == datetime(2026, 3, 8, tzinfo=UTC)  # Sunday
    assert spec_of("@monthly").next_after(T0) == datetime(2026, 4, 1, tzinfo=UTC)
    assert spec_of("@yearly").next_after(T0) == datetime(2027, 1, 1, tzinfo=UTC)


def test_every_with_offset_is_epoch_aligned_in_schedules():
    interval = parse_cron("@every 1h/15m").intervals[0]
    assert interval == IntervalSpec(3600 * 10**6, 900 * 10**6)
    assert upcoming(spec_of("@every 1h/15m"), 2) == [
        datetime(2026, 3, 7, 12, 15, tzinfo=UTC),
        datetime(2026, 3, 7, 13, 15, tzinfo=UTC),
    ]
    assert parse_duration("1h30m") == timedelta(minutes=90)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "* * *",
        "61 * * * *",
        "* 24 * * *",
        "* * 0 * *",
        "* * * 13 *",
        "* * * * 8",
        "5-1 * * * *",
        "*/0 * * * *",
        "@often",
        "@every",
        "@every 0s",
        "@every 5x",
        "CRON_TZ=No/Where * * * * *",
        "a b c d e",
    ],
)
def test_bad_strings_are_clear_errors(bad):
    with pytest.raises(CronError):
        parse_cron(bad)


def test_classic_cron_needs_five_fields():
    with pytest.raises(CronError):
        CronSchedule("0 0 12 * * * *")


def test_day_of_month_and_week_or_in_classic_cron_and_in_schedules():
    # 13th of the month OR any Friday (classic); 13th that is a Friday (schedules).
    classic = CronSchedule("0 0 13 * 5")
    assert classic.next_after(T0) == datetime(2026, 3, 13, tzinfo=UTC)  # a Friday and the 13th
    assert classic.next_after(datetime(2026, 3, 14, tzinfo=UTC)) == datetime(
        2026, 3, 20, tzinfo=UTC
    )
    strict = spec_of("0 0 13 * 5")
    assert strict.next_after(datetime(2026, 3, 14, tzinfo=UTC)) == datetime(
        2026, 11, 13, tzinfo=UTC
    )


def test_time_zone_and_dst_changes():
    ny = spec_of("0 9 * * *", tz="America/New_York")
    # 09:00 in New York: 14:00 UTC before the 8 March 2026 change, 13:00 UTC after.
    assert upcoming(ny, 3) == [
        datetime(2026, 3, 7, 14, tzinfo=UTC),
        datetime(2026, 3, 8, 13, tzinfo=UTC),
        datetime(2026, 3, 9, 13, tzinfo=UTC),
    ]
    assert spec_of("CRON_TZ=America/New_York 0 9 * * *").next_after(T0) == datetime(
        2026, 3, 7, 14, tzinfo=UTC
    )
    # 02:30 does not exist on 8 March: it happens at 03:30 EDT (07:30 UTC), once.
    gap = spec_of("30 2 * * *", tz="America/New_York")
    assert upcoming(gap, 2) == [
        datetime(2026, 3, 8, 7, 30, tzinfo=UTC),
        datetime(2026, 3, 9, 6, 30, tzinfo=UTC),
    ]
    # 01:30 happens twice on 1 November: once, at its first occurrence (EDT).
    twice = spec_of("30 1 * * *", tz="America/New_York")
    assert upcoming(twice, 2, datetime(2026, 10, 31, 12, tzinfo=UTC)) == [
        datetime(2026, 11, 1, 5, 30, tzinfo=UTC),
        datetime(2026, 11, 2, 6, 30, tzinfo=UTC),
    ]


def test_skip_start_end_and_exhaustion():
    weekdays_only = spec_of("0 12 * * *", tz=None)
    weekdays_only.skip = [
        CalendarSpec(
            hour=((12, 12, 1),), minute=((0, 0, 1),), day_of_week=((0, 0, 1), (6, 6, 1))
        ).compile()
    ]
    assert weekdays_only.next_after(T0) == datetime(2026, 3, 9, 12, tzinfo=UTC)  # skips Sat and Sun
    bounded = spec_of(
        "@hourly",
        start_at=datetime(2026, 3, 8, tzinfo=UTC),
        end_at=datetime(2026, 3, 8, 2, tzinfo=UTC),
    )
    assert list(bounded.times(T0, datetime(2030, 1, 1, tzinfo=UTC))) == [
        datetime(2026, 3, 8, h, tzinfo=UTC) for h in (0, 1, 2)
    ]
    assert spec_of("0 0 30 2 *").next_after(T0) is None  # 30 February never comes


def test_jitter_is_bounded_and_stable():
    spec = spec_of("@hourly", jitter=timedelta(minutes=5))
    nominal = spec.next_after(T0)
    delayed = [spec.jittered(nominal, f"s{i}") for i in range(20)]
    assert all(nominal <= d < nominal + timedelta(minutes=5) for d in delayed)
    assert len(set(delayed)) > 1
    assert spec.jittered(nominal, "s1") == spec.jittered(nominal, "s1")
    # Never as far as the next time: a jitter longer than the interval keeps the order.
    wide = spec_of("@every 1m", jitter=timedelta(hours=1))
    times = list(wide.times(T0, T0 + timedelta(minutes=30)))
    delayed = [wide.jittered(t, "k") for t in times]
    assert all(t <= d < t + timedelta(minutes=1) for t, d in zip(times, delayed, strict=True))


def test_cron_backoff_rounds_up_to_whole_seconds():
    every_minute = CronSchedule("* * * * *")
    assert every_minute.backoff(datetime(2026, 3, 7, 12, 0, 59, 500000, tzinfo=UTC)) == timedelta(
        seconds=1
    )
    assert every_minute.backoff(T0) == timedelta(minutes=1)  # strictly after now
    every = CronSchedule("@every 90s")  # counted from the previous time
    assert every.next_after(T0 + timedelta(microseconds=5)) == T0 + timedelta(seconds=90)


def test_workflow_ids_use_rfc3339_seconds_in_utc():
    at = datetime(2026, 3, 7, 13, 0, 5, 123456, tzinfo=zone("Europe/Paris"))
    assert schedules.workflow_id_for("wf", at) == "wf-2026-03-07T12:00:05Z"


# ------------------------------------------------------------------ properties

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def _field(low: int, high: int) -> st.SearchStrategy[str]:
    single = st.integers(low, high).map(str)
    span = st.tuples(st.integers(low, high), st.integers(low, high)).map(
        lambda ab: f"{min(ab)}-{max(ab)}"
    )
    step = st.tuples(st.sampled_from(["*", f"{low}"]), st.integers(1, high - low + 1)).map(
        lambda xs: f"{xs[0]}/{xs[1]}"
    )
    item = st.one_of(st.just("*"), single, span, step)
    return st.lists(item, min_size=1, max_size=3).map(",".join)


_minutes_and_hours = st.tuples(_field(0, 59), _field(0, 23), _field(0, 6))
_zones = st.sampled_from(["UTC", "America/New_York", "Europe/Paris", "Australia/Lord_Howe"])
_instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=150, deadline=None)
@given(_minutes_and_hours, _zones, _instants)
def test_next_time_is_the_first_matching_minute_after(fields, tz_name, after):
    """For any minute/hour/weekday cron in any zone, next_after() is strictly later,
    matches the spec on the local clock, and no matching minute lies in between."""
    minute, hour, weekday = fields
    spec = spec_of(f"{minute} {hour} * * {weekday}", tz=tz_name)
    calendar = spec.calendars[0]
    found = spec.next_after(after)
    assert found is not None and found > after
    assert calendar.matches(found.astimezone(spec.tz))
    t = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while t < found:
        local = t.astimezone(spec.tz)
        # Only the second occurrence of a wall time repeated when clocks go back may
        # match without firing (a repeated wall time fires once, at its first).
        assert not calendar.matches(local) or local.fold == 1, (t, found)
        t += timedelta(minutes=1)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_text_parses_or_raises_cron_error(text):
    try:
        parsed = parse_cron(text)
    except CronError:
        return
    assert parsed.calendars or parsed.intervals
