"""``tvmprims infer``: whole torchvision CNNs on tvmprims kernels against torch, end to end.

For each model: build it (``weights=None``; batch-norm statistics randomised with a fixed
seed, so that folding them is exercised), import it (:meth:`tvmprims.graph.Graph.from_torch`),
run batch 1 and 8 (by default) through both, check that the outputs agree (relative error
``max|a - e| / max|e|`` at most :data:`TOLERANCE`), and time both, interleaved in one process
(:func:`tvmprims.timing.interleaved_best`). A model that cannot be imported is reported as
refused, with the node that stopped it. Writes ``infer.csv`` and ``infer.png``.
"""

import time
from dataclasses import dataclass

import numpy as np

from .target import resolve_target, schedule_kind
from .timing import geomean, interleaved_best

__all__ = ["TOLERANCE", "InferResult", "randomize_batch_norm", "run_model", "run", "plot"]

#: Largest accepted relative error of a model's output against torch's (float32).
TOLERANCE = 1e-3

#: Untimed calls before each timed block. TVM's idle workers spin for about 0.3 s after a
#: parallel call (300000 yields, ``TVM_THREAD_POOL_SPIN_COUNT``) and slow torch's threads
#: down while they do: with the timing module's 0.15 s, torch's ResNet-18 measured 118 ms
#: instead of 25 ms and tvmprims' convolutions 29.7 ms instead of 15.7 ms, on 2 cores.
SETTLE_SECONDS = 1.0


@dataclass
class InferResult:
    """One model at one batch size; ``status`` is ``ok``, ``WRONG`` (output off torch's),
    ``refused: ...`` (a node the importer cannot map) or ``FAILED: ...`` (an error while
    running)."""

    model: str
    batch: int
    status: str
    tvmprims_ms: float = float("nan")
    torch_ms: float = float("nan")
    error: float = float("nan")
    import_s: float = float("nan")
    first_call_s: float = float("nan")
    steps: int = 0

    @property
    def ratio(self):
        """torch time / tvmprims time (above 1: tvmprims is faster)."""
        return self.torch_ms / self.tvmprims_ms

    def row(self):
        return {"model": self.model, "batch": self.batch, "status": self.status,
                "tvmprims_ms": round(self.tvmprims_ms, 3), "torch_ms": round(self.torch_ms, 3),
                "ratio": round(self.ratio, 3), "rel_error": f"{self.error:.2e}",
                "import_s": round(self.import_s, 2), "first_call_s": round(self.first_call_s, 2),
                "steps": self.steps}


def randomize_batch_norm(model, seed=0):
    """Give every BatchNorm2d random running statistics and affine parameters (in place;
    ``weights=None`` models have mean 0, variance 1, which would hide a folding error)."""
    import torch
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                c = module.num_features
                module.running_mean.copy_(torch.randn(c, generator=generator) * 0.1)
                module.running_var.copy_(torch.rand(c, generator=generator) + 0.5)
                if module.affine:
                    module.weight.copy_(torch.rand(c, generator=generator) + 0.5)
                    module.bias.copy_(torch.randn(c, generator=generator) * 0.1)
    return model


def _relative_error(actual, expected):
    expected = np.asarray(expected, np.float64)
    scale = max(float(np.abs(expected).max(initial=0.0)), 1e-30)
    return float(np.abs(np.asarray(actual, np.float64) - expected).max(initial=0.0)) / scale


def _torch_forward(model, target):
    """``forward(x)``: the torch pass tvmprims is timed against, as a callable of no
    arguments. On the CPU for an llvm target; on the GPU for cuda (the model moved there
    once, here; each input once, when its callable is made; the pass synchronised)."""
    import copy

    import torch

    if schedule_kind(resolve_target(target)) == "cpu":
        device_model, device, sync = model, "cpu", lambda: None
    else:
        device_model, device = copy.deepcopy(model).to("cuda"), "cuda"
        sync = torch.cuda.synchronize

    def forward(x):
        x = x.to(device)

        def run():
            with torch.inference_mode():
                device_model(x)
            sync()
        return run
    return forward


def run_model(name, batches=(1, 8), image=224, rounds=3, algo="auto", target=None,
              report=print, model=None, schedule="auto"):
    """:class:`InferResult` per batch size of torchvision model ``name`` (or of the torch
    module ``model``, reported as ``name``), its kernels built with ``schedule=``."""
    import torch

    from .graph import Graph, UnsupportedNode
    from .roofline.models import build_model

    torch.manual_seed(0)
    model = randomize_batch_norm(build_model(name) if model is None else model)
    start = time.perf_counter()
    try:
        graph = Graph.from_torch(model, algo=algo, target=target, schedule=schedule)
    except UnsupportedNode as e:
        report(f"{name}: refused: {e}")
        return [InferResult(name, b, f"refused: {e}") for b in batches]
    import_s = time.perf_counter() - start
    forward = _torch_forward(model, target)
    results = []
    for batch in batches:
        x = torch.randn(batch, 3, image, image, generator=torch.Generator().manual_seed(batch))
        x_np = x.numpy()
        start = time.perf_counter()
        try:
            actual = graph(x_np)
        except Exception as e:  # noqa: BLE001  (reported, and fails the command; see run)
            report(f"{name} batch {batch}: FAILED: {type(e).__name__}: {e}")
            results.append(InferResult(name, batch, f"FAILED: {type(e).__name__}: {e}"))
            continue
        first_call_s = time.perf_counter() - start
        with torch.inference_mode():
            expected = model(x).numpy()
        error = _relative_error(actual, expected)
        status = "ok" if error <= TOLERANCE else "WRONG"

        torch_forward = forward(x)

        ours, theirs = interleaved_best([lambda: graph(x_np), torch_forward], rounds=rounds,
                                        block_seconds=0.3, settle=SETTLE_SECONDS)
        result = InferResult(name, batch, status, ours * 1e3, theirs * 1e3, error, import_s,
                             first_call_s, len(graph.steps))
        report(f"{name} batch {batch}: tvmprims {result.tvmprims_ms:.2f} ms, torch "
               f"{result.torch_ms:.2f} ms, {result.ratio:.2f}x, rel error {error:.1e} "
               f"[{status}] ({len(graph.steps)} steps; import {import_s:.1f} s, first call "
               f"{first_call_s:.1f} s)")
        results.append(result)
    return results


def run(models, batches=(1, 8), image=224, rounds=3, algo="auto", target=None, out_dir=None,
        report=print):
    """Every model of ``models``; writes ``infer.csv`` and ``infer.png`` under ``out_dir``
    (when given) and returns the results."""
    results = []
    for i, name in enumerate(models):
        report(f"[{i + 1}/{len(models)}] {name}")
        results.extend(run_model(name, batches, image, rounds, algo, target, report))
    ok = [r for r in results if r.status == "ok"]
    for batch in batches:
        ratios = [r.ratio for r in ok if r.batch == batch]
        if ratios:
            report(f"batch {batch}: geometric mean {geomean(ratios):.2f}x torch over "
                   f"{len(ratios)} models")
    if out_dir is not None:
        from pathlib import Path

        from .studies.output import write_csv
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_csv(out / "infer.csv", [r.row() for r in results])
        if ok:
            plot(ok, out / "infer.png")
    return results


def plot(results, path):
    """Bar chart of torch time / tvmprims time per model and batch size."""
    from .studies.output import new_figure, save_figure
    fig, (ax,) = new_figure(width=max(6.4, 0.7 * len(results)))
    labels = [f"{r.model}\nbatch {r.batch}" for r in results]
    ratios = [r.ratio for r in results]
    ax.bar(range(len(results)), ratios, color=["tab:green" if v >= 1 else "tab:red"
                                               for v in ratios])
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(results)), labels, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("torch time / tvmprims time")
    ax.set_title("End-to-end inference on tvmprims kernels vs torch (same run)")
    save_figure(fig, path)
