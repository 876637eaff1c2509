"""What a TVM parallel loop costs per call on this machine with the thread pool warm: a
64-element kernel of 1 to 3 stages, each serial or split over 2 parallel tasks
(docs/BENCHMARKS.md, "Two FMAs a cycle"). Usage: `PYTHONPATH=. python
docs/parallel_region_cost.py`."""

import sys
import timeit

import numpy as np

from tvmprims._tvm import Schedule, compile_module, create_prim_func, te, tvm


def _kernel(parallel, stages, cores=2):
    a = te.placeholder((64,), name="A")
    tensors = [a]
    for index in range(stages):
        tensors.append(_stage(tensors[-1], index))
    sch = Schedule(create_prim_func([a, tensors[-1]]))
    for index in range(stages):
        (i,) = sch.get_loops(sch.get_sblock(f"B{index}"))
        outer, _ = sch.split(i, [cores, None])
        if parallel:
            sch.parallel(outer)
    return compile_module(sch.mod, tvm.target.Target({"kind": "llvm", "num-cores": cores}))["main"]


def _stage(previous, index):
    return te.compute((64,), lambda i: previous[i] + 1.0, name=f"B{index}")


def main():
    a, out = np.zeros(64, np.float32), np.zeros(64, np.float32)
    for parallel in (False, True):
        for stages in (1, 2, 3):
            fn = _kernel(parallel, stages)
            seconds = min(timeit.repeat(lambda: fn(a, out), number=20000, repeat=5)) / 20000
            print(f"{'parallel' if parallel else 'serial'}, {stages} stage(s): "
                  f"{seconds * 1e6:.2f} us")


if __name__ == "__main__":
    sys.exit(main())
