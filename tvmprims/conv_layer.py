"""``Conv2d``: a convolution layer whose weight is prepared once, for inference.

``Conv2d(weight, bias, stride, padding, dilation, groups, activation)(x, residual=None)``
computes ``activation(conv2d(x, weight) + bias + residual)``, as ``torch.nn.Conv2d``
followed by a residual add and an activation, in one kernel (the epilogue of
:mod:`tvmprims.ops.conv2d`). Per input shape the algorithm is chosen once
(``conv2d(algo=...)``'s choice: rules by default, a measured search on request) and the
weight is brought, once, into the form that algorithm's kernel reads:

* direct on a CPU: packed in the schedule's channel panels (``weight_block``), so no call
  repacks it (a 512x512x3x3 layer's 9.4 MB otherwise, on every call);
* Winograd: the transformed filter ``U = G g G^T`` (:mod:`tvmprims.ops.winograd_weight`);
* the other algorithms read the weight as it is.

:meth:`Conv2d.from_torch` folds a following ``BatchNorm2d`` into weight and bias.
"""

import numpy as np

from . import algorithms as _algorithms
from . import forking
from .arrays import all_finite, as_input, common_dtype
from .build import build_workload
from .ops import conv2d as _conv2d_op
from .ops._checks import positive_pair, require
from .ops.registry import PROPAGATES_NON_FINITE, algorithm_of, conv2d_workload, layer_args
from .target import resolve_target, schedule_kind

__all__ = ["Conv2d", "fold_batch_norm", "as_array"]


def as_array(x, dtype=None):
    """A C-contiguous numpy copy of ``x`` (torch tensors and parameters included)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy().copy()
    x = np.asarray(x)
    return np.ascontiguousarray(x if dtype is None else x.astype(dtype))


def fold_batch_norm(weight, bias, mean, var, gamma, beta, eps):
    """Weight and bias of a convolution followed by inference-mode batch norm:
    ``w' = w * s``, ``b' = (b - mean) * s + beta`` with ``s = gamma / sqrt(var + eps)`` per
    output channel (computed in float64)."""
    scale = np.asarray(gamma, np.float64) / np.sqrt(np.asarray(var, np.float64) + eps)
    bias = np.zeros(len(scale)) if bias is None else np.asarray(bias, np.float64)
    folded_w = np.asarray(weight, np.float64) * scale.reshape(-1, *([1] * (weight.ndim - 1)))
    folded_b = (bias - np.asarray(mean, np.float64)) * scale + np.asarray(beta, np.float64)
    return folded_w.astype(weight.dtype), folded_b.astype(weight.dtype)


class Conv2d:
    """``activation(conv2d(x, weight) + bias + residual)`` with a weight prepared once.

    Parameters
    ----------
    weight : array (O, C // groups, KH, KW), float32 or float64 (numpy or torch)
    bias : array (O,) or None
    stride, padding, dilation, groups
        As :func:`tvmprims.conv2d`.
    activation : None or one of :data:`tvmprims.ops.conv2d.ACTIVATIONS`
    algo : str
        ``"auto"`` (rules), ``"search"`` (measured once per machine) or an algorithm name
        (:data:`tvmprims.CONV2D_ALGORITHMS`).
    target, schedule
        As :func:`tvmprims.build`.

    Calling it on x (N, C, H, W) returns (N, O, OH, OW); ``residual`` (that shape) is added
    before the activation. Weights are copied: later changes to the source do not leak in.
    """

    def __init__(self, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
                 activation=None, *, algo="auto", target=None, schedule="auto"):
        self.weight = as_array(weight)
        require(self.weight.ndim == 4,
                f"Conv2d weight must be 4-D (O, C/groups, KH, KW), got {self.weight.shape}")
        self.weight = as_input(self.weight, "weight")
        self.bias = None if bias is None else as_input(as_array(bias, self.weight.dtype), "bias")
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.activation, self.algo = activation, algo
        self.target, self.schedule = resolve_target(target), schedule
        # Validates every parameter now, on the smallest input the kernel covers.
        (kh, kw), (dh, dw) = self.weight.shape[2:], positive_pair(dilation, "dilation")
        self._workload((1, self.weight.shape[1] * groups, dh * (kh - 1) + 1, dw * (kw - 1) + 1),
                       False)
        self._plans = {}     # (x shape, residual) -> (kernel, weight argument, algo)
        self._weights = {}   # (algo, block) -> the prepared weight
        self._lock = forking.lock()

    def __getstate__(self):
        """Pickled (and deep-copied) without its kernels and prepared weights, which the copy
        makes again on its first call (from the kernel cache, in a new process), nor its
        lock."""
        state = dict(self.__dict__)
        state.update(_plans={}, _weights={}, _lock=None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = forking.lock()

    @classmethod
    def from_torch(cls, conv, batch_norm=None, activation=None, **kw):
        """The layer of a ``torch.nn.Conv2d`` (zero padding only), with an inference-mode
        ``torch.nn.BatchNorm2d`` that follows it folded in."""
        require(conv.padding_mode == "zeros",
                f"Conv2d with padding_mode={conv.padding_mode!r} is not supported (zeros only)")
        weight = as_array(conv.weight)
        bias = None if conv.bias is None else as_array(conv.bias)
        if batch_norm is not None:
            require(batch_norm.track_running_stats and batch_norm.running_mean is not None,
                    "BatchNorm2d without running statistics cannot be folded")
            gamma = (as_array(batch_norm.weight) if batch_norm.affine
                     else np.ones(weight.shape[0]))
            beta = as_array(batch_norm.bias) if batch_norm.affine else np.zeros(weight.shape[0])
            weight, bias = fold_batch_norm(weight, bias, as_array(batch_norm.running_mean),
                                           as_array(batch_norm.running_var), gamma, beta,
                                           batch_norm.eps)
        padding = conv.padding if isinstance(conv.padding, str) else tuple(conv.padding)
        return cls(weight, bias, tuple(conv.stride), padding, tuple(conv.dilation),
                   conv.groups, activation, **kw)

    @property
    def out_channels(self):
        return self.weight.shape[0]

    @property
    def parameters(self):
        return self.weight.size + (0 if self.bias is None else self.bias.size)

    def _workload(self, x_shape, residual, algo="direct"):
        return conv2d_workload(x_shape, self.weight.shape, self._bias_shape, self.weight.dtype,
                               self.stride, self.padding, self.dilation, self.groups, algo,
                               self.activation, residual)

    @property
    def _bias_shape(self):
        return None if self.bias is None else self.bias.shape

    def algorithm(self, x_shape):
        """The algorithm this layer runs on inputs of ``x_shape`` (chosen, not compiled)."""
        if self.algo not in ("auto", "search"):
            return self.algo
        direct = self._workload(tuple(x_shape), False)
        return algorithm_of(_algorithms.choose_algorithm(direct, self.target, self.schedule,
                                                         self.algo))

    def kernels(self):
        """The kernels compiled so far (one per input shape and residual use)."""
        return [plan[0] for plan in list(self._plans.values())]

    def _plan(self, x_shape, residual, algo):
        """``(kernel, weight argument, algorithm)`` for inputs of ``x_shape``."""
        key = (x_shape, residual, algo)
        plan = self._plans.get(key)
        if plan is None:
            with self._lock:
                plan = self._plans.get(key) or self._make_plan(x_shape, residual, algo)
                self._plans[key] = plan
        return plan

    def _make_plan(self, x_shape, residual, algo):
        if algo == self.algo:
            algo = self.algorithm(x_shape)
        wl = self._workload(x_shape, residual, algo)
        weight = self.weight
        if wl.op == "conv2d_winograd":
            weight = self._prepared(("winograd", wl["tile"]), self._winograd_filter, wl["tile"])
            wl = self._pretransformed(wl, weight)
        elif wl.op == "conv2d" and schedule_kind(self.target) == "cpu":
            from .schedules.cpu.conv2d import weight_block
            block = weight_block(wl, self.target)
            if block is not None:
                weight = self._prepared(("packed", block), _conv2d_op.pack_weight,
                                        self.weight, block)
                wl = _conv2d_op.workload(x_shape, weight.shape, self._bias_shape, wl.dtype,
                                         self.stride, self.padding, self.dilation, self.groups,
                                         self.activation, residual, weight_block=block)
        return build_workload(wl, self.target, self.schedule), weight, algo

    def _prepared(self, key, make, *args):
        weight = self._weights.get(key)
        if weight is None:
            weight = self._weights[key] = make(*args)
        return weight

    def _winograd_filter(self, tile):
        from .api import build
        return build("winograd_weight", self.weight.shape, dtype=self.weight.dtype, tile=tile,
                     target=self.target, schedule=self.schedule)(self.weight)

    def _pretransformed(self, wl, u):
        x_shape, _, bias_shape, _, padding, *_ = layer_args(wl)
        from .ops import conv2d_winograd
        return conv2d_winograd.workload(x_shape, u.shape, bias_shape, wl.dtype, 1, padding,
                                        activation=wl.get("activation"),
                                        residual=bool(wl.get("residual")), tile=wl["tile"],
                                        pretransformed=True)

    def __call__(self, x, residual=None, out=None):
        """``activation(conv2d(x) + bias + residual)``; written into ``out`` when given."""
        x = as_input(x, "x")
        residual = None if residual is None else as_input(residual, "residual")
        arrays = [x] + ([] if residual is None else [residual])
        plan = self._plans.get((x.shape, residual is not None, self.algo))
        new = plan is None or x.dtype != self.weight.dtype or (
            residual is not None and (residual.shape != plan[0].workload.shapes[-1]
                                      or residual.dtype != x.dtype))
        if new:
            common_dtype(arrays + [self.weight], ["x", "residual", "weight"][:len(arrays)]
                         + ["weight"])
            require(x.ndim == 4 and x.shape[1] == self.weight.shape[1] * self.groups,
                    f"expected input (N, {self.weight.shape[1] * self.groups}, H, W), got "
                    f"shape {x.shape}")
            plan = self._plan(x.shape, residual is not None, self.algo)
        kernel, weight, algo = plan
        args = [x, weight, *self._rest(arrays)]
        # A new shape or dtype: the kernel checks every argument (and names a wrong residual).
        result = kernel(*args, out=out) if new else kernel.run_checked(args, out)
        if algo not in PROPAGATES_NON_FINITE and not all_finite(result):
            # Winograd and the FFT spread a NaN or inf over a tile or the whole output; the
            # direct algorithm propagates them as torch does.
            kernel, args[1], _ = self._plan(x.shape, residual is not None, "direct")
            result = kernel.run_checked(args, result)
        return result

    def _rest(self, arrays):
        """The kernel's arguments after x and the weight: bias, then the residual."""
        return ([] if self.bias is None else [self.bias]) + arrays[1:]
