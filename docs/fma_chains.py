"""One core's FMA rate by number of accumulator chains, for this CPU's own vectors and for
AVX2 code on it (``mattr=["-avx512f"]`` where the CPU has AVX-512), and the ratio that
``tvmprims.roofline.fma_issue`` turns into the FMA issue width (docs/BENCHMARKS.md, "Two FMAs
a cycle"). Usage: `PYTHONPATH=. python docs/fma_chains.py`."""

import sys

from tvmprims._tvm import Target
from tvmprims.roofline.fma_issue import CHAINS, issue_from_ratio, measure_fma_ratio
from tvmprims.roofline.peaks import _fma_gflops
from tvmprims.schedules.hardware import cpu_model
from tvmprims.target import resolve_target


def main():
    host = resolve_target(None)
    targets = [("this CPU", host)]
    if cpu_model(host).isa == "avx512":
        targets.append(("AVX2 code", Target({"kind": "llvm", "mcpu": host.attrs["mcpu"],
                                             "mattr": ["-avx512f"]})))
    for name, target in targets:
        lanes = cpu_model(target).lanes("float32")
        rates = {c: _fma_gflops(target, "float32", 1, c, lanes, 64, 256)
                 for c in (1, 4, 8, 10, 12, 14)}
        ratio = measure_fma_ratio(target, lanes)
        print(f"{name} ({lanes} lanes), GFLOP/s by chains: "
              + ", ".join(f"{c}: {g:.1f}" for c, g in rates.items())
              + f"; ratio {CHAINS} chains / 1: {ratio:.2f} -> {issue_from_ratio(ratio)} a cycle")


if __name__ == "__main__":
    sys.exit(main())
