"""The numpy-facing API: arrays in, arrays out, kernels compiled once and cached."""

import importlib

from .arrays import as_input, common_dtype
from .build import build_workload
from .ops import conv2d as _conv2d_op
from .ops import convolve as _convolve_op
from .ops import depthwise_conv2d as _depthwise_op
from .ops import matmul as _matmul_op
from .ops._checks import is_int, require

__all__ = ["matmul", "convolve", "conv1d", "conv2d", "depthwise_conv2d", "build",
           "build_workload_from_shapes", "OPERATORS",
           "CONV2D_ALGORITHMS"]

#: Operators with a compute definition in ``tvmprims.ops`` (what :func:`build` accepts).
OPERATORS = ("matmul", "convolve", "conv2d", "depthwise_conv2d")

#: Values of ``conv2d(..., algo=...)``.
CONV2D_ALGORITHMS = ("direct",)


def build_workload_from_shapes(op, shapes, dtype="float32", params=None):
    """The :class:`~tvmprims.Workload` of operator ``op`` on input ``shapes`` (checked)."""
    if op not in OPERATORS:
        raise ValueError(f"unknown operator {op!r}: expected one of {OPERATORS}")
    module = importlib.import_module(f"tvmprims.ops.{op}")
    return module.workload(*shapes, dtype=dtype, **(params or {}))


def build(op, *shapes, dtype="float32", target=None, schedule="auto", **params):
    """Compile operator ``op`` for input ``shapes`` and return its :class:`~tvmprims.Kernel`.

    ``params`` are the operator's keyword parameters (``mode`` for convolve; ``stride``,
    ``padding``, ``dilation``, ``groups`` for convolutions; pass ``bias`` shape as a third
    shape). Example: ``build("conv2d", (1, 64, 56, 56), (64, 64, 3, 3), padding=1)``.
    """
    return build_workload(build_workload_from_shapes(op, shapes, dtype, params), target, schedule)


def _inputs(optional=(), **named):
    """Checked arrays (optional ones that are None left out) and their common dtype."""
    names = []
    for name, a in named.items():
        if a is None and name not in optional:
            raise TypeError(f"{name} is None: an array is required")
        if a is not None:
            names.append(name)
    arrays = [as_input(named[n], n) for n in names]
    return arrays, common_dtype(arrays, names)


def matmul(a, b, *, target=None, schedule="auto"):
    """Matrix product of a (M, K) and b (K, N) -> (M, N), as ``numpy.matmul`` on 2-D arrays."""
    (a, b), dtype = _inputs(a=a, b=b)
    wl = _matmul_op.workload(a.shape, b.shape, dtype)
    return build_workload(wl, target, schedule).run_checked([a, b])


def convolve(a, v, mode="full", *, target=None, schedule="auto"):
    """1-D discrete convolution of a (n,) and v (m,), as ``numpy.convolve(a, v, mode)``.

    ``full`` has length n + m - 1, ``same`` max(n, m), ``valid`` max(n, m) - min(n, m) + 1.
    """
    (a, v), dtype = _inputs(a=a, v=v)
    require(a.ndim == 1 and v.ndim == 1,
            f"convolve expects 1-D arrays, got shapes {a.shape} and {v.shape}")
    if v.shape[0] > a.shape[0]:
        a, v = v, a
    wl = _convolve_op.workload(a.shape, v.shape, dtype, mode=mode)
    return build_workload(wl, target, schedule).run_checked([a, v])


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, algo="direct", *,
           target=None, schedule="auto"):
    """2-D convolution, as ``torch.nn.functional.conv2d``.

    x (N, C, H, W), weight (O, C // groups, KH, KW), bias (O,) or None -> (N, O, OH, OW).
    ``stride``, ``dilation``: int or pair; ``padding``: int, pair, ``"valid"`` or ``"same"``.
    With ``groups == C`` (a depthwise layer) it runs :func:`depthwise_conv2d`.
    """
    if algo not in CONV2D_ALGORITHMS:
        raise ValueError(f"unknown conv2d algo {algo!r}: expected one of {CONV2D_ALGORITHMS}")
    (x, weight, *rest), dtype = _inputs(optional=("bias",), x=x, weight=weight, bias=bias)
    bias_shape = rest[0].shape if rest else None
    if is_int(groups) and groups > 1 and x.ndim == 4 and groups == x.shape[1]:
        wl = _depthwise_op.workload(x.shape, weight.shape, bias_shape, dtype, stride, padding,
                                    dilation)
    else:
        wl = _conv2d_op.workload(x.shape, weight.shape, bias_shape, dtype, stride, padding,
                                 dilation, groups)
    return build_workload(wl, target, schedule).run_checked([x, weight, *rest])


def depthwise_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, *, target=None,
                     schedule="auto"):
    """Depthwise 2-D convolution, as ``torch.nn.functional.conv2d(..., groups=C)``.

    x (N, C, H, W), weight (C * m, 1, KH, KW), bias (C * m,) or None -> (N, C * m, OH, OW).
    """
    (x, weight, *rest), dtype = _inputs(optional=("bias",), x=x, weight=weight, bias=bias)
    wl = _depthwise_op.workload(x.shape, weight.shape, rest[0].shape if rest else None, dtype,
                                stride, padding, dilation)
    return build_workload(wl, target, schedule).run_checked([x, weight, *rest])


def _one_d(value, name):
    if isinstance(value, str):
        return value
    if isinstance(value, (tuple, list)):
        require(len(value) == 1, f"conv1d {name} must be an int or a 1-tuple, got {value!r}")
        value = value[0]
    return value


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *, target=None,
           schedule="auto"):
    """1-D convolution over batches, as ``torch.nn.functional.conv1d``.

    x (N, C, L), weight (O, C // groups, K), bias (O,) or None -> (N, O, OL). Runs the conv2d
    kernels on (N, C, 1, L) views: a height-1 image is exactly a 1-D signal.
    """
    (x, weight, *rest), dtype = _inputs(optional=("bias",), x=x, weight=weight, bias=bias)
    require(x.ndim == 3, f"conv1d expects x of rank 3 (N, C, L), got shape {x.shape}")
    require(weight.ndim == 3,
            f"conv1d expects weight of rank 3 (O, C/groups, K), got shape {weight.shape}")
    stride, dilation = _one_d(stride, "stride"), _one_d(dilation, "dilation")
    padding = _one_d(padding, "padding")
    padding = padding if isinstance(padding, str) else (0, padding)
    out = conv2d(x[:, :, None, :], weight[:, :, None, :], *rest, stride=(1, stride),
                 padding=padding, dilation=(1, dilation), groups=groups, target=target,
                 schedule=schedule)
    return out[:, :, 0, :]
