"""im2col kernels of a batch on small planes: one GEMM per image against one GEMM whose
columns are (image, pixel) (`schedules/cpu/conv2d_im2col.py`, `images_as_columns`;
docs/BENCHMARKS.md, "Images as columns"). Both are the hand schedule: the rule is forced
each way. Kernels and torch's `F.conv2d`, ms, best of 5 interleaved rounds. Usage:

    PYTHONPATH=. python docs/images_as_columns.py [NxCxHxW-O[/S] ...]

(default: the layers quoted at ``STORE_COST``; ``/S`` a stride).
"""

import os
import sys

os.environ["TVMPRIMS_KERNEL_CACHE"] = "off"  # the two variants share a cache key

import numpy as np  # noqa: E402
import torch  # noqa: E402

import tvmprims  # noqa: E402
from tvmprims.ops import conv2d_im2col  # noqa: E402
from tvmprims.schedules.common import vector_lanes  # noqa: E402
from tvmprims.schedules.cpu import conv2d_im2col as schedule  # noqa: E402
from tvmprims.schedules.hardware import cpu_params  # noqa: E402
from tvmprims.target import resolve_target  # noqa: E402
from tvmprims.timing import interleaved_best  # noqa: E402

LAYERS = ("8x512x7x7-2048", "4x512x7x7-2048", "8x320x7x7-1280", "4x128x1x1-512",
          "8x256x7x7-768", "8x256x7x7-512", "8x128x14x14-512", "8x64x14x14-1024",
          "8x1152x7x7-320", "8x96x3x3-640", "8x192x7x7-1152", "8x576x7x7-160", "8x160x7x7-960",
          "16x512x1x1-1000", "8x2048x7x7-512", "8x1024x14x14-2048/2")


def _kernel(x_shape, w_shape, stride, as_columns):
    """The hand kernel with the images as columns (``as_columns``) or one GEMM per image."""
    real = schedule.images_as_columns
    schedule.images_as_columns = lambda *args, **kwargs: as_columns
    try:
        tvmprims.clear_cache()
        return tvmprims.build("conv2d_im2col", x_shape, w_shape, stride=stride,
                              schedule="hand")
    finally:
        schedule.images_as_columns = real


def main(layers=LAYERS):
    torch.set_num_threads(int(os.environ.get("TVM_NUM_THREADS", os.cpu_count())))
    target = resolve_target(None)
    for layer in layers:
        image, out = layer.split("-")
        out, _, stride = out.partition("/")
        stride = int(stride or 1)
        x_shape = tuple(map(int, image.split("x")))
        w_shape = (int(out), x_shape[1], 1, 1)
        workload = conv2d_im2col.workload(x_shape, w_shape, stride=stride)
        images, _, m, n, k = schedule.gemm_shape(workload)
        rule = schedule.images_as_columns(images, m, n, k, vector_lanes(target, "float32"),
                                          cpu_params(target))
        x = np.random.rand(*x_shape).astype(np.float32)
        weight = np.random.rand(*w_shape).astype(np.float32)
        out_array = np.empty(workload.output_shape, np.float32)
        calls = []
        for as_columns in (False, True):
            func = _kernel(x_shape, w_shape, stride, as_columns).module["main"]
            calls.append(lambda f=func: f(x, weight, out_array))
        xt, wt = torch.from_numpy(x), torch.from_numpy(weight)
        calls.append(lambda: torch.nn.functional.conv2d(xt, wt, stride=stride))
        per_image, as_columns, reference = interleaved_best(calls, rounds=5)
        print(f"{layer}: per image {per_image * 1e3:.3f} ms, images as columns "
              f"{as_columns * 1e3:.3f} ms ({per_image / as_columns:.2f}x; torch "
              f"{reference * 1e3:.3f}); the rule takes {'columns' if rule else 'per image'}",
              flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or LAYERS))
