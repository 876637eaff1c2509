"""Independent float64 references (numpy and torch) for every operator, used by the tests.

These never touch TVM: they are what tvmprims' kernels are checked against. Two helpers:
:func:`workspace_allocations` reads what a compiled kernel allocates, :func:`at_offset`
places an array at a chosen distance from a 64-byte boundary.
"""

import numpy as np

__all__ = ["matmul_ref", "convolve_ref", "conv1d_ref", "conv2d_ref", "depthwise_conv2d_ref",
           "epilogue_ref", "max_pool2d_ref", "avg_pool2d_ref", "adaptive_avg_pool2d_ref",
           "adaptive_max_pool2d_ref", "add_ref", "concat_ref", "scale_channels_ref", "tolerance",
           "assert_close", "workspace_allocations", "at_offset"]


def at_offset(array, offset):
    """A C-contiguous copy of ``array`` whose data starts ``offset`` bytes past a 64-byte
    boundary (how numpy places most large arrays: 16 bytes past)."""
    array = np.ascontiguousarray(array)
    raw = np.empty(array.nbytes + 64 + offset, np.uint8)
    start = -raw.ctypes.data % 64 + offset
    view = raw[start:start + array.nbytes].view(array.dtype).reshape(array.shape)
    view[...] = array
    assert view.ctypes.data % 64 == offset
    return view


def _torch():
    import torch
    return torch


def _f64(*arrays):
    torch = _torch()
    return [None if a is None else torch.from_numpy(np.asarray(a, dtype=np.float64)) for a in arrays]


def matmul_ref(a, b):
    return np.asarray(a, np.float64) @ np.asarray(b, np.float64)


def convolve_ref(a, v, mode="full"):
    return np.convolve(np.asarray(a, np.float64), np.asarray(v, np.float64), mode)


def conv1d_ref(x, w, bias=None, stride=1, padding=0, dilation=1, groups=1):
    torch = _torch()
    return torch.nn.functional.conv1d(*_f64(x, w, bias), stride=stride, padding=padding,
                                      dilation=dilation, groups=groups).numpy()


def conv2d_ref(x, w, bias=None, stride=1, padding=0, dilation=1, groups=1):
    torch = _torch()
    return torch.nn.functional.conv2d(*_f64(x, w, bias), stride=stride, padding=padding,
                                      dilation=dilation, groups=groups).numpy()


def depthwise_conv2d_ref(x, w, bias=None, stride=1, padding=0, dilation=1):
    return conv2d_ref(x, w, bias, stride, padding, dilation, groups=np.shape(x)[1])


def epilogue_ref(out, activation=None, residual=None):
    """``activation(out + residual)`` in float64 by torch (``relu``, ``relu6``, ``silu``)."""
    torch = _torch()
    out, residual = _f64(out, residual)
    if residual is not None:
        out = out + residual
    if activation is not None:
        out = getattr(torch.nn.functional, activation)(out)
    return out.numpy()


def max_pool2d_ref(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    torch = _torch()
    return torch.nn.functional.max_pool2d(*_f64(x), kernel_size, stride, padding, dilation,
                                          ceil_mode).numpy()


def avg_pool2d_ref(x, kernel_size, stride=None, padding=0, ceil_mode=False,
                   count_include_pad=True, divisor_override=None):
    torch = _torch()
    return torch.nn.functional.avg_pool2d(*_f64(x), kernel_size, stride, padding, ceil_mode,
                                          count_include_pad, divisor_override).numpy()


def adaptive_avg_pool2d_ref(x, output_size):
    torch = _torch()
    return torch.nn.functional.adaptive_avg_pool2d(*_f64(x), output_size).numpy()


def adaptive_max_pool2d_ref(x, output_size):
    torch = _torch()
    return torch.nn.functional.adaptive_max_pool2d(*_f64(x), output_size).numpy()


def add_ref(a, b, relu=False):
    out = np.asarray(a, np.float64) + np.asarray(b, np.float64)
    return np.where(out < 0, 0.0, out) if relu else out


def concat_ref(arrays, axis=1):
    return np.concatenate([np.asarray(a, np.float64) for a in arrays], axis=axis)


def scale_channels_ref(x, s):
    """``x * s`` in float64, s (N, C, 1, 1) or (N, C) broadcast over x (N, C, H, W)'s planes."""
    x = np.asarray(x, np.float64)
    return x * np.asarray(s, np.float64).reshape(x.shape[:2] + (1, 1))


def tolerance(dtype, reduction_length):
    """Relative tolerance for a sum of ``reduction_length`` products in ``dtype``.

    Rounding error of a length-n dot product grows like ``sqrt(n) * eps`` for random data;
    the factor 8 leaves room for reassociation (tiling changes the summation order).
    """
    eps = np.finfo(np.dtype(dtype)).eps
    return 8 * eps * max(1.0, float(np.sqrt(reduction_length)))


def assert_close(actual, expected, dtype, reduction_length):
    """Assert shapes equal and ``max|a - e| <= tol * max(1, max|e|)``."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"shape {actual.shape} != reference {expected.shape}"
    assert actual.dtype == np.dtype(dtype), f"dtype {actual.dtype} != {dtype}"
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    error = float(np.abs(actual - expected).max(initial=0.0)) / scale
    tol = tolerance(dtype, reduction_length)
    assert error <= tol, f"relative error {error:.3g} exceeds {tol:.3g}"


def workspace_allocations(kernel):
    """Call sites of ``TVMBackendAllocWorkspace`` in a CPU kernel's LLVM IR: the buffers the
    kernel allocates at run time (packed operands, padded inputs)."""
    return kernel.module.inspect_source("ll").count("load ptr, ptr @__TVMBackendAllocWorkspace")
