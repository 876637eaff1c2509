"""Command-line entry point: ``tvmprims bench | tune | export | study | algos | mnist | roofline``."""

import argparse
import ast
import csv
import os
import sys

from .ops.registry import CONV2D_ALGORITHM_TABLE, OPERATORS

__all__ = ["main"]


def _bench_algorithms(args):
    from . import algo_bench
    quick = args.quick
    layers = algo_bench.QUICK_LAYERS if quick else algo_bench.CONV_LAYERS
    if args.only:
        layers = tuple(l for l in layers if l.group in args.only.split(","))
    progress = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    conv = algo_bench.run_conv(layers, args.target, progress) if layers else []
    mm = algo_bench.run_matmul(algo_bench.MATMUL_CASES[:1] if quick else algo_bench.MATMUL_CASES,
                               args.target, progress)
    text = [algo_bench.format_conv(conv)] if conv else []
    print("\n\n".join(text + [algo_bench.format_matmul(mm)]))
    if args.markdown:
        from .bench import machine_description
        parts = [f"Machine: {machine_description(args.target)}"]
        parts += [algo_bench.format_conv(conv, markdown=True)] if conv else []
        with open(args.markdown, "w") as f:
            f.write("\n\n".join(parts + [algo_bench.format_matmul(mm, markdown=True)]) + "\n")
    return 0


def _bench_layers(args):
    """``tvmprims bench --suite layers``: every distinct model layer, a GEMM sweep, conv1d and
    convolve cases (:mod:`tvmprims.layer_suite`)."""
    import time
    from . import layer_cases, layer_report, layer_suite
    from .bench import machine_description
    from .roofline.peaks import machine_peaks, raise_compute_roof
    progress = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    categories = args.categories
    if categories and set(categories) - set(layer_cases.CATEGORIES):
        sys.exit(f"--categories: unknown {sorted(set(categories) - set(layer_cases.CATEGORIES))}"
                 f"; expected some of {', '.join(layer_cases.CATEGORIES)}")
    progress("listing the layers of the models ...")
    try:
        cases = (layer_cases.quick_cases(categories) if args.quick else
                 layer_cases.suite_cases(args.models, args.batch, categories))
    except ValueError as e:  # an unknown model
        sys.exit(f"tvmprims bench --suite layers: {e}")
    cases = layer_cases.select(cases, limit=args.limit)
    progress(f"{len(cases)} cases: " + ", ".join(
        f"{c} {n}" for c, n in _counts(cases).items()))
    started = time.perf_counter()
    rows = layer_suite.run(cases, args.target, args.conv_algo, args.rounds, progress=progress,
                           schedule=args.schedule,
                           retime_below=(layer_suite.RETIME_BELOW if args.retime_below is None
                                         else args.retime_below or None))
    progress(f"measured {len(cases)} cases in {time.perf_counter() - started:.0f} s")
    if args.peaks != "none":
        peaks = machine_peaks(args.target, quick=args.peaks == "quick", report=progress)
        threads = layer_suite.tvm_threads()
        if threads > 1:  # the roofs are measured with every core: raise them to cover a run
            fastest = max((r["executed_gflops"] for r in rows if r["executed_gflops"]),
                          default=0)
            peaks = raise_compute_roof(peaks, fastest, args.target, report=progress)
        layer_suite.apply_peaks(rows, layer_suite.roofs_for_threads(peaks, threads))
    print(layer_report.summary_text(rows))
    from .algorithm_heuristic import rules_report
    print(rules_report(args.target))
    command = "tvmprims " + " ".join(sys.argv[1:] if args.argv is None else args.argv)
    machine = (f"{machine_description(args.target)}; {layer_suite.tvm_threads()} thread(s) for "
               "TVM and torch")
    paths = layer_report.write_all(rows, args.out, machine, command)
    print("wrote " + ", ".join(paths))
    return 0 if all(r["status"] == "ok" for r in rows) else 1


def _counts(cases):
    counts = {}
    for case in cases:
        counts[case.category] = counts.get(case.category, 0) + 1
    return counts


def _batches(text):
    try:
        batches = tuple(int(b) for b in _names(text))
    except ValueError:
        batches = ()
    if not batches or min(batches) < 1:
        raise argparse.ArgumentTypeError(f"batch sizes {text!r}: expected e.g. 1 or 1,8")
    return batches


def _count(least):
    """An argparse type: an int of at least ``least``."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = least - 1
        if value < least:
            raise argparse.ArgumentTypeError(f"{text!r}: expected an integer >= {least}")
        return value
    return parse


def _seconds(text):
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive number of seconds")
    return value


def _bench(args):
    from . import bench
    if args.suite == "layers":
        return _bench_layers(args)
    if args.algorithms:
        return _bench_algorithms(args)
    cases = bench.WORKLOADS
    if args.quick:
        cases = tuple(c for c in cases if c.label in bench.QUICK)
    if args.only:
        groups = set(args.only.split(","))
        cases = tuple(c for c in cases if c.group in groups or c.op in groups)
        if not cases:
            sys.exit(f"--only {args.only}: no workload matches (groups: "
                     f"{sorted({c.group for c in bench.WORKLOADS})})")
    schedules = ("hand", "tuned") if args.no_none else ("none", "hand", "tuned")
    rows = bench.run(cases, args.target, schedules, progress=lambda m: print(m, file=sys.stderr, flush=True))
    overhead = bench.call_overhead(args.target)
    print(bench.format_table(rows, schedules))
    from .algorithm_heuristic import rules_report
    from .tuning_records import lookup_report
    print(lookup_report(args.target))
    print(rules_report(args.target))
    print(f"call overhead above the raw TVM call (1x1 matmul): tvmprims.matmul "
          f"{overhead[0] * 1e6:.1f} us, Kernel call {overhead[1] * 1e6:.1f} us")
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(bench.markdown_report(rows, overhead, args.target, schedules) + "\n")
    return 0


def _shape(text):
    try:
        return tuple(int(d) for d in text.lower().replace(",", "x").split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"shape {text!r}: expected e.g. 1x64x56x56") from None


def _param(text):
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"parameter {text!r}: expected KEY=VALUE")
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value  # a bare string, e.g. mode=same


def _tune_model(args):
    from .model_tuning import format_report, model_tuning_cases, tune_model
    from .tuning_records import lookup_report
    if args.graph:
        return _tune_graph(args)
    try:
        name, cases = model_tuning_cases(args.model, args.manifest, args.batch)
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f"tvmprims tune: {e}")
    print(lookup_report(args.target), flush=True)
    result = tune_model(cases, name, args.trials, args.target, args.chunk, args.log_dir,
                        args.batch, args.rounds, args.timeout,
                        report=lambda m: print(m, flush=True), space=args.space)
    print(format_report(result), flush=True)
    return 130 if result.interrupted else 0


def _tune_graph(args):
    from .model_tuning import format_graph_report, tune_graph
    from .roofline.models import MODELS
    from .tuning_records import lookup_report
    if not args.model or args.model not in MODELS:
        sys.exit(f"tvmprims tune --graph: give --model, one of {', '.join(MODELS)}")
    print(lookup_report(args.target), flush=True)
    result = tune_graph(args.model, args.trials, args.target, args.chunk, args.log_dir,
                        args.batch, args.rounds, args.timeout,
                        report=lambda m: print(m, flush=True), space=args.space)
    print(format_graph_report(result), flush=True)
    return 130 if result.interrupted else 0


def _tune(args):
    from . import bench
    from .api import build_workload_from_shapes
    from .tuning import tune
    if args.model or args.manifest:
        return _tune_model(args)
    if args.bench_workloads:
        cases = [c for c in bench.WORKLOADS if not args.only or c.group in args.only.split(",")
                 or c.op in args.only.split(",")]
        workloads = [build_workload_from_shapes(c.op, c.shapes, args.dtype, c.kwargs())
                     for c in cases]
    else:
        if not args.op or not args.shape:
            sys.exit("tvmprims tune: give OP and --shape for each input, or --bench-workloads")
        workloads = [build_workload_from_shapes(args.op, args.shape, args.dtype, dict(args.param))]
    from .tuning_records import lookup_report
    print(lookup_report(args.target), flush=True)
    for i, wl in enumerate(workloads if args.trials > 0 else (), 1):  # --trials 0: verify only
        print(f"== [{i}/{len(workloads)}] {wl.describe()}", flush=True)
        result = tune(wl, args.target, args.trials, args.log_dir, args.rpc_tracker, args.rpc_key,
                      timeout=args.timeout, report=lambda m: print(m, flush=True),
                      fresh=args.fresh, space=args.space)
        print(result, flush=True)
        if result.interrupted:
            return 130
    if not args.no_verify:
        from .tuning import verify_record
        for wl in workloads:
            verify_record(wl, args.target, args.log_dir, report=lambda m: print(m, flush=True))
    return 0


def _export(args):
    from .deploy import export
    path = export(args.manifest, args.out, args.target, args.schedule)
    print(f"wrote {path}")
    return 0


def _study(args):
    import importlib
    study = importlib.import_module(f"tvmprims.studies.{args.name}")
    study.run(quick=args.quick, out_dir=args.out, report=lambda m: print(m, flush=True))
    print(f"wrote CSV and PNG files to {args.out}/")
    return 0


def _algos(args):
    from .algorithms import algorithm_of, find_algorithms, format_results, heuristic_algorithm
    from .ops.registry import conv2d_workload
    if len(args.shape) not in (2, 3):
        sys.exit("tvmprims algos: give --shape for x, weight and optionally bias")
    rows = find_algorithms(*args.shape, dtype=args.dtype, target=args.target,
                           report=lambda m: print(m, file=sys.stderr, flush=True),
                           **dict(args.param))
    print(format_results(rows))
    wl = conv2d_workload(*args.shape, *[None] * (3 - len(args.shape)), args.dtype,
                         **dict(args.param))
    print(f'algo="auto" runs: {algorithm_of(heuristic_algorithm(wl, args.target))}')
    from .algorithm_heuristic import rules_report
    print(rules_report(args.target))
    return 0


def _mnist(args):
    from .studies import mnist
    mnist.run(quick=args.quick, out_dir=args.out, root=args.root, epochs=args.epochs,
              checkpoint=args.checkpoint, finetune_steps=args.finetune,
              report=lambda m: print(m, flush=True))
    print(f"wrote {args.out}/mnist.csv and {args.out}/mnist.png")
    return 0


def _names(text):
    return tuple(t.strip() for t in text.split(",") if t.strip())


def _roofline(args):
    from .studies import roofline
    roofline.run(quick=args.quick, out_dir=args.out, target=args.target, models=args.models,
                 tvm_models=args.tvm_models, latency_models=args.latency_models,
                 batches=args.batches,
                 report=lambda m: print(m, flush=True))
    print(f"wrote CSV and PNG files to {args.out}/")
    return 0


def _infer(args):
    from . import infer
    from .roofline.models import MODELS
    models = MODELS if tuple(args.model) == ("all",) else args.model
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        print(f"unknown model(s) {', '.join(unknown)}: expected some of {', '.join(MODELS)} "
              "or all", file=sys.stderr)
        return 2
    results = infer.run(models, batches=args.batch, image=args.image,
                        rounds=args.rounds, algo=args.algo, target=args.target,
                        out_dir=args.out, report=lambda m: print(m, flush=True))
    print(f"wrote infer.csv and infer.png to {args.out}/")
    return 1 if any(r.status == "WRONG" or r.status.startswith("FAILED") for r in results) else 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="tvmprims", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("bench", help="time every operator against numpy/torch")
    b.add_argument("--target", default="llvm", help="llvm (this CPU, default) or cuda")
    b.add_argument("--quick", action="store_true",
                   help="one workload per group (for CI); with --suite layers: one case per "
                        "category")
    b.add_argument("--only", help="comma-separated groups or operators (gemm, resnet18, ...)")
    b.add_argument("--no-none", action="store_true", help="skip the unscheduled baseline")
    b.add_argument("--algorithms", action="store_true",
                   help="every conv2d/matmul algorithm side by side (ResNet-18, VGG-16, kernel "
                        "sizes; --only resnet18,vgg16,kernels)")
    b.add_argument("--csv", help="also write the rows to this CSV file")
    b.add_argument("--markdown", help="also write a Markdown report to this file")
    b.add_argument("--suite", choices=("workloads", "layers"), default="workloads",
                   help="workloads (default): the operator workloads; layers: every "
                        "distinct Conv2d/Linear layer of 13 torchvision models, a GEMM "
                        "sweep, conv1d and convolve cases (long; see docs/BENCHMARKS.md)")
    ls = b.add_argument_group("layer suite (--suite layers)")
    ls.add_argument("--models", type=_names,
                    help="torchvision models (default: the 13 of tvmprims roofline; --quick: "
                         "resnet18, mobilenet_v2, regnet_x_400mf)")
    ls.add_argument("--batch", type=_batches, default=(1,),
                    help="batch sizes of the model layers, e.g. 1,8 (default 1)")
    ls.add_argument("--categories", type=_names,
                    help="comma-separated: conv, conv1x1, strided, depthwise, grouped, linear, "
                         "gemm, conv1d, convolve (default: all)")
    ls.add_argument("--limit", type=_count(1), help="at most N cases per category")
    ls.add_argument("--conv-algo", default="auto", choices=("auto", *CONV2D_ALGORITHM_TABLE),
                    help="conv2d/conv1d algo (default auto, what users get)")
    ls.add_argument("--rounds", type=_count(1), default=5,
                    help="interleaved timing rounds per case")
    ls.add_argument("--retime-below", type=float,
                    help="measure cases whose ratio is below this again at the end of the run, "
                         "each side keeping its best time (default 0.9, "
                         "layer_suite.RETIME_BELOW; 0: no second pass)")
    ls.add_argument("--schedule", default="auto", choices=("auto", "hand"),
                    help="tvmprims' schedules: auto (tuned records where a log has one, the "
                         "default) or hand (the tuning logs left out)")
    ls.add_argument("--peaks", choices=("quick", "full", "none"), default="quick",
                    help="roof measurement for the %% of roof column (cached; default quick)")
    ls.add_argument("--out", default="results/layer_suite",
                    help="directory for layer_suite.csv/.png/.md (default results/layer_suite)")
    b.set_defaults(func=_bench)

    t = sub.add_parser("tune", help="tune an operator with MetaSchedule; records go to tuning_logs/")
    t.add_argument("op", nargs="?", help=f"the operator: {', '.join(OPERATORS)}")
    t.add_argument("--shape", action="append", type=_shape, default=[],
                   help="an input shape, e.g. 1x64x56x56 (repeat per input, in order)")
    t.add_argument("--param", action="append", type=_param, default=[],
                   help="operator parameter KEY=VALUE, e.g. padding=1, stride=(2,2), mode=same")
    t.add_argument("--dtype", default="float32")
    t.add_argument("--target", default="llvm")
    t.add_argument("--trials", type=_count(0), default=64,
                   help="trials per workload (0: only verify the records there are); with "
                        "--model/--manifest, for all layers together")
    t.add_argument("--no-verify", action="store_true",
                   help="skip timing each best record beside the hand schedule after tuning "
                        "(a record that is not faster is replaced by the hand schedule's)")
    t.add_argument("--space", choices=("template", "default"),
                   help="template: the hand schedule with sampled tile sizes, unrolling and "
                        "paths (default where the operator has one); default: MetaSchedule's "
                        "own rules")
    t.add_argument("--model", help="tune every layer of this torchvision model (resnet18, "
                                   "mobilenet_v2, ...) under one budget; resumable")
    t.add_argument("--manifest", help="tune the layers of this manifest (tvmprims export's "
                                      "format; 'uses' counts an entry's layers)")
    t.add_argument("--batch", type=_count(1), default=1,
                   help="with --model: batch size (default 1)")
    t.add_argument("--graph", action="store_true",
                   help="with --model: tune the fused kernels `tvmprims infer` runs (conv + "
                        "bias + activation + residual, packed weights) and time the model end "
                        "to end, instead of the layers as the numpy API runs them")
    t.add_argument("--chunk", type=_count(1), default=16,
                   help="with --model/--manifest: trials per round given to one layer")
    t.add_argument("--rounds", type=_count(1), default=3,
                   help="with --model/--manifest: interleaved timing rounds per layer")
    t.add_argument("--timeout", type=_seconds, default=120,
                   help="build/run timeout per candidate (s)")
    t.add_argument("--log-dir", help="root of the tuning logs (default: the repo's tuning_logs/)")
    t.add_argument("--rpc-tracker", help="HOST:PORT of a TVM RPC tracker to measure on")
    t.add_argument("--rpc-key", help="device key the RPC servers registered under")
    t.add_argument("--bench-workloads", action="store_true",
                   help="tune the workloads of tvmprims bench (with --only to pick groups)")
    t.add_argument("--only", help="with --bench-workloads: comma-separated groups or operators")
    t.add_argument("--fresh", action="store_true",
                   help="drop the workloads' earlier records first (after a hand schedule changed)")
    t.set_defaults(func=_tune)

    e = sub.add_parser("export", help="build the kernels of a manifest into .so libraries")
    e.add_argument("manifest", help="JSON manifest (see tvmprims.deploy)")
    e.add_argument("--out", required=True, help="output directory")
    e.add_argument("--target", help="overrides the manifest's target")
    e.add_argument("--schedule", default="auto", choices=("auto", "tuned", "hand", "none"))
    e.set_defaults(func=_export)
    st = sub.add_parser("study", help="run a study; writes CSV and PNG files")
    st.add_argument("name", choices=("precision", "rank"),
                    help="precision: error per algorithm and dtype; rank: SVD rank trade-offs")
    st.add_argument("--quick", action="store_true", help="small sizes (CI)")
    st.add_argument("--out", default="results", help="output directory (default: results)")
    st.set_defaults(func=_study)

    algos = ", ".join(CONV2D_ALGORITHM_TABLE)
    a = sub.add_parser("algos", help=f"time every conv2d algorithm ({algos}) on one layer "
                                     "(cudnnFind), and say which one algo=\"auto\" runs")
    a.add_argument("--shape", action="append", type=_shape, default=[],
                   help="x, weight and optional bias shapes, e.g. 1x64x56x56 then 64x64x3x3")
    a.add_argument("--param", action="append", type=_param, default=[],
                   help="stride=, padding=, dilation=, groups=")
    a.add_argument("--dtype", default="float32")
    a.add_argument("--target", default="llvm")
    a.set_defaults(func=_algos)
    m = sub.add_parser("mnist", help="MNIST-format MLP with low-rank layers: rank sweep")
    m.add_argument("--root", help="IDX files (default: $TVMPRIMS_MNIST_ROOT or Debian's "
                                  "/usr/share/datasets/fashion-mnist)")
    m.add_argument("--epochs", type=_count(1),
                   help="training epochs (default 5; 1 with --quick)")
    m.add_argument("--checkpoint", help="model file: loaded if present, else trained and saved")
    m.add_argument("--finetune", type=_count(0), default=0,
                   help="Adam steps on each factorised model")
    m.add_argument("--quick", action="store_true", help="3 rank triples on 2000 test images")
    m.add_argument("--out", default="results", help="output directory (default: results)")
    m.set_defaults(func=_mnist)
    r = sub.add_parser("roofline", help="measure the machine's roofs; place operators and "
                                        "model layers on the roofline; model costs and latency")
    r.add_argument("--target", default="llvm", help="llvm (this CPU, default) or cuda")
    r.add_argument("--quick", action="store_true",
                   help="short sweeps, ResNet-18 layers (direct), 3 models at batch 1 and 4 (CI)")
    r.add_argument("--models", type=_names, help="torchvision models to analyse (default: 13)")
    r.add_argument("--tvm-models", type=_names,
                   help="models whose layers run through tvmprims (default resnet18,mobilenet_v2)")
    r.add_argument("--latency-models", type=_names, help="models timed in torch (default: all)")
    r.add_argument("--batches", type=_batches, help="batch sizes for latency (default 1,2,...,64)")
    r.add_argument("--out", default="results", help="output directory (default: results)")
    r.set_defaults(func=_roofline)
    i = sub.add_parser("infer", help="whole torchvision CNNs on tvmprims kernels against torch "
                                     "(end-to-end latency, outputs compared)")
    i.add_argument("--model", type=_names, default=("resnet18",),
                   help="comma-separated torchvision models of tvmprims roofline, or all "
                        "(default resnet18)")
    i.add_argument("--batch", type=_batches, default=(1, 8), help="batch sizes (default 1,8)")
    i.add_argument("--image", type=_count(1), default=224, help="image size (default 224)")
    i.add_argument("--rounds", type=_count(1), default=3,
                   help="interleaved timing rounds (default 3)")
    i.add_argument("--algo", default="auto", choices=("auto", "search", *CONV2D_ALGORITHM_TABLE),
                   help="conv2d algorithm of every layer (default auto)")
    i.add_argument("--target", default="llvm", help="llvm (this CPU, default) or cuda")
    i.add_argument("--out", default="results", help="output directory (default: results)")
    i.set_defaults(func=_infer)
    args = parser.parse_args(argv)
    args.argv = argv
    try:
        return args.func(args)
    except (ValueError, TypeError, OSError) as e:  # bad input: one line, not a traceback
        if os.environ.get("TVMPRIMS_TRACEBACK"):
            raise
        print(f"tvmprims {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
