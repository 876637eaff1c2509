"""Stage (block) names: the schedules look blocks up only by the names the operators export
(``STAGES`` and its constants in ``tvmprims/ops/<op>.py``) and by the names TVM generates,
built by the helpers of ``tvmprims/_tvm.py``; those helpers are checked against this TVM
release, so a TVM that renames its blocks fails here, not inside a schedule."""

import importlib
import pkgutil

import pytest

from tvmprims._tvm import (ROOT_BLOCK, Schedule, Target, cache_block_name, create_prim_func,
                           is_padded_name, padded_name, partitioned_block_name)
from tvmprims.ops import conv2d, matmul
from tvmprims.roofline import kernels as roofline_kernels
from tvmprims.schedules import common

#: Sample workloads of each operator, ``(shapes, params)``: with padding and bias so that every
#: optional stage exists, and sizes that make the schedules pad (``pad_einsum``) and partition
#: (``loop_partition``).
SAMPLES = {
    "matmul": [([(13, 7), (7, 29)], {})],
    "dense": [([(7, 50), (50, 33), (33,)], {"relu": True})],
    "conv2d": [([(1, 8, 14, 14), (16, 8, 3, 3), (16,)], {"padding": 1})],
    "conv2d_im2col": [([(1, 8, 13, 13), (16, 8, 3, 3), (16,)], {"padding": 1})],
    "conv2d_winograd": [([(1, 16, 10, 10), (32, 16, 3, 3), (32,)], {"padding": 1})],
    "conv2d_fft": [([(1, 2, 9, 9), (3, 2, 3, 3), (3,)], {"padding": 1})],
    "depthwise_conv2d": [([(1, 32, 28, 28), (32, 1, 3, 3), (32,)], {"padding": 1})],
    "convolve": [([(1000,), (33,)], {"mode": "full"})],
    "winograd_weight": [([(64, 32, 3, 3)], {})],
    "max_pool2d": [([(1, 4, 9, 9)], {"kernel_size": 3, "stride": 2, "padding": 1,
                                     "ceil_mode": True})],
    "avg_pool2d": [([(1, 4, 9, 9)], {"kernel_size": 3, "stride": 2, "padding": 1}),
                   ([(1, 4, 7, 7)], {"kernel_size": 7})],  # global: plane sums
    "adaptive_avg_pool2d": [([(1, 4, 5, 7)], {"output_size": (3, 2)}),
                            ([(1, 4, 7, 7)], {"output_size": 1})],
    "adaptive_max_pool2d": [([(1, 4, 7, 7)], {"output_size": 1})],
    "add": [([(1000,), (1000,)], {"relu": True})],
    "concat": [([(1, 3, 49), (1, 5, 49)], {})],
    "scale_channels": [([(2, 3, 7, 7), (2, 3, 1, 1)], {}), ([(1, 5, 1, 1), (1, 5)], {})],
    "matmul_log": [([(20, 30), (30, 40)], {}), ([(17, 9), (9, 23)], {"bits": 3})],
}

TARGETS = {
    "znver3": Target({"kind": "llvm", "mcpu": "znver3", "mtriple": "x86_64-linux-gnu",
                      "num-cores": 2}),
    "znver4": Target({"kind": "llvm", "mcpu": "znver4", "mtriple": "x86_64-linux-gnu",
                      "num-cores": 2}),
    "cuda": Target({"kind": "cuda", "arch": "sm_90"}),
}


def _op(name):
    return importlib.import_module(f"tvmprims.ops.{name}")


def _workloads(op):
    module = _op(op)
    return [module.workload(*shapes, dtype="float32", **params) for shapes, params in SAMPLES[op]]


def _block_names(sch):
    return {sch.get(b).name_hint for b in sch.get_child_blocks(sch.get_sblock(ROOT_BLOCK))}


@pytest.mark.parametrize("op", sorted(SAMPLES))
def test_exported_stages_are_the_blocks_of_the_computation(op):
    """Each operator's ``STAGES`` are exactly the blocks of its TE computation (over samples
    that have every optional stage)."""
    names = set()
    for wl in _workloads(op):
        names |= _block_names(Schedule(create_prim_func(wl.compute())))
    assert names == set(_op(op).STAGES)


def test_roofline_stages():
    for tensors, name in ((roofline_kernels.peak_fma(64, 2, 4), roofline_kernels.FMA),
                          (roofline_kernels.stream_triad(64), roofline_kernels.TRIAD)):
        assert _block_names(Schedule(create_prim_func(tensors))) == {name}


class _Recorder:
    """A Schedule that records the names passed to ``get_sblock``."""

    def __init__(self, sch, seen):
        self._sch, self._seen = sch, seen

    def get_sblock(self, name, *args, **kwargs):
        self._seen.add(name)
        return self._sch.get_sblock(name, *args, **kwargs)

    def __getattr__(self, attr):
        return getattr(self._sch, attr)


def _generated_from(name, stages):
    """How ``name`` relates to the operator's stages: ``"stage"``, ``"root"``, ``"padded"``
    (:func:`padded_name`), ``"partitioned"`` (:func:`partitioned_block_name`) or None."""
    if name in stages:
        return "stage"
    if name == ROOT_BLOCK:
        return "root"
    if any(name == padded_name(s) for s in stages):
        return "padded"
    for stage in stages:
        if not name.startswith(stage + "_"):
            continue
        rest = name[len(stage) + 1:]
        for digits in range(1, 3):
            var, index = rest[:-digits], rest[-digits:]
            if var.isidentifier() and index.isdigit() and \
                    partitioned_block_name(stage, var, int(index)) == name:
                return "partitioned"
    return None


def _schedule_modules(package="tvmprims.schedules"):
    """Every module of the schedules package, subpackages included."""
    modules = []
    for info in pkgutil.iter_modules(importlib.import_module(package).__path__):
        name = f"{package}.{info.name}"
        modules += _schedule_modules(name) if info.ispkg else [importlib.import_module(name)]
    return modules


def test_schedules_look_up_only_exported_or_generated_names(monkeypatch):
    """Every name a hand schedule passes to ``get_sblock`` or ``find_block``, on every sample
    and target, is an exported stage name or a name a ``_tvm`` helper builds from one."""
    seen = set()
    original = common.find_block

    def find_block(sch, name):
        seen.add(name)
        return original(sch, name)

    for module in _schedule_modules():
        if getattr(module, "find_block", None) is original:
            monkeypatch.setattr(module, "find_block", find_block)

    kinds = set()
    for op in sorted(SAMPLES):
        # accumulate_locally (schedules/common.py) folds in the convolutions' bias epilogue
        # wherever a reduction has one, so it asks every operator for it
        stages = set(_op(op).STAGES) | {conv2d.BIAS_ADD}
        for tname, target in TARGETS.items():
            kind = "cuda" if target.kind.name == "cuda" else "cpu"
            schedule = importlib.import_module(f"tvmprims.schedules.{kind}.{op}").schedule
            for wl in _workloads(op):
                seen.clear()
                schedule(_Recorder(Schedule(create_prim_func(wl.compute())), seen), wl, target)
                for name in seen:
                    how = _generated_from(name, stages)
                    assert how is not None, (op, tname, name)
                    kinds.add(how)
    # the samples exercise every kind of name
    assert kinds == {"stage", "root", "padded", "partitioned"}


# --- The _tvm helpers against this TVM release ---------------------------------------------------

def _matmul_schedule():
    return Schedule(create_prim_func(matmul.compute(matmul.workload((5, 3), (3, 7)))))


def test_root_block_name():
    sch = _matmul_schedule()
    assert _block_names(sch) == {matmul.MATMUL}  # the root block's children
    assert sch.get(sch.get_sblock(ROOT_BLOCK)).name_hint == ROOT_BLOCK


def test_padded_names_are_those_pad_einsum_makes():
    sch = _matmul_schedule()
    sch.pad_einsum(sch.get_sblock(matmul.MATMUL), [4, 8, 1])
    names = _block_names(sch)
    assert names == {padded_name("A"), padded_name("B"), matmul.MATMUL, padded_name(matmul.MATMUL)}
    assert {n for n in names if is_padded_name(n)} == names - {matmul.MATMUL}


def test_partitioned_names_are_those_loop_partition_makes():
    sch = _matmul_schedule()
    loop = sch.get_loops(sch.get_sblock(matmul.MATMUL))[0]
    var = sch.get(loop).loop_var.name
    sch.loop_partition(loop, [4, None])
    for index in (0, 1):
        sch.get_sblock(partitioned_block_name(matmul.MATMUL, var, index))  # raises if absent


def test_cache_names_are_those_cache_read_and_write_make():
    sch = _matmul_schedule()
    block = sch.get_sblock(matmul.MATMUL)
    write = sch.cache_write(block, 0, "local")
    read = sch.cache_read(block, 1, "global")
    assert sch.get(write).name_hint == cache_block_name(matmul.MATMUL, "local")
    assert sch.get(read).name_hint == cache_block_name("B", "global")
