"""Matmul kernels built with other GEMM parameters (``CpuParams`` fields), against numpy, timed
alternately in one run: how the cache- and register-sized parameters of
``schedules/hardware.py`` were checked on a CPU they were not measured on (docs/BENCHMARKS.md,
"An Intel Xeon"). Kernels only, ms, two threads each side on a 2-core machine.

    PYTHONPATH=. python docs/gemm_params.py 1024x1024x1024 128x576x1000 -- \\
        base gemm_rows=4 gemm_k_block=256 gemm_in_l2_bytes=4194304,gemm_rows=4

``base`` is this host's parameters; ``name=value,...`` replaces fields of them. Shapes are
``MxKxN``. Pass ``--conv`` to time conv2d layers instead (``[N]xCxHxW-OxKxS``, e.g.
``256x56x56-256x1x1`` or ``8x1024x14x14-512x1x1``) by algorithm (``direct``, ``im2col``,
``winograd2``, ``winograd4``), e.g. ``im2col:gemm_rows=6`` or
``winograd2:winograd_registers=16``.
"""

import dataclasses
import sys

import numpy as np
import torch
from schedule_variants import conv_layer, start, time_convs

import tvmprims
from tvmprims.schedules.hardware import cpu_model, cpu_params_override
from tvmprims.target import resolve_target
from tvmprims.testing import assert_close, conv2d_ref, matmul_ref
from tvmprims.timing import interleaved_best


#: ``--conv`` variant prefix -> (operator, its extra parameters).
ALGORITHMS = {"direct": ("conv2d", {}), "im2col": ("conv2d_im2col", {}),
              "winograd2": ("conv2d_winograd", {"tile": 2}),
              "winograd4": ("conv2d_winograd", {"tile": 4})}


def _fields(text):
    """``"a=1,b=True"`` -> ``{"a": 1, "b": True}`` (``base``: no change)."""
    if text in ("", "base"):
        return {}
    fields = {}
    for item in text.split(","):
        name, value = item.split("=")
        fields[name] = value == "True" if value in ("True", "False") else int(value)
    return fields


def _built(params, fields, op, *shapes, **kwargs):
    """The hand schedule of ``op`` with ``fields`` of ``params`` replaced (never a tuned
    record: those do not follow the parameters)."""
    tvmprims.clear_cache()
    with cpu_params_override(dataclasses.replace(params, **fields)):
        return tvmprims.build(op, *shapes, schedule="hand", **kwargs)


def matmuls(shapes, variants, params):
    for shape in shapes:
        m, k, n = map(int, shape.split("x"))
        a = np.random.rand(m, k).astype(np.float32)
        b = np.random.rand(k, n).astype(np.float32)
        kernels = [_built(params, _fields(v), "matmul", a.shape, b.shape) for v in variants]
        for kernel in kernels:
            assert_close(kernel(a, b), matmul_ref(a, b), "float32", k)
        calls = [lambda kernel=kernel: kernel(a, b) for kernel in kernels] + [lambda: a @ b]
        times = interleaved_best(calls, rounds=4)
        flops = 2 * m * k * n
        cells = [f"{v}: {t * 1e3:.3f} ms {flops / t / 1e9:.0f} GFLOP/s ({times[-1] / t:.2f}x)"
                 for v, t in zip(variants, times)]
        print(shape, " | ".join(cells), f"| numpy {times[-1] * 1e3:.3f}", flush=True)


def convs(layers, variants, params):
    for layer in layers:
        x, weight, stride, padding, expected = conv_layer(layer)
        kernels = []
        for variant in variants:
            algo, _, fields = variant.partition(":")
            op, extra = ALGORITHMS[algo]
            kernels.append(_built(params, _fields(fields), op, x.shape, weight.shape,
                                  stride=stride, padding=padding, **extra))
            assert_close(kernels[-1](x, weight), expected, "float32", weight[0].size)
        time_convs(layer, variants, kernels, x, weight, stride, padding, rounds=3)


def main(argv):
    start()
    conv = "--conv" in argv
    argv = [a for a in argv if a != "--conv"]
    split = argv.index("--")
    params = cpu_model(resolve_target(None)).params
    (convs if conv else matmuls)(argv[:split], argv[split + 1:], params)


if __name__ == "__main__":
    main(sys.argv[1:])
