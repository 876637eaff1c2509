"""im2col kernels with the K-blocked GEMM (``schedule_cpu_blocked_gemm``) where
``long_k_blocked`` takes it, against the GEMM over all of K (``schedule_cpu_gemm``: what
``conv2d_im2col`` ran before 2026-12-07's sixth Xeon session), and torch's ``F.conv2d``
(docs/BENCHMARKS.md, "K-blocked im2col"). Both are the hand schedule: the path is forced
each way. Kernels, ms, best of 5 interleaved rounds. Usage:

    PYTHONPATH=. python docs/im2col_blocked.py [NxCxHxW-O[/S] ...]
"""

import os
import sys

os.environ["TVMPRIMS_KERNEL_CACHE"] = "off"  # the two variants share a cache key

import numpy as np  # noqa: E402
import torch  # noqa: E402

import tvmprims  # noqa: E402
from tvmprims.schedules.cpu import conv2d_im2col as schedule  # noqa: E402
from tvmprims.timing import interleaved_best  # noqa: E402

LAYERS = ("1x1024x14x14-256", "1x1024x14x14-512", "1x2048x7x7-512", "1x512x28x28-128",
          "1x512x14x14-128", "1x1024x7x7-128", "1x256x56x56-64", "1x512x28x28-256",
          "1x512x28x28-1024/2", "1x1024x14x14-2048/2", "1x2048x7x7-1024", "8x1024x14x14-512",
          "8x2048x7x7-512", "8x1024x14x14-256", "8x512x28x28-1024/2")


def _kernel(x_shape, w_shape, stride, blocked):
    """The hand kernel, its GEMM K-blocked where ``long_k_blocked`` says (``blocked``) or
    over all of K."""
    real = schedule.long_k_blocked
    if not blocked:
        schedule.long_k_blocked = lambda *args, **kwargs: False
    try:
        tvmprims.clear_cache()
        return tvmprims.build("conv2d_im2col", x_shape, w_shape, stride=stride,
                              schedule="hand")
    finally:
        schedule.long_k_blocked = real


def main(layers=LAYERS):
    torch.set_num_threads(int(os.environ.get("TVM_NUM_THREADS", os.cpu_count())))
    for layer in layers:
        image, out = layer.split("-")
        out, _, stride = out.partition("/")
        stride = int(stride or 1)
        x_shape = tuple(map(int, image.split("x")))
        w_shape = (int(out), x_shape[1], 1, 1)
        x = np.random.rand(*x_shape).astype(np.float32)
        weight = np.random.rand(*w_shape).astype(np.float32)
        calls = []
        for blocked in (False, True):
            kernel = _kernel(x_shape, w_shape, stride, blocked)
            out_array = np.empty(kernel.workload.output_shape, np.float32)
            calls.append(lambda f=kernel.module["main"], o=out_array: f(x, weight, o))
        xt, wt = torch.from_numpy(x), torch.from_numpy(weight)
        calls.append(lambda: torch.nn.functional.conv2d(xt, wt, stride=stride))
        whole_k, blocked, reference = interleaved_best(calls, rounds=5)
        print(f"{layer}: over all of K {whole_k * 1e3:.3f} ms, K-blocked {blocked * 1e3:.3f} "
              f"ms ({whole_k / blocked:.2f}x; torch {reference * 1e3:.3f})", flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or LAYERS))
