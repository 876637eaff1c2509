"""M=1 matrix products (batch-1 fully connected layers) against the memory roof measured in
the same run: ``tvmprims.matmul`` on ``np.random.rand`` arrays, numpy's ``a @ b``, and the
roofline's STREAM triad (``tvmprims.roofline.peaks.triad_kernel``, hand-scheduled, both
cores) over a working set of B's size, timed alternately.

The layer suite's ``percent_of_roof`` divides by bandwidths measured once, at the start of
a run; on the shared 2-core machines the DRAM bandwidth a process gets moves between runs
by up to 1.6x (a 151 MB GEMV: 2.5 to 4.1 ms in consecutive processes, numpy alike), so a
DRAM-bound case is compared here with a roof measured in the same moments.
docs/BENCHMARKS.md, "GEMV threads, and M=1 against a same-run roof".

``PYTHONPATH=. python docs/gemv_roof.py`` on a quiet machine.
"""

import numpy as np

import tvmprims
from tvmprims._tvm import tensor_on
from tvmprims.roofline.peaks import triad_kernel
from tvmprims.target import device_for, resolve_target
from tvmprims.timing import interleaved_best

#: (K, N) of the GEMVs: the suite's, a 4096 x 4096 layer, VGG-16's fc6.
SHAPES = [(2048, 1000), (4096, 4096), (9216, 4095), (25088, 4096)]


def triad(total_bytes, target):
    """A call of the roofline's triad over ``total_bytes`` (its three arrays together), and
    the bytes it moves."""
    module, arrays, moved = triad_kernel(target, "float32", total_bytes)
    args = [tensor_on(a, device_for(target)) for a in arrays]
    return (lambda: module["main"](*args)), moved


def main():
    target = resolve_target(None)
    print(f"{'K x N':<14}{'B MB':>7}{'tvmprims GB/s':>15}{'numpy GB/s':>12}{'triad GB/s':>12}"
          f"{'% of triad':>12}{'x numpy':>9}")
    for k, n in SHAPES:
        a = np.random.rand(1, k).astype(np.float32)
        b = np.random.rand(k, n).astype(np.float32)
        np.testing.assert_allclose(tvmprims.matmul(a, b), a.astype(np.float64) @ b, rtol=1e-4)
        call_triad, triad_bytes = triad(b.nbytes, target)
        ours, ref, roof = interleaved_best(
            [lambda: tvmprims.matmul(a, b), lambda: a @ b, call_triad], rounds=5)
        moved = a.nbytes + b.nbytes + 4 * n
        print(f"{f'{k} x {n}':<14}{b.nbytes / 1e6:>7.0f}{moved / ours / 1e9:>15.1f}"
              f"{moved / ref / 1e9:>12.1f}{triad_bytes / roof / 1e9:>12.1f}"
              f"{100 * (moved / ours) / (triad_bytes / roof):>11.0f}%{ref / ours:>9.2f}")


if __name__ == "__main__":
    main()
