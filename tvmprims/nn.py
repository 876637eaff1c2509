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

from .conv_layer import Conv2d
from .conv_layer import as_array as _array
from .dense_layer import Dense, LowRankDense
from .graph import Graph, UnsupportedNode
from .lowrank import LowRank, factorize
from .ops._checks import require

__all__ = ["Dense", "LowRankDense", "Sequential", "Conv2d", "Graph", "UnsupportedNode"]


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
