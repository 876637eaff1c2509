"""Tensor intrinsics that move data between memory order and SIMD lanes with vector shuffles.

A vector whose lanes read (or write) memory ``step`` elements apart is, to TVM's LLVM
codegen, one scalar load (or store) and one lane insert (or extract) per lane. Where such an
access walks a contiguous region whole, these intrinsics load (or store) the region as
whole vectors and move the lanes with ``shufflevector`` (a few permutes per vector):

- :func:`deinterleave`: ``D[j, t] = A[t * step + j]`` (``j < width``, ``t < lanes``): the
  ``width`` columns of ``lanes`` overlapping windows, read from ``step * (lanes - 1) +
  width`` contiguous elements (Winograd's input tiles: windows of alpha, ``step`` m apart).
- :func:`interleave`: ``B[t, j] = A[j, t]`` (``j < step``, ``t < lanes``): ``step`` vectors
  stored as the rows of one contiguous ``lanes x step`` block (Winograd's output tiles).

Each is registered once per process under a name that encodes its parameters; a schedule
``tensorize``\\ s the loops of a block whose body is the description. A tuning record's trace
names the intrinsics it tensorizes with, and MetaSchedule replays the traces when it loads a
log, in a process that may not have scheduled such a layer yet: :func:`register_named` makes
the intrinsics a log names from their names.
"""

import re

import numpy as np

from tvmprims._tvm import tensor_intrin

__all__ = ["deinterleave", "interleave", "register_named"]

_PREFIX = "tvmprims_"
#: ``tvmprims_<kind>_<integer parameters>_<dtype>_<vector>`` as :func:`deinterleave` and
#: :func:`interleave` name what they register (the integers before the dtype).
_NAME = re.compile(_PREFIX + r"(deinterleave|interleave)((?:_\d+)+)_(float\d+)_(\d+)")

_HEAD = '''
@T.prim_func(s_tir=True)
def f(a: T.handle, b: T.handle):
    A = T.match_buffer(a, {a_shape}, "{dtype}", strides={a_strides}, offset_factor=1,
                       align={align})
    B = T.match_buffer(b, {b_shape}, "{dtype}", strides={b_strides}, offset_factor=1,
                       align={align})
    with T.sblock("root"):
        T.reads(A[{a_region}])
        T.writes(B[{b_region}])
'''


def _chunks(n, vector):
    """Contiguous ``(start, lanes)`` pieces of ``n`` elements, ``vector`` lanes at most."""
    return [(s, min(vector, n - s)) for s in range(0, n, vector)]


def _loads(name, n, vector, row=None):
    index = "" if row is None else f"{row}, "
    return ", ".join(f"{name}[{index}T.Ramp({s}, 1, {w})]" for s, w in _chunks(n, vector))


def _head(a_shape, b_shape, dtype, strided):
    """The shared signature; ``strided``: which of A, B is a 2-D region of a larger row.
    Both buffers are aligned to their element only: a function argument (the input when no
    padding stage is needed, the output) is declared so (zero-copy calls), and tensorize
    refuses to match a buffer to a description that requires more."""
    def parts(shape, is_strided):
        strides = "[T.int32(), 1]" if is_strided else "None"
        return str(tuple(shape)), strides, ", ".join(f"0:{d}" for d in shape)
    (a_s, a_st, a_r), (b_s, b_st, b_r) = parts(a_shape, strided == "A"), parts(b_shape,
                                                                                strided == "B")
    return _HEAD.format(a_shape=a_s, a_strides=a_st, a_region=a_r, b_shape=b_s, b_strides=b_st,
                        b_region=b_r, dtype=dtype, align=np.dtype(dtype).itemsize)


def deinterleave(step, width, lanes, dtype, vector):
    """The intrinsic ``B[j, t] = A[t * step + j]`` (A: ``step * (lanes - 1) + width``
    contiguous elements; B: ``width x lanes``, rows anywhere), loading A in pieces of at most
    ``vector`` lanes; returns its name."""
    n = step * (lanes - 1) + width
    head = _head((n,), (width, lanes), dtype, strided="B")
    desc = head + f'''
        for j, t in T.grid({width}, {lanes}):
            with T.sblock("deinterleave"):
                vj, vt = T.axis.remap("SS", [j, t])
                B[vj, vt] = A[vt * {step} + vj]
'''
    loads = _loads("A", n, vector)
    impl = head + "".join(
        f"        B[{j}, T.Ramp(0, 1, {lanes})] = T.Shuffle([{loads}], "
        f"{[t * step + j for t in range(lanes)]})\n" for j in range(width))
    return tensor_intrin(f"{_PREFIX}deinterleave_{step}_{width}_{lanes}_{dtype}_{vector}",
                         desc, impl)


def interleave(step, lanes, dtype, vector):
    """The intrinsic ``B[t, j] = A[j, t]`` (A: ``step x lanes``, rows anywhere; B: ``lanes x
    step`` contiguous), A's rows loaded in pieces of at most ``vector`` lanes; returns its
    name."""
    head = _head((step, lanes), (lanes, step), dtype, strided="A")
    desc = head + f'''
        for t, j in T.grid({lanes}, {step}):
            with T.sblock("interleave"):
                vt, vj = T.axis.remap("SS", [t, j])
                B[vt, vj] = A[vj, vt]
'''
    rows = ", ".join(_loads("A", lanes, vector, row=j) for j in range(step))
    order = [j * lanes + t for t in range(lanes) for j in range(step)]
    impl = head + (f"        B[0, T.Ramp(0, 1, {lanes * step})] = T.Shuffle([{rows}], "
                   f"{order})\n")
    return tensor_intrin(f"{_PREFIX}interleave_{step}_{lanes}_{dtype}_{vector}", desc, impl)


def register_named(text):
    """Register every intrinsic of this module that ``text`` (a tuning log's records) names;
    returns their names."""
    if _PREFIX not in text:
        return set()
    makers = {"deinterleave": deinterleave, "interleave": interleave}
    names = set()
    for kind, integers, dtype, vector in {m.groups() for m in _NAME.finditer(text)}:
        names.add(makers[kind](*map(int, integers[1:].split("_")), dtype, int(vector)))
    return names
