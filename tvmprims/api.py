"""The numpy-facing API: arrays in, arrays out, kernels compiled once and cached.

Operators and conv2d algorithms are those of the registry (:mod:`tvmprims.ops.registry`);
``conv2d(algo="auto")`` and ``"search"`` ask :mod:`tvmprims.algorithms` for the algorithm.
"""

import numpy as np

from . import algorithms as _algorithms
from .arrays import all_finite, as_input, common_dtype
from .build import build_workload, cached_call, call_stats, kernel_for_call, plain_calls
from .ops import add as _add_op
from .ops import adaptive_avg_pool2d as _adaptive_avg_op
from .ops import adaptive_max_pool2d as _adaptive_max_op
from .ops import avg_pool2d as _avg_pool_op
from .ops import concat as _concat_op
from .ops import convolve as _convolve_op
from .ops import max_pool2d as _max_pool_op
from .ops import scale_channels as _scale_channels_op
from .ops import depthwise_conv2d as _depthwise_op
from .ops import matmul as _matmul_op
from .ops import matmul_log as _matmul_log_op
from .ops._checks import require
from .ops.registry import (CONV2D_ALIASES, CONV2D_OPERATORS, OPERATORS, PROPAGATES_NON_FINITE,
                           algorithm_of, conv2d_workload, operator_spec)
from .workload import check_shapes

__all__ = ["matmul", "convolve", "conv1d", "conv2d", "depthwise_conv2d", "max_pool2d",
           "avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d", "add", "concat",
           "scale_channels", "build",
           "build_workload_from_shapes", "conv2d_workload", "OPERATORS", "CONV2D_ALGORITHMS",
           "CONV2D_OPERATORS", "MATMUL_ALGORITHMS"]

#: Values of ``conv2d(..., algo=...)``: ``"auto"`` picks an algorithm per layer by rules on
#: its shape (compiles only that one), ``"search"`` times every applicable one once
#: per machine (:mod:`tvmprims.algorithms`); the others are :data:`CONV2D_OPERATORS` (the
#: registry's algorithm table) and its aliases (``"winograd"`` is ``"winograd4"``).
CONV2D_ALGORITHMS = ("auto", "search", *CONV2D_OPERATORS, *CONV2D_ALIASES)
_CHOSEN = ("auto", "search")

#: Values of ``matmul(..., algo=...)``.
MATMUL_ALGORITHMS = ("direct", "log", "log-approx")


def build_workload_from_shapes(op, shapes, dtype="float32", params=None):
    """The :class:`~tvmprims.Workload` of operator ``op`` on input ``shapes`` (checked)."""
    spec = operator_spec(op)  # ValueError naming the registered operators
    shapes, params = check_shapes(op, shapes), params or {}
    spec.check_arguments(len(shapes), params)
    return spec.workload(*shapes, dtype=dtype, **params)


def build(op, *shapes, dtype="float32", target=None, schedule="auto", **params):
    """Compile operator ``op`` for input ``shapes`` and return its :class:`~tvmprims.Kernel`.

    ``params`` are the operator's keyword parameters (``mode`` for convolve; ``stride``,
    ``padding``, ``dilation``, ``groups`` for convolutions; pass ``bias`` shape as a third
    shape). Example: ``build("conv2d", (1, 64, 56, 56), (64, 64, 3, 3), padding=1)``.
    """
    return build_workload(build_workload_from_shapes(op, shapes, dtype, params), target, schedule)


def _inputs(optional=(), **named):
    """Checked arrays (optional ones that are None left out) and their common dtype."""
    arrays, names = [], []
    for name, a in named.items():
        if a is not None:
            arrays.append(as_input(a, name))
            names.append(name)
        elif name not in optional:
            raise TypeError(f"{name} is None: an array is required")
    return arrays, common_dtype(arrays, names)


_ndarray = np.ndarray  # a global name: one lookup less on the plain call's path
_HOST_TARGETS = frozenset(("llvm", "cpu"))  # names resolve_target maps to this CPU, as None


def matmul(a, b, *, algo="direct", log_bits=3, target=None, schedule="auto"):
    """Matrix product of a (M, K) and b (K, N) -> (M, N), as ``numpy.matmul`` on 2-D arrays.

    ``algo="log"`` multiplies in the log domain (exact up to rounding); ``"log-approx"`` also
    adds there, with ``log_bits`` fractional bits (see :mod:`tvmprims.ops.matmul_log`).
    NaN and inf propagate as in numpy, except that ``"log-approx"`` gives NaN wherever
    numpy's result is not finite.
    """
    if (type(a) is _ndarray and type(b) is _ndarray and algo == "direct" and schedule == "auto"
            and (target is None or type(target) is str and target in _HOST_TARGETS)):
        # The plain call seen before: its kernel by shapes and dtypes, without the general
        # path's argument handling (1x64 @ 64x1000: 5.7 -> 4.6 us; numpy 3.7, the kernel 2.5
        # and its call 0.6). No closure in this function: one would make its arguments cells,
        # created on every call and read through (3.57 -> 3.37 us, Xeon).
        plain = ("matmul", a.shape, b.shape, a.dtype, b.dtype)
        run = plain_calls.get(plain)
        if run is not None and a.flags.carray and b.flags.carray:
            call_stats["hits"] += 1
            return run(a, b)
    else:
        plain = None
    return _matmul(a, b, algo, log_bits, target, schedule, plain)


def _matmul(a, b, algo, log_bits, target, schedule, plain):
    """:func:`matmul` past its plain call; ``plain``: the key to remember the kernel under
    for the plain call (None: not one)."""
    if algo not in MATMUL_ALGORITHMS:
        raise ValueError(f"unknown matmul algo {algo!r}: expected one of {MATMUL_ALGORITHMS}")
    given = (a, b)
    (a, b), dtype = _inputs(a=a, b=b)
    if given[0] is not a or given[1] is not b:  # copied or converted: not a plain call
        plain = None
    bits = log_bits if algo == "log-approx" else None
    signature = ("matmul", algo, _key(bits), a.shape, b.shape, dtype, target, schedule)
    kernel = cached_call(signature)
    if kernel is None:
        def make():
            if algo == "direct":
                wl = _matmul_op.workload(a.shape, b.shape, dtype)
            else:
                wl = _matmul_log_op.workload(a.shape, b.shape, dtype, bits=bits)
            return build_workload(wl, target, schedule)

        kernel = kernel_for_call(signature, make)
    if plain:
        _remember_plain(plain, kernel)
    out = kernel.run_checked([a, b])
    if algo == "log-approx":
        _nan_where_not_finite(a, b, out)
    return out


def _plain_call(key, a, b, c=None):
    """The result of the kernel a plain call remembered under ``key`` (:data:`plain_calls`)
    on arrays ``a``, ``b`` (and ``c``: a bias), or None where the general path must take the
    call: no kernel remembered, an array not C-contiguous or off its element size, or
    read-only (which numpy will not export through DLPack). Spelled out for two and three
    arrays: a loop over ``*arrays`` cost 60 ns more a call. An unhashable key (an odd
    parameter) finds nothing, as in :func:`~tvmprims.build.cached_call`."""
    try:
        run = plain_calls.get(key)
    except TypeError:
        return None
    if run is None:
        return None
    # flags.carray: C-contiguous, aligned and writeable.
    if c is None:
        if not (a.flags.carray and b.flags.carray):
            return None
        result = run(a, b)
    else:
        if not (a.flags.carray and b.flags.carray and c.flags.carray):
            return None
        result = run(a, b, c)
    call_stats["hits"] += 1
    return result


def _remember_plain(key, kernel):
    """Remember ``kernel``'s new-output runner for plain calls of ``key`` (up to 4096; an
    unhashable key is not remembered, as in :func:`~tvmprims.build.kernel_for_call`)."""
    if len(plain_calls) < 4096:
        run = kernel.new_output_runner()
        if run is not None:
            try:
                plain_calls[key] = run
            except TypeError:
                pass


def _nan_where_not_finite(a, b, out):
    """NaN in every result that a NaN or inf operand enters (row of a, column of b): where
    ``a @ b`` is not finite. The fixed-point logarithms of the approximate log domain have no
    inf or NaN, so its kernel alone would drop them."""
    rows, cols = ~np.isfinite(a).all(axis=1), ~np.isfinite(b).all(axis=0)
    if rows.any():
        out[rows] = np.nan
    if cols.any():
        out[:, cols] = np.nan


def convolve(a, v, mode="full", *, target=None, schedule="auto"):
    """1-D discrete convolution of a (n,) and v (m,), as ``numpy.convolve(a, v, mode)``.

    ``full`` has length n + m - 1, ``same`` max(n, m), ``valid`` max(n, m) - min(n, m) + 1.
    """
    (a, v), dtype = _inputs(a=a, v=v)
    require(a.ndim == 1 and v.ndim == 1,
            f"convolve expects 1-D arrays, got shapes {a.shape} and {v.shape}")
    if v.shape[0] > a.shape[0]:
        a, v = v, a
    kernel = kernel_for_call(
        ("convolve", a.shape, v.shape, dtype, _key(mode), target, schedule),
        lambda: build_workload(_convolve_op.workload(a.shape, v.shape, dtype, mode=mode),
                               target, schedule))
    return kernel.run_checked([a, v])


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, algo="auto", *,
           activation=None, residual=None, target=None, schedule="auto"):
    """2-D convolution, as ``torch.nn.functional.conv2d``.

    x (N, C, H, W), weight (O, C // groups, KH, KW), bias (O,) or None -> (N, O, OH, OW).
    ``stride``, ``dilation``: int or pair; ``padding``: int, pair, (top, bottom, left, right),
    ``"valid"`` or ``"same"``. ``algo``: one of :data:`CONV2D_ALGORITHMS`; ``"auto"`` picks
    an algorithm by rules on the layer's shape, fitted to measured searches, and compiles only
    that one (or uses a searched choice recorded for the layer); ``"search"`` times every applicable algorithm on first use
    of a layer shape and remembers the fastest accurate one per machine
    (:func:`tvmprims.find_algorithms`). NaN and inf propagate as in torch whatever they pick.
    With ``groups == C`` (a depthwise layer) the direct algorithm runs
    :func:`depthwise_conv2d`.

    The epilogue ``activation(conv + bias + residual)`` runs in the kernel's write-back:
    ``activation`` None or one of ``tvmprims.ops.conv2d.ACTIVATIONS`` (``"relu"``,
    ``"relu6"``, ``"silu"``, ``"sigmoid"``, ``"hardsigmoid"``, ``"hardswish"``, as torch's
    functions of those names); ``residual`` None or an array
    of the output's shape (a residual block's shortcut).
    """
    plain = (type(x) is _ndarray and type(weight) is _ndarray
             and (bias is None or type(bias) is _ndarray)
             and residual is None and activation is None and algo == "auto"
             and schedule == "auto"
             and (target is None or type(target) is str and target in _HOST_TARGETS))
    if plain:
        # As matmul's plain call: a layer's kernel by shapes, dtypes and parameters, without
        # the argument handling (1x96x14x14 -> 40 1x1 on an Intel Xeon: 12.0 -> 10.6 us, the
        # kernel's call 8.8, torch 10.0; docs/plain_conv2d_call.py).
        plain = ("conv2d", x.shape, weight.shape, x.dtype, weight.dtype, _key(stride),
                 _key(padding), _key(dilation), _key(groups))
        if bias is None:
            result = _plain_call(plain, x, weight)
        else:
            plain += (bias.shape, bias.dtype)
            result = _plain_call(plain, x, weight, bias)
        if result is not None:
            return result
    else:
        plain = None
    return _conv2d(x, weight, bias, stride, padding, dilation, groups, algo, activation,
                   residual, target, schedule, plain)


def _conv2d(x, weight, bias, stride, padding, dilation, groups, algo, activation, residual,
            target, schedule, plain):
    """:func:`conv2d` past its plain call (kept apart for the reason :func:`matmul`'s is);
    ``plain``: the key to remember the kernel under for the plain call (None: not one)."""
    if algo not in CONV2D_ALGORITHMS:
        raise ValueError(f"unknown conv2d algo {algo!r}: expected one of {CONV2D_ALGORITHMS}")
    given = (x, weight, bias)
    arrays, dtype = _inputs(optional=("bias", "residual"), x=x, weight=weight, bias=bias,
                            residual=residual)
    x, weight = arrays[:2]
    bias_shape = None if bias is None else arrays[2].shape
    signature = ("conv2d", algo, x.shape, weight.shape, bias_shape, dtype, _key(stride),
                 _key(padding), _key(dilation), _key(groups), _key(activation),
                 residual is not None, target, schedule)
    # The usual call finds its kernel here, without making its build function below.
    entry = cached_call(signature)

    def direct_workload():
        return conv2d_workload(x.shape, weight.shape, bias_shape, dtype, stride, padding,
                               dilation, groups, "direct" if algo in _CHOSEN else algo,
                               activation=activation, residual=residual is not None)

    if entry is None:
        def make():
            wl = direct_workload()
            if algo in _CHOSEN:
                wl = _algorithms.choose_algorithm(wl, target, schedule, algo)
            kernel = build_workload(wl, target, schedule)
            return kernel, algo in _CHOSEN and algorithm_of(wl) not in PROPAGATES_NON_FINITE

        entry = kernel_for_call(signature, make)
    kernel, recheck = entry
    if plain and not recheck and all(g is a for g, a in zip(given, arrays)):
        _remember_plain(plain, kernel)
    out = kernel.run_checked(arrays)
    # A transform algorithm spreads a NaN or inf over a tile or the whole output; whether
    # auto or search picked one depends on the layer and machine, the result must not: redo
    # such a call directly.
    if recheck and not all_finite(out):
        out = build_workload(direct_workload(), target, schedule).run_checked(arrays, out)
    return out


def depthwise_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, *,
                     activation=None, residual=None, target=None, schedule="auto"):
    """Depthwise 2-D convolution, as ``torch.nn.functional.conv2d(..., groups=C)``.

    x (N, C, H, W), weight (C * m, 1, KH, KW), bias (C * m,) or None -> (N, C * m, OH, OW);
    ``activation`` and ``residual`` as in :func:`conv2d`.
    """
    (x, weight, *rest), dtype = _inputs(optional=("bias", "residual"), x=x, weight=weight,
                                        bias=bias, residual=residual)
    bias_shape = None if bias is None else rest[0].shape
    kernel = kernel_for_call(
        ("depthwise_conv2d", x.shape, weight.shape, bias_shape, dtype, _key(stride),
         _key(padding), _key(dilation), _key(activation), residual is not None, target,
         schedule),
        lambda: build_workload(_depthwise_op.workload(x.shape, weight.shape, bias_shape, dtype,
                                                      stride, padding, dilation, activation,
                                                      residual is not None),
                               target, schedule))
    return kernel.run_checked([x, weight, *rest])


def _key(value):
    """A parameter as part of a call signature: hashable, and typed (``1``, ``1.0`` and
    ``True`` are equal keys to Python, but only ``1`` is a valid stride)."""
    kind = type(value)
    if kind is int or kind is str or value is None:  # the usual values, as they are: no
        return value  # other kind of value gives a key equal to these
    if kind is tuple and all(type(v) is int for v in value):  # (1, 1), (1, 1, 1, 1)
        return value
    if isinstance(value, (list, tuple)):
        return tuple(_key(v) for v in value)
    return kind, value


def _one_d(value, name):
    if isinstance(value, str):
        return value
    if isinstance(value, (tuple, list)):
        require(len(value) == 1, f"conv1d {name} must be an int or a 1-tuple, got {value!r}")
        value = value[0]
    return value


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, algo="auto", *,
           target=None, schedule="auto"):
    """1-D convolution over batches, as ``torch.nn.functional.conv1d``.

    x (N, C, L), weight (O, C // groups, K), bias (O,) or None -> (N, O, OL). Runs the conv2d
    kernels on (N, C, 1, L) views: a height-1 image is exactly a 1-D signal; ``algo`` as for
    :func:`conv2d` (Winograd needs 3x3 kernels, so it never applies).
    """
    (x, weight, *rest), dtype = _inputs(optional=("bias",), x=x, weight=weight, bias=bias)
    require(x.ndim == 3, f"conv1d expects x of rank 3 (N, C, L), got shape {x.shape}")
    require(weight.ndim == 3,
            f"conv1d expects weight of rank 3 (O, C/groups, K), got shape {weight.shape}")
    stride, dilation = _one_d(stride, "stride"), _one_d(dilation, "dilation")
    padding = _one_d(padding, "padding")
    padding = padding if isinstance(padding, str) else (0, padding)
    out = conv2d(x[:, :, None, :], weight[:, :, None, :], *rest, stride=(1, stride),
                 padding=padding, dilation=(1, dilation), groups=groups, algo=algo,
                 target=target, schedule=schedule)
    return out[:, :, 0, :]


# --- Pooling, element-wise sum, concatenation ----------------------------------------------------

def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, *,
               target=None, schedule="auto"):
    """2-D max pooling, as ``torch.nn.functional.max_pool2d`` (no ``return_indices``).

    x (N, C, H, W) float32 or float64 -> (N, C, OH, OW). ``kernel_size``, ``stride`` (None:
    the kernel size), ``padding`` (at most half the kernel; pads with -inf), ``dilation``:
    int or pair; ``ceil_mode`` rounds the output size up, the last window starting inside the
    input or its left padding. NaN propagates, as in torch.
    """
    (x,), dtype = _inputs(x=x)
    kernel = kernel_for_call(
        ("max_pool2d", x.shape, dtype, _key(kernel_size), _key(stride), _key(padding),
         _key(dilation), _key(ceil_mode), target, schedule),
        lambda: build_workload(_max_pool_op.workload(x.shape, dtype, kernel_size, stride,
                                                     padding, dilation, ceil_mode),
                               target, schedule))
    return kernel.run_checked([x])


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None, *, target=None, schedule="auto"):
    """2-D average pooling, as ``torch.nn.functional.avg_pool2d``.

    x (N, C, H, W) -> (N, C, OH, OW), sizes as :func:`max_pool2d`'s (no dilation). Divisor as
    torch's: ``divisor_override`` when given; else the window clipped to the padded input
    (``count_include_pad=True``; with ``ceil_mode`` a window running past the right padding
    counts only its part inside) or to the input (``False``).
    """
    (x,), dtype = _inputs(x=x)
    kernel = kernel_for_call(
        ("avg_pool2d", x.shape, dtype, _key(kernel_size), _key(stride), _key(padding),
         _key(ceil_mode), _key(count_include_pad), _key(divisor_override), target, schedule),
        lambda: build_workload(_avg_pool_op.workload(x.shape, dtype, kernel_size, stride,
                                                     padding, ceil_mode, count_include_pad,
                                                     divisor_override),
                               target, schedule))
    return kernel.run_checked([x])


def adaptive_avg_pool2d(x, output_size, *, target=None, schedule="auto"):
    """2-D adaptive average pooling, as ``torch.nn.functional.adaptive_avg_pool2d``.

    x (N, C, H, W) -> (N, C, OH, OW); ``output_size`` an int or a pair (None in a pair: that
    input size). Output row ``i`` averages input rows ``floor(i*H/OH)`` to
    ``ceil((i+1)*H/OH)``; ``1`` is global average pooling.
    """
    (x,), dtype = _inputs(x=x)
    kernel = kernel_for_call(
        ("adaptive_avg_pool2d", x.shape, dtype, _key(output_size), target, schedule),
        lambda: build_workload(_adaptive_avg_op.workload(x.shape, dtype, output_size),
                               target, schedule))
    return kernel.run_checked([x])


def adaptive_max_pool2d(x, output_size, *, target=None, schedule="auto"):
    """2-D adaptive max pooling, as ``torch.nn.functional.adaptive_max_pool2d`` (no
    ``return_indices``): the windows of :func:`adaptive_avg_pool2d`, NaN propagating."""
    (x,), dtype = _inputs(x=x)
    kernel = kernel_for_call(
        ("adaptive_max_pool2d", x.shape, dtype, _key(output_size), target, schedule),
        lambda: build_workload(_adaptive_max_op.workload(x.shape, dtype, output_size),
                               target, schedule))
    return kernel.run_checked([x])


def add(a, b, relu=False, *, target=None, schedule="auto"):
    """Element-wise ``a + b`` of two arrays of one shape (any rank; no broadcasting), with
    ``relu=True`` ``max(a + b, 0)`` (NaN kept, as ``torch.relu``). The kernel runs on flat
    views, so one kernel serves every shape with the same number of elements."""
    (a, b), dtype = _inputs(a=a, b=b)
    require(a.shape == b.shape,
            f"add expects arrays of the same shape (no broadcasting), got {a.shape} and "
            f"{b.shape}")
    flat = (a.size,)
    kernel = kernel_for_call(
        ("add", flat, dtype, _key(relu), target, schedule),
        lambda: build_workload(_add_op.workload(flat, flat, dtype, relu), target, schedule))
    return kernel.run_checked([a.reshape(flat), b.reshape(flat)]).reshape(a.shape)


def concat(arrays, axis=1, *, target=None, schedule="auto"):
    """Concatenation along ``axis`` (default 1: NCHW channels), as ``torch.cat(arrays,
    dim=axis)``: a sequence of one or more arrays of one rank and dtype, equal off ``axis``.

    The kernel runs on (R, Q_i, G) views of the inputs (:mod:`tvmprims.ops.concat`): one per
    distinct such signature.
    """
    if isinstance(arrays, np.ndarray) or not isinstance(arrays, (list, tuple)):
        raise TypeError(f"concat expects a list or tuple of arrays, got {type(arrays).__name__}")
    require(len(arrays) >= 1, "concat expects at least one array")
    checked, dtype = _inputs(**{f"arrays[{i}]": a for i, a in enumerate(arrays)})
    axis, out_shape, views = _concat_op.grouped_shapes([a.shape for a in checked], axis)
    kernel = kernel_for_call(
        ("concat", views, dtype, target, schedule),
        lambda: build_workload(_concat_op.workload(*views, dtype=dtype), target, schedule))
    out = kernel.run_checked([a.reshape(v) for a, v in zip(checked, views)])
    return out.reshape(out_shape)


def scale_channels(x, s, *, target=None, schedule="auto"):
    """Per-channel scaling ``x * s``, as the final multiply of a squeeze-and-excitation block
    (``x * torch.sigmoid(...)`` in torchvision's ``SqueezeExcitation``).

    x (N, C, H, W) and s (N, C, 1, 1) or (N, C), one dtype -> (N, C, H, W) with
    ``out[n, c] = x[n, c] * s[n, c]``; no other broadcasting. NaN and inf propagate as in
    the product. Both forms of s run one kernel (s is passed as an (N, C, 1, 1) view).
    """
    (x, s), dtype = _inputs(x=x, s=s)
    _scale_channels_op.check_operands(x.shape, s.shape)
    factors = x.shape[:2] + (1, 1)
    kernel = kernel_for_call(
        ("scale_channels", x.shape, dtype, target, schedule),
        lambda: build_workload(_scale_channels_op.workload(x.shape, factors, dtype), target,
                               schedule))
    return kernel.run_checked([x, s.reshape(factors)])
