"""What the docs scripts that time a hand schedule before and after a change share
(``prime_width_layers.py``, ``plane_sum_lanes.py``, ``pointwise_tiles.py``,
``depthwise_padding.py``, ``gemm_params.py``, ``tile_loop_order.py``,
``register_budget_sweep.py``, ``depthwise_channel_vectors.py``, ``wide_kernels.py``,
``blocked_gemm_rows.py``, ``gemv_column_steps.py``, ``images_as_columns.py``,
``im2col_blocked.py``, ``api_vs_kernel.py``, ``winograd_shuffles.py``): the setup of such a run, the
old schedule's pieces put back for the duration of a build, and a conv2d layer's shapes,
arrays and timing against torch."""

import contextlib
import os

import numpy as np
import torch

import tvmprims
from tvmprims.build import clear_cache
from tvmprims.layer_suite import tvm_threads
from tvmprims.testing import assert_close, conv2d_ref
from tvmprims.timing import interleaved_best


def start():
    """Turn the on-disk kernel cache off (both schedules come from the same source files, so
    an on-disk entry of one would be taken for the other) and run torch on TVM's threads."""
    os.environ["TVMPRIMS_KERNEL_CACHE"] = "off"
    torch.set_num_threads(tvm_threads())


@contextlib.contextmanager
def replaced(*patches):
    """For the duration, each ``(owner, name, value)`` attribute replaced, the in-process
    kernel cache emptied on entry and on exit: kernels built inside are the old schedule's,
    those built after it the current one's."""
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    clear_cache()
    for owner, name, value in patches:
        setattr(owner, name, value)
    try:
        yield
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value)
        clear_cache()


def layer_shapes(text):
    """``[N]xCxHxW-OxKxS[gG]`` -> ``(x shape, weight shape, stride, groups)`` (batch 1 when N
    is left out, ``G`` groups)."""
    text, _, groups = text.partition("g")
    groups = int(groups or 1)
    image, (o, size, stride) = (tuple(map(int, p.split("x"))) for p in text.split("-"))
    image = image if len(image) == 4 else (1, *image)
    return image, (o, image[1] // groups, size, size), stride, groups


def conv_layer(text):
    """``[N]xCxHxW-OxKxS`` -> ``(x, weight, stride, padding, expected)``: random float32
    arrays, padding ``K // 2``, the float64 reference."""
    x_shape, w_shape, stride, groups = layer_shapes(text)
    if groups != 1:
        raise ValueError(f"{text}: conv_layer makes ungrouped layers (layer_shapes reads G)")
    x = np.random.rand(*x_shape).astype(np.float32)
    weight = np.random.rand(*w_shape).astype(np.float32)
    padding = w_shape[2] // 2
    return x, weight, stride, padding, conv2d_ref(x, weight, None, stride, padding)


def time_convs(layer, names, kernels, x, weight, stride, padding, rounds, groups=1):
    """Time ``kernels`` (named ``names``) on ``x, weight`` alternately with torch's conv2d and
    print one line: ms and ratio to torch for each."""
    tx, tw = torch.from_numpy(x), torch.from_numpy(weight)
    calls = [lambda kernel=kernel: kernel(x, weight) for kernel in kernels]
    calls.append(lambda: torch.nn.functional.conv2d(tx, tw, None, stride, padding, 1, groups))
    times = interleaved_best(calls, rounds=rounds)
    cells = [f"{v}: {t * 1e3:.4f} ({times[-1] / t:.2f}x)" for v, t in zip(names, times)]
    print(layer, " | ".join(cells), f"| torch {times[-1] * 1e3:.4f}", flush=True)


def compare_conv_variants(layers, variants, rounds=4, op="conv2d", **params):
    """For each layer (``[N]xCxHxW-OxKxS``, :func:`conv_layer`), the hand schedule of ``op``
    (direct conv2d, or another conv2d algorithm's operator, with its other ``params`` such
    as Winograd's ``tile``) built under each of ``variants`` (name -> patches for
    :func:`replaced`), checked against float64 and timed alternately with torch
    (:func:`time_convs`)."""
    start()
    for layer in layers:
        x, weight, stride, padding, expected = conv_layer(layer)
        kernels = []
        for patches in variants.values():
            with replaced(*patches):
                kernels.append(tvmprims.build(op, x.shape, weight.shape, stride=stride,
                                              padding=padding, schedule="hand", **params))
            assert_close(kernels[-1](x, weight), expected, "float32", weight[0].size)
        time_convs(layer, variants, kernels, x, weight, stride, padding, rounds=rounds)
