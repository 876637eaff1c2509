"""The operator registry and the conv2d algorithm table: the one list of what tvmprims computes.

Everything that enumerates operators or conv2d algorithms reads them from here: workloads
(:meth:`~tvmprims.workload.Workload.from_json`), the numpy API (:func:`tvmprims.build`,
``conv2d(algo=...)``), the algorithm search and its tolerances, the studies, the CLI's help and
the tests. Adding an operator ``OP`` means writing ``tvmprims/ops/OP.py`` (compute),
``schedules/cpu/OP.py`` and ``schedules/cuda/OP.py`` (hand schedules), ``tests/test_OP.py``, and
one :class:`OperatorSpec` in :data:`OPERATOR_SPECS`; a conv2d algorithm is an operator plus one
:class:`Conv2dAlgorithm` in :data:`CONV2D_ALGORITHM_TABLE`.

This module sits at the bottom of the import graph: it imports no operator module at import
time (they import :mod:`tvmprims.workload`, which reads this registry); operator modules are
looked up by name (:func:`operator_module`) when first used.
"""

import importlib
import inspect
from dataclasses import dataclass

from ._checks import is_int

__all__ = ["OperatorSpec", "OPERATOR_SPECS", "REGISTRY", "OPERATORS", "operator_spec",
           "operator_module", "Conv2dAlgorithm", "CONV2D_ALGORITHM_TABLE", "CONV2D_ALIASES",
           "CONV2D_OPERATORS", "TOLERANCE", "PROPAGATES_NON_FINITE",
           "conv2d_workload", "algorithm_of", "algorithm_workload", "layer_args",
           "epilogue_args"]


@dataclass(frozen=True)
class OperatorSpec:
    """One operator: a compute module ``tvmprims.ops.<name>`` and its hand schedules
    ``tvmprims.schedules.<cpu|cuda>.<name>``.

    Attributes
    ----------
    name : str
        Operator name, the ``op`` of its :class:`~tvmprims.workload.Workload`.
    summary : str
        Shapes and semantics in one line (CLI help, documentation).
    reference : str or None
        The float64 reference in :mod:`tvmprims.testing` its tests compare with (None: the
        operator is checked through another one's, e.g. an algorithm against ``conv2d_ref``).
    """

    name: str
    summary: str
    reference: str = None

    @property
    def module(self):
        """The compute module: ``workload(...)``, ``compute(wl)``, ``output_shape(wl)``,
        ``flops(wl)``."""
        return importlib.import_module(f"{__package__}.{self.name}")

    @property
    def params(self):
        """Names of the keyword parameters of the operator's ``workload`` (after the shapes
        and ``dtype``)."""
        names = list(inspect.signature(self.module.workload).parameters)
        # conv2d's ``op`` and ``extra`` let other algorithms reuse its checks: not parameters.
        return tuple(n for n in names[names.index("dtype") + 1:] if n not in ("op", "extra"))

    def check_arguments(self, count, params):
        """TypeError naming the operator's inputs or parameters when ``count`` shapes or the
        keyword ``params`` do not fit its ``workload`` (which would name neither the operator
        nor why); a ``workload`` of any number of shapes (concat) or parameters is left to
        check them."""
        parameters = inspect.signature(self.module.workload).parameters
        kinds = {p.kind for p in parameters.values()}
        inputs = [n for n in parameters if n.endswith("_shape")]
        least = sum(parameters[n].default is inspect.Parameter.empty for n in inputs)
        if inspect.Parameter.VAR_POSITIONAL not in kinds and not least <= count <= len(inputs):
            names = ", ".join(n[:-len("_shape")] for n in inputs)
            expected = f"{least}" if least == len(inputs) else f"{least} or {len(inputs)}"
            raise TypeError(f"{self.name} takes {expected} input shapes ({names}), got {count}")
        unknown = (set(params) - set(parameters) - {"dtype"}) | (set(params) & set(inputs))
        if unknown and inspect.Parameter.VAR_KEYWORD not in kinds:
            raise TypeError(f"{self.name} has no parameter {', '.join(map(repr, sorted(unknown)))}"
                            f"; its parameters are {', '.join(self.params) or 'none'}")

    def workload(self, *shapes, dtype="float32", **params):
        """The operator's checked :class:`~tvmprims.workload.Workload` on ``shapes``."""
        return self.module.workload(*shapes, dtype=dtype, **params)

    def flops(self, wl):
        """Floating-point operations of one call of workload ``wl`` (a multiply-add is 2)."""
        return int(self.module.flops(wl))


#: Every operator, in the order the API lists them.
OPERATOR_SPECS = (
    OperatorSpec("matmul", "A (M, K) @ B (K, N) -> (M, N)", "matmul_ref"),
    OperatorSpec("matmul_log", "matmul in the log domain (exact, or approximate with bits=B)",
                 "matmul_ref"),
    OperatorSpec("dense", "act(x (M, K) @ w (K, N) + bias (N,)) -> (M, N), act ReLU or identity"),
    OperatorSpec("convolve", "numpy.convolve of a (n,) and v (m,), n >= m", "convolve_ref"),
    OperatorSpec("conv2d", "direct NCHW 2-D convolution, as torch conv2d", "conv2d_ref"),
    OperatorSpec("conv2d_im2col", "conv2d as patch matrix x weight GEMM", "conv2d_ref"),
    OperatorSpec("conv2d_winograd", "3x3 stride-1 conv2d by Winograd F(tile x tile, 3x3)",
                 "conv2d_ref"),
    OperatorSpec("winograd_weight", "Winograd filter transform (O, C, 3, 3) -> (a, a, O, C)"),
    OperatorSpec("conv2d_fft", "stride-1 conv2d by DFT matrices", "conv2d_ref"),
    OperatorSpec("depthwise_conv2d", "conv2d with groups == C, weight (C*m, 1, KH, KW)",
                 "depthwise_conv2d_ref"),
    OperatorSpec("max_pool2d", "max pooling of x (N, C, H, W), as torch max_pool2d",
                 "max_pool2d_ref"),
    OperatorSpec("avg_pool2d", "average pooling of x (N, C, H, W), as torch avg_pool2d",
                 "avg_pool2d_ref"),
    OperatorSpec("adaptive_avg_pool2d", "x (N, C, H, W) -> (N, C, OH, OW) averages over "
                 "torch's adaptive windows (global pooling: 1 x 1)", "adaptive_avg_pool2d_ref"),
    OperatorSpec("adaptive_max_pool2d", "x (N, C, H, W) -> (N, C, OH, OW) maxima over "
                 "torch's adaptive windows", "adaptive_max_pool2d_ref"),
    OperatorSpec("add", "a + b (same shape, rank 1 to 4), optionally ReLU-fused", "add_ref"),
    OperatorSpec("concat", "torch.cat of k arrays (same rank, equal but along axis)",
                 "concat_ref"),
    OperatorSpec("scale_channels", "x (N, C, H, W) * s (N, C, 1, 1): a factor per channel "
                 "(squeeze-and-excitation)", "scale_channels_ref"),
)

#: Operator name -> :class:`OperatorSpec`.
REGISTRY = {spec.name: spec for spec in OPERATOR_SPECS}

#: Operators with a compute definition in ``tvmprims.ops`` (what :func:`tvmprims.build` accepts).
OPERATORS = tuple(REGISTRY)


def operator_spec(name):
    """The :class:`OperatorSpec` of operator ``name``; ``ValueError`` for an unknown one."""
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown operator {name!r}: expected one of {OPERATORS}") from None


def operator_module(name):
    """The compute module ``tvmprims.ops.<name>`` of a registered operator."""
    return operator_spec(name).module


# --- conv2d algorithms ------------------------------------------------------------------------

@dataclass(frozen=True)
class Conv2dAlgorithm:
    """One value of ``conv2d(..., algo=name)``.

    Attributes
    ----------
    name : str
        The ``algo`` name.
    op : str
        The registered operator computing it.
    params : tuple of (str, value) pairs
        That operator's parameters for this algorithm (Winograd's ``tile``).
    tolerance : float
        Largest accepted error against direct, in units of the dtype's machine epsilon,
        relative to ``max(1, max|direct|)`` on unit-normal data (the algorithm search rejects
        a result above it).
    propagates_non_finite : bool
        Whether NaN and inf propagate exactly as in the direct algorithm (every output a sum
        over its own receptive field); transforms (Winograd, FFT) spread them over a tile or
        the whole output, and ``conv2d(algo="auto")`` then recomputes with direct.

    Applicability is the operator's own: its ``workload`` raises
    :class:`~tvmprims.ops.NotApplicable` for parameters it does not support.
    """

    name: str
    op: str
    params: tuple = ()
    tolerance: float = 0.0
    propagates_non_finite: bool = False


#: Algorithm name -> :class:`Conv2dAlgorithm`, ``direct`` first (the reference the others
#: are checked against).
#: Winograd's transforms amplify rounding (F(4x4, 3x3) by about 10x more than F(2x2, 3x3));
#: the FFT's DFT sums are as long as the image. Measured errors are 10 to 100 times below
#: these tolerances.
CONV2D_ALGORITHM_TABLE = {algo.name: algo for algo in (
    Conv2dAlgorithm("direct", "conv2d", (), 0, True),
    Conv2dAlgorithm("im2col", "conv2d_im2col", (), 1e3, True),
    Conv2dAlgorithm("winograd2", "conv2d_winograd", (("tile", 2),), 1e4, False),
    Conv2dAlgorithm("winograd4", "conv2d_winograd", (("tile", 4),), 1e5, False),
    Conv2dAlgorithm("fft", "conv2d_fft", (), 1e4, False),
)}

#: Other names ``conv2d(algo=...)`` accepts, and the algorithm each means.
CONV2D_ALIASES = {"winograd": "winograd4"}

#: ``algo`` -> ``(operator, its parameters)`` (the form the API has always exported).
CONV2D_OPERATORS = {a.name: (a.op, dict(a.params)) for a in CONV2D_ALGORITHM_TABLE.values()}

#: ``algo`` -> tolerance (:attr:`Conv2dAlgorithm.tolerance`).
TOLERANCE = {a.name: a.tolerance for a in CONV2D_ALGORITHM_TABLE.values()}

#: Algorithms with :attr:`Conv2dAlgorithm.propagates_non_finite`.
PROPAGATES_NON_FINITE = tuple(a.name for a in CONV2D_ALGORITHM_TABLE.values()
                              if a.propagates_non_finite)


def conv2d_workload(x_shape, w_shape, bias_shape=None, dtype="float32", stride=1, padding=0,
                    dilation=1, groups=1, algo="direct", activation=None, residual=False):
    """The workload computing a conv2d with algorithm ``algo`` (not ``"auto"``), with the
    fused epilogue ``activation``/``residual`` (:mod:`tvmprims.ops.conv2d`).

    With ``groups == C`` (a depthwise layer) the direct algorithm is ``depthwise_conv2d``.
    Raises :class:`~tvmprims.ops.NotApplicable` when the algorithm does not support the
    parameters, ``ValueError`` for bad shapes or parameters.
    """
    algo = CONV2D_ALIASES.get(algo, algo) if isinstance(algo, str) else algo
    if algo not in CONV2D_ALGORITHM_TABLE:
        raise ValueError(f"unknown conv2d algo {algo!r}: expected one of "
                         f"{(*CONV2D_ALGORITHM_TABLE, *CONV2D_ALIASES)}")
    is_depthwise = (is_int(groups) and groups > 1 and len(x_shape) == 4
                    and groups == x_shape[1])
    if algo == "direct" and is_depthwise:
        return operator_module("depthwise_conv2d").workload(
            x_shape, w_shape, bias_shape, dtype, stride, padding, dilation, activation, residual)
    entry = CONV2D_ALGORITHM_TABLE[algo]
    return operator_module(entry.op).workload(x_shape, w_shape, bias_shape, dtype, stride,
                                              padding, dilation, groups, activation=activation,
                                              residual=residual, **dict(entry.params))


def algorithm_of(wl):
    """The ``algo`` name computing conv2d workload ``wl`` (``"direct"`` for depthwise)."""
    if wl.op == "depthwise_conv2d":
        return "direct"
    params = dict(wl.params)
    return next(a.name for a in CONV2D_ALGORITHM_TABLE.values()
                if a.op == wl.op and all(params.get(k) == v for k, v in a.params))


def layer_args(wl):
    """``(x_shape, w_shape, bias_shape, stride, padding, dilation, groups)`` of a direct
    conv2d or depthwise workload (its epilogue is :func:`epilogue_args`)."""
    params = dict(wl.params)
    x_shape, w_shape = wl.shapes[:2]
    bias = wl.shapes[2] if operator_module("conv2d").has_bias(wl) else None
    groups = x_shape[1] if wl.op == "depthwise_conv2d" else params["groups"]
    return (x_shape, w_shape, bias, params["stride"], params["padding"], params["dilation"],
            groups)


def epilogue_args(wl):
    """``{"activation": ..., "residual": ...}`` of a convolution workload."""
    return {"activation": wl.get("activation"), "residual": bool(wl.get("residual"))}


def algorithm_workload(direct_wl, algo):
    """The workload computing the layer of ``direct_wl`` with ``algo``, epilogue included
    (may raise :class:`~tvmprims.ops.NotApplicable`)."""
    x_shape, w_shape, bias_shape, *rest = layer_args(direct_wl)
    return conv2d_workload(x_shape, w_shape, bias_shape, direct_wl.dtype, *rest, algo,
                           **epilogue_args(direct_wl))
