"""Winograd filter transform: weight (O, C, 3, 3) -> U (alpha, alpha, O, C), ``U = G g G^T``.

``U[xi, nu, o, c] = sum_{j,k} G[xi, j] * weight[o, c, j, k] * G[nu, k]`` with ``alpha = tile + 2``
and the matrices of :func:`transform_matrices`. :mod:`tvmprims.ops.conv2d_winograd` with
``pretransformed=True`` takes ``U`` in place of the weight, so that a fixed weight is
transformed once. This module also holds what both operators share: the transform matrices,
the validation of the Winograd parameters and the TE filter transform itself.

Transform matrices (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks",
2015), Cook-Toom interpolation points:

* F(2x2, 3x3), alpha = 4: points 0, 1, -1 and infinity.
* F(4x4, 3x3), alpha = 6: points 0, 1, -1, 2, -2 and infinity.

Both are exact in exact arithmetic; ``tests/test_conv2d_winograd.py`` checks the identity
``A^T [(G g) * (B^T d)] = correlation(d, g)`` in float64.
"""

from fractions import Fraction as F

from .._tvm import te
from ..workload import Workload
from ._checks import applicable, is_int, require

__all__ = ["TILES", "KERNEL", "transform_matrices", "alpha", "check_tile", "check_kernel",
           "combine", "transform_weight", "workload", "compute", "output_shape", "flops",
           "WEIGHT_ROWS", "WEIGHT_TRANSFORM", "STAGES"]

#: Stage names of the filter transform: its row pass (G g) and column pass (U).
WEIGHT_ROWS = "weight_rows"
WEIGHT_TRANSFORM = "weight_transform"
STAGES = (WEIGHT_ROWS, WEIGHT_TRANSFORM)

#: Output tile sizes m of F(m x m, 3 x 3) supported.
TILES = (2, 4)
#: The only kernel size supported.
KERNEL = 3

_MATRICES = {
    # A^T (m x alpha), G (alpha x 3), B^T (alpha x alpha)
    2: ([[1, 1, 1, 0],
         [0, 1, -1, -1]],
        [[1, 0, 0],
         [F(1, 2), F(1, 2), F(1, 2)],
         [F(1, 2), F(-1, 2), F(1, 2)],
         [0, 0, 1]],
        [[1, 0, -1, 0],
         [0, 1, 1, 0],
         [0, -1, 1, 0],
         [0, 1, 0, -1]]),
    4: ([[1, 1, 1, 1, 1, 0],
         [0, 1, -1, 2, -2, 0],
         [0, 1, 1, 4, 4, 0],
         [0, 1, -1, 8, -8, 1]],
        [[F(1, 4), 0, 0],
         [F(-1, 6), F(-1, 6), F(-1, 6)],
         [F(-1, 6), F(1, 6), F(-1, 6)],
         [F(1, 24), F(1, 12), F(1, 6)],
         [F(1, 24), F(-1, 12), F(1, 6)],
         [0, 0, 1]],
        [[4, 0, -5, 0, 1, 0],
         [0, -4, -4, 1, 1, 0],
         [0, 4, -4, -1, 1, 0],
         [0, -2, -1, 2, 1, 0],
         [0, 2, -1, -2, 1, 0],
         [0, 4, 0, -5, 0, 1]]),
}


def transform_matrices(tile):
    """``(AT, G, BT)`` of F(tile x tile, 3 x 3) as nested lists of exact ``Fraction``/int:
    output transform A^T (m x alpha), filter transform G (alpha x 3), input transform
    B^T (alpha x alpha)."""
    check_tile(tile)
    return _MATRICES[tile]


def alpha(tile):
    """Input tile size ``tile + 2`` of F(tile x tile, 3 x 3)."""
    return tile + KERNEL - 1


def check_tile(tile):
    if not is_int(tile):
        raise TypeError(f"winograd tile must be an int, got {tile!r}")
    applicable(tile in TILES,
               f"winograd tile must be one of {TILES} (F(2x2,3x3) or F(4x4,3x3)), got {tile}")


def check_kernel(kh, kw):
    applicable((kh, kw) == (KERNEL, KERNEL), f"winograd needs a 3x3 kernel, got {kh}x{kw}")


def combine(matrix, row, term, dtype):
    """``sum_j matrix[row][j] * term(j)`` for a symbolic ``row``: a select over the rows, each
    an explicit sum of its nonzero terms (``+-1`` without a multiply).

    Schedules unroll the ``row`` loops, so each unrolled copy folds to one short sum of
    constants times operands: the transforms cost their nonzero coefficients, not a dense
    matrix product.
    """
    def row_sum(coefs):
        expr = None
        for j, coef in enumerate(coefs):
            if coef == 0:
                continue
            if expr is None:  # first term: its own sign
                t = term(j)
                expr = t if coef == 1 else -t if coef == -1 else te.const(float(coef), dtype) * t
                continue
            t = term(j) if abs(coef) == 1 else te.const(float(abs(coef)), dtype) * term(j)
            expr = expr + t if coef > 0 else expr - t
        return expr if expr is not None else te.const(0, dtype)

    expr = row_sum(matrix[-1])
    for i in range(len(matrix) - 2, -1, -1):
        expr = te.if_then_else(row == i, row_sum(matrix[i]), expr)
    return expr


def transform_weight(w, tile):
    """TE filter transform of ``w`` (O, C, 3, 3): U (alpha, alpha, O, C) = G w G^T, in two
    separable passes (:data:`WEIGHT_ROWS` over kernel rows, :data:`WEIGHT_TRANSFORM` over
    columns)."""
    _, g, _ = transform_matrices(tile)
    a = alpha(tile)
    o, c = w.shape[0], w.shape[1]
    rows = te.compute((a, KERNEL, o, c),
                      lambda xi, k, f, ch: combine(g, xi, lambda j: w[f, ch, j, k], w.dtype),
                      name=WEIGHT_ROWS)
    return te.compute((a, a, o, c),
                      lambda xi, nu, f, ch: combine(g, nu, lambda k: rows[xi, k, f, ch], w.dtype),
                      name=WEIGHT_TRANSFORM)


def workload(w_shape, dtype="float32", tile=4):
    """Validate ``w_shape`` (O, C, 3, 3) and ``tile``; the filter-transform workload."""
    require(len(w_shape) == 4,
            f"winograd_weight expects weight of rank 4 (O, C, 3, 3), got shape {tuple(w_shape)}")
    check_tile(tile)
    check_kernel(*w_shape[2:])
    return Workload.make("winograd_weight", (w_shape,), dtype, tile=int(tile))


def output_shape(wl):
    o, c = wl.shapes[0][:2]
    a = alpha(wl["tile"])
    return (a, a, o, c)


def flops(wl):
    """Multiply-adds of the two separable passes, counted densely (2 per coefficient)."""
    o, c = wl.shapes[0][:2]
    a = alpha(wl["tile"])
    return 2 * o * c * (a * KERNEL * KERNEL + a * a * KERNEL)


def compute(wl):
    w = te.placeholder(wl.shapes[0], wl.dtype, name="W")
    return [w, transform_weight(w, wl["tile"])]
