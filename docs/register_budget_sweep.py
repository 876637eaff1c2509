"""Direct conv2d kernel time on ResNet-18's 3x3 layers (stride 1 and 2), or the layers named,
for several values of one :class:`~tvmprims.schedules.hardware.CpuParams` field (default
``conv2d_registers``), with the tile each value gives; all values timed alternately in one
run, on the same arrays.

``PYTHONPATH=docs:. python docs/register_budget_sweep.py [FIELD] [V1,V2,...] [LAYER ...]``
on a quiet machine; a layer is ``[N]xCxHxW-OxKxS[gG]`` (padding ``K // 2``, ``G`` groups,
``schedule_variants.layer_shapes``), e.g. ``conv2d_one_vector_registers 10,14
256x28x28-256x3x1g32``.
"""

import sys
from dataclasses import replace

import numpy as np
from schedule_variants import layer_shapes

from tvmprims._tvm import Schedule, compile_module, create_prim_func, element_aligned_arguments, tvm
from tvmprims.schedules.common import vector_lanes
from tvmprims.schedules.cpu import conv2d as cpu_conv2d
from tvmprims.schedules.hardware import cpu_params, cpu_params_override
from tvmprims.target import resolve_target
from tvmprims.testing import assert_close
from tvmprims.timing import interleaved_best
from tvmprims.workload import Workload

#: (input, weight, stride) of ResNet-18's 3x3 layers.
LAYERS = [((1, 64, 56, 56), (64, 64, 3, 3), 1), ((1, 128, 28, 28), (128, 128, 3, 3), 1),
          ((1, 256, 14, 14), (256, 256, 3, 3), 1), ((1, 512, 7, 7), (512, 512, 3, 3), 1),
          ((1, 64, 56, 56), (128, 64, 3, 3), 2), ((1, 128, 28, 28), (256, 128, 3, 3), 2),
          ((1, 256, 14, 14), (512, 256, 3, 3), 2)]


def main(argv):
    field = argv[0] if argv else "conv2d_registers"
    values = [int(v) for v in argv[1].split(",")] if len(argv) > 1 else [10, 14, 18, 22, 26]
    target = resolve_target("llvm")
    hand = cpu_params(target)
    lanes = vector_lanes(target, "float32")
    print(f"hand {field} = {getattr(hand, field)}")
    dev = tvm.cpu()
    layers = [layer_shapes(a) for a in argv[2:]] or [(*layer, 1) for layer in LAYERS]
    for x_shape, w_shape, stride, groups in layers:
        pad = w_shape[2] // 2
        wl = Workload.make("conv2d", [x_shape, w_shape], "float32", stride=(stride, stride),
                           padding=(pad,) * 4, dilation=(1, 1), groups=groups)
        o = wl.output_shape[1]
        kernels, tiles = [], []
        for value in values:
            with cpu_params_override(replace(hand, **{field: value})):
                sch = Schedule(create_prim_func(wl.compute()))
                cpu_conv2d.schedule(sch, wl, target)
                tiles.append(cpu_conv2d._tiles(wl, lanes, cpu_params(target)))
            kernels.append(compile_module(element_aligned_arguments(sch.mod), target).mod)
        args = [tvm.runtime.tensor(np.random.rand(*s).astype("float32"), dev) for s in wl.shapes]
        outs = [tvm.runtime.tensor(np.zeros(wl.output_shape, "float32"), dev) for _ in kernels]
        for kernel, out in zip(kernels, outs):
            kernel(*args, out)
            assert_close(out.numpy(), outs[0].numpy(), "float32", w_shape[1] * w_shape[2] ** 2)
        seconds = interleaved_best([lambda k=k, o=o: k(*args, o) for k, o in zip(kernels, outs)],
                                   rounds=5)
        print(f"{x_shape} -> {o} s{stride} g{groups}: " + "  ".join(
            f"{v}: {t * 1e3:.3f} ms ({ti.channels}x{ti.rows}x{'+'.join(map(str, ti.widths))})"
            for v, t, ti in zip(values, seconds, tiles)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
