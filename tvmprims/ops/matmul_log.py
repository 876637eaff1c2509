"""Matrix product in the logarithmic number system: A (M, K), B (K, N) -> C (M, N),
``C[i, j] = sum_k A[i, k] * B[k, j]``, each product computed from the operands' logarithms.

Every operand X is first converted, by two element-wise stages ``X_sign`` and ``X_log`` of
its shape, to a pair ``(sign, log2|x|)``: the sign is -1 or +1, and **0 for a zero element**
(the zero flag); the log is the base-2 logarithm of the magnitude. (Two stages rather than
one of shape (2, ...): TVM's ``pad_einsum`` rejects a block that reads one buffer at two
constant indices.)

Exact (``bits=None``, ``tvmprims.matmul(algo="log")``)
    ``log2|x|`` in the working dtype; each product is ``sa * sb * 2^(la + lb)`` (``exp2``),
    summed in the linear domain (stage ``matmul_log``). Exact up to the rounding of log2,
    exp2 and the sum: for float32 a product's relative error is about
    ``ln2 * eps * (|la + lb| + 2)``. Non-finite values behave as in a plain product: a
    zero's log is ``log2(0) = -inf``, so its product with a finite number is ``0 * 2^-inf
    = 0`` exactly, and with inf or NaN it is NaN (``-inf + inf``); a NaN operand's log is
    NaN, an inf's is inf.

Approximate (``bits`` = B in 0..8, ``tvmprims.matmul(algo="log-approx", log_bits=B)``)
    The method of NVIDIA's patent application US 2021/0056446 (inference with a
    logarithmic number representation). Each log magnitude is quantised to fixed point with
    B fractional bits, ``la = round(log2|a| * 2^B)`` (int32 stage). A product's log is the
    integer sum ``s = la + lb``, split into the quotient ``q = s >> B`` and the remainder
    ``r = s & (2^B - 1)``, so that ``|a b| ~ 2^q * 2^(r / 2^B)``. The factor ``2^q`` is an
    exact power of two (a shift of ``q`` into the exponent field); ``sign * 2^q`` is added to
    one partial sum per remainder bin (stage ``partial`` of shape (M, N, 2^B), reducing over
    k), and only at the end are the bins scaled by the ``2^B`` constants ``2^(r / 2^B)`` of a
    small table (stage ``log_table``) and summed: ``C = sum_r partial[:, :, r] * 2^(r / 2^B)``.
    The inner loop has no multiplication at all, only integer adds, shifts and additions.

    **Error bound.** Rounding a log to B fractional bits is off by at most ``2^-(B+1)``, so a
    product's log is off by at most ``2^-B``, and its relative error is at most
    ``2^(2^-B) - 1`` (about ``ln2 * 2^-B``: 100% for B = 0, 9.05% for B = 3, 0.27% for
    B = 8). Hence ``|C - A @ B| <= (2^(2^-B) - 1) * sum_k |A[i,k]| |B[k,j]|``, plus float
    rounding (the sums, the table constants, and products below the smallest normal number,
    which are flushed to zero).

    Non-finite values have no fixed-point logarithm: :func:`tvmprims.matmul` sets to NaN
    every result that a NaN or inf operand enters (its row of A or column of B).
"""


from .._tvm import te, tvm
from ..workload import Workload
from ._checks import is_int, require
from .matmul import flops, output_shape  # noqa: F401  (same shapes and FLOPs as matmul)

__all__ = ["workload", "compute", "output_shape", "flops", "MAX_BITS", "error_bound",
           "A_SIGN", "A_LOG", "B_SIGN", "B_LOG", "B_STAGES", "MATMUL_LOG", "PARTIAL", "LOG_TABLE",
           "STAGES"]

#: Stage names (see the module docstring): the sign and log of each operand, the product
#: (exact) or the combination of the bins (approximate), the bins' partial sums and constants.
A_SIGN = "A_sign"
A_LOG = "A_log"
B_SIGN = "B_sign"
B_LOG = "B_log"
#: The stages of the B operand, read as GEMM B operands by the schedules.
B_STAGES = (B_SIGN, B_LOG)
MATMUL_LOG = "matmul_log"
PARTIAL = "partial"
LOG_TABLE = "log_table"
STAGES = (A_SIGN, A_LOG, B_SIGN, B_LOG, MATMUL_LOG, PARTIAL, LOG_TABLE)

#: Largest number of fractional bits of the approximate method (2^8 = 256 remainder bins).
MAX_BITS = 8

tirx = tvm.tirx

#: (integer type, mantissa bits, exponent bias) of the float types, to build 2^q exactly.
_FLOAT_LAYOUT = {"float16": ("int16", 10, 15), "bfloat16": ("int16", 7, 127),
                 "float32": ("int32", 23, 127), "float64": ("int64", 52, 1023)}


def workload(a_shape, b_shape, dtype="float32", bits=None):
    """Validate shapes and ``bits`` (None: exact; int 0..8: approximate); return the workload."""
    require(len(a_shape) == 2 and len(b_shape) == 2,
            f"matmul_log expects 2-D operands, got shapes {tuple(a_shape)} and {tuple(b_shape)}")
    require(a_shape[1] == b_shape[0],
            f"matmul_log inner dimensions differ: a is {tuple(a_shape)}, b is {tuple(b_shape)}")
    if bits is not None:
        if not is_int(bits):
            raise TypeError(f"log_bits must be an int from 0 to {MAX_BITS} (fractional bits of "
                            f"the quantised logarithm), got {bits!r}")
        require(0 <= bits <= MAX_BITS,
                f"log_bits must be from 0 to {MAX_BITS} (fractional bits of the quantised "
                f"logarithm), got {bits}")
        bits = int(bits)
    return Workload.make("matmul_log", (a_shape, b_shape), dtype, bits=bits)


def error_bound(bits):
    """Relative error bound of one product of the approximate method: ``2^(2^-bits) - 1``."""
    return 2.0 ** (2.0 ** -bits) - 1.0


def _to_log(x, names, log_dtype, scale=None):
    """Stages ``names = (sign, log)``: the sign (-1, +1, and 0 for zero: the zero flag) and
    log2|x| (when quantised, times ``scale``, rounded to ``log_dtype``, and 0 for zero)."""
    def sign(i, j):
        v = x[i, j]
        return tirx.if_then_else(v > tirx.const(0, x.dtype), tirx.const(1, log_dtype),
                                 tirx.if_then_else(v == tirx.const(0, x.dtype),
                                                   tirx.const(0, log_dtype),
                                                   tirx.const(-1, log_dtype)))

    def log(i, j):
        v = x[i, j]
        value = tirx.log2(tirx.abs(v))
        if scale is None:  # log2(0) = -inf: see the module docstring
            return value
        value = tirx.round(value * tirx.const(scale, x.dtype))
        return tirx.if_then_else(v == tirx.const(0, x.dtype), tirx.const(0, log_dtype),
                                 value.astype(log_dtype))
    return (te.compute(x.shape, sign, name=names[0]),
            te.compute(x.shape, log, name=names[1]))


def _power_of_two(q, dtype):
    """Exactly ``2^q`` for an integer ``q``: ``q + bias`` shifted into the exponent field
    (clamped: 0 below the normal range, inf above it)."""
    int_type, mantissa, bias = _FLOAT_LAYOUT[dtype]
    q = tirx.max(tirx.min(q.astype(int_type), tirx.const(bias + 1, int_type)),
                 tirx.const(-bias, int_type))
    return tirx.reinterpret(dtype, (q + tirx.const(bias, int_type)) << tirx.const(mantissa,
                                                                                 int_type))


def compute(wl):
    (m, k), (_, n) = wl.shapes
    dtype, bits = wl.dtype, wl["bits"]
    a = te.placeholder((m, k), dtype, name="A")
    b = te.placeholder((k, n), dtype, name="B")
    r = te.reduce_axis((0, k), name="k")
    zero = tirx.const(0, dtype)
    if bits is None:
        (sa, la), (sb, lb) = _to_log(a, (A_SIGN, A_LOG), dtype), _to_log(b, B_STAGES, dtype)

        def product(i, j):
            return sa[i, r] * sb[r, j] * tirx.exp2(la[i, r] + lb[r, j])
        c = te.compute((m, n), lambda i, j: te.sum(product(i, j), axis=r), name=MATMUL_LOG)
        return [a, b, c]

    scale = 1 << bits
    sa, la = _to_log(a, (A_SIGN, A_LOG), "int32", scale)
    sb, lb = _to_log(b, B_STAGES, "int32", scale)

    def term(i, j, rem):
        sign = sa[i, r] * sb[r, j]
        s = la[i, r] + lb[r, j]
        q = s >> bits
        return tirx.if_then_else(
            tirx.all(sign != 0, (s & (scale - 1)) == rem),
            sign.astype(dtype) * _power_of_two(q, dtype), zero)

    partial = te.compute((m, n, scale), lambda i, j, rem: te.sum(term(i, j, rem), axis=r),
                         name=PARTIAL)
    table = te.compute((scale,), lambda rem: tirx.exp2(rem.astype(dtype) / scale),
                       name=LOG_TABLE)
    rb = te.reduce_axis((0, scale), name="rem")
    c = te.compute((m, n), lambda i, j: te.sum(partial[i, j, rb] * table[rb], axis=rb),
                   name=MATMUL_LOG)
    return [a, b, c]
