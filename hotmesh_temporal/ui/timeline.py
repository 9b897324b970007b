"""The run page's timeline: activities, timers and child workflows as bars on one time
axis, laid out as percentages so the page draws it with plain HTML and CSS."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from hotmesh_temporal._ops.runs import RunView

# More bars than this make the page slow to draw and no easier to read.
MAX_BARS = 500


@dataclass(frozen=True)
class Bar:
    kind: str
    label: str
    outcome: str
    left: float  # percent of the axis
    width: float  # percent of the axis (at least a sliver, so instants show)
    start: datetime
    end: datetime | None
    first_event_id: int


@dataclass(frozen=True)
class Timeline:
    start: datetime | None
    end: datetime | None
    bars: list[Bar]
    total: int  # bars before the MAX_BARS cut
    ticks: list[tuple[float, str]]  # (percent, label)

    @property
    def cut(self) -> bool:
        return self.total > len(self.bars)


def build_timeline(view: RunView, now: datetime | None = None) -> Timeline:
    spans = view.spans
    if not view.events or view.events[0].time is None:
        return Timeline(None, None, [], 0, [])
    start = view.events[0].time
    end = view.description.close_time or now or datetime.now(timezone.utc)
    last_event = view.events[-1].time or start
    end = max(end, last_event, start)
    length = max((end - start).total_seconds(), 0.001)

    def percent(t: datetime) -> float:
        return min(max((t - start).total_seconds() / length * 100, 0.0), 100.0)

    bars = []
    for span in spans[:MAX_BARS]:
        left = percent(span.start)
        right = percent(span.end or end)
        bars.append(
            Bar(
                span.kind,
                span.label,
                span.outcome,
                left,
                max(right - left, 0.4),
                span.start,
                span.end,
                span.first_event_id,
            )
        )
    ticks = [(p, _offset(length * p / 100)) for p in (0, 25, 50, 75, 100)]
    return Timeline(start, end, bars, len(spans), ticks)


def _offset(seconds: float) -> str:
    if seconds < 1:
        return f"+{seconds * 1000:.0f}ms"
    if seconds < 120:
        return f"+{seconds:.1f}s"
    if seconds < 7200:
        return f"+{seconds / 60:.1f}m"
    return f"+{seconds / 3600:.1f}h"
