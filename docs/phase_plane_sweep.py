"""Kernel time of strided layers whose input is stored as phase planes, with the copy loop
vectorised by TVM (a vector of columns scattered over the planes: the schedule before
2026-12-06) and by LLVM's interleaved vectorisation (``vectorize_phase_planes``, now), timed
alternately on the same arrays. README "Which CPU schedule is fast for which layer".

``PYTHONPATH=. python docs/phase_plane_sweep.py`` on a quiet machine.
"""

import numpy as np

from tvmprims._tvm import Schedule, compile_module, create_prim_func, element_aligned_arguments, tvm
from tvmprims.schedules import common
from tvmprims.schedules.cpu import conv2d as cpu_conv2d
from tvmprims.schedules.cpu import depthwise_conv2d as cpu_depthwise
from tvmprims.target import resolve_target
from tvmprims.testing import assert_close
from tvmprims.timing import interleaved_best
from tvmprims.workload import Workload

#: (op, input, weight, stride, padding): strided depthwise layers (MobileNetV2's and wider)
#: and RGB stems.
LAYERS = [
    ("depthwise_conv2d", (1, 96, 112, 112), (96, 1, 3, 3), 2, 1),
    ("depthwise_conv2d", (1, 32, 112, 112), (32, 1, 3, 3), 2, 1),
    ("depthwise_conv2d", (1, 72, 72, 72), (72, 1, 3, 3), 2, 1),
    ("depthwise_conv2d", (1, 144, 56, 56), (144, 1, 3, 3), 2, 1),
    ("depthwise_conv2d", (1, 24, 224, 224), (24, 1, 3, 3), 2, 1),
    ("conv2d", (1, 3, 224, 224), (32, 3, 3, 3), 2, 1),
    ("conv2d", (1, 3, 224, 224), (64, 3, 7, 7), 2, 3),
    ("conv2d", (1, 3, 224, 224), (64, 3, 11, 11), 4, 2),
]


def _scatter(sch, block, stride, lanes):
    """The copy loop as TVM vectorises it (the schedule before ``vectorize_phase_planes``)."""
    common.vectorize_innermost(sch, block, lanes)


def _kernel(wl, target, vectorize):
    """``wl`` compiled with its hand schedule, the phase-plane copy vectorised by
    ``vectorize``. The direct conv2d schedule calls it by its own import; the depthwise one
    through ``common.schedule_sliding_window``."""
    schedule, patched = ((cpu_conv2d, cpu_conv2d) if wl.op == "conv2d"
                         else (cpu_depthwise, common))
    old = patched.vectorize_phase_planes
    patched.vectorize_phase_planes = vectorize
    try:
        sch = Schedule(create_prim_func(wl.compute()))
        schedule.schedule(sch, wl, target)
    finally:
        patched.vectorize_phase_planes = old
    return compile_module(element_aligned_arguments(sch.mod), target).mod


def main():
    target = resolve_target("llvm")
    dev = tvm.cpu()
    for op, x_shape, w_shape, stride, pad in LAYERS:
        params = dict(stride=(stride, stride), padding=(pad,) * 4, dilation=(1, 1))
        if op == "conv2d":
            params["groups"] = 1
        wl = Workload.make(op, [x_shape, w_shape], "float32", **params)
        kernels = [_kernel(wl, target, v) for v in (_scatter, common.vectorize_phase_planes)]
        args = [tvm.runtime.tensor(np.random.rand(*s).astype("float32"), dev) for s in wl.shapes]
        outs = [tvm.runtime.tensor(np.zeros(wl.output_shape, "float32"), dev) for _ in kernels]
        for kernel, out in zip(kernels, outs):
            kernel(*args, out)
        assert_close(outs[1].numpy(), outs[0].numpy(), "float32", w_shape[1] * w_shape[2] ** 2)
        old, new = interleaved_best([lambda k=k, o=o: k(*args, o) for k, o in zip(kernels, outs)],
                                    rounds=5)
        print(f"{op} {x_shape[1:]} * {w_shape} s{stride}: TVM scatter {old * 1e3:.3f} ms, "
              f"LLVM interleave {new * 1e3:.3f} ms ({old / new:.2f}x)", flush=True)


if __name__ == "__main__":
    main()
