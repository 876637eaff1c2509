"""2-D convolution by discrete Fourier transforms, as ``torch.nn.functional.conv2d`` (stride 1).

Shapes: x (N, C, H, W), weight (O, C // groups, KH, KW), optional bias (O,) -> (N, O, OH, OW)
with ``OH = H + pad_top + pad_bottom - dilation_h*(KH-1)`` (and likewise OW):
cross-correlation, any kernel size, padding, dilation and groups. Stride must be 1
(:class:`~tvmprims.ops.NotApplicable` otherwise: a strided output would waste most of the
inverse transform).

Design
------
* **Transform size = padded input size** ``(P, Q) = (Hp, Wp)``. A circular correlation of
  length P wraps around only for outputs ``y > P - 1 - dilation*(KH-1)``, i.e. ``y >= OH``:
  every output kept is the linear correlation, with no extra zero padding. The zero padding
  itself is never materialised: the transform of the padded image is the transform of ``x``
  with its samples at positions ``y + pad_top``, ``x + pad_left`` (a phase in the twiddles).
* **DFTs as GEMMs** with twiddle matrices (any size, no radix restrictions; a GEMM is what
  the schedules make fast). Complex values are pairs of reals on a ``part`` axis and a complex
  factor is a real 2 x 2 block (:mod:`tvmprims.ops.dft`), so each stage is one real GEMM.
  Twiddles are gathered from a table of ``cos``/``sin(2*pi*m/n)`` at ``m = (k*x) mod n``
  (exact integer), which keeps float32 twiddles accurate for any length.
* **Real input along W**: only ``Q//2 + 1`` frequency bins are computed (Hermitian
  symmetry); they are stored padded to ``KX``, a multiple of 8, so that every row is whole
  SIMD vectors. The padding bins are genuine (redundant) frequencies whose inverse weight is
  zero.
* **Stages** (names are the TensorIR blocks; ``part`` is re/im)::

      dft_x    [N, C, H, part, KX]   = x @ twiddle_x            real DFT along W, H rows only
      dft_y    [N, C, P, part, KX]   = twiddle_y @ dft_x         complex DFT along H
      filter_x [O, C/g, KH, part, KX] = weight @ twiddle_fx       filter DFT along W, KW taps
      filter_y [O, C/g, P, part, KX] = twiddle_fy @ filter_x     filter DFT along H, KH taps
      product  [N, O, P, part, KX]   = sum_c dft_y * filter_y    complex GEMM per frequency
      idft_y   [N, O, OH, part, KX]  = twiddle_iy @ product      inverse along H, OH rows only
      idft_x   [N, O, OH, OW]        = idft_y @ twiddle_ix       Hermitian inverse along W

  The filter transform uses ``exp(+i...)`` (correlation = product with the conjugate filter
  spectrum) and sums over the kernel's taps only, at their dilated positions. The last
  matrix holds the ``1/(P*Q)`` scale and the Hermitian weights (1 for bin 0 and Q/2, 2 for the
  others, 0 for padding bins) and produces only the cropped outputs; the bias is added to its
  result (``bias_add``, folded into the write-back by the schedules).

Cost (multiply-adds, N = 1): the filter transform along H, ``O*C/g*P*KX*KH*4``, and the
channel products, ``O*C/g*P*KX*4``, against ``O*C/g*OH*OW*KH*KW`` for the direct
convolution: the FFT pays off for large kernels (``tvmprims bench --algorithms``: from 11 x 11
on a 16-channel 64 x 64 image). :func:`flops` is the *direct* convolution's count, so GFLOP/s
compare across algorithms.
"""

from .._tvm import te
from . import conv2d as _conv2d
from . import dft
from ._checks import applicable, positive_pair
from .conv2d import BIAS_ADD

__all__ = ["workload", "compute", "output_shape", "flops", "transform_sizes", "BIN_MULTIPLE",
           "ROOTS_H", "ROOTS_W", "TWIDDLE_X", "TWIDDLE_Y", "TWIDDLE_FX", "TWIDDLE_FY",
           "TWIDDLE_IY", "TWIDDLE_IX", "TWIDDLE_STAGES", "DFT_X", "DFT_Y", "FILTER_X", "FILTER_Y",
           "PRODUCT", "IDFT_Y", "IDFT_X", "GEMM_STAGES", "BIAS_ADD", "STAGES"]

#: Stage names (see the module docstring). Element-wise stages: the cos/sin tables and the
#: twiddle matrices gathered from them.
ROOTS_H = "roots_h"
ROOTS_W = "roots_w"
TWIDDLE_X = "twiddle_x"
TWIDDLE_Y = "twiddle_y"
TWIDDLE_FX = "twiddle_fx"
TWIDDLE_FY = "twiddle_fy"
TWIDDLE_IY = "twiddle_iy"
TWIDDLE_IX = "twiddle_ix"
TWIDDLE_STAGES = (ROOTS_H, ROOTS_W, TWIDDLE_X, TWIDDLE_Y, TWIDDLE_FX, TWIDDLE_FY, TWIDDLE_IY,
                  TWIDDLE_IX)
#: The GEMM stages, in pipeline order.
DFT_X = "dft_x"
DFT_Y = "dft_y"
FILTER_X = "filter_x"
FILTER_Y = "filter_y"
PRODUCT = "product"
IDFT_Y = "idft_y"
IDFT_X = "idft_x"
GEMM_STAGES = (DFT_X, DFT_Y, FILTER_X, FILTER_Y, PRODUCT, IDFT_Y, IDFT_X)
STAGES = TWIDDLE_STAGES + GEMM_STAGES + (BIAS_ADD,)

#: Frequency bins along W are padded to a multiple of this (whole AVX2/AVX-512 vectors).
BIN_MULTIPLE = 8

output_shape = _conv2d.output_shape
flops = _conv2d.flops


def workload(x_shape, w_shape, bias_shape=None, dtype="float32", stride=1, padding=0,
             dilation=1, groups=1, activation=None, residual=False):
    """Validated workload of ``conv2d_fft``; :class:`~tvmprims.ops.NotApplicable` for stride > 1."""
    stride = positive_pair(stride, "stride")
    applicable(stride == (1, 1), f"fft convolution needs stride 1, got stride {stride}")
    return _conv2d.workload(x_shape, w_shape, bias_shape, dtype, stride, padding, dilation,
                            groups, activation, residual, op="conv2d_fft")


def transform_sizes(wl):
    """``(P, Q, bins, KX)``: transform size along H and W, Hermitian bins ``Q//2 + 1`` and
    their padded count (a multiple of :data:`BIN_MULTIPLE`)."""
    (_, _, h, w) = wl.shapes[0]
    pt, pb, pl, pr = wl["padding"]
    p, q = h + pt + pb, w + pl + pr
    bins = q // 2 + 1
    return p, q, bins, -(-bins // BIN_MULTIPLE) * BIN_MULTIPLE


def compute(wl):
    inputs = _conv2d.placeholders(wl)
    x, w = inputs[:2]
    (n, c, h, wd), (o, cg, kh, kw) = wl.shapes[:2]
    _, _, oh, ow = output_shape(wl)
    pt, _, pl, _ = wl["padding"]
    dh, dw = wl["dilation"]
    per_group = o // wl["groups"]
    p, q, bins, kx_ = transform_sizes(wl)
    dtype = wl.dtype
    roots_h = dft.roots(p, dtype, ROOTS_H)
    roots_w = dft.roots(q, dtype, ROOTS_W)

    def gemm(name, shape, body, *extents):
        axes = [te.reduce_axis((0, e), name=f"r{name}{i}") for i, e in enumerate(extents)]
        return te.compute(shape, lambda *i: te.sum(body(*i, *axes), axis=axes), name=name)

    # Forward transform of the input (only its H real rows; padding rows are zero).
    twiddle_x = te.compute(
        (2, wd, kx_), lambda pa, xx, k: dft.rotation(roots_w, q, pa, 0, k * (xx + pl), -1),
        name=TWIDDLE_X)
    dft_x = gemm(DFT_X, (n, c, h, 2, kx_),
                 lambda b, ch, y, pa, k, rx: x[b, ch, y, rx] * twiddle_x[pa, rx, k], wd)
    twiddle_y = te.compute(
        (2, 2, p, h), lambda pa, j, ky, yy: dft.rotation(roots_h, p, pa, j, ky * (yy + pt), -1),
        name=TWIDDLE_Y)
    dft_y = gemm(DFT_Y, (n, c, p, 2, kx_),
                 lambda b, ch, ky, pa, k, ry, rj: twiddle_y[pa, rj, ky, ry] * dft_x[b, ch, ry, rj, k],
                 h, 2)

    # Filter transform with exp(+i...): only the KH x KW taps, at their dilated positions.
    twiddle_fx = te.compute(
        (2, kw, kx_), lambda pa, s, k: dft.rotation(roots_w, q, pa, 0, k * (s * dw), 1),
        name=TWIDDLE_FX)
    filter_x = gemm(FILTER_X, (o, cg, kh, 2, kx_),
                    lambda f, ch, r, pa, k, rs: w[f, ch, r, rs] * twiddle_fx[pa, rs, k], kw)
    twiddle_fy = te.compute(
        (2, 2, p, kh), lambda pa, j, ky, r: dft.rotation(roots_h, p, pa, j, ky * (r * dh), 1),
        name=TWIDDLE_FY)
    filter_y = gemm(FILTER_Y, (o, cg, p, 2, kx_),
                    lambda f, ch, ky, pa, k, rr, rj: twiddle_fy[pa, rj, ky, rr] * filter_x[f, ch, rr, rj, k],
                    kh, 2)

    # Complex products summed over the group's input channels:
    # re = Xr*Gr - Xi*Gi, im = Xr*Gi + Xi*Gr, i.e. X[0]*G[part] + (2*part - 1)*X[1]*G[1 - part].
    def product_body(b, f, ky, pa, k, rc):
        ch = f // per_group * cg + rc
        sign = (2 * pa - 1).astype(dtype)
        return (dft_y[b, ch, ky, 0, k] * filter_y[f, rc, ky, pa, k]
                + sign * dft_y[b, ch, ky, 1, k] * filter_y[f, rc, ky, 1 - pa, k])

    product = gemm(PRODUCT, (n, o, p, 2, kx_), product_body, cg)

    # Inverse along H for the OH kept rows, then the Hermitian inverse along W for the OW kept
    # columns with 1/(P*Q) and the bin weights folded into the matrix.
    twiddle_iy = te.compute(
        (2, 2, oh, p), lambda pa, j, y, ky: dft.rotation(roots_h, p, pa, j, y * ky, 1),
        name=TWIDDLE_IY)
    idft_y = gemm(IDFT_Y, (n, o, oh, 2, kx_),
                  lambda b, f, y, pa, k, rk, rj: twiddle_iy[pa, rj, y, rk] * product[b, f, rk, rj, k],
                  p, 2)

    def inverse_x(j, k, xx):
        one, two = te.const(1.0 / (p * q), dtype), te.const(2.0 / (p * q), dtype)
        weight = te.if_then_else(k >= bins, te.const(0, dtype),
                                 te.if_then_else(te.any(k == 0, 2 * k == q), one, two))
        return weight * dft.rotation(roots_w, q, 0, j, k * xx, 1)

    twiddle_ix = te.compute((2, kx_, ow), inverse_x, name=TWIDDLE_IX)
    idft_x = gemm(IDFT_X, (n, o, oh, ow),
                  lambda b, f, y, xx, rj, rk: idft_y[b, f, y, rj, rk] * twiddle_ix[rj, rk, xx],
                  2, kx_)
    return _conv2d.inputs_and_output(inputs, idft_x, wl)

