"""Timing, shared by kernels, the benchmarks, the roofline measurements, the MNIST study and
the algorithm search: TVM's ``time_evaluator`` for compiled modules (:func:`evaluate_seconds`)
and repeated ``perf_counter`` calls for anything else (:func:`best_time`); and the
geometric mean the benchmarks summarise ratios with (:func:`geomean`)."""

import math
import time

__all__ = ["evaluate_seconds", "best_time", "geomean"]


def evaluate_seconds(module, device, args, number=0, repeat=5, min_repeat_ms=200):
    """Seconds per call of ``module["main"](*args)`` (device tensors) by TVM's
    ``time_evaluator``: ``repeat`` means, each over ``number`` calls (``0``: as many as fill
    ``min_repeat_ms``)."""
    evaluator = module.time_evaluator("main", device, number=max(int(number), 1),
                                      repeat=repeat, min_repeat_ms=0 if number else min_repeat_ms)
    return tuple(evaluator(*args).results)


def best_time(fn, min_seconds=0.2, repeat=5):
    """Seconds per call of ``fn()`` (numpy, torch, a whole forward pass): the best of
    ``repeat`` means, each over enough calls to fill ``min_seconds / repeat``, after one
    warm-up call."""
    fn()
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-7)
    calls = max(1, int(min_seconds / repeat / once))
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def geomean(values, empty=math.nan):
    """Geometric mean of positive ``values`` (speed ratios, time ratios); ``empty`` when
    there are none."""
    values = list(values)
    if not values:
        return empty
    return math.exp(sum(math.log(v) for v in values) / len(values))
