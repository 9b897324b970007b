"""The sweeper's reckoning of database time (sweeper.ClockOffset).

A sweeper converts deadlines (database time) into sleeps on its event loop's clock. Each
sweep's answer gives a lower bound of the offset between the two clocks; a slow answer
(a sweep under load) gives a loose one. Reckoning from the loose one made every timer
of the next burst fire late by the slow sweep's duration.
"""

from __future__ import annotations

from hotmesh_temporal._engine.worker.sweeper import OFFSET_WINDOW_SECONDS, ClockOffset

TRUE_OFFSET = 1_000_000.0  # database epoch minus loop.time()


def answer(clock: ClockOffset, read_at: float, received_at: float) -> None:
    """A sweep sent 1 ms before its database clock was read at loop time read_at, answered
    at received_at."""
    clock.measured(read_at + TRUE_OFFSET, read_at - 0.001, received_at)


def test_nothing_known_before_the_first_sweep() -> None:
    assert ClockOffset().now_epoch(5.0) is None


def test_a_slow_answer_does_not_make_the_sweeper_late() -> None:
    clock = ClockOffset()
    answer(clock, read_at=10.0, received_at=10.0005)  # idle: answered in 0.5 ms
    answer(clock, read_at=11.0, received_at=11.020)  # under load: 20 ms to get back
    # Database time is reckoned from the tight measurement, 0.5 ms behind at most.
    now = clock.now_epoch(12.0)
    assert now is not None
    assert TRUE_OFFSET + 12.0 - 0.0005 <= now <= TRUE_OFFSET + 12.0


def test_never_ahead_of_the_database() -> None:
    clock = ClockOffset()
    for i, delay in enumerate([0.003, 0.010, 0.0001, 0.050]):
        answer(clock, read_at=float(i), received_at=i + delay)
        now = clock.now_epoch(float(i) + 1)
        assert now is not None and now <= TRUE_OFFSET + i + 1


def test_old_measurements_expire() -> None:
    clock = ClockOffset()
    clock.measured(2_000_000.0, -0.001, 0.0)  # a clock far ahead, long ago
    answer(clock, read_at=OFFSET_WINDOW_SECONDS + 1, received_at=OFFSET_WINDOW_SECONDS + 1.002)
    now = clock.now_epoch(OFFSET_WINDOW_SECONDS + 2)
    assert now is not None and now <= TRUE_OFFSET + OFFSET_WINDOW_SECONDS + 2


def test_a_clock_that_stepped_back_is_noticed_at_the_next_sweep() -> None:
    clock = ClockOffset()
    clock.measured(2_000_000.0 + 1.0, 0.999, 1.0)  # the database clock then stepped back
    answer(clock, read_at=2.0, received_at=2.002)
    now = clock.now_epoch(3.0)
    assert now is not None and TRUE_OFFSET + 3.0 - 0.002 <= now <= TRUE_OFFSET + 3.0
