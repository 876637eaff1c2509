"""The timing helpers the benchmarks share: settling calls before a timed block, so that a
library whose calls are slow while another library's worker threads still spin is measured
at its own speed."""

import math

import pytest

from tvmprims.timing import best_time, geomean, interleaved_best


class SpinningPools:
    """A fake clock and two fake library calls: a call costs ``cost`` ticks, or ``stalled``
    ticks for the first ``spin_calls`` calls after a call of the other library (its workers
    still spinning)."""

    def __init__(self, cost=(10, 20), stalled=1000, spin_calls=3):
        self.now, self.cost, self.stalled, self.spin_calls = 0.0, cost, stalled, spin_calls
        self.last, self.since_switch, self.calls = None, 0, [0, 0]

    def clock(self):
        return self.now

    def fn(self, which):
        def call():
            if self.last != which:
                self.last, self.since_switch = which, 0
            self.since_switch += 1
            self.calls[which] += 1
            stalled = self.since_switch <= self.spin_calls and self.calls[1 - which] > 0
            self.now += self.stalled if stalled else self.cost[which]
        return call


def test_interleaved_best_measures_each_library_after_the_others_workers_settle():
    pools = SpinningPools()
    best = interleaved_best((pools.fn(0), pools.fn(1)), rounds=3, block_seconds=50,
                            settle=3000, clock=pools.clock)
    assert best == (10, 20)


def test_without_settling_the_stalled_calls_are_what_is_measured():
    """The same pools with no settling time and blocks of two calls: every timed call is a
    stalled one (the failure the settling calls exist to avoid)."""
    pools = SpinningPools()
    best = interleaved_best((pools.fn(0), pools.fn(1)), rounds=3, block_seconds=0, settle=0,
                            clock=pools.clock)
    assert best[1] == 1000


@pytest.mark.parametrize("rounds", [1, 4])
def test_interleaved_best_alternates_and_times_two_calls_at_least(rounds):
    order = []
    fns = (lambda: order.append(0), lambda: order.append(1))
    interleaved_best(fns, rounds=rounds, block_seconds=0, settle=0)
    # Per round: one settling call, then two timed calls, of each function in turn.
    assert order == ([0] * 3 + [1] * 3) * rounds


def test_best_time_is_per_call_and_settles_first():
    calls = []
    seconds = best_time(lambda: calls.append(1), min_seconds=0.01, repeat=2, settle=0.02)
    assert 0 < seconds < 0.01 and len(calls) > 3


def test_geomean():
    assert geomean([2.0, 8.0]) == pytest.approx(4.0)
    assert math.isnan(geomean([]))
    assert geomean([], empty=1.0) == 1.0
