"""Dense layers: ``act(x @ W.T + b)`` on one ``dense`` kernel, and its low-rank variant.

* :class:`Dense`: weight W (out, in) as in ``torch.nn.Linear``; one ``dense`` kernel (GEMM
  with bias and ReLU in its write-back), compiled per batch size.
* :class:`LowRankDense`: W replaced by truncated-SVD factors ``L (out, r) @ R (r, in)``;
  ``act((x @ R.T) @ L.T + b)`` as two skinny ``dense`` kernels. Of the two associations,
  ``x @ (R.T @ L.T)`` multiplies the factors back into a dense weight (done once and kept),
  so it wins only when the rank is so high that ``r * (in + out) >= in * out``.
"""

import numpy as np

from .api import build
from .arrays import as_input
from .conv_layer import as_array as _array
from .lowrank import LowRank, factorize
from .ops._checks import require

__all__ = ["Dense", "LowRankDense"]


class Dense:
    """``act(x @ weight.T + bias)``: weight (out, in) as in ``torch.nn.Linear``."""

    def __init__(self, weight, bias=None, relu=False, *, target=None, schedule="auto"):
        weight = _array(weight)
        require(weight.ndim == 2, f"Dense weight must be 2-D (out, in), got {weight.shape}")
        # (in, out): the kernel's layout, made C-contiguous once here
        self.weight_t = as_input(np.ascontiguousarray(weight.T), "weight")
        self.bias = None if bias is None else as_input(_array(bias, weight.dtype), "bias")
        require(self.bias is None or self.bias.shape == (weight.shape[0],),
                f"bias must have shape ({weight.shape[0]},), got "
                f"{None if self.bias is None else self.bias.shape}")
        self.relu, self.target, self.schedule = bool(relu), target, schedule
        self._kernels = {}  # batch size -> Kernel (skips the shape checks and cache lookup)

    @property
    def in_features(self):
        return self.weight_t.shape[0]

    @property
    def out_features(self):
        return self.weight_t.shape[1]

    @property
    def parameters(self):
        return self.weight_t.size + (0 if self.bias is None else self.bias.size)

    def kernels(self):
        """The kernels compiled so far (one per batch size)."""
        return list(self._kernels.values())

    def kernel(self, batch):
        """The compiled kernel for ``batch`` rows."""
        kernel = self._kernels.get(batch)
        if kernel is None:
            shapes = [(batch, self.in_features), self.weight_t.shape]
            if self.bias is not None:
                shapes.append(self.bias.shape)
            kernel = self._kernels[batch] = build(
                "dense", *shapes, dtype=self.weight_t.dtype, relu=self.relu, target=self.target,
                schedule=self.schedule)
        return kernel

    def __call__(self, x, out=None):
        """``act(x @ weight.T + bias)``, written into ``out`` when given."""
        x = as_input(x, "x")
        require(x.ndim == 2 and x.shape[1] == self.in_features,
                f"expected input (batch, {self.in_features}), got shape {x.shape}")
        args = [x, self.weight_t] + ([self.bias] if self.bias is not None else [])
        return self.kernel(x.shape[0]).run_checked(args, out)


class LowRankDense:
    """:class:`Dense` with weight (out, in) ~= ``left (out, r) @ right (r, in)``."""

    def __init__(self, factors, bias=None, relu=False, *, target=None, schedule="auto"):
        require(isinstance(factors, LowRank), "LowRankDense takes tvmprims.lowrank.LowRank "
                                              "factors (see LowRankDense.from_weight)")
        self.factors = factors
        kw = dict(target=target, schedule=schedule)
        self.project = Dense(factors.right, **kw)                     # x @ R.T: (B, r)
        self.expand = Dense(factors.left, bias, relu, **kw)           # ... @ L.T + b
        self._dense = None
        self._kw = dict(bias=bias, relu=relu, **kw)

    @classmethod
    def from_weight(cls, weight, rank, bias=None, relu=False, **kw):
        """Factorise ``weight`` (out, in) to ``rank`` (truncated SVD) and build the layer."""
        return cls(factorize(_array(weight), rank), bias, relu, **kw)

    @property
    def rank(self):
        return self.factors.rank

    @property
    def in_features(self):
        return self.project.in_features

    @property
    def out_features(self):
        return self.expand.out_features

    @property
    def parameters(self):
        return self.project.parameters + self.expand.parameters

    def two_products(self):
        """True when ``(x @ R.T) @ L.T`` takes fewer FLOPs than ``x @ W.T`` with the dense
        ``W = L @ R`` computed once (for any batch size: both costs are linear in it)."""
        return self.rank * (self.in_features + self.out_features) < (
            self.in_features * self.out_features)

    def __call__(self, x):
        x = as_input(x, "x")
        require(x.ndim == 2 and x.shape[1] == self.in_features,
                f"expected input (batch, {self.in_features}), got shape {x.shape}")
        if self.two_products():
            return self.expand(self.project(x))
        if self._dense is None:
            self._dense = Dense(self.factors.dense(), **self._kw)
        return self._dense(x)
