"""Command-line entry point: ``tvmprims bench | tune | export``."""

import argparse
import ast
import csv
import sys

__all__ = ["main"]


def _bench(args):
    from . import bench
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
    print(f"numpy-API call overhead above kernel time (1x1 matmul): {overhead[0] * 1e6:.1f} us "
          f"aligned inputs, {overhead[1] * 1e6:.1f} us unaligned (copied)")
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


def _tune(args):
    from . import bench
    from .api import build_workload_from_shapes
    from .tuning import tune
    if args.bench_workloads:
        cases = [c for c in bench.WORKLOADS if not args.only or c.group in args.only.split(",")
                 or c.op in args.only.split(",")]
        workloads = [build_workload_from_shapes(c.op, c.shapes, args.dtype, c.kwargs())
                     for c in cases]
    else:
        if not args.op or not args.shape:
            sys.exit("tvmprims tune: give OP and --shape for each input, or --bench-workloads")
        workloads = [build_workload_from_shapes(args.op, args.shape, args.dtype, dict(args.param))]
    for i, wl in enumerate(workloads, 1):
        print(f"== [{i}/{len(workloads)}] {wl.describe()}", flush=True)
        result = tune(wl, args.target, args.trials, args.log_dir, args.rpc_tracker, args.rpc_key,
                      timeout=args.timeout, report=lambda m: print(m, flush=True))
        print(result, flush=True)
        if result.interrupted:
            return 130
    return 0


def _export(args):
    from .deploy import export
    path = export(args.manifest, args.out, args.target, args.schedule)
    print(f"wrote {path}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="tvmprims", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("bench", help="time every operator against numpy/torch")
    b.add_argument("--target", default="llvm", help="llvm (this CPU, default) or cuda")
    b.add_argument("--quick", action="store_true", help="one workload per group (for CI)")
    b.add_argument("--only", help="comma-separated groups or operators (gemm, resnet18, ...)")
    b.add_argument("--no-none", action="store_true", help="skip the unscheduled baseline")
    b.add_argument("--csv", help="also write the rows to this CSV file")
    b.add_argument("--markdown", help="also write a Markdown report to this file")
    b.set_defaults(func=_bench)

    t = sub.add_parser("tune", help="tune an operator with MetaSchedule; records go to tuning_logs/")
    t.add_argument("op", nargs="?", help="matmul, convolve, conv2d or depthwise_conv2d")
    t.add_argument("--shape", action="append", type=_shape, default=[],
                   help="an input shape, e.g. 1x64x56x56 (repeat per input, in order)")
    t.add_argument("--param", action="append", type=_param, default=[],
                   help="operator parameter KEY=VALUE, e.g. padding=1, stride=(2,2), mode=same")
    t.add_argument("--dtype", default="float32")
    t.add_argument("--target", default="llvm")
    t.add_argument("--trials", type=int, default=64)
    t.add_argument("--timeout", type=float, default=120, help="build/run timeout per candidate (s)")
    t.add_argument("--log-dir", help="root of the tuning logs (default: the repo's tuning_logs/)")
    t.add_argument("--rpc-tracker", help="HOST:PORT of a TVM RPC tracker to measure on")
    t.add_argument("--rpc-key", help="device key the RPC servers registered under")
    t.add_argument("--bench-workloads", action="store_true",
                   help="tune the workloads of tvmprims bench (with --only to pick groups)")
    t.add_argument("--only", help="with --bench-workloads: comma-separated groups or operators")
    t.set_defaults(func=_tune)

    e = sub.add_parser("export", help="build the kernels of a manifest into .so libraries")
    e.add_argument("manifest", help="JSON manifest (see tvmprims.deploy)")
    e.add_argument("--out", required=True, help="output directory")
    e.add_argument("--target", help="overrides the manifest's target")
    e.add_argument("--schedule", default="auto", choices=("auto", "tuned", "hand", "none"))
    e.set_defaults(func=_export)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
