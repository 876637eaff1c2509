"""im2col 1x1 kernels with B packed in a pass of its own against B packed inside the GEMM's
parallel loop, where `schedules/gemm_tiling.py`'s `b_packing` places it (per panel, per image
or per core; docs/BENCHMARKS.md, "Two FMAs a cycle" and "B packed per core"). Both are the
hand schedule; the pass is forced by making `b_packing` answer "pass". Kernels, us, best of
20 interleaved blocks. Usage:

    PYTHONPATH=. python docs/panel_packing.py [--unbounded] [[N]xCxHxW-O ...]

(default: the layers of the measurements quoted at PANEL_PACKING_MAX_ROWS and b_packing).
``--unbounded`` lifts both bounds (the rows of per-panel packing, the L2 size of per-core
packing): how the layers above them were measured.
"""

import dataclasses
import os
import sys
import timeit

os.environ["TVMPRIMS_KERNEL_CACHE"] = "off"  # the two variants share a cache key

import numpy as np  # noqa: E402

import tvmprims  # noqa: E402
from tvmprims.schedules import gemm_tiling  # noqa: E402
from tvmprims.schedules.hardware import CpuParams  # noqa: E402

LAYERS = ("144x56x56-24", "256x56x56-64", "96x28x28-40", "16x112x112-48", "96x14x14-40",
          "40x28x28-192", "40x28x28-240", "960x14x14-128", "64x56x56-192",
          "40x14x14-240", "232x7x7-232", "288x7x7-96", "400x7x7-400", "96x14x14-576",
          "544x7x7-128", "2048x7x7-128", "1024x14x14-256", "2048x7x7-512", "512x28x28-512",
          "8x40x14x14-240", "8x232x7x7-232", "8x40x28x28-240", "8x40x28x28-192",
          "8x32x28x28-192")


def _kernel(x_shape, w_shape, inside, unbounded=False):
    """The hand kernel, B packed where ``b_packing`` places it (``inside``) or in a pass of its
    own, and the placement the schedule used."""
    real = gemm_tiling.b_packing, gemm_tiling.PANEL_PACKING_MAX_ROWS
    chosen = []

    def placement(sch, outer, m, n, k, mi, ni, cores, params=None, itemsize=4):
        if unbounded:
            params = dataclasses.replace(params or CpuParams(), gemm_in_l2_bytes=sys.maxsize)
        chosen.append(real[0](sch, outer, m, n, k, mi, ni, cores, params, itemsize)
                      if inside else "pass")
        return chosen[-1]

    gemm_tiling.b_packing = placement
    if unbounded:
        gemm_tiling.PANEL_PACKING_MAX_ROWS = sys.maxsize
    try:
        tvmprims.clear_cache()
        kernel = tvmprims.build("conv2d_im2col", x_shape, w_shape, schedule="hand")
        return kernel, chosen[0] if chosen else "none"
    finally:
        gemm_tiling.b_packing, gemm_tiling.PANEL_PACKING_MAX_ROWS = real


def main(layers=LAYERS, unbounded=False, blocks=20):
    for layer in layers:
        image, out = layer.split("-")
        dims = list(map(int, image.split("x")))
        n, c, h, w = dims if len(dims) == 4 else [1] + dims
        x_shape, w_shape = (n, c, h, w), (int(out), c, 1, 1)
        x = np.random.rand(*x_shape).astype(np.float32)
        weight = np.random.rand(*w_shape).astype(np.float32)
        kernels = {"pass": _kernel(x_shape, w_shape, False)[0]}
        kernels["inside"], place = _kernel(x_shape, w_shape, True, unbounded)
        calls = {}
        for name, kernel in kernels.items():
            out_array = np.empty(kernel.workload.output_shape, np.float32)
            calls[name] = (lambda f=kernel.module["main"], o=out_array: f(x, weight, o))
        best = dict.fromkeys(calls, float("inf"))
        number = max(1, int(2e-3 / (timeit.timeit(calls["pass"], number=3) / 3)))
        for _ in range(blocks):
            for name, call in calls.items():
                best[name] = min(best[name], timeit.timeit(call, number=number) / number)
        print(f"{layer}: pass {best['pass'] * 1e6:.1f} us, per {place} "
              f"{best['inside'] * 1e6:.1f} us ({best['pass'] / best['inside']:.2f}x)")


if __name__ == "__main__":
    args = sys.argv[1:]
    unbounded = "--unbounded" in args
    sys.exit(main([a for a in args if a != "--unbounded"] or LAYERS, unbounded))
