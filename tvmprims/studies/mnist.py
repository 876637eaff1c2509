"""MNIST-format classification with low-rank layers on tvmprims kernels (``tvmprims mnist``).

A 784-512-128-10 ReLU MLP is trained with torch (seeded Adam), factorised at a sweep of
ranks for fc1, fc2 and fc3 (truncated SVD, :func:`torch_lowrank`; optionally fine-tuned in
torch for a few steps) and converted to :class:`tvmprims.nn.Sequential` layers by
:meth:`~tvmprims.nn.Sequential.from_torch`. For each rank triple the study records
the parameter compression, test accuracy of the tvmprims forward pass, and its runtime over
the test set at batch 1000 and per sample at batch 1, against torch's dense and low-rank
forward passes. Outputs: ``mnist.csv`` and ``mnist.png`` (accuracy vs compression, runtime vs
compression, accuracy vs runtime with the Pareto front).

The data set is whatever :func:`tvmprims.datasets.load_mnist` reads (offline: Fashion-MNIST);
the CSV names it.
"""

import math
import time
from pathlib import Path

import numpy as np

from ..arrays import aligned_empty
from ..datasets import default_root, load_mnist
from ..nn import Sequential
from ..timing import best_time
from .output import new_figure, save_figure, write_csv

__all__ = ["build_model", "prepare", "train", "accuracy", "torch_lowrank", "finetune",
           "load_or_train", "sweep_ranks", "pareto_front", "run"]

LAYERS = ((784, 512), (512, 128), (128, 10))


def build_model():
    """The 784-512-128-10 ReLU MLP (torch)."""
    import torch
    nn = torch.nn
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 128),
                         nn.ReLU(), nn.Linear(128, 10))


def prepare(images):
    """uint8 images (n, 28, 28) -> float32 (n, 784) in [0, 1], 64-byte aligned (so that
    batches of it go to the kernels without a copy: 784 floats are 49 x 64 bytes)."""
    out = aligned_empty((len(images), 784), np.float32)
    np.divide(images.reshape(len(images), -1), np.float32(255.0), out=out)
    return out


def train(x, y, epochs=3, seed=0, batch=128, lr=1e-3, model=None, max_steps=None,
          report=print):
    """Train ``model`` (default: a new :func:`build_model`) with Adam on float32 ``x`` (n, 784)
    and labels ``y``; deterministic for a given seed. Returns the model."""
    import torch
    torch.manual_seed(seed)
    model = build_model() if model is None else model
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    gen = torch.Generator().manual_seed(seed)
    steps, start = 0, time.perf_counter()
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(len(xt), generator=gen)
        total = 0.0
        for i in range(0, len(xt), batch):
            idx = order[i:i + batch]
            loss = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.detach().item() * len(idx)
            steps += 1
            if max_steps is not None and steps >= max_steps:
                break
        if report:
            report(f"epoch {epoch + 1}/{epochs}: loss {total / len(xt):.4f} "
                   f"({time.perf_counter() - start:.0f} s)")
        if max_steps is not None and steps >= max_steps:
            break
    model.eval()
    return model


def accuracy(forward, x, y, batch=1000):
    """Fraction of ``x`` that ``forward`` (arrays in, logits out) classifies as ``y``."""
    correct = 0
    for i in range(0, len(x), batch):
        correct += int(np.sum(np.argmax(np.asarray(forward(x[i:i + batch])), 1) == y[i:i + batch]))
    return correct / len(x)


def torch_forward(model):
    import torch

    def forward(x):
        with torch.no_grad():
            return model(torch.from_numpy(x)).numpy()
    return forward


def torch_lowrank(model, ranks):
    """A torch copy of ``model`` with each Linear of rank < full replaced by two Linears
    (the truncated-SVD factors: a bias-free ``right`` then ``left`` with the bias), for
    comparison and fine-tuning. :meth:`tvmprims.nn.Sequential.from_torch` converts each such
    pair back into one :class:`~tvmprims.nn.LowRankDense` layer."""
    import torch

    from ..lowrank import factorize
    layers, linear = [], 0
    for module in model:
        if isinstance(module, torch.nn.Linear):
            rank = ranks[linear]
            linear += 1
            w = module.weight.detach().numpy()
            if rank is not None and rank < min(w.shape):
                f = factorize(w, rank)
                right = torch.nn.Linear(w.shape[1], rank, bias=False)
                left = torch.nn.Linear(rank, w.shape[0])
                with torch.no_grad():
                    right.weight.copy_(torch.from_numpy(f.right))
                    left.weight.copy_(torch.from_numpy(f.left))
                    left.bias.copy_(module.bias)
                layers += [right, left]
                continue
        layers.append(module if not isinstance(module, torch.nn.Linear)
                      else _copy_linear(module))
    return torch.nn.Sequential(*layers).eval()


def _copy_linear(module):
    import torch
    copy = torch.nn.Linear(module.in_features, module.out_features)
    copy.load_state_dict(module.state_dict())
    return copy


def finetune(lowrank_model, x, y, steps, seed=0):
    """A few Adam steps on the factors (recovers part of the accuracy truncation costs)."""
    if steps:
        train(x, y, epochs=1, seed=seed, lr=3e-4, model=lowrank_model, max_steps=steps,
              report=None)
    return lowrank_model


def load_or_train(checkpoint, x, y, epochs, seed=0, report=print):
    """The trained model from ``checkpoint``, training and saving it when it is missing."""
    import torch
    model = build_model()
    path = Path(checkpoint)
    if path.exists():
        model.load_state_dict(torch.load(path, weights_only=True))
        if report:
            report(f"loaded {path}")
        return model.eval()
    model = train(x, y, epochs, seed, report=report)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    if report:
        report(f"saved {path}")
    return model


def _time_forward(forward, x, batch, samples=None):
    """Seconds for ``forward`` over ``x`` in batches: the whole set (best of 5), or with
    ``samples`` the mean per call over that many single-row calls.

    Starts with a pause: TVM's and torch's pool threads spin for a while after parallel work
    and would take cores from whichever runs next.
    """
    time.sleep(0.3)
    if samples is not None:
        rows = [x[i:i + 1] for i in range(min(samples, len(x)))]
        return best_time(lambda: [forward(r) for r in rows], min_seconds=0) / len(rows)
    return best_time(lambda: [forward(x[i:i + batch]) for i in range(0, len(x), batch)],
                      min_seconds=0)


def _dense_parameters():
    return sum(i * o + o for i, o in LAYERS)


def rank_grid(quick):
    """Rank triples (fc1, fc2, fc3); None is full rank."""
    if quick:
        return [(None, None, None), (64, 32, None), (16, 16, 5)]
    grid = [(r1, r2, None) for r1 in (None, 256, 128, 64, 32, 16)
            for r2 in (None, 64, 32, 16)]
    return grid + [(64, 32, 5), (32, 16, 5), (16, 16, 5)]


def sweep_ranks(model, x_test, y_test, grid, x_train=None, y_train=None, finetune_steps=0,
                batch1_samples=200, report=print):
    """One row per rank triple (see the module docstring)."""
    rows, start = [], time.perf_counter()
    for n, ranks in enumerate(grid, 1):
        tmodel = torch_lowrank(model, ranks)
        if finetune_steps and any(r is not None for r in ranks):
            finetune(tmodel.train(), x_train, y_train, finetune_steps)
            tmodel.eval()
        net = Sequential.from_torch(tmodel)
        params = sum(p.numel() for p in tmodel.parameters())
        row = {"fc1_rank": ranks[0] or 512, "fc2_rank": ranks[1] or 128,
               "fc3_rank": ranks[2] or 10, "parameters": params,
               "compression": _dense_parameters() / params,
               "accuracy": accuracy(net, x_test, y_test),
               "torch_accuracy": accuracy(torch_forward(tmodel), x_test, y_test)}
        row["tvm_b1000_ms"] = _time_forward(net, x_test, 1000) * 1e3
        row["torch_b1000_ms"] = _time_forward(torch_forward(tmodel), x_test, 1000) * 1e3
        row["tvm_b1_us"] = _time_forward(net, x_test, 1, batch1_samples) * 1e6
        row["torch_b1_us"] = _time_forward(torch_forward(tmodel), x_test, 1,
                                           batch1_samples) * 1e6
        rows.append(row)
        if report:
            report(f"[{n}/{len(grid)} {time.perf_counter() - start:5.0f}s] ranks {ranks}: "
                   f"{row['compression']:5.2f}x smaller, accuracy {row['accuracy']:.4f}, "
                   f"batch 1000 {row['tvm_b1000_ms']:.2f} ms (torch {row['torch_b1000_ms']:.2f}),"
                   f" batch 1 {row['tvm_b1_us']:.1f} us (torch {row['torch_b1_us']:.1f})")
    return rows


def pareto_front(points):
    """Indices of ``(runtime, accuracy)`` points no other point beats on both (lower runtime,
    higher accuracy), sorted by runtime."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], -math.inf
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def run(quick=False, out_dir="results", root=None, epochs=None, checkpoint=None,
        finetune_steps=0, report=print, seed=0):
    """Train (or load) the MLP, sweep the ranks, write ``mnist.csv`` and ``mnist.png``.

    Returns ``(rows, summary dict)``.
    """
    import torch

    from ..target import resolve_target
    torch.set_num_threads(int(resolve_target("llvm").attrs.get("num-cores", 1)))
    root = root or default_root()
    x_train, y_train = load_mnist(root, "train")
    x_test, y_test = load_mnist(root, "test")
    x_train, x_test = prepare(x_train), prepare(x_test)
    if quick:
        x_test, y_test = x_test[:2000], y_test[:2000]
    epochs = epochs or (1 if quick else 5)
    checkpoint = checkpoint or Path(out_dir) / f"mnist_mlp_{epochs}ep_seed{seed}.pt"
    model = load_or_train(checkpoint, x_train, y_train, epochs, seed, report)
    rows = sweep_ranks(model, x_test, y_test, rank_grid(quick), x_train, y_train,
                       finetune_steps, 20 if quick else 200, report)
    dataset = Path(root).name
    for row in rows:
        row["dataset"] = dataset
        row["finetune_steps"] = finetune_steps
    full = rows[0]
    near = [r for r in rows[1:] if r["accuracy"] >= full["accuracy"] - 0.01]
    fastest = min(near, key=lambda r: r["tvm_b1000_ms"]) if near else None
    summary = {
        "dataset": dataset, "full_accuracy": full["accuracy"],
        "full_tvm_vs_torch_b1000": full["torch_b1000_ms"] / full["tvm_b1000_ms"],
        "best_within_1pt": fastest and (fastest["fc1_rank"], fastest["fc2_rank"],
                                        fastest["fc3_rank"]),
        "best_within_1pt_speedup": fastest and full["tvm_b1000_ms"] / fastest["tvm_b1000_ms"],
    }
    write_csv(Path(out_dir) / "mnist.csv", rows)
    plot(rows, Path(out_dir) / "mnist.png", dataset)
    if report:
        report(f"{dataset}: full rank accuracy {full['accuracy']:.4f}; tvmprims batch 1000 "
               f"{summary['full_tvm_vs_torch_b1000']:.2f}x torch; fastest within 1 point: "
               f"ranks {summary['best_within_1pt']}, "
               + (f"{summary['best_within_1pt_speedup']:.2f}x faster than full rank"
                  if fastest else "none"))
    return rows, summary


def plot(rows, path, dataset):
    fig, axes = new_figure(ncols=3, width=5.0, height=4.2)
    comp = [r["compression"] for r in rows]
    acc = [100 * r["accuracy"] for r in rows]
    ms = [r["tvm_b1000_ms"] for r in rows]
    axes[0].scatter(comp, acc)
    axes[0].set(xscale="log", xlabel="compression (dense params / params)",
                ylabel="test accuracy (%)", title=f"{dataset}: accuracy vs compression")
    axes[1].scatter(comp, ms, label="tvmprims")
    axes[1].scatter(comp, [r["torch_b1000_ms"] for r in rows], marker="x", label="torch")
    axes[1].set(xscale="log", xlabel="compression", ylabel="test-set inference, batch 1000 (ms)",
                title="runtime vs compression")
    axes[1].legend()
    front = pareto_front(list(zip(ms, acc)))
    axes[2].scatter(ms, acc, color="gray", label="rank triples")
    axes[2].plot([ms[i] for i in front], [acc[i] for i in front], "r-o", label="Pareto front")
    axes[2].set(xlabel="tvmprims batch 1000 (ms)", ylabel="test accuracy (%)",
                title="accuracy vs runtime")
    axes[2].legend()
    for ax in axes:
        ax.grid(True, alpha=0.3)
    return save_figure(fig, path)
