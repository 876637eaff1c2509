"""``Graph``: a torch model imported node by node onto tvmprims kernels, run from Python.

:meth:`Graph.from_torch` traces a model with ``torch.fx`` (symbolic tracing: the models of
torchvision that have no data-dependent control flow) and maps every node to a tvmprims layer
or operator:

==============================================  ============================================
torch                                           tvmprims
==============================================  ============================================
``Conv2d`` [+ ``BatchNorm2d``] [+ add] [+ act]   one :class:`~tvmprims.conv_layer.Conv2d`
                                                kernel: BN folded into weight and bias, a
                                                residual add and the activation fused into
                                                the write-back
``Linear`` [+ ``ReLU``]                          :class:`~tvmprims.dense_layer.Dense`
``BatchNorm2d`` alone [+ act]                   a depthwise 1x1 ``Conv2d`` (scale, shift)
an activation alone (ReLU, ReLU6, SiLU,        a depthwise 1x1 identity ``Conv2d`` with it
Sigmoid, Hardsigmoid, Hardswish)
``MaxPool2d``, ``AvgPool2d``,                   ``max_pool2d``, ``avg_pool2d``,
``AdaptiveAvgPool2d``, ``mean([2, 3])``         ``adaptive_avg_pool2d``
``x + y`` not fused [+ ``ReLU``]                ``add``
``x * s``, s (N, C, 1, 1) (squeeze-excitation)  ``scale_channels``
``torch.cat(..., 1)``                           ``concat``
``flatten``, ``Dropout``, ``Identity``,         a reshape (no copy); identity (inference)
stochastic depth
==============================================  ============================================

Anything else raises :class:`UnsupportedNode` naming the node, its target and the model
code it came from. Fusions apply only where the intermediate has no other user. The graph
runs its steps in order, dropping each intermediate after its last use; convolution and dense
layers write into buffers kept from the previous call of the same input shape (per thread).
"""

import functools
import operator
import threading
from dataclasses import dataclass, field

import numpy as np

from . import api
from .conv_layer import Conv2d, as_array
from .ops._checks import require

__all__ = ["Graph", "Step", "UnsupportedNode"]


class UnsupportedNode(ValueError):
    """A node of a torch model that the importer cannot map to tvmprims."""


@dataclass
class Step:
    """One step of a :class:`Graph`: ``run(*inputs)`` over the values named ``inputs``,
    stored as ``name``. ``kind`` says what it is (for :meth:`Graph.summary`)."""

    name: str
    kind: str
    run: object
    inputs: tuple
    layer: object = None
    fused: tuple = field(default_factory=tuple)

    @property
    def writes_out(self):
        """Whether ``run`` takes ``out=`` (a layer writing into a given buffer)."""
        return self.layer is not None


def _activation_of(node, modules):
    """``"relu"``, ``"relu6"`` or ``"silu"`` when ``node`` applies that activation, else None."""
    import torch
    functional = torch.nn.functional
    if node.op == "call_module":
        module = modules[node.target]
        if isinstance(module, torch.nn.ReLU):
            return "relu"
        if isinstance(module, torch.nn.ReLU6):
            return "relu6"
        if isinstance(module, torch.nn.Hardtanh) and (module.min_val, module.max_val) == (0, 6):
            return "relu6"
        return next((name for cls, name in ((torch.nn.SiLU, "silu"), (torch.nn.Sigmoid, "sigmoid"),
                                             (torch.nn.Hardsigmoid, "hardsigmoid"),
                                             (torch.nn.Hardswish, "hardswish"))
                     if isinstance(module, cls)), None)
    if node.op == "call_function":
        return {functional.relu: "relu", torch.relu: "relu", functional.relu6: "relu6",
                functional.silu: "silu", torch.sigmoid: "sigmoid",
                functional.hardsigmoid: "hardsigmoid",
                functional.hardswish: "hardswish"}.get(node.target)
    if node.op == "call_method" and node.target in ("relu", "relu_", "sigmoid"):
        return node.target.rstrip("_")
    return None


def _is_add(node):
    import torch
    return (node.op == "call_function" and node.target in (operator.add, operator.iadd, torch.add)
            and len(node.args) == 2 and not node.kwargs
            and all(hasattr(a, "op") for a in node.args))


def _describe(node, modules):
    """``node 'name' (what it calls)``: the module's class for a module call."""
    if node.op == "call_module":
        what = f"{type(modules[node.target]).__name__} module {node.target}"
    else:
        what = f"{node.op} {getattr(node.target, '__name__', node.target)}"
    return f"node {node.name!r} ({what})"


class Graph:
    """Steps over named values, from one input to one output (see the module docstring)."""

    def __init__(self, steps, input_name, output_name):
        self.steps, self.input_name, self.output_name = list(steps), input_name, output_name
        last_use = {}
        for index, step in enumerate(self.steps):
            for name in step.inputs:
                last_use[name] = index
        self._dead_after = [[n for n in step.inputs if last_use[n] == i and n != output_name]
                            for i, step in enumerate(self.steps)]
        self._local = threading.local()

    def __getstate__(self):
        """Pickled (and deep-copied) without the buffers of its last call, which are per
        thread."""
        return {key: value for key, value in self.__dict__.items() if key != "_local"}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._local = threading.local()

    def __call__(self, x):
        """The model's output for input ``x`` (a numpy array or torch CPU tensor), a new
        array. Layers write into the buffers of the previous call when its input had the
        same shape (kept per thread, for the last input shape only)."""
        values = {self.input_name: as_array(x) if hasattr(x, "detach") else x}
        shape = getattr(values[self.input_name], "shape", None)
        cached = getattr(self._local, "buffers", None)
        buffers = cached[1] if cached is not None and cached[0] == shape else {}
        for step, dead in zip(self.steps, self._dead_after):
            inputs = (values[name] for name in step.inputs)
            out = buffers.get(step.name)
            result = step.run(*inputs) if out is None else step.run(*inputs, out=out)
            if step.writes_out and step.name != self.output_name:
                buffers[step.name] = result
            values[step.name] = result
            for name in dead:
                values.pop(name, None)
        self._local.buffers = (shape, buffers)
        result = values[self.output_name]
        if any(np.may_share_memory(result, b) for b in buffers.values()):
            result = result.copy()  # a view (flatten) of a buffer the next call overwrites
        return result

    def summary(self):
        """One row per step: ``(name, kind, fused)``."""
        return [(s.name, s.kind, "+".join(s.fused)) for s in self.steps]

    @classmethod
    def from_torch(cls, model, *, algo="auto", target=None, schedule="auto"):
        """Import ``model`` (a ``torch.nn.Module`` in eval mode, one tensor in and out).

        Parameters
        ----------
        model : torch.nn.Module
            Traced with ``torch.fx.symbolic_trace``; weights are copied (float32 or float64).
        algo, target, schedule
            For every convolution (:class:`~tvmprims.conv_layer.Conv2d`) and kernel.

        Raises
        ------
        UnsupportedNode
            For the first node that has no tvmprims mapping, naming it.
        """
        import torch.fx
        training = [m for m in model.modules() if m.training and isinstance(
            m, (torch.nn.modules.batchnorm._BatchNorm, torch.nn.modules.dropout._DropoutNd))]
        require(not training, "import a model in eval mode (model.eval()): its batch norm "
                              "and dropout layers are imported as in inference")
        traced = torch.fx.symbolic_trace(model)
        return _Importer(traced, dict(algo=algo, target=target, schedule=schedule)).graph()


class _Importer:
    def __init__(self, traced, options):
        self.nodes = list(traced.graph.nodes)
        self.modules = dict(traced.named_modules())
        self.options = options
        self.kernel_options = dict(target=options["target"], schedule=options["schedule"])
        self.value = {}      # fx node -> name of the value holding its result
        self.absorbed = set()
        self.deferred = {}   # fused chain's last node -> its step, emitted when reached
        self.steps = []

    def graph(self):
        inputs = [n for n in self.nodes if n.op == "placeholder"]
        require(len(inputs) == 1, f"the model must take one tensor, it takes {len(inputs)}")
        self.value[inputs[0]] = inputs[0].name
        output = None
        for node in self.nodes:
            if node in self.deferred:
                self._emit(node, *self.deferred.pop(node))
                continue
            if node.op == "placeholder" or node in self.absorbed:
                continue
            if node.op == "output":
                result = node.args[0]
                if not hasattr(result, "op"):
                    raise UnsupportedNode(f"{_describe(node, self.modules)}: the model must "
                                          "return one tensor")
                output = self.value[result]
                continue
            self._map(node)
        return Graph(self.steps, inputs[0].name, output)

    # --- helpers ---------------------------------------------------------------------------

    def _sole_user(self, node):
        """The one user of ``node``, when it has one that no fused chain took yet."""
        users = list(node.users)
        if len(users) == 1 and users[0].op != "output" and users[0] not in self.absorbed:
            return users[0]
        return None

    def _module(self, node):
        return self.modules[node.target] if node.op == "call_module" else None

    def _emit(self, tail, kind, run, inputs, layer=None, fused=()):
        """Append the step computing ``tail``'s value; ``inputs`` are fx nodes."""
        self.value[tail] = tail.name
        self.steps.append(Step(tail.name, kind, run, tuple(self.value[i] for i in inputs),
                               layer, tuple(fused)))
        return tail.name

    def _emit_at(self, tail, node, *step):
        """Emit a fused step now when ``tail`` is ``node`` itself, else when the importer
        reaches ``tail`` (a residual operand may be computed between the two)."""
        if tail is node:
            return self._emit(tail, *step)
        self.deferred[tail] = step

    def _absorb_activation(self, tail):
        """``(activation, new tail)`` when the sole user of ``tail`` is an activation."""
        user = self._sole_user(tail)
        activation = None if user is None else _activation_of(user, self.modules)
        if activation is None:
            return None, tail
        self.absorbed.add(user)
        return activation, user

    def _alias(self, node, source):
        self.value[node] = self.value[source]

    # --- the mapping -----------------------------------------------------------------------

    def _map(self, node):
        import torch
        nn = torch.nn
        module = self._module(node)
        activation = _activation_of(node, self.modules)
        if isinstance(module, nn.Conv2d):
            return self._conv(node, module)
        if isinstance(module, nn.Linear):
            return self._linear(node, module)
        if isinstance(module, nn.BatchNorm2d):
            return self._batch_norm(node, module)
        if activation is not None:
            return self._activation(node, activation)
        if self._is_identity(node):
            return self._alias(node, node.args[0])
        if isinstance(module, nn.MaxPool2d):
            return self._pool(node, "max_pool2d", module)
        if isinstance(module, nn.AvgPool2d):
            return self._pool(node, "avg_pool2d", module)
        if isinstance(module, nn.AdaptiveAvgPool2d) or (
                node.op == "call_function"
                and node.target is torch.nn.functional.adaptive_avg_pool2d):
            size = module.output_size if module is not None else (
                node.args[1] if len(node.args) > 1 else node.kwargs["output_size"])
            return self._emit(node, "adaptive_avg_pool2d",
                              functools.partial(api.adaptive_avg_pool2d, output_size=size,
                                                **self.kernel_options),
                              [node.args[0]])
        if self._is_spatial_mean(node):
            return self._emit(node, "adaptive_avg_pool2d",
                              functools.partial(_spatial_mean, **self.kernel_options),
                              [node.args[0]])
        if _is_add(node):
            return self._add(node)
        if self._is_channel_scale(node):
            return self._emit(node, "scale_channels",
                              functools.partial(_scale_channels, **self.kernel_options),
                              list(node.args))
        if self._is_cat(node):
            tensors = node.args[0]
            return self._emit(node, "concat",
                              functools.partial(_concat_channels, **self.kernel_options),
                              list(tensors))
        if self._is_flatten(node):
            return self._emit(node, "flatten", _flatten, [node.args[0]])
        raise UnsupportedNode(f"cannot import {_describe(node, self.modules)}: no tvmprims "
                              "layer or operator computes it")

    def _conv(self, node, conv):
        import torch
        tail, fused, batch_norm, residual = node, ["conv2d"], None, None
        user = self._sole_user(tail)
        if user is not None and isinstance(self._module(user), torch.nn.BatchNorm2d):
            batch_norm, tail = self._module(user), user
            self.absorbed.add(user)
            fused.append("batch_norm")
        user = self._sole_user(tail)
        while user is not None and self._is_identity(user):  # a shortcut's stochastic depth
            self.absorbed.add(user)
            tail, user = user, self._sole_user(user)
        if user is not None and _is_add(user):
            residual = user.args[1] if user.args[0] is tail else user.args[0]
            if residual is not tail:
                self.absorbed.add(user)
                tail = user
                fused.append("add")
            else:
                residual = None
        activation, tail = self._absorb_activation(tail)
        if activation:
            fused.append(activation)
        layer = Conv2d.from_torch(conv, batch_norm, activation, **self.options)
        inputs = [node.args[0]] + ([residual] if residual is not None else [])
        self._emit_at(tail, node, "conv2d", layer, inputs, layer, fused)

    def _linear(self, node, linear):
        from .dense_layer import Dense
        activation, tail = self._absorb_activation(node)
        if activation not in (None, "relu"):  # Dense fuses ReLU only: leave it to its own step
            self.absorbed.discard(tail)
            activation, tail = None, node
        layer = Dense(as_array(linear.weight), None if linear.bias is None
                      else as_array(linear.bias), activation == "relu", **self.kernel_options)
        self._emit_at(tail, node, "dense", layer, [node.args[0]], layer,
                      ["dense"] + ([activation] if activation else []))

    def _batch_norm(self, node, bn):
        """Inference batch norm alone (DenseNet's pre-activation): a depthwise 1x1
        convolution by ``gamma / sqrt(var + eps)`` plus the shift, activation fused."""
        channels = bn.num_features
        weight = np.ones((channels, 1, 1, 1), np.float32)
        if bn.weight is not None:
            weight = weight.astype(as_array(bn.weight).dtype)
        mean, var = as_array(bn.running_mean), as_array(bn.running_var)
        gamma = as_array(bn.weight) if bn.affine else np.ones(channels, weight.dtype)
        beta = as_array(bn.bias) if bn.affine else np.zeros(channels, weight.dtype)
        from .conv_layer import fold_batch_norm
        weight, bias = fold_batch_norm(weight, None, mean, var, gamma, beta, bn.eps)
        activation, tail = self._absorb_activation(node)
        layer = Conv2d(weight, bias, groups=channels, activation=activation, **self.options)
        self._emit_at(tail, node, "batch_norm", layer, [node.args[0]], layer,
                      ["batch_norm"] + ([activation] if activation else []))

    def _activation(self, node, activation):
        """An activation nothing before it could take: a depthwise 1x1 identity convolution
        with that activation (element-wise, on the compiled kernels)."""
        source = node.args[0]
        self._emit(node, activation, _Elementwise(activation, self.options), [source])

    def _pool(self, node, kind, module):
        function = getattr(api, kind)
        params = dict(kernel_size=module.kernel_size, stride=module.stride,
                      padding=module.padding, ceil_mode=module.ceil_mode)
        if kind == "max_pool2d":
            require(not module.return_indices, "MaxPool2d(return_indices=True) is not supported")
            params["dilation"] = module.dilation
        else:
            params["count_include_pad"] = module.count_include_pad
            params["divisor_override"] = module.divisor_override
        self._emit(node, kind, functools.partial(function, **params, **self.kernel_options),
                   [node.args[0]])

    def _add(self, node):
        activation, tail = self._absorb_activation(node)
        if activation not in (None, "relu"):
            self.absorbed.discard(tail)
            activation, tail = None, node
        relu = activation == "relu"
        self._emit_at(tail, node, "add",
                      functools.partial(api.add, relu=relu, **self.kernel_options),
                      list(node.args), None, ["add"] + (["relu"] if relu else []))

    def _is_identity(self, node):
        """Dropout, ``Identity`` and stochastic depth (EfficientNet) in inference."""
        import torch
        import torchvision
        if isinstance(self._module(node), (torch.nn.Dropout, torch.nn.Identity)):
            return True
        if node.op != "call_function":
            return False
        if node.target is torch.nn.functional.dropout:
            return not (node.args[2] if len(node.args) > 2 else node.kwargs.get("training", True))
        if node.target is torchvision.ops.stochastic_depth:
            return not (node.args[3] if len(node.args) > 3 else node.kwargs.get("training", True))
        return False

    def _is_channel_scale(self, node):
        """``x * s`` of two tensors: a squeeze-and-excitation block's multiply (one operand
        (N, C, 1, 1), checked when it runs)."""
        import torch
        return (node.op == "call_function" and node.target in (operator.mul, torch.mul)
                and len(node.args) == 2 and not node.kwargs
                and all(hasattr(a, "op") for a in node.args))

    def _is_cat(self, node):
        import torch
        if node.op != "call_function" or node.target is not torch.cat:
            return False
        dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", 0)
        return dim == 1 and isinstance(node.args[0], (list, tuple))

    def _is_flatten(self, node):
        import torch
        module = self._module(node)
        if isinstance(module, torch.nn.Flatten):
            return (module.start_dim, module.end_dim) == (1, -1)
        if node.op == "call_function" and node.target is torch.flatten:
            start = node.args[1] if len(node.args) > 1 else node.kwargs.get("start_dim", 0)
        elif node.op == "call_method" and node.target == "flatten":
            start = node.args[1] if len(node.args) > 1 else node.kwargs.get("start_dim", 0)
        else:
            return False
        end = node.args[2] if len(node.args) > 2 else node.kwargs.get("end_dim", -1)
        return start == 1 and end == -1

    def _is_spatial_mean(self, node):
        if node.op != "call_method" or node.target != "mean":
            return False
        dims = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
        keepdim = node.args[2] if len(node.args) > 2 else node.kwargs.get("keepdim", False)
        return list(dims or []) in ([2, 3], [-2, -1]) and not keepdim


# Steps run module-level functions (with functools.partial for their options), never
# closures: a Graph pickles (spawned workers, copy.deepcopy).

def _spatial_mean(x, **options):
    """``x.mean((2, 3))``: (N, C, H, W) -> (N, C)."""
    return api.adaptive_avg_pool2d(x, 1, **options).reshape(x.shape[:2])


def _concat_channels(*xs, **options):
    return api.concat(xs, axis=1, **options)


def _flatten(x):
    return x.reshape(x.shape[0], -1)


def _scale_channels(a, b, **options):
    """``a * b`` where one of them is a per-channel scale (N, C, 1, 1)."""
    if a.ndim == 4 and a.shape[2:] == (1, 1) and b.shape[2:] != (1, 1):
        a, b = b, a
    return api.scale_channels(a, b, **options)


class _Elementwise:
    """``activation(x)`` on (N, C, H, W) or (N, F) input (viewed as (N, F, 1, 1)), as a
    depthwise 1x1 identity convolution (one layer per channel count)."""

    def __init__(self, activation, options):
        self.activation, self.options, self._layers = activation, options, {}

    def __call__(self, x):
        if getattr(x, "ndim", 4) == 2:  # after a Linear layer (MobileNetV3's classifier)
            return self(x.reshape(*x.shape, 1, 1)).reshape(x.shape)
        channels = x.shape[1]
        layer = self._layers.get((channels, x.dtype))
        if layer is None:
            layer = self._layers[(channels, x.dtype)] = Conv2d(
                np.ones((channels, 1, 1, 1), x.dtype), groups=channels,
                activation=self.activation, **self.options)
        return layer(x)
