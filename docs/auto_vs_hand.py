"""``schedule="auto"`` against ``"hand"`` where the shipped logs were tuned on another CPU model
(issue 14's target: auto never slower than hand beyond noise on the bench workloads).

Run from the repository root, on a quiet machine:
``PYTHONPATH=. python docs/auto_vs_hand.py [--mcpu haswell] [--mcpu skylake-avx512]``.

For each ``--mcpu`` (a CPU model this machine can run code for, other than the ones the
shipped logs are named after), the bench workloads are built for that target with
``schedule="auto"`` (a compatible log's record, timed against the hand schedule on first use,
the faster kept) and ``"hand"``, with fresh schedule choices, and timed alternately (best of 5
interleaved rounds). Prints per workload the schedule auto kept and hand/auto; writes
``docs/auto_vs_hand.csv``.
"""

import argparse
import csv
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mcpu", action="append", help="CPU models (default: haswell, "
                        "skylake-avx512)")
    args = parser.parse_args(argv)
    scratch = tempfile.mkdtemp(prefix="tvmprims-auto-vs-hand-")
    os.environ["TVMPRIMS_SCHEDULE_CACHE"] = os.path.join(scratch, "choices.json")
    os.environ["TVMPRIMS_KERNEL_CACHE"] = "off"
    os.environ["TVMPRIMS_TUNING_DIR"] = os.path.join(scratch, "no-user-logs")

    from tvmprims import bench
    from tvmprims._tvm import tvm
    from tvmprims.api import build_workload_from_shapes
    from tvmprims.build import build_workload
    from tvmprims.timing import interleaved_best
    from tvmprims.tuning_records import lookup_report

    rows = []
    for mcpu in args.mcpu or ("haswell", "skylake-avx512"):
        target = tvm.target.Target({"kind": "llvm", "mcpu": mcpu, "num-cores": 2})
        print(lookup_report(target), flush=True)
        for case in bench.WORKLOADS:
            wl = build_workload_from_shapes(case.op, case.shapes, "float32", case.kwargs())
            auto, hand = (build_workload(wl, target, s) for s in ("auto", "hand"))
            arrays = hand.random_inputs()
            auto_s, hand_s = interleaved_best([lambda: auto(*arrays), lambda: hand(*arrays)])
            rows.append({"mcpu": mcpu, "workload": case.label, "auto_schedule": auto.schedule,
                         "auto_ms": auto_s * 1e3, "hand_ms": hand_s * 1e3,
                         "hand_over_auto": hand_s / auto_s})
            print(f"{mcpu:>15} {case.label:>18}: auto ({auto.schedule}) {auto_s * 1e3:.4f} ms, "
                  f"hand {hand_s * 1e3:.4f} ms, hand/auto {hand_s / auto_s:.2f}", flush=True)
    with open(HERE / "auto_vs_hand.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    worst = min(rows, key=lambda r: r["hand_over_auto"])
    print(f"worst hand/auto: {worst['hand_over_auto']:.2f} ({worst['mcpu']} {worst['workload']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
