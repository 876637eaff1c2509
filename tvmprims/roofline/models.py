"""Roofline analysis of torchvision CNNs: FLOPs, parameters, memory and intensity per layer.

Models are torchvision architectures built with ``weights=None`` (random weights: nothing is
downloaded; costs do not depend on the values). :func:`model_layers` runs one forward pass with
hooks on every ``Conv2d`` and ``Linear`` and turns each call into the tvmprims workload that
computes it (conv2d, depthwise_conv2d or dense), so a layer's FLOPs, bytes and intensity are
the operator's own formulas, and the layer can be compiled and timed by tvmprims
(:func:`run_layers`, best algorithm per layer as ``conv2d(..., algo="auto")`` picks it).
:func:`torch_flops` counts the same model with ``torch.utils.flop_counter.FlopCounterMode``,
an independent check (torch counts multiply-adds only: biases are not in its count).
"""

from dataclasses import dataclass

import numpy as np

from ..algorithms import algorithm_of, algorithm_workload, choose_algorithm
from ..build import build_workload
from ..ops import dense as _dense_op
from ..ops.registry import conv2d_workload
from ..timing import best_time
from .analysis import roofline_point

__all__ = ["MODELS", "QUICK_MODELS", "Layer", "ModelSummary", "build_model", "model_layers",
           "summarize", "torch_flops", "torch_latency", "run_layers"]

#: The torchvision architectures analysed: classic, residual, dense, and mobile designs.
MODELS = ("alexnet", "vgg16", "resnet18", "resnet50", "resnext50_32x4d", "densenet121",
          "squeezenet1_1", "mobilenet_v2", "mobilenet_v3_small", "shufflenet_v2_x1_0",
          "mnasnet1_0", "efficientnet_b0", "regnet_x_400mf")
#: Models timed in the quick (CI) run.
QUICK_MODELS = ("resnet18", "mobilenet_v2", "squeezenet1_1")


@dataclass(frozen=True)
class Layer:
    """One Conv2d or Linear call of a model: its name in the model and the tvmprims workload
    (direct algorithm) computing it."""

    name: str
    kind: str          # "conv2d", "depthwise_conv2d" or "dense"
    workload: object   # tvmprims.workload.Workload
    params: int        # weights and bias of the layer

    @property
    def flops(self):
        return self.workload.flops

    @property
    def bias_flops(self):
        """The bias additions in :attr:`flops` (one per output when the layer has a bias)."""
        has_bias = len(self.workload.shapes) == 3
        return int(np.prod(self.workload.output_shape)) if has_bias else 0

    @property
    def bytes(self):
        return self.workload.bytes

    @property
    def intensity(self):
        return self.workload.intensity

    def row(self):
        wl = self.workload
        return {"layer": self.name, "kind": self.kind, "input": "x".join(map(str, wl.shapes[0])),
                "weight": "x".join(map(str, wl.shapes[1])),
                "output": "x".join(map(str, wl.output_shape)), "params": self.params,
                "flops": self.flops, "bytes": self.bytes, "intensity": self.intensity}


@dataclass(frozen=True)
class ModelSummary:
    """Totals of one model at one batch size.

    ``params`` counts every parameter (BatchNorm too); ``param_bytes`` adds the buffers
    (running statistics); ``activation_bytes`` is the output of every Conv2d and Linear call
    (the activations an inference writes, before any reuse of memory). ``intensity`` is
    ``flops`` over the layers' compulsory traffic (``layer_bytes``).
    """

    model: str
    batch: int
    image: int
    params: int
    param_bytes: int
    activation_bytes: int
    flops: int
    layer_bytes: int
    layers: int

    @property
    def memory_bytes(self):
        return self.param_bytes + self.activation_bytes

    @property
    def intensity(self):
        return self.flops / self.layer_bytes

    def row(self):
        return {"model": self.model, "batch": self.batch, "image": self.image,
                "params": self.params, "flops": self.flops, "param_bytes": self.param_bytes,
                "activation_bytes": self.activation_bytes, "memory_bytes": self.memory_bytes,
                "intensity": self.intensity, "layers": self.layers}


def build_model(name):
    """The torchvision model ``name`` with random weights (``weights=None``), in eval mode."""
    import torchvision
    if name not in torchvision.models.list_models():
        raise ValueError(f"unknown torchvision model {name!r}")
    return torchvision.models.get_model(name, weights=None).eval()


def _conv_layer(name, module, x_shape):
    if module.padding_mode != "zeros":
        raise ValueError(f"{name}: padding_mode {module.padding_mode!r} is not supported "
                         "(tvmprims convolutions zero-pad)")
    bias = None if module.bias is None else tuple(module.bias.shape)
    wl = conv2d_workload(x_shape, tuple(module.weight.shape), bias, "float32", module.stride,
                         module.padding, module.dilation, module.groups, "direct")
    params = module.weight.numel() + (0 if module.bias is None else module.bias.numel())
    return Layer(name, wl.op, wl, params)


def _linear_layer(name, module, x_shape):
    if len(x_shape) != 2:
        raise ValueError(f"{name}: Linear on a rank-{len(x_shape)} input is not analysed")
    out_features, in_features = module.weight.shape
    bias = None if module.bias is None else (out_features,)
    wl = _dense_op.workload(x_shape, (in_features, out_features), bias, "float32")
    params = module.weight.numel() + (0 if module.bias is None else module.bias.numel())
    return Layer(name, "dense", wl, params)


def model_layers(model, batch=1, image=224):
    """The :class:`Layer` of every Conv2d and Linear call of ``model`` (a torch module) on a
    ``(batch, 3, image, image)`` input, in execution order."""
    import torch
    layers, hooks = [], []

    def hook(name):
        def record(module, inputs, output):
            shape = tuple(inputs[0].shape)
            make = _conv_layer if isinstance(module, torch.nn.Conv2d) else _linear_layer
            layers.append(make(name, module, shape))
        return record

    for name, module in model.named_modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
            hooks.append(module.register_forward_hook(hook(name)))
    try:
        with torch.inference_mode():
            model(torch.zeros(batch, 3, image, image))
    finally:
        for h in hooks:
            h.remove()
    return layers


def summarize(name, model, layers, batch, image):
    """The :class:`ModelSummary` of ``model`` from its :func:`model_layers`."""
    params = sum(p.numel() for p in model.parameters())
    state_bytes = sum(t.numel() * t.element_size() for t in
                      [*model.parameters(), *model.buffers()] if t.is_floating_point())
    activations = sum(int(np.prod(layer.workload.output_shape))
                      * np.dtype(layer.workload.dtype).itemsize for layer in layers)
    return ModelSummary(name, batch, image, params, state_bytes, activations,
                        sum(layer.flops for layer in layers),
                        sum(layer.bytes for layer in layers), len(layers))


def torch_flops(model, batch=1, image=224):
    """FLOPs of one forward pass as ``torch.utils.flop_counter.FlopCounterMode`` counts them
    (2 per multiply-add of convolutions and matrix products; no biases)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        model(torch.zeros(batch, 3, image, image))
    return counter.get_total_flops()


def torch_latency(model, batch, image=224, repeat=2, device="cpu"):
    """Seconds of one forward pass of ``model`` in torch on ``device`` (best of ``repeat``,
    after a warm-up; CUDA work is synchronised before the clock stops)."""
    import torch
    model = model.to(device)
    x = torch.randn(batch, 3, image, image, device=device)
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)

    def forward():
        model(x)
        sync()

    with torch.inference_mode():
        return best_time(forward, min_seconds=0, repeat=repeat)


def run_layers(layers, peaks, target="llvm", algo="auto", repeat=3, min_repeat_ms=100,
               report=None):
    """Compile and time every distinct layer with tvmprims; returns ``(layer, algorithm,
    RooflinePoint)`` per layer, in order (a repeated shape is timed once). ``algo="auto"``
    runs each convolution with its fastest accurate algorithm
    (:func:`tvmprims.algorithms.choose_algorithm`); the point counts the FLOPs and bytes of
    the algorithm that ran."""
    timed = {}
    results = []
    for i, layer in enumerate(layers):
        wl = layer.workload
        if wl not in timed:
            chosen = wl
            if layer.kind != "dense":
                chosen = (choose_algorithm(wl, target) if algo == "auto"
                          else algorithm_workload(wl, algo))
            timing = build_workload(chosen, target).time(repeat=repeat,
                                                         min_repeat_ms=min_repeat_ms)
            timed[wl] = ("dense" if layer.kind == "dense" else algorithm_of(chosen), chosen,
                         timing.seconds)
        name, chosen, seconds = timed[wl]
        point = roofline_point(chosen, seconds, peaks, layer.name)
        results.append((layer, name, point))
        if report:
            report(f"[{i + 1}/{len(layers)}] {layer.name} {wl.describe()}: {name} "
                   f"{seconds * 1e3:.3f} ms, {point.percent_of_roof:.0f}% of roof")
    return results
