"""Discrete Fourier transforms as matrices, built from TE stages (for ``conv2d_fft``).

A complex number ``a + ib`` is stored as two reals on an axis of extent 2 (``part``: 0 real,
1 imaginary). Multiplying by ``exp(i*phi)`` is then the real 2 x 2 matrix
``[[cos phi, -sin phi], [sin phi, cos phi]]`` acting on that axis, so every DFT stage is a
plain real GEMM whose reduction runs over (samples, input part). :func:`rotation` gives the
entries of that matrix for ``phi = sign * 2*pi*index/n``.

The angles are never formed as ``2*pi*k*x/n`` in floating point: ``(k*x) mod n`` is an exact
integer, and :func:`roots` tabulates ``cos``/``sin`` of ``2*pi*m/n`` for ``m < n`` once, so a
float32 twiddle is as accurate as one rounding of the table entry, for any transform length.
The table costs ``2n`` transcendentals per call; the twiddle matrices are gathers from it.
"""

import math

from .._tvm import te

__all__ = ["roots", "rotation"]


def roots(n, dtype, name):
    """``(2, n)`` stage: ``[0, m] = cos(2*pi*m/n)``, ``[1, m] = sin(2*pi*m/n)``."""
    step = 2.0 * math.pi / n

    def entry(part, m):
        angle = m.astype(dtype) * te.const(step, dtype)
        return te.if_then_else(part == 0, te.cos(angle), te.sin(angle))

    return te.compute((2, n), entry, name=name)


def rotation(table, n, part, j, index, sign):
    """Entry ``(part, j)`` of the real 2 x 2 matrix of ``exp(sign * 2*pi*i * index / n)``.

    ``table`` is :func:`roots` of ``n``; ``index`` a non-negative integer expression;
    ``sign`` +1 or -1. Column ``j = 0`` alone is the DFT of a real sample (cos, sign*sin);
    row ``part = 0`` alone is the real part of a complex product (cos, -sign*sin).
    """
    m = index % n
    cos, sin = table[0, m], table[1, m]
    if sign < 0:
        sin = -sin
    # [[c, -s], [s, c]]: off the diagonal (part - j) * s.
    return te.if_then_else(part == j, cos, (part - j).astype(table.dtype) * sin)
