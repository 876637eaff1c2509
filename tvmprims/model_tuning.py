"""Tune every layer of a model under one trial budget (``tvmprims tune --model resnet18``).

1. **Layers**: the distinct Conv2d and Linear layers of a torchvision model
   (:func:`tvmprims.layer_cases.model_cases`) or of a manifest (:func:`manifest_cases`), each
   with the number of layers that compute it.
2. **Before**: each layer timed through the public API (``tvmprims.conv2d`` with the
   algorithm ``algo="auto"`` picks, ``tvmprims.nn.Dense``) with the hand schedules
   (``schedule="hand"``: what runs where no log applies) against torch, interleaved
   (:func:`tvmprims.layer_suite.run`). A *task* is the workload the API executed for the
   layer (a Winograd layer's Winograd workload, a depthwise layer's grouped conv).
3. **Rounds**: each round gives ``chunk`` trials (:func:`tvmprims.tuning.tune`, whose records
   go to the target's log as they are measured) to the task with the highest priority,
   ``seconds x uses / (1 + rounds) / 2 ** stalls``: the model time per round already spent
   on it, halved for each round in a row that gained less than 2% over the hand schedule. The
   layers that take most of the time get most of the trials while they keep improving, and a
   layer whose search stalls yields to the others (MetaSchedule's gradient task scheduler
   shares its budget by recent gains too). A task whose search fails (MetaSchedule's default
   space on Winograd; the template space, the default, searches it) keeps its hand record
   and gets no more rounds.
4. **State**: trials and rounds per task are written after every round to
   ``<log dir>/model_tuning/<model>-b<batch>.json``; running the same command again resumes
   (Ctrl-C stops after keeping every measured record), and a larger ``trials`` continues.
5. **Verify, then after**: each tuned task's best record is timed beside its hand schedule
   once (:func:`_verify`); one that is not faster is replaced by the hand schedule's record.
   Then the layers are timed again with ``schedule="auto"`` (the records); :class:`ModelTuning`
   has both sums (each layer time times its uses) and torch's.

Graph mode (:func:`tune_graph`, ``--graph``) tunes the kernels ``tvmprims infer`` runs
instead: the fused convolution and dense kernels of the imported model (bias, activation,
residual, packed weights), timed kernel by kernel and the model end to end.
"""

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

from .json_store import JsonStore
from .target import resolve_target, target_key

#: A round whose best record is not this much faster than the hand schedule is a stall.
STALL_GAIN = 0.02

__all__ = ["Task", "ModelTuning", "GraphTuning", "manifest_cases", "model_tuning_cases",
           "state_path", "tune_model", "format_report", "graph_tasks", "tune_graph",
           "format_graph_report"]


@dataclass
class Task:
    """One workload to tune, ``label`` naming the layers it serves (``case``: the layer-suite
    case in layer mode)."""

    label: str
    workload: object
    seconds: float   # the layer's time, scaled by what tuning gained
    uses: int
    case: object = None
    trials: int = 0
    rounds: int = 0
    stalls: int = 0  # rounds in a row that gained less than STALL_GAIN
    failed: str = None

    def __post_init__(self):
        self.seconds_before = self.seconds

    @property
    def key(self):
        return json.dumps(self.workload.to_json(), sort_keys=True)

    def priority(self):
        if self.failed:
            return -math.inf
        return self.seconds * self.uses / (1 + self.rounds) / 2 ** self.stalls


@dataclass
class ModelTuning:
    """What :func:`tune_model` did: rows of the layer suite before and after (seconds per
    call), the tasks, trials spent in this run and in all runs."""

    name: str
    before: list
    after: list
    tasks: list
    trials_run: int
    trials_total: int
    interrupted: bool = False
    state_file: Path = None

    @staticmethod
    def total(rows, key="tvmprims_s"):
        """Model time of ``rows``: each layer's time times the layers computing it."""
        return sum(r[key] * r["users"] for r in rows if r.get(key) is not None)


def manifest_cases(path):
    """The layer cases of a manifest (:func:`tvmprims.deploy.read_manifest` format): conv2d,
    depthwise_conv2d, dense and matmul kernels; ``"uses"`` in an entry counts its layers."""
    from .deploy import read_manifest
    from .layer_cases import workload_case
    _, kernels = read_manifest(path)
    uses = {e["name"]: int(e.get("uses", 1)) for e in json.loads(Path(path).read_text())["kernels"]}
    cases = []
    for name, workload in kernels:
        case = workload_case(workload, name)
        cases.append(case.with_users(tuple(f"{name}#{i}" for i in range(max(1, uses[name])))))
    return cases


def model_tuning_cases(model=None, manifest=None, batch=1):
    """``(name, cases)`` for a torchvision model name or a manifest path."""
    from .layer_cases import model_cases
    if (model is None) == (manifest is None):
        raise ValueError("give a model name or a manifest, not both")
    if manifest is not None:
        return Path(manifest).stem, manifest_cases(manifest)
    from .roofline.models import MODELS
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}: expected one of {', '.join(MODELS)}")
    return model, model_cases([model], batch)


def state_path(log_root, target, name, batch, graph=False):
    """Where the trials spent on each task of ``name`` are kept."""
    from .tuning import _default_root
    return (Path(log_root or _default_root()) / target_key(resolve_target(target))
            / "model_tuning" / f"{name}-b{batch}{'-graph' if graph else ''}.json")


def _start(name, trials, target, chunk, log_root, batch, graph, tune):
    """``(tune, target, state file, state)`` of a model-tuning run, its arguments checked."""
    if tune is None:
        from .tuning import tune
    if int(trials) < 0 or int(chunk) < 1:
        raise ValueError(f"trials must be >= 0 and chunk >= 1, got {trials!r} and {chunk!r}")
    target = resolve_target(target)
    path = state_path(log_root, target, name, batch, graph)
    return tune, target, path, JsonStore(path, "model tuning state", validate=_valid_state)


def _valid_state(key, value):
    if not (isinstance(value.get("trials"), int) and isinstance(value.get("rounds"), int)):
        raise ValueError("needs integer 'trials' and 'rounds'")


def _measure(cases, target, rounds, report, schedule):
    from .layer_suite import run
    return run(cases, target=target, rounds=rounds, progress=lambda m: report("  " + m),
               schedule=schedule)


def _verify(tasks, target, log_root, state, report):
    """:func:`tvmprims.tuning.verify_record` for each task tuned since its last check."""
    from .tuning import verify_record
    for task in tasks:
        known = state.get(task.key) or {}
        if not task.trials or known.get("verified") == task.trials:
            continue
        checked = verify_record(task.workload, target, log_root, report)
        if checked is not None:
            kept, hand_s, tuned_s = checked
            state.put(task.key, {**known, "verified": task.trials, "kept": kept,
                                 "verify_hand_s": hand_s, "verify_tuned_s": tuned_s})


def _tune_rounds(tasks, trials, target, chunk, log_root, state, timeout, report, tune, space):
    """The rounds of the module docstring over ``tasks``, resumed from and kept in ``state``;
    returns ``(trials run now, trials spent in all, interrupted)``."""
    for task in tasks:
        known = state.get(task.key) or {}
        task.trials, task.rounds = known.get("trials", 0), known.get("rounds", 0)
        task.stalls = known.get("stalls", 0)
        task.failed = known.get("failed")
        task.seconds = min(task.seconds, known.get("seconds", math.inf))
    spent = sum(t.trials for t in tasks)
    if spent:
        report(f"[model] resuming: {spent} trials spent in earlier runs")
    run_trials, started = 0, time.perf_counter()
    while spent < trials:
        task = max(tasks, key=Task.priority, default=None)
        if task is None or task.failed:
            report("[model] no layer left that MetaSchedule can search")
            break
        n = min(int(chunk), int(trials) - spent)
        share = task.seconds * task.uses / max(1e-12, sum(t.seconds * t.uses for t in tasks))
        report(f"[model] {spent}/{trials} trials, {time.perf_counter() - started:.0f} s: "
               f"{n} for {task.label} ({task.workload.op}, {task.uses} uses, {share:.0%} of "
               f"the model's time, round {task.rounds + 1})")
        result = tune(task.workload, target, n, log_root, timeout=timeout,
                      report=lambda m: report("  " + m), space=space)
        measured = result.trials if result.trials else n  # a failed search still used its round
        task.trials += measured
        task.rounds += 1
        gain = result.hand_seconds / result.best_seconds - 1 if result.best_seconds > 0 else 0
        if gain > 0:  # the layer's time, scaled by the round's gain over hand
            task.seconds /= 1 + gain
        task.stalls = 0 if gain >= STALL_GAIN else task.stalls + 1
        task.failed = result.search_failed
        spent += measured
        run_trials += measured
        state.put(task.key, {"trials": task.trials, "rounds": task.rounds, "stalls": task.stalls,
                             "seconds": task.seconds, "failed": task.failed,
                             "layer": task.label})
        if result.interrupted:
            report(f"[model] interrupted: {spent} trials kept; run the same command to resume")
            return run_trials, spent, True
    return run_trials, spent, False


def tune_model(cases, name, trials=256, target="llvm", chunk=16, log_root=None, batch=1,
               rounds=3, timeout=120, report=print, tune=None, space=None):
    """Tune the layers ``cases`` of model ``name`` with ``trials`` trials in all (counting the
    trials of earlier runs kept in the state file); see the module docstring. ``tune`` is
    :func:`tvmprims.tuning.tune` (tests pass a stand-in)."""
    tune, target, path, state = _start(name, trials, target, chunk, log_root, batch, False,
                                       tune)
    report(f"[model] {name}: {len(cases)} distinct layers ({sum(len(c.users) for c in cases)} "
           f"in all) on {target_key(target)}; budget {trials} trials, state {path}")
    report("[model] timing every layer with the hand schedules (before tuning)")
    before = _measure(cases, target, rounds, report, "hand")
    tasks = {}
    for case, row in zip(cases, before):
        workload = row.get("executed_workload")
        if workload is None:
            report(f"[model] skipping {case.label}: {row['status']}")
            continue
        task = tasks.get(workload)
        if task is None:
            task = tasks[workload] = Task(f"{case.category} {case.label}", workload,
                                          row["tvmprims_s"], 0, case)
        task.uses += len(case.users)
    run_trials, spent, interrupted = _tune_rounds(
        list(tasks.values()), trials, target, chunk, log_root, state, timeout, report, tune,
        space)
    after = before
    if spent and not interrupted:
        _verify(list(tasks.values()), target, log_root, state, report)
        report("[model] timing every layer with the tuned records (after tuning)")
        after = _measure(cases, target, rounds, report, "auto")
    return ModelTuning(name, before, after, list(tasks.values()), run_trials, spent,
                       interrupted, path)


def format_report(result):
    """The per-layer table and the totals of a :class:`ModelTuning`, as text."""
    lines = [f"{'layer':<34} {'uses':>4} {'algorithm':<12} {'before ms':>10} {'after ms':>10} "
             f"{'torch ms':>9} {'trials':>6}"]
    trials = {t.case.label: t.trials for t in result.tasks if t.case is not None}
    for old, new in zip(result.before, result.after):
        if old.get("tvmprims_s") is None:
            lines.append(f"{old['category'] + ' ' + old['case']:<34} {old['status']}")
            continue
        lines.append(f"{old['category'] + ' ' + old['case']:<34} {old['users']:>4} "
                     f"{str(new['algorithm']):<12} {old['tvmprims_s'] * 1e3:>10.3f} "
                     f"{new['tvmprims_s'] * 1e3:>10.3f} {new['ref_s'] * 1e3:>9.3f} "
                     f"{trials.get(old['case'], 0):>6}")
    before, after = ModelTuning.total(result.before), ModelTuning.total(result.after)
    torch_before = ModelTuning.total(result.before, "ref_s")
    torch_after = ModelTuning.total(result.after, "ref_s")
    # Each sum beside torch's of the same run: the machine's slow spells move both.
    lines.append(f"{result.name}: layer time (sum over layers) {before * 1e3:.2f} ms with the "
                 f"hand schedules (torch {torch_before * 1e3:.2f} ms in that run: "
                 f"{torch_before / before:.2f}x torch), {after * 1e3:.2f} ms tuned (torch "
                 f"{torch_after * 1e3:.2f} ms: {torch_after / after:.2f}x torch); "
                 f"{result.trials_run} trials this run, {result.trials_total} in all")
    return "\n".join(lines)


# --- Graph mode: the fused kernels `tvmprims infer` runs ------------------------------------

@dataclass
class GraphTuning:
    """What :func:`tune_graph` did: the model end to end (:class:`tvmprims.infer.InferResult`)
    before and after, each task's kernel time before and after (seconds), trials spent."""

    name: str
    before: object
    after: object
    tasks: list
    kernel_after: dict
    trials_run: int
    trials_total: int
    interrupted: bool = False
    state_file: Path = None


def graph_tasks(graph, x):
    """One :class:`Task` per distinct kernel of the convolution and dense layers that
    ``graph`` (:class:`tvmprims.graph.Graph`) runs on ``x``, timed by the kernel alone."""
    graph(x)  # compiles every layer's kernel for this input
    tasks = {}
    for step in graph.steps:
        layer = step.layer
        for kernel in (layer.kernels() if hasattr(layer, "kernels") else ()):
            task = tasks.get(kernel.workload)
            if task is None:
                task = tasks[kernel.workload] = Task(step.name, kernel.workload,
                                                     _kernel_seconds(kernel), 0)
            task.uses += 1
    return list(tasks.values())


def _kernel_seconds(kernel):
    return kernel.time(*kernel.random_inputs(), repeat=3, min_repeat_ms=50).seconds


def tune_graph(name, trials=256, target="llvm", chunk=16, log_root=None, batch=1, rounds=3,
               timeout=120, report=print, tune=None, space=None, model=None, image=224):
    """Tune the kernels ``tvmprims infer`` runs for torchvision model ``name`` (its fused
    convolution and dense layers: bias, activation, residual and packed weights included),
    under one budget as :func:`tune_model` does; the model is timed end to end against torch
    before and after. ``model``: a torch module to use instead of building ``name``."""
    import numpy as np
    import torch
    from .build import build_workload, clear_cache
    from .graph import Graph
    from .infer import randomize_batch_norm, run_model
    tune, target, path, state = _start(name, trials, target, chunk, log_root, batch, True, tune)
    report(f"[model] {name} (graph), batch {batch}, on {target_key(target)}: timing end to end")
    before = run_model(name, (batch,), image, rounds, target=target, report=report,
                       model=model, schedule="hand")[0]
    torch.manual_seed(0)
    if model is None:
        from .roofline.models import build_model
        model = build_model(name)
    graph = Graph.from_torch(randomize_batch_norm(model), target=target, schedule="hand")
    x = np.random.default_rng(0).standard_normal((batch, 3, image, image)).astype(np.float32)
    tasks = graph_tasks(graph, x)
    report(f"[model] {len(tasks)} distinct kernels of {sum(t.uses for t in tasks)} layers; "
           f"budget {trials} trials, state {path}")
    run_trials, spent, interrupted = _tune_rounds(tasks, trials, target, chunk, log_root, state,
                                                  timeout, report, tune, space)
    after, kernel_after = before, {}
    if spent and not interrupted:
        _verify(tasks, target, log_root, state, report)
        clear_cache()
        kernel_after = {t.workload: _kernel_seconds(build_workload(t.workload, target, "auto"))
                        for t in tasks}
        report("[model] timing end to end after tuning")
        after = run_model(name, (batch,), image, rounds, target=target, report=report,
                          model=model)[0]
    return GraphTuning(name, before, after, tasks, kernel_after, run_trials, spent,
                       interrupted, path)


def format_graph_report(result):
    """The per-kernel table and the end-to-end times of a :class:`GraphTuning`, as text."""
    lines = [f"{'kernel (first layer using it)':<34} {'uses':>4} {'op':<16} {'before ms':>10} "
             f"{'after ms':>10} {'trials':>6}"]
    for task in result.tasks:
        after = result.kernel_after.get(task.workload)
        lines.append(f"{task.label:<34} {task.uses:>4} {task.workload.op:<16} "
                     f"{task.seconds_before * 1e3:>10.3f} "
                     f"{(after * 1e3 if after else float('nan')):>10.3f} {task.trials:>6}")
    before, after = result.before, result.after
    lines.append(f"{result.name}: end to end {before.tvmprims_ms:.2f} ms before, "
                 f"{after.tvmprims_ms:.2f} ms after ({before.tvmprims_ms / after.tvmprims_ms:.2f}x)"
                 f", torch {after.torch_ms:.2f} ms (tvmprims {after.ratio:.2f}x torch); "
                 f"{result.trials_run} trials this run, {result.trials_total} in all")
    return "\n".join(lines)
