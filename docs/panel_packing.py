"""im2col 1x1 kernels with B packed in a pass of its own against B packed per panel inside the
GEMM's parallel loop (`schedules/gemm_tiling.py`, `packs_per_panel`; docs/BENCHMARKS.md, "Two
FMAs a cycle"). Both are the hand schedule; the pass is forced by making `packs_per_panel`
answer False. Kernels, us, best of 20 interleaved blocks. Usage:

    PYTHONPATH=. python docs/panel_packing.py [--unbounded] [CxHxW-O ...]

(default: the layers of PANEL_PACKING_MAX_ROWS' measurements). ``--unbounded`` packs per
panel whatever the rows (PANEL_PACKING_MAX_ROWS lifted): how the layers above the bound
were measured.
"""

import os
import sys
import timeit

os.environ["TVMPRIMS_KERNEL_CACHE"] = "off"  # the two variants share a cache key

import numpy as np  # noqa: E402

import tvmprims  # noqa: E402
from tvmprims.schedules import gemm_tiling  # noqa: E402

LAYERS = ("144x56x56-24", "256x56x56-64", "96x28x28-40", "16x112x112-48", "96x14x14-40",
          "40x28x28-192", "40x28x28-240", "960x14x14-128", "64x56x56-192")


def _kernel(x_shape, w_shape, per_panel, unbounded=False):
    real, bound = gemm_tiling.packs_per_panel, gemm_tiling.PANEL_PACKING_MAX_ROWS
    if not per_panel:
        gemm_tiling.packs_per_panel = lambda *args, **kwargs: False
    if unbounded:
        gemm_tiling.PANEL_PACKING_MAX_ROWS = sys.maxsize
    try:
        tvmprims.clear_cache()
        return tvmprims.build("conv2d_im2col", x_shape, w_shape, schedule="hand")
    finally:
        gemm_tiling.packs_per_panel, gemm_tiling.PANEL_PACKING_MAX_ROWS = real, bound


def main(layers=LAYERS, unbounded=False, blocks=20):
    for layer in layers:
        image, out = layer.split("-")
        c, h, w = map(int, image.split("x"))
        x_shape, w_shape = (1, c, h, w), (int(out), c, 1, 1)
        x = np.random.rand(*x_shape).astype(np.float32)
        weight = np.random.rand(*w_shape).astype(np.float32)
        kernels = {"pass": _kernel(x_shape, w_shape, False),
                   "per panel": _kernel(x_shape, w_shape, True, unbounded)}
        calls = {}
        for name, kernel in kernels.items():
            out_array = np.empty(kernel.workload.output_shape, np.float32)
            calls[name] = (lambda f=kernel.module["main"], o=out_array: f(x, weight, o))
        best = dict.fromkeys(calls, float("inf"))
        for _ in range(blocks):
            for name, call in calls.items():
                best[name] = min(best[name], timeit.timeit(call, number=100) / 100)
        print(f"{layer}: pass {best['pass'] * 1e6:.1f} us, per panel "
              f"{best['per panel'] * 1e6:.1f} us ({best['pass'] / best['per panel']:.2f}x)")


if __name__ == "__main__":
    args = sys.argv[1:]
    unbounded = "--unbounded" in args
    sys.exit(main([a for a in args if a != "--unbounded"] or LAYERS, unbounded))
