"""Micro-kernels that measure a machine's roofs, as TE computations.

* ``peak_fma``: ``y[i] = sum_{k, r} x[i] * w[r]`` for ``i < threads * chains * lanes``. Each
  thread keeps ``chains`` independent SIMD accumulators in registers (enough to hide the FMA
  latency) and feeds them one broadcast tap ``w[r]`` per step, so the loop is a chain of fused
  multiply-adds with one load per ``chains`` FMAs: compute-bound. ``w`` has ``taps`` entries
  (in L1) and is swept ``repeats`` times. FLOPs: ``2 * len(y) * repeats * taps``.
* ``stream_triad``: ``a[i] = b[i] + 3 * c[i]``, STREAM's triad. Bytes: ``3 * n * itemsize``
  (two reads, one write; write-allocate traffic is not counted, as in STREAM).

Their hand schedules are ``schedule_peak_fma`` and ``schedule_stream_triad`` in
``tvmprims.schedules.<cpu|cuda>.roofline``.
"""

from .._tvm import te

__all__ = ["peak_fma", "stream_triad", "TRIAD_SCALAR", "FMA", "TRIAD"]

#: Stage names, for the schedules.
FMA = "fma"
TRIAD = "triad"

#: The triad's scalar (any value but 0 or 1, which a compiler could simplify).
TRIAD_SCALAR = 3.0


def peak_fma(elements, repeats, taps, dtype="float32"):
    """``[x (elements,), w (taps,), y (elements,)]``; the reduction block is :data:`FMA`."""
    x = te.placeholder((elements,), dtype, name="x")
    w = te.placeholder((taps,), dtype, name="w")
    k = te.reduce_axis((0, repeats), name="k")
    r = te.reduce_axis((0, taps), name="r")
    y = te.compute((elements,), lambda i: te.sum(x[i] * w[r], axis=[k, r]), name=FMA)
    return [x, w, y]


def stream_triad(n, dtype="float32"):
    """``[b (n,), c (n,), a (n,)]``; the block is :data:`TRIAD`."""
    b = te.placeholder((n,), dtype, name="b")
    c = te.placeholder((n,), dtype, name="c")
    a = te.compute((n,), lambda i: b[i] + te.const(TRIAD_SCALAR, dtype) * c[i], name=TRIAD)
    return [b, c, a]
