"""Winograd convolution F(m x m, 3 x 3), NCHW, as ``torch.nn.functional.conv2d``.

Shapes: x (N, C, H, W), weight (O, C, 3, 3) -- or, with ``pretransformed=True``, the
transformed filter U (alpha, alpha, O, C) from :mod:`tvmprims.ops.winograd_weight` --, optional
bias (O,) -> (N, O, OH, OW), ``OH = H + pad_top + pad_bottom - 2`` (stride 1, dilation 1,
groups 1, cross-correlation). ``tile`` m is 2 or 4; ``alpha = m + 2``.

The output is cut into ``TH x TW`` tiles of m x m (``TH = ceil(OH / m)``); tile ``p`` in
``0 .. P-1`` (P = N * TH * TW) is image ``p // (TH*TW)``, tile row ``p // TW % TH``, tile column
``p % TW``. Stages (TE computations, all named):

1. ``pad``: x zero-padded to ``(TH*m + 2, TW*m + 2)``: the requested padding on the top and
   left, and at least the requested padding on the bottom and right, so that tiles past the
   edge of the output read zeros (never out of bounds).
2. ``input_columns``, ``input_rows``, ``input_transform``: ``V[xi, nu, c, p] = (B^T d
   B)[xi, nu]`` for the alpha x alpha input tile ``d`` of tile p, in two separable passes;
   ``input_columns[n, c, ty, e, mu, tx]`` is element (e, mu) of the input tiles of tile row
   ty, tiles last (a gather of every m-th element of a padded row, which a schedule may
   inline or compute with vector shuffles).
3. ``weight_rows``, ``weight_transform``: ``U = G g G^T`` (absent when pretransformed).
4. ``batch_gemm``: ``M[xi, nu, o, p] = sum_c U[xi, nu, o, c] * V[xi, nu, c, p]``, alpha^2
   independent GEMMs over the input channels.
5. ``output_rows``, ``output_columns``, ``output_transform``: ``Y = A^T M A`` per tile,
   computed as ``output_columns[n, o, ty, i, j, tx]`` (tiles last) and laid out as whole
   tiles ``Y[n, o, ty, i, tx, j]`` (N, O, TH, m, TW, m): row-major in (output row, column).
6. ``crop`` to ``(OH, OW)``, then ``bias_add`` when there is a bias.

Transform matrices: see :mod:`tvmprims.ops.winograd_weight` (Lavin's points).
"""

from dataclasses import replace

import numpy as np

from .._tvm import te
from . import conv2d as _conv2d
from ._checks import applicable, require
from .conv2d import BIAS_ADD, PAD
from .winograd_weight import (KERNEL, WEIGHT_ROWS, WEIGHT_TRANSFORM, alpha, check_kernel,
                              check_tile, combine, transform_matrices, transform_weight)

__all__ = ["workload", "compute", "output_shape", "flops", "tiling", "PAD", "INPUT_COLUMNS",
           "INPUT_ROWS", "INPUT_TRANSFORM", "WEIGHT_ROWS", "WEIGHT_TRANSFORM", "BATCH_GEMM",
           "OUTPUT_ROWS", "OUTPUT_COLUMNS", "OUTPUT_TRANSFORM", "CROP", "BIAS_ADD", "STAGES"]

#: Stage names (see the module docstring); the filter transform's are those of
#: :mod:`tvmprims.ops.winograd_weight`.
INPUT_COLUMNS = "input_columns"
INPUT_ROWS = "input_rows"
INPUT_TRANSFORM = "input_transform"
BATCH_GEMM = "batch_gemm"
OUTPUT_ROWS = "output_rows"
OUTPUT_COLUMNS = "output_columns"
OUTPUT_TRANSFORM = "output_transform"
CROP = "crop"
STAGES = (PAD, INPUT_COLUMNS, INPUT_ROWS, INPUT_TRANSFORM, WEIGHT_ROWS, WEIGHT_TRANSFORM,
          BATCH_GEMM, OUTPUT_ROWS, OUTPUT_COLUMNS, OUTPUT_TRANSFORM, CROP, BIAS_ADD)


def workload(x_shape, w_shape, bias_shape=None, dtype="float32", stride=1, padding=0,
             dilation=1, groups=1, activation=None, residual=False, tile=4, pretransformed=False):
    """Validate shapes and parameters; the ``conv2d_winograd`` workload.

    Raises :class:`~tvmprims.ops.NotApplicable` for kernels other than 3x3, stride or
    dilation other than 1, groups, or a tile other than 2 or 4; ``ValueError`` for bad shapes.
    """
    check_tile(tile)
    if not isinstance(pretransformed, (bool, np.bool_)):
        raise TypeError(f"pretransformed must be a bool, got {pretransformed!r}")
    pretransformed = bool(pretransformed)
    require(len(x_shape) == 4,
            f"conv2d_winograd expects x of rank 4 (N, C, H, W), got shape {tuple(x_shape)}")
    weight_shape = tuple(w_shape)
    if pretransformed:
        a, c = alpha(tile), x_shape[1]
        require(len(w_shape) == 4 and tuple(w_shape[:2]) == (a, a) and w_shape[3] == c,
                f"pretransformed winograd filter must have shape (alpha, alpha, O, C) = "
                f"({a}, {a}, O, {c}) for tile {tile}, got {tuple(w_shape)}")
        weight_shape = (w_shape[2], c, KERNEL, KERNEL)
    wl = _conv2d.workload(x_shape, weight_shape, bias_shape, dtype, stride, padding, dilation,
                          groups, activation, residual, op="conv2d_winograd",
                          extra=dict(tile=int(tile), pretransformed=pretransformed))
    check_kernel(*weight_shape[2:])
    applicable(wl["stride"] == (1, 1), f"winograd needs stride 1, got {wl['stride']}")
    applicable(wl["dilation"] == (1, 1), f"winograd needs dilation 1, got {wl['dilation']}")
    applicable(wl["groups"] == 1, f"winograd needs groups=1, got groups={wl['groups']}")
    if pretransformed:
        wl = replace(wl, shapes=(wl.shapes[0], tuple(int(d) for d in w_shape)) + wl.shapes[2:])
    return wl


def output_shape(wl):
    (n, _, h, w) = wl.shapes[0]
    o = wl.shapes[1][2] if wl["pretransformed"] else wl.shapes[1][0]
    pt, pb, pl, pr = wl["padding"]
    return (n, o, h + pt + pb - KERNEL + 1, w + pl + pr - KERNEL + 1)


def tiling(wl):
    """``(m, alpha, TH, TW, P)``: tile size, input tile size, tile rows and columns, tiles."""
    n, _, oh, ow = output_shape(wl)
    m = wl["tile"]
    th, tw = -(-oh // m), -(-ow // m)
    return m, alpha(m), th, tw, n * th * tw


def flops(wl):
    """Floating-point operations of the equivalent *direct* convolution (the useful work),
    so that GFLOP/s compare across algorithms."""
    n, o, oh, ow = output_shape(wl)
    c = wl.shapes[0][1]
    return 2 * n * o * oh * ow * c * KERNEL * KERNEL + n * o * oh * ow * _conv2d.epilogue_ops(wl)


def compute(wl):
    x, _, bias, residual = _conv2d.placeholders(wl)
    second = te.placeholder(wl.shapes[1], wl.dtype, name="U" if wl["pretransformed"] else "W")
    n, c, h, w = wl.shapes[0]
    _, o, oh, ow = output_shape(wl)
    m, a, th, tw, tiles = tiling(wl)
    at, _, bt = transform_matrices(m)
    dtype = wl.dtype
    pt, _, pl, _ = wl["padding"]
    xp = _conv2d.pad_input(x, (pt, th * m + 2 - h - pt, pl, tw * m + 2 - w - pl))
    u = second if wl["pretransformed"] else transform_weight(second, m)

    columns = te.compute((n, c, th, a, a, tw),
                         lambda b, ch, ty, e, mu, tx: xp[b, ch, ty * m + e, tx * m + mu],
                         name=INPUT_COLUMNS)
    rows = te.compute(
        (a, a, c, tiles),
        lambda xi, mu, ch, p: combine(
            bt, xi, lambda e: columns[p // (th * tw), ch, p // tw % th, e, mu, p % tw], dtype),
        name=INPUT_ROWS)
    v = te.compute((a, a, c, tiles),
                   lambda xi, nu, ch, p: combine(bt, nu, lambda mu: rows[xi, mu, ch, p], dtype),
                   name=INPUT_TRANSFORM)
    rc = te.reduce_axis((0, c), name="rc")
    gemm = te.compute((a, a, o, tiles),
                      lambda xi, nu, f, p: te.sum(u[xi, nu, f, rc] * v[xi, nu, rc, p], axis=rc),
                      name=BATCH_GEMM)
    out_rows = te.compute(
        (m, a, o, tiles),
        lambda i, nu, f, p: combine(at, i, lambda xi: gemm[xi, nu, f, p], dtype),
        name=OUTPUT_ROWS)
    out_columns = te.compute(
        (n, o, th, m, m, tw),
        lambda b, f, ty, i, j, tx: combine(
            at, j, lambda nu: out_rows[i, nu, f, (b * th + ty) * tw + tx], dtype),
        name=OUTPUT_COLUMNS)
    y = te.compute((n, o, th, m, tw, m),
                   lambda b, f, ty, i, tx, j: out_columns[b, f, ty, i, j, tx],
                   name=OUTPUT_TRANSFORM)
    out = te.compute((n, o, oh, ow), lambda b, f, yy, xx: y[b, f, yy // m, yy % m, xx // m, xx % m],
                     name=CROP)
    return _conv2d.inputs_and_output((x, second, bias, residual), out, wl)
