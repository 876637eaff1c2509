"""Timing, shared by kernels, the benchmarks, the roofline measurements, the MNIST study and
the algorithm search: TVM's ``time_evaluator`` for compiled modules (:func:`evaluate_seconds`)
and repeated ``perf_counter`` calls for anything else (:func:`best_time`, and
:func:`interleaved_best` to compare libraries in one run); and the geometric mean the
benchmarks summarise ratios with (:func:`geomean`).

Every library here keeps a pool of worker threads that busy-waits after each call (TVM's
pool, OpenBLAS's behind numpy, torch's OpenMP): OpenBLAS's spins for about 0.1 s. On a
machine with few cores, a call made while another library's workers still spin runs with
fewer cores: measured on 2 cores, numpy's 3136x64x100 matmul took 8.0 ms right after a
tvmprims call against 0.22 ms on its own, and a tvmprims call after torch ran on one core.
So a measurement first calls the function it times for :data:`SETTLE_SECONDS`, untimed,
until the other pools are asleep (what a program that calls one library meets), then times."""

import math
import time

__all__ = ["evaluate_seconds", "best_time", "interleaved_best", "geomean", "SETTLE_SECONDS"]

#: Seconds a measurement calls its function untimed first, so that the worker threads of the
#: library called before it stop spinning (0.2 s blocks gave the same best times as separate
#: processes on 2 cores; 0.05 s blocks still met 8 ms stalls of a 0.22 ms numpy call).
SETTLE_SECONDS = 0.15


def evaluate_seconds(module, device, args, number=0, repeat=5, min_repeat_ms=200):
    """Seconds per call of ``module["main"](*args)`` (device tensors) by TVM's
    ``time_evaluator``: ``repeat`` means, each over ``number`` calls (``0``: as many as fill
    ``min_repeat_ms``)."""
    evaluator = module.time_evaluator("main", device, number=max(int(number), 1),
                                      repeat=repeat, min_repeat_ms=0 if number else min_repeat_ms)
    return tuple(evaluator(*args).results)


def _settle(fn, seconds, clock=time.perf_counter):
    """Call ``fn`` (once at least) until ``seconds`` have passed; returns the last call's
    seconds."""
    deadline = clock() + seconds
    while True:
        start = clock()
        fn()
        end = clock()
        if end >= deadline:
            return max(end - start, 1e-7)


def best_time(fn, min_seconds=0.2, repeat=5, settle=SETTLE_SECONDS):
    """Seconds per call of ``fn()`` (numpy, torch, a whole forward pass): the best of
    ``repeat`` means, each over enough calls to fill ``min_seconds / repeat``, after
    ``settle`` seconds of untimed calls (see the module's docstring)."""
    once = _settle(fn, settle)
    calls = max(1, int(min_seconds / repeat / once))
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def interleaved_best(fns, rounds=5, block_seconds=0.05, settle=SETTLE_SECONDS,
                     clock=time.perf_counter):
    """Best seconds of one call of each of ``fns`` (tvmprims and a reference), over
    ``rounds`` alternating rounds (fn 0, fn 1, ..., fn 0, ...), so that a slow spell of the
    machine meets both. A round of a function is ``settle`` seconds of untimed calls (the
    other library's workers stop spinning, see the module's docstring), then calls timed one
    by one for ``block_seconds`` (two at least). ``clock``: ``time.perf_counter``, or
    ``time.thread_time`` for one thread's CPU time."""
    best = [math.inf] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            _settle(fn, settle, clock)
            deadline, calls = clock() + block_seconds, 0
            while calls < 2 or clock() < deadline:
                start = clock()
                fn()
                best[i] = min(best[i], clock() - start)
                calls += 1
    return tuple(best)


def geomean(values, empty=math.nan):
    """Geometric mean of positive ``values`` (speed ratios, time ratios); ``empty`` when
    there are none."""
    values = list(values)
    if not values:
        return empty
    return math.exp(sum(math.log(v) for v in values) / len(values))
