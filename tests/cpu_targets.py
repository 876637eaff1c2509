"""Explicit CPU targets for tests that must not depend on the host CPU.

A schedule's structure (panel widths, tiles) and its generated code are checked for every CPU
family tvmprims supports by compiling for these targets, which works on any host; numbers are
checked only where the host can run the code (:func:`runs_here`).
"""

from dataclasses import dataclass

import pytest

from tvmprims._tvm import Target, compile_module, llvm_cpu_features
from tvmprims.api import build_workload_from_shapes
from tvmprims.build import hand_schedule
from tvmprims.target import resolve_target


def cpu_target(mcpu, triple="x86_64-linux-gnu", cores=2):
    return Target({"kind": "llvm", "mcpu": mcpu, "mtriple": triple, "num-cores": cores})


#: The target tuning_logs/llvm-znver3-2c/ was tuned for; its code runs on any AVX2 host.
ZNVER3_2C = cpu_target("znver3")

#: One target per vector ISA and vendor: ``{name: (target, vector bytes)}``.
CPU_TARGETS = {
    "avx2-znver3": (ZNVER3_2C, 32),
    "avx2-haswell": (cpu_target("haswell"), 32),
    "avx512-znver4": (cpu_target("znver4"), 64),
    "avx512-skylake": (cpu_target("skylake-avx512"), 64),
    "neon-aarch64": (cpu_target("neoverse-n1", "aarch64-linux-gnu"), 16),
}

#: Vector width in bytes -> the widest register class its assembly uses.
REGISTERS = {64: "zmm", 32: "ymm", 16: "xmm"}


def target_params(names=None):
    """``pytest.param(target, vector_bytes, id=name)`` for each of ``CPU_TARGETS`` (or
    ``names``)."""
    return [pytest.param(*CPU_TARGETS[n], id=n) for n in (names or CPU_TARGETS)]


#: The features that decide whether code compiled for one CPU runs on another.
_ISA_FEATURES = {"sse4.2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512dq",
                 "avx512vl", "neon", "sve"}


def _arch(target):
    return str(target.attrs.get("mtriple", "")).split("-")[0]


def runs_here(target):
    """True when the host can run code compiled for ``target``: same architecture, and every
    vector-ISA feature of the target present on the host."""
    host = resolve_target("llvm")
    if _arch(host) != _arch(target):
        return False
    needed = llvm_cpu_features(target) & _ISA_FEATURES
    return needed <= llvm_cpu_features(host)


def require_runs_here(target):
    """Skip the calling test, with the reason, when the host cannot run ``target``'s code."""
    if not runs_here(target):
        pytest.skip(f"this host cannot run code for {target.attrs['mcpu']} "
                    f"({target.attrs['mtriple']})")


@dataclass
class Compiled:
    """A hand-scheduled kernel compiled for a target, never loaded (any host can make one)."""

    ir_module: object
    module: object  # the runtime module, as Kernel.module (for workspace_allocations)

    def script(self):
        return self.ir_module.script()

    def llvm_ir(self):
        return self.module.inspect_source("ll")

    def assembly(self):
        return self.module.inspect_source("asm")


def compile_for(target, op, *shapes, dtype="float32", **params):
    """Compile ``op``'s hand schedule on ``shapes`` for ``target`` without loading it."""
    workload = build_workload_from_shapes(op, shapes, dtype, params)
    ir_module = hand_schedule(workload, target).mod
    return Compiled(ir_module, compile_module(ir_module, target).mod)
