"""Command-line entry point: ``tvmprims bench``."""

import argparse
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
    schedules = ("hand",) if args.no_none else ("none", "hand")
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
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
