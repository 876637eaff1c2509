"""The one place that imports version-specific TVM APIs (TVM 0.27).

TVM renames modules between releases (``tvm.tir`` -> ``tvm.tirx``, ``tvm.schedule`` ->
``tvm.s_tir``, ``tvm.build`` -> ``tvm.compile``); everything else in tvmprims imports
these names from here so that the next rename touches one file.

The same goes for the names TVM itself gives the blocks it creates (the root block,
``pad_einsum``'s padding stages, ``loop_partition``'s parts, ``cache_read``/``cache_write``
copies): schedules build them with the helpers at the end of this module, never by hand.
The stages tvmprims defines are named by constants in their ``tvmprims/ops/<op>.py``.
"""

import os

from . import forking

# TVM's CPU thread pool counts physical cores and, on 2-vCPU machines, starts one worker:
# half the machine. Use every CPU this process may run on unless the user says otherwise.
if "TVM_NUM_THREADS" not in os.environ and hasattr(os, "sched_getaffinity"):
    os.environ["TVM_NUM_THREADS"] = str(len(os.sched_getaffinity(0)))

import tvm  # noqa: E402  (must come after the environment is set)
from tvm import te, tirx
from tvm.s_tir import Schedule  # noqa: E402
from tvm.s_tir import dlight
from tvm.s_tir.analysis import estimate_tir_flops
from tvm.target import Target

__all__ = [
    "tvm", "te", "tirx", "Schedule", "Target", "dlight", "estimate_tir_flops",
    "create_prim_func", "element_aligned_arguments", "compile_module", "host_cpu_name", "tensor_on", "cuda_source",
    "structural_hash", "llvm_cpu_features", "llvm_host_triple", "meta_schedule",
    "meta_schedule_for_tuning", "meta_schedule_build_parts", "import_tensor_intrin",
    "PARTITION_PADDING", "ROOT_BLOCK", "padded_name", "is_padded_name", "partitioned_block_name",
    "cache_block_name", "tensor_intrin",
]


def meta_schedule():
    """MetaSchedule (``tvm.s_tir.meta_schedule``), imported on first use: it pulls in
    xgboost, seconds that a process which never tunes or reads a tuning log should not pay."""
    import tvm.s_tir.meta_schedule as ms
    return ms


def meta_schedule_for_tuning():
    """:func:`meta_schedule`, with ``tvm.s_tir.tensor_intrin`` imported, which MetaSchedule's
    ``TuneContext`` imports on first use (a search needs it; a record lookup does not)."""
    ms = meta_schedule()
    import_tensor_intrin()
    return ms


def meta_schedule_build_parts():
    """What :mod:`tvmprims.tuning_workers` builds its builder from: TVM's process pool
    (``PopenPoolExecutor``, ``StatusKind``), ``derived_object`` (a Python subclass of a
    MetaSchedule node), the function a ``LocalBuilder`` worker runs on a candidate
    (``worker_func(f_build, f_export, mod, target, params)``) and its ``serialize_params``,
    and ``cpu_count``."""
    from types import SimpleNamespace

    from tvm.ir.utils import derived_object
    from tvm.s_tir.meta_schedule.builder import local_builder
    from tvm.s_tir.meta_schedule.utils import cpu_count
    from tvm.support.popen_pool import PopenPoolExecutor, StatusKind
    return SimpleNamespace(PopenPoolExecutor=PopenPoolExecutor, StatusKind=StatusKind,
                           derived_object=derived_object, worker_func=local_builder._worker_func,
                           serialize_params=local_builder._serialize_params,
                           cpu_count=cpu_count)


def _tensor_intrin_importer():
    # Closures, so that cloudpickle sends them to builder workers by value: by reference, a
    # worker would import tvmprims (and torch) to find them.
    import inspect
    import sys

    def stack_without_source_scans(context=1):
        """``inspect.stack(context)``, except that frames of code with no source file
        (``<frozen ...>``, ``<string>``) get no ``code_context`` without a search for it
        (which ``inspect.getmodule`` does by walking every loaded module, on every call)."""
        frames = []
        frame = sys._getframe(1)
        while frame is not None:
            filename = frame.f_code.co_filename
            if filename.startswith("<"):
                frames.append(inspect.FrameInfo(frame, filename, frame.f_lineno,
                                                frame.f_code.co_name, None, None))
            else:
                frames.append(inspect.FrameInfo(frame, *inspect.getframeinfo(frame, context)))
            frame = frame.f_back
        return frames

    def import_tensor_intrin():
        """Import ``tvm.s_tir.tensor_intrin`` with the stack function above as
        ``inspect.stack``. That module parses about 250 TVMScript functions, and each
        ``@T.prim_func`` calls ``inspect.stack()``, whose source lookup for every
        ``<frozen importlib...>`` frame of the import scans all of ``sys.modules``: 30-80 s
        on a 2-core machine, over 3 minutes with torch loaded."""
        if "tvm.s_tir.tensor_intrin" in sys.modules:
            return
        stack, inspect.stack = inspect.stack, stack_without_source_scans
        try:
            import tvm.s_tir.tensor_intrin  # noqa: F401
        finally:
            inspect.stack = stack

    return import_tensor_intrin, stack_without_source_scans


import_tensor_intrin, _stack_without_source_scans = _tensor_intrin_importer()


def tensor_intrin(name, desc_source, impl_source):
    """``name``, registered (once per process) as the tensor intrinsic whose description and
    implementation are TVMScript sources, each one ``@T.prim_func(s_tir=True)``."""
    from tvm.s_tir import TensorIntrin
    from tvm.script import tirx as T
    from tvm.script.parser import parse
    with _TENSOR_INTRIN_LOCK:  # builds run on several threads
        if TensorIntrin.get(name, allow_missing=True) is None:
            desc, impl = (parse(source, {"T": T}, s_tir=True)
                          for source in (desc_source, impl_source))
            TensorIntrin.register(name, desc, impl)
    return name


_TENSOR_INTRIN_LOCK = forking.lock()


def create_prim_func(tensors):
    """A PrimFunc taking ``tensors`` (inputs then output) as arguments, named ``main``."""
    return te.create_prim_func(list(tensors))


def element_aligned_arguments(mod):
    """``mod`` with every PrimFunc's argument buffers declared aligned to their element size
    instead of ``te.create_prim_func``'s 64 bytes.

    TVM 0.27 no longer checks argument alignment at the call, but LLVM codegen turns the
    declared alignment into alignment assumptions: a 64-byte declaration makes a numpy array
    16 bytes off a 64-byte boundary (the usual case for large arrays) undefined behaviour, so
    every call would need a copy. With element alignment the kernel takes any C-contiguous
    array as it is; unaligned vector loads cost the same as aligned ones on current cores
    when the data happens to be aligned. Schedules and tuning records apply to the 64-byte
    function (its structural hash is the tuning key); this is applied after them.
    """
    from tvm.tirx.transform.common import BufferReplacer  # Python-side buffer substitution

    funcs = {}
    for gvar, func in mod.functions.items():
        if not isinstance(func, tirx.PrimFunc):
            funcs[gvar] = func
            continue
        mapping = {p: tirx.decl_buffer(p.shape, p.dtype, p.name,
                                       data_alignment=p.dtype.bits // 8)
                   for p in func.params if hasattr(p, "data_alignment")}
        params = [mapping.get(p, p) for p in func.params]
        funcs[gvar] = tirx.PrimFunc(params, BufferReplacer(mapping)(func.body),
                                    ret_type=func.ret_type, attrs=func.attrs)
    return tvm.IRModule(funcs, attrs=mod.attrs)


def structural_hash(node):
    """TVM's structural hash of an IR node, as MetaSchedule keys its workloads."""
    import tvm_ffi  # tvm.ir.structural_hash moved to the FFI package
    return tvm_ffi.structural_hash(node)


#: Block annotation a schedule sets on a stage whose padding conditions should be split
#: out of its loops (:func:`compile_module`).
PARTITION_PADDING = "tvmprims.partition_padding"


def compile_module(mod, target):
    """Compile an IRModule; returns TVM's ``Executable`` (``.mod`` is the runtime module).

    A function with a block annotated :data:`PARTITION_PADDING` has its ``if_then_else``
    conditions marked ``likely`` and is compiled with TVM's loop partitioning of constant
    loops: each loop the condition depends on is cut where it becomes false, so the part
    where it holds (all but a tile's worth) runs without it. TVM's vectoriser scalarises a
    loop whose ``if_then_else`` condition varies across lanes: a blocked GEMM's packing of a
    B with N = 4095 columns copied element by element, with a branch each (32x1024x4095:
    3.3 -> 2.0 ms on Zen 4).
    """
    if not any(_annotated(func, PARTITION_PADDING) for func in mod.functions.values()):
        return tvm.compile(mod, target=target)
    funcs = {gvar: _likely_conditions(func) for gvar, func in mod.functions.items()}
    config = {"s_tir.LoopPartition": {"partition_const_loop": True}}
    with tvm.transform.PassContext(config=config):
        return tvm.compile(tvm.IRModule(funcs, attrs=mod.attrs), target=target)


def _annotated(func, key):
    import tvm_ffi
    from tvm.s_tir.stmt import SBlock
    found = []

    def visit(block):
        if key in block.annotations:
            found.append(block)
        return block
    if isinstance(func, tirx.PrimFunc):
        tvm_ffi.structural_map(func.body, [(SBlock, visit)], order="post")
    return bool(found)


def _likely_conditions(func):
    """``func`` with every ``if_then_else(c, a, b)`` as ``if_then_else(likely(c), a, b)``."""
    import tvm_ffi
    if not isinstance(func, tirx.PrimFunc):
        return func
    if_then_else, likely = tvm.ir.Op.get("prim.if_then_else"), tvm.ir.Op.get("prim.likely")

    def mark(call):
        if not call.op.same_as(if_then_else):
            return call
        condition, *values = call.args
        if isinstance(condition, tvm.ir.expr.Call) and condition.op.same_as(likely):
            return call
        return tirx.if_then_else(tirx.likely(condition), *values)
    body = tvm_ffi.structural_map(func.body, [(tvm.ir.expr.Call, mark)], order="post")
    return tirx.PrimFunc(func.params, body, ret_type=func.ret_type, attrs=func.attrs)


def host_cpu_name():
    """LLVM's name for this host's CPU (e.g. ``znver3``)."""
    return tvm.target.codegen.llvm_get_system_cpu()


def llvm_cpu_features(target):
    """LLVM's CPU feature names (``{"avx2", "fma", ...}``) for an ``llvm`` target's
    ``mtriple``, ``mcpu`` and ``mattr``; works for any triple LLVM was built with, on any host."""
    return set(tvm.target.codegen.llvm_get_cpu_features(target))


def llvm_host_triple():
    """LLVM's triple of this host (e.g. ``x86_64-unknown-linux-gnu``)."""
    return str(tvm.target.codegen.llvm_get_system_triple())


def tensor_on(array, device):
    """Copy a numpy array into a TVM tensor on ``device``."""
    return tvm.runtime.tensor(array, device)


def cuda_source(runtime_module):
    """The generated CUDA C source of a runtime module compiled for a cuda target."""
    for imported in runtime_module.imports:
        if imported.kind == "cuda":
            return imported.inspect_source()
    raise RuntimeError("module has no CUDA code: did the schedule bind any threads?")


# --- Names of the blocks TVM creates (TVM 0.27) -------------------------------------------------
# tests/test_hardware.py checks each against what this TVM release actually generates.

#: The block ``te.create_prim_func`` wraps a PrimFunc's body in.
ROOT_BLOCK = "root"

#: Suffix of the blocks and buffers ``Schedule.pad_einsum`` adds.
_PAD_SUFFIX = "_pad"


def padded_name(buffer):
    """Name of the block (and buffer) ``pad_einsum`` adds for the buffer named ``buffer``:
    the zero-padded copy of an operand, or the copy out of a padded result
    (``matmul`` -> ``matmul_pad``). A TE stage's buffer has the stage's name."""
    return buffer + _PAD_SUFFIX


def is_padded_name(name):
    """True for a block name :func:`padded_name` makes (a stage ``pad_einsum`` added)."""
    return name.endswith(_PAD_SUFFIX)


def partitioned_block_name(block, loop_var, index):
    """Name of the block of part ``index`` after ``Schedule.loop_partition`` of a loop with
    variable ``loop_var`` over the block named ``block`` (``matmul``, ``i``, 1 ->
    ``matmul_i1``)."""
    return f"{block}_{loop_var}{index}"


def cache_block_name(buffer, scope):
    """Name of the copy block (and buffer) ``Schedule.cache_read``/``cache_write`` add for
    the buffer named ``buffer`` in storage ``scope`` (``matmul``, ``local`` ->
    ``matmul_local``)."""
    return f"{buffer}_{scope}"
