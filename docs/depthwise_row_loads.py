"""Instruction counts of a depthwise kernel's assembly (docs/BENCHMARKS.md, "Two FMAs a cycle"):
on planes whose width is not a whole number of vectors (7, 14) the rows are vectors LLVM
assembles from several partial loads (``vinsertps``, ``vinsertf128``, ``vmovsd``, ...).
Usage: `PYTHONPATH=. python docs/depthwise_row_loads.py [NxCxHxW KERNEL ...]`
(default: 1x1152x7x7 5, 1x672x14x14 5, 1x960x7x7 3, 1x144x56x56 3)."""

import collections
import re
import sys

import tvmprims
from tvmprims._tvm import compile_module

DEFAULT = ["1x1152x7x7", "5", "1x672x14x14", "5", "1x960x7x7", "3", "1x144x56x56", "3"]


def main(args):
    for shape, size in zip(args[::2], args[1::2]):
        x_shape, k = tuple(map(int, shape.split("x"))), int(size)
        kernel = tvmprims.build("depthwise_conv2d", x_shape, (x_shape[1], 1, k, k),
                                padding=k // 2, schedule="hand")
        asm = compile_module(kernel.ir_module, kernel.target).mod.inspect_source("asm")
        counts = collections.Counter()
        for op, operands in re.findall(r"^\s+(v\w+)\s+([^\n]*)", asm, re.M):
            width = next((w for w in ("zmm", "ymm", "xmm") if w in operands), "")
            counts[f"{op} {width}".strip()] += 1
        print(f"{shape} {k}x{k}: " + ", ".join(f"{n} {op}" for op, n in counts.most_common(8)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or DEFAULT))
