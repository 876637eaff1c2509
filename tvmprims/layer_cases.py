"""The cases of the layer suite (``tvmprims bench --suite layers``, :mod:`tvmprims.layer_suite`).

* **Model layers**: every distinct ``Conv2d`` and ``Linear`` call of the torchvision models of
  :data:`tvmprims.roofline.models.MODELS` (:func:`~tvmprims.roofline.models.model_layers`,
  random weights, 224x224 images), deduplicated by workload (shapes, bias, stride, padding,
  dilation, groups); a case remembers every ``model/layer`` that uses it.
* **GEMM sweep** (:data:`GEMM_SHAPES`): M from 1 to 4096, K from 64 to 9216, N never a
  multiple of a tile (1000, 4095, 257, ...).
* **conv1d** (:data:`CONV1D_LAYERS`) and **convolve** (:data:`CONVOLVE_SIZES`): 1-D signals.

Categories (:data:`CATEGORIES`), the first that applies: ``depthwise`` (groups == C > 1),
``grouped`` (1 < groups < C), ``strided`` (stride > 1, or the 3-channel stem), ``conv1x1``,
``conv`` (the rest: KxK, stride 1), then ``linear``, ``gemm``, ``conv1d``, ``convolve``.
"""

from dataclasses import dataclass, field, replace

from .ops.registry import layer_args

__all__ = ["SuiteCase", "CATEGORIES", "GEMM_SHAPES", "CONV1D_LAYERS", "CONVOLVE_SIZES",
           "QUICK_MODELS", "conv_category", "model_cases", "gemm_cases", "conv1d_cases",
           "convolve_cases", "suite_cases", "quick_cases", "select", "workload_case"]

#: Every category, in report order.
CATEGORIES = ("conv", "conv1x1", "strided", "depthwise", "grouped", "linear", "gemm", "conv1d",
              "convolve")

#: (M, K, N) of the GEMM sweep: GEMV rows, skinny and square products, tall-skinny ones.
GEMM_SHAPES = (
    (1, 64, 1000), (1, 2048, 1000), (1, 9216, 4095),
    (8, 4096, 1000), (32, 1024, 4095), (128, 576, 1000), (256, 2304, 1000),
    (1000, 1000, 1000), (1024, 9216, 257), (3136, 64, 100), (4096, 64, 4095),
    (4096, 576, 31),
)

#: conv1d layers: ((N, C, L), (O, C // groups, K), params). Speech front ends, a
#: depthwise one (Conformer-style), a batched one.
CONV1D_LAYERS = (
    ((1, 1, 16000), (64, 1, 80), {"stride": 4}),
    ((1, 128, 1000), (128, 128, 3), {"padding": 1}),
    ((1, 256, 2048), (256, 1, 31), {"padding": 15, "groups": 256}),
    ((8, 64, 509), (96, 64, 5), {"padding": 2}),
)

#: numpy.convolve cases: (n, m, mode).
CONVOLVE_SIZES = ((1024, 1024, "full"), (10000, 1024, "full"), (100000, 31, "same"),
                  (50000, 513, "valid"))

#: Models whose layers make the quick (CI) subset; regnet_x_400mf brings grouped layers.
QUICK_MODELS = ("resnet18", "mobilenet_v2", "regnet_x_400mf")


@dataclass(frozen=True)
class SuiteCase:
    """One row of the suite.

    ``op`` is what the runner calls: ``"conv2d"`` (``tvmprims.conv2d``, depthwise layers
    too, with groups == C), ``"linear"`` (``tvmprims.nn.Dense``), ``"matmul"``,
    ``"conv1d"`` or ``"convolve"``. ``shapes`` are the inputs in the call's order (Linear:
    x (M, in), weight (out, in) as torch stores it, bias); ``params`` its keyword
    arguments; ``users`` the ``model/layer`` names computing it.
    """

    category: str
    label: str
    op: str
    shapes: tuple
    params: tuple = ()
    users: tuple = field(default=(), compare=False)

    def kwargs(self):
        return dict(self.params)

    def with_users(self, users):
        return replace(self, users=tuple(users))

    @property
    def models(self):
        """The distinct models among :attr:`users`, in order."""
        return tuple(dict.fromkeys(u.split("/")[0] for u in self.users))

    @property
    def workload(self):
        """The tvmprims workload of the direct computation (FLOPs, bytes)."""
        from .api import build_workload_from_shapes
        from .ops.registry import conv2d_workload
        kw = self.kwargs()
        if self.op == "conv2d":
            x, w, *bias = self.shapes
            return conv2d_workload(x, w, bias[0] if bias else None, "float32", kw["stride"],
                                   kw["padding"],
                                   kw["dilation"], kw["groups"], "direct")
        if self.op == "linear":
            (m, k), (n, _), *bias = self.shapes
            return build_workload_from_shapes("dense", [(m, k), (k, n), *bias])
        if self.op == "conv1d":
            (n, c, length), (o, cg, k) = self.shapes[:2]
            pad = kw.get("padding", 0)
            return conv2d_workload((n, c, 1, length), (o, cg, 1, k), None, "float32",
                                   (1, kw.get("stride", 1)), (0, pad),
                                   (1, kw.get("dilation", 1)), kw.get("groups", 1), "direct")
        return build_workload_from_shapes(self.op, self.shapes, params=kw)


def _dims(shape):
    return "x".join(map(str, shape))


def conv_category(x_shape, w_shape, stride, groups):
    """The category of a conv2d layer (see the module docstring)."""
    channels = x_shape[1]
    if groups > 1 and groups == channels:
        return "depthwise"
    if groups > 1:
        return "grouped"
    if max(stride) > 1 or channels <= 3:
        return "strided"
    return "conv1x1" if tuple(w_shape[2:]) == (1, 1) else "conv"


def _conv_case(wl, user):
    x, w, bias, stride, padding, dilation, groups = layer_args(wl)
    label = f"{_dims(x[1:])} {w[0]}x{_dims(w[1:])}"
    if max(stride) > 1:
        label += f" s{stride[0]}" if stride[0] == stride[1] else f" s{_dims(stride)}"
    if groups > 1:
        label += f" g{groups}"
    if x[0] > 1:
        label += f" n{x[0]}"
    params = (("stride", stride), ("padding", padding), ("dilation", dilation),
              ("groups", groups))
    shapes = (x, w) + ((bias,) if bias else ())
    return SuiteCase(conv_category(x, w, stride, groups), label, "conv2d", shapes, params,
                     (user,))


def _linear_case(wl, user):
    (m, k), (_, n), *bias = wl.shapes
    return SuiteCase("linear", f"{k}->{n} M={m}", "linear", ((m, k), (n, k), *bias), (),
                     (user,))


def workload_case(workload, user):
    """The case of a ``conv2d`` (direct), ``dense`` or ``matmul`` workload (a manifest's
    layer); ``ValueError`` for other operators."""
    params = dict(workload.params)
    if workload.op == "conv2d" and not params.get("activation") and not params.get("residual"):
        return _conv_case(workload, user)
    if workload.op == "dense" and not params.get("relu"):
        return _linear_case(workload, user)
    if workload.op == "matmul":
        (m, k), (_, n) = workload.shapes
        return SuiteCase("gemm", f"M={m} K={k} N={n}", "matmul", workload.shapes, (), (user,))
    raise ValueError(f"{user}: a layer must be a conv2d (no epilogue), dense (no relu) or matmul "
                     f"kernel, got {workload.describe()}")


def model_cases(models=None, batch=1, image=224):
    """Distinct Conv2d/Linear layers of ``models`` (default: all 13) at ``batch``, in first-use
    order, each with every ``model/layer`` that computes it."""
    from .roofline.models import MODELS, build_model, model_layers
    cases = {}
    for name in models or MODELS:
        for layer in model_layers(build_model(name), batch, image):
            user = f"{name}/{layer.name}"
            known = cases.get(layer.workload)
            if known is not None:
                cases[layer.workload] = replace(known, users=known.users + (user,))
            elif layer.kind == "dense":
                cases[layer.workload] = _linear_case(layer.workload, user)
            else:
                cases[layer.workload] = _conv_case(layer.workload, user)
    return list(cases.values())


def gemm_cases(shapes=GEMM_SHAPES):
    return [SuiteCase("gemm", f"M={m} K={k} N={n}", "matmul", ((m, k), (k, n)))
            for m, k, n in shapes]


def conv1d_cases(layers=CONV1D_LAYERS):
    cases = []
    for x, w, params in layers:
        label = f"{_dims(x[1:])} {w[0]}x{_dims(w[1:])}" + "".join(
            f" {k[0]}{v}" for k, v in params.items() if k != "padding")
        if x[0] > 1:
            label += f" n{x[0]}"
        cases.append(SuiteCase("conv1d", label, "conv1d", (x, w), tuple(sorted(params.items()))))
    return cases


def convolve_cases(sizes=CONVOLVE_SIZES):
    return [SuiteCase("convolve", f"{n}*{m} {mode}", "convolve", ((n,), (m,)),
                      (("mode", mode),)) for n, m, mode in sizes]


def suite_cases(models=None, batches=(1,), categories=None):
    """Every case of the suite: model layers at each of ``batches``, then the GEMM sweep,
    conv1d and convolve; only ``categories`` when given (model layers are not even listed
    when no model category is asked for)."""
    wanted = set(categories or CATEGORIES)
    unknown = wanted - set(CATEGORIES)
    if unknown:
        raise ValueError(f"unknown categories {sorted(unknown)}: expected some of {CATEGORIES}")
    cases = []
    if wanted & {"conv", "conv1x1", "strided", "depthwise", "grouped", "linear"}:
        for batch in batches:
            cases += model_cases(models, batch)
    cases += gemm_cases() + conv1d_cases() + convolve_cases()
    return [c for c in cases if c.category in wanted]


def quick_cases(categories=None):
    """A small real subset (CI): per model-layer category the cheapest layer of
    :data:`QUICK_MODELS`, the two cheapest GEMMs, one conv1d and one convolve case."""
    chosen = []
    layers = model_cases(QUICK_MODELS)
    for category in ("conv", "conv1x1", "strided", "depthwise", "grouped", "linear"):
        mine = [c for c in layers if c.category == category]
        if mine:
            chosen.append(min(mine, key=lambda c: c.workload.flops))
    chosen += sorted(gemm_cases(), key=lambda c: c.workload.flops)[:2]
    chosen += [conv1d_cases()[1], convolve_cases()[0]]
    return select(chosen, categories)


def select(cases, categories=None, limit=None):
    """``cases`` of ``categories`` (all when None), at most ``limit`` per category."""
    counts = {}
    kept = []
    for case in cases:
        if categories and case.category not in categories:
            continue
        counts[case.category] = counts.get(case.category, 0) + 1
        if limit is None or counts[case.category] <= limit:
            kept.append(case)
    return kept
