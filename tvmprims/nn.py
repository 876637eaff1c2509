"""Neural-network layers whose forward pass runs entirely on compiled tvmprims kernels.

* :class:`Dense`: ``act(x @ W.T + b)`` for a ``torch.nn.Linear``-style weight W (out, in),
  one ``dense`` kernel (GEMM with bias and ReLU in its write-back).
* :class:`LowRankDense`: W replaced by truncated-SVD factors ``L (out, r) @ R (r, in)``;
  ``act((x @ R.T) @ L.T + b)`` as two skinny ``dense`` kernels. Of the two associations,
  ``x @ (R.T @ L.T)`` multiplies the factors back into a dense weight (done once and kept),
  so it wins only when the rank is so high that ``r * (in + out) >= in * out``.
* :class:`Conv2d` (:mod:`tvmprims.conv_layer`): a convolution with its weight prepared once
  (packed, or Winograd-transformed), batch norm folded, residual add and activation fused.
* :class:`Graph` (:mod:`tvmprims.graph`): any torch model ``torch.fx`` can trace (residual
  blocks, concatenations), imported onto these layers and tvmprims operators.
* :class:`Sequential`: layers in order; :meth:`Sequential.from_torch` converts a trained
  ``torch.nn.Sequential`` of ``Linear``/``ReLU`` modules (a bias-free ``Linear`` followed by
  a ``Linear`` is one factorised layer), with a rank per layer, and a CNN sequence
  (``Conv2d``, ``BatchNorm2d``, pooling, ...) through :class:`Graph`'s importer.

Kernels are compiled per input shape and cached (:func:`tvmprims.build`). Inputs are float32
or float64 arrays; torch is only a source of weights.
"""

import numpy as np

from .api import build
from .arrays import as_input
from .conv_layer import Conv2d
from .conv_layer import as_array as _array
from .graph import Graph, UnsupportedNode
from .lowrank import LowRank, factorize
from .ops._checks import require

__all__ = ["Dense", "LowRankDense", "Sequential", "Conv2d", "Graph", "UnsupportedNode"]


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


class Sequential:
    """Layers applied in order; every layer a tvmprims layer."""

    def __init__(self, layers):
        self.layers = list(layers)

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    @property
    def parameters(self):
        """Weights and biases of the layers that have them."""
        return sum(getattr(layer, "parameters", 0) for layer in self.layers)

    @classmethod
    def from_torch(cls, model, ranks=None, *, target=None, schedule="auto"):
        """Convert a trained ``torch.nn.Sequential`` of ``Flatten``, ``Linear`` and ``ReLU``
        modules into tvmprims layers computing the same function.

        A sequence with any other module (``Conv2d``, ``BatchNorm2d``, ``ReLU6``, pooling,
        ``Dropout``, ...) is imported by :meth:`Graph.from_torch` (batch norm folded into
        the convolution before it, activations fused), one layer per step; ``ranks`` must
        then be None, and the model in eval mode.

        Rules (the only ones; anything else raises ``ValueError``):

        * ``Flatten`` modules are dropped (inputs are already (batch, features)).
        * A ``Linear`` becomes a :class:`Dense` layer; a ``ReLU`` right after it is fused
          into that layer's write-back. A ``ReLU`` that follows no ``Linear`` is an error.
        * A bias-free ``Linear`` directly followed by another ``Linear`` (nothing between
          them) is one factorised layer, ``x @ first.weight.T @ second.weight.T +
          second.bias``: a :class:`LowRankDense` with ``right = first.weight`` (r, in),
          ``left = second.weight`` (out, r). This is the form a truncated-SVD factorisation
          takes in torch (``tvmprims.studies.mnist.torch_lowrank``). A first ``Linear``
          with a bias keeps the two as separate :class:`Dense` layers.
        * ``ranks``: None, or one entry per converted layer (a factorised pair counts once).
          None keeps a layer as it is. An int ``r`` factorises a dense layer to its rank-``r``
          truncated SVD (:meth:`LowRankDense.from_weight`; ``r`` at or above
          ``min(out, in)`` keeps it dense), and replaces a factorised pair by the rank-``r``
          truncated SVD of its product ``left @ right`` (``r`` at or above its inner
          dimension keeps the pair's own factors).
        * Weights and biases are copied: later changes to ``model`` (fine-tuning) do not
          change the converted layers.

        Parameters
        ----------
        model : torch.nn.Sequential
            float32 or float64 modules as above.
        ranks : sequence of int or None, optional
            Rank per converted layer, as above.
        target, schedule
            Passed to every layer's kernels (see :func:`tvmprims.build`).

        Returns
        -------
        Sequential
            :class:`Dense` and :class:`LowRankDense` layers, in the model's order.
        """
        import torch
        if not all(isinstance(m, (torch.nn.Flatten, torch.nn.Linear, torch.nn.ReLU))
                   for m in model):
            require(ranks is None, "ranks apply to Linear/ReLU sequences only")
            graph = Graph.from_torch(model, target=target, schedule=schedule)
            return cls(step.layer or step.run for step in graph.steps)
        modules = [m for m in model if not isinstance(m, torch.nn.Flatten)]
        groups, i = [], 0  # ([Linear] or [bias-free Linear, Linear], relu)
        while i < len(modules):
            module = modules[i]
            require(isinstance(module, (torch.nn.Linear, torch.nn.ReLU)),
                    f"cannot convert {type(module).__name__}: only Linear and ReLU layers")
            if isinstance(module, torch.nn.ReLU):  # fused into the Linear before it
                require(i > 0, "cannot convert a ReLU that follows no Linear layer")
                i += 1
                continue
            pair = (module.bias is None and i + 1 < len(modules)
                    and isinstance(modules[i + 1], torch.nn.Linear))
            linears = modules[i:i + 2] if pair else [module]
            i += len(linears)
            groups.append((linears, i < len(modules) and isinstance(modules[i], torch.nn.ReLU)))
        ranks = [None] * len(groups) if ranks is None else list(ranks)
        require(len(ranks) == len(groups),
                f"{len(ranks)} ranks given for {len(groups)} Linear layers")
        layers, kw = [], dict(target=target, schedule=schedule)
        for (linears, relu), rank in zip(groups, ranks):
            bias = None if linears[-1].bias is None else _array(linears[-1].bias)
            if len(linears) == 2:
                right, left = (_array(m.weight) for m in linears)
                factors = LowRank(left, right)
                if rank is not None and rank < factors.rank:
                    factors = factorize(left @ right, rank)
                layers.append(LowRankDense(factors, bias, relu, **kw))
                continue
            weight = _array(linears[0].weight)
            if rank is None or rank >= min(weight.shape):
                layers.append(Dense(weight, bias, relu, **kw))
            else:
                layers.append(LowRankDense.from_weight(weight, rank, bias, relu, **kw))
        return cls(layers)
