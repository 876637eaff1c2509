"""``Workload``: everything that determines a compiled kernel except target and schedule.

A workload names an operator (a module in :mod:`tvmprims.ops`), the shapes of its inputs in
argument order, the dtype, and the operator's parameters. It is hashable and is the key of
the kernel cache (together with target and schedule) and, later, of tuning records.
"""

import functools
import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .ops.registry import OPERATORS, operator_module

__all__ = ["Workload", "SUPPORTED_DTYPES", "DTYPE_NAMES", "dtype_name", "check_shapes",
           "MAX_ELEMENTS"]

#: dtypes every operator supports on every target.
SUPPORTED_DTYPES = ("float32", "float64")

#: Canonical name of each supported dtype, keyed by its name and by its ``numpy.dtype``
#: (looked up on every call: ``numpy.dtype.name`` is slow in numpy 2).
DTYPE_NAMES = {**{d: d for d in SUPPORTED_DTYPES}, **{np.dtype(d): d for d in SUPPORTED_DTYPES}}

#: Most elements one buffer of a kernel may have (TVM indexes buffers with 32-bit integers).
MAX_ELEMENTS = 2**31 - 1

#: :attr:`Workload.scratch_budget`: at most ``max(SCRATCH_FLOOR, SCRATCH_FACTOR * layer data)``
#: bytes of scratch memory (inputs and output): an FFT on a long 1-D signal builds dense DFT
#: matrices of gigabytes, and TVM keeps a kernel's scratch memory in a per-thread pool for the
#: life of the thread.
SCRATCH_FACTOR = 16
SCRATCH_FLOOR = 64 * 2**20


def dtype_name(dtype):
    """The canonical name of a supported dtype (``"float32"``, ``np.float32``, ``np.dtype``...).

    Raises ``TypeError`` for anything else.
    """
    try:
        return DTYPE_NAMES[dtype]
    except (KeyError, TypeError):
        pass
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = None
    if name not in SUPPORTED_DTYPES:
        raise TypeError(f"unsupported dtype {dtype!r}: tvmprims supports {', '.join(SUPPORTED_DTYPES)}")
    return name


def check_shapes(op, shapes):
    """``shapes`` as a tuple of tuples of Python ints.

    Each extent must be an integer (Python ``int`` or a numpy integer): a float (even
    ``3.0``), a string, a bool or anything else raises ``TypeError`` naming the operator,
    the shape and the extent, never truncated or converted.
    """
    if isinstance(shapes, (str, bytes)) or not isinstance(shapes, Iterable):
        raise TypeError(f"{op}: shapes must be a sequence of shapes, got {shapes!r}")
    checked = []
    for i, shape in enumerate(shapes):
        if isinstance(shape, (str, bytes)) or not isinstance(shape, Iterable):
            raise TypeError(f"{op}: shape {i} must be a sequence of integers, got {shape!r}")
        shape = tuple(shape)
        for d in shape:
            if isinstance(d, (bool, np.bool_)) or not isinstance(d, numbers.Integral):
                raise TypeError(f"{op}: shape {i} {shape!r} has extent {d!r} of type "
                                f"{type(d).__name__}; extents must be integers (int or numpy "
                                "integer, not bool)")
        checked.append(tuple(int(d) for d in shape))
    return tuple(checked)


@dataclass(frozen=True)
class Workload:
    """One operator instance.

    Attributes
    ----------
    op : str
        Operator name; ``tvmprims.ops.<op>`` holds its compute definition and
        ``tvmprims.schedules.<cpu|cuda>.<op>`` its hand schedules.
    shapes : tuple of tuple of int
        Input shapes, in the order the kernel takes its arguments.
    dtype : str
        Element type of every input and of the output.
    params : tuple of (str, value) pairs
        Operator parameters (stride, padding, mode, ...), sorted by name.
    """

    op: str
    shapes: tuple
    dtype: str
    params: tuple = ()

    @staticmethod
    def make(op, shapes, dtype, **params):
        """Build a workload with canonical (tuple, sorted) fields; every extent must be >= 1."""
        shapes = check_shapes(op, shapes)
        for shape in shapes:
            if min(shape, default=1) < 1:
                raise ValueError(f"{op}: shape {shape} has a zero-size or negative dimension")
        return Workload(op, shapes, dtype_name(dtype), tuple(sorted(params.items())))

    def __getitem__(self, name):
        for key, value in self.params:
            if key == name:
                return value
        raise KeyError(f"workload {self.op} has no parameter {name!r}")

    def get(self, name, default=None):
        """Parameter ``name``, or ``default`` when the workload does not set it."""
        for key, value in self.params:
            if key == name:
                return value
        return default

    @property
    def operator(self):
        """The operator module (``compute``, ``output_shape``, ``flops``)."""
        return operator_module(self.op)

    @property
    def output_shape(self):
        return tuple(self.operator.output_shape(self))

    @property
    def flops(self):
        """Floating-point operations of one call (a multiply-add counts 2)."""
        return int(self.operator.flops(self))

    @property
    def bytes(self):
        """Compulsory memory traffic of one call, in bytes: every input read once and the
        output written once (what no schedule can avoid; caches make real traffic larger)."""
        elements = sum(int(np.prod(s)) for s in self.shapes) + int(np.prod(self.output_shape))
        return elements * np.dtype(self.dtype).itemsize

    @property
    def intensity(self):
        """Arithmetic intensity: :attr:`flops` per byte of :attr:`bytes`."""
        return self.flops / self.bytes

    @property
    def executed_flops(self):
        """Arithmetic the algorithm performs, counted in its TensorIR by TVM's
        ``estimate_tir_flops`` (before scheduling): for the direct algorithms the same as
        :attr:`flops`; for Winograd fewer, for the FFT and the log-domain products more."""
        return _executed_flops(self)

    @property
    def scratch_bytes(self):
        """Bytes of every intermediate stage of the computation (the TE stages between the
        inputs and the output: padded inputs, patch matrices, transforms, twiddles). An upper
        bound of what a kernel allocates per call, before the schedule inlines some stages."""
        itemsize = np.dtype(self.dtype).itemsize
        return sum(n for _, n in _stage_elements(self)[len(self.shapes):-1]) * itemsize

    @property
    def scratch_budget(self):
        """Most scratch bytes a kernel of this layer should hold: ``max(SCRATCH_FLOOR,
        SCRATCH_FACTOR * bytes)``. The algorithm search skips candidates whose
        :attr:`scratch_bytes` exceed it; schedules stay within it where they can (the FFT's
        filter spectrum)."""
        return max(SCRATCH_FLOOR, SCRATCH_FACTOR * self.bytes)

    def check_index_range(self):
        """Raise ``ValueError`` when an input, output or intermediate buffer has more than
        :data:`MAX_ELEMENTS` elements: TVM's kernels index with 32-bit integers, and past
        that fail to compile (or would address out of range)."""
        for name, elements in _stage_elements(self):
            if elements > MAX_ELEMENTS:
                raise ValueError(
                    f"{self.describe()}: buffer {name!r} would hold {elements:,} elements; "
                    f"tvmprims kernels index with 32-bit integers, at most {MAX_ELEMENTS:,} "
                    "elements per buffer (split the batch or the matrix)")

    def compute(self):
        """TE tensors ``[inputs..., output]`` defining this workload."""
        return self.operator.compute(self)

    def describe(self):
        """Human-readable one-liner, e.g. ``conv2d 1x64x56x56 * 64x64x3x3 stride=1``."""
        shapes = " * ".join("x".join(map(str, s)) for s in self.shapes)
        params = " ".join(f"{k}={v}" for k, v in self.params if v not in (None, False))
        return f"{self.op} {shapes} {params}".strip()

    def to_json(self):
        return {"op": self.op, "shapes": [list(s) for s in self.shapes], "dtype": self.dtype,
                "params": {k: _jsonable(v) for k, v in self.params}}

    @staticmethod
    def from_json(data):
        """Inverse of :meth:`to_json`; raises ``ValueError`` for an unknown operator."""
        if data["op"] not in OPERATORS:
            raise ValueError(f"unknown operator {data['op']!r}")
        params = {k: _tupled(v) for k, v in data["params"].items()}
        return Workload.make(data["op"], data["shapes"], data["dtype"], **params)


@functools.lru_cache(maxsize=4096)
def _stage_elements(wl):
    """``((name, elements), ...)`` of the workload's tensors: inputs, then the intermediate
    stages, then the output."""
    tensors = wl.compute()
    *inputs, output = tensors
    seen, stages = {t.op for t in inputs}, []

    def visit(op):
        if op in seen:
            return
        seen.add(op)
        for t in op.input_tensors:
            visit(t.op)
        stages.append(op)

    visit(output.op)
    ordered = [t.op for t in inputs] + [op for op in stages if op != output.op] + [output.op]
    return tuple((op.name, math.prod(int(d) for d in op.output(0).shape)) for op in ordered)


@functools.lru_cache(maxsize=4096)
def _executed_flops(wl):
    from ._tvm import create_prim_func, estimate_tir_flops, tvm
    return int(estimate_tir_flops(tvm.IRModule({"main": create_prim_func(wl.compute())})))


def _jsonable(value):
    return [_jsonable(v) for v in value] if isinstance(value, tuple) else value


def _tupled(value):
    return tuple(_tupled(v) for v in value) if isinstance(value, list) else value
