"""Low-rank matrix multiplication: truncated SVD factors, products on tvmprims kernels.

A matrix W (m, n) of rank-r approximation ``W ~= L @ R`` with L = U[:, :r] * s[:r] (m, r) and
R = Vt[:r] (r, n) (the Eckart-Young best rank-r approximation in the Frobenius and spectral
norms). ``lowrank_matmul(a, b, rank_a, rank_b)`` multiplies such factors in the association
order with the fewest FLOPs (a matrix-chain product of up to four matrices), every product a
compiled :func:`tvmprims.matmul` kernel. Only the decomposition uses ``numpy.linalg.svd``;
:func:`factorize` returns the factors so that it is done once per weight, not per call.
"""

import functools
from dataclasses import dataclass

import numpy as np

from .api import matmul
from .arrays import as_input, common_dtype
from .ops._checks import is_int, require

__all__ = ["LowRank", "factorize", "lowrank_matmul", "chain_order", "chain_flops"]


@dataclass(frozen=True, eq=False)
class LowRank:
    """Factors of a rank-``rank`` approximation ``left @ right`` of an (m, n) matrix.

    ``left`` (m, rank) carries the singular values; ``right`` (rank, n) has orthonormal rows.
    """

    left: np.ndarray
    right: np.ndarray

    @property
    def shape(self):
        return (self.left.shape[0], self.right.shape[1])

    @property
    def rank(self):
        return self.left.shape[1]

    @property
    def dtype(self):
        return self.left.dtype

    @property
    def size(self):
        """Stored parameters: ``rank * (m + n)``."""
        return self.left.size + self.right.size

    def compression(self):
        """Parameters of the dense matrix over parameters of the factors."""
        m, n = self.shape
        return m * n / self.size

    def dense(self, **kwargs):
        """The (m, n) approximation ``left @ right``, computed by a tvmprims kernel."""
        return matmul(self.left, self.right, **kwargs)


def _check_rank(rank, shape, name):
    if rank is None:
        return None
    if not is_int(rank):
        raise TypeError(f"{name} must be an int or None, got {rank!r}")
    full = min(shape)
    require(1 <= rank <= full,
            f"{name} must be between 1 and {full} (the full rank of a {shape[0]}x{shape[1]} "
            f"matrix), got {rank}")
    return int(rank)


def factorize(w, rank=None):
    """Truncated SVD of ``w`` (m, n): a :class:`LowRank` of rank ``rank`` (None: full rank).

    The SVD runs in float64; the factors have ``w``'s dtype.
    """
    w = as_input(w, "w")
    dtype = common_dtype([w], ["w"])
    require(w.ndim == 2, f"factorize expects a 2-D matrix, got shape {w.shape}")
    rank = _check_rank(rank, w.shape, "rank")
    # numpy's SVD of such a matrix fails with "SVD did not converge", naming neither (an
    # elementwise test, not arrays.all_finite, whose dot product overflows on large entries)
    require(np.isfinite(w).all(), "factorize: the matrix has NaN or inf entries, which have "
            "no SVD")
    u, s, vt = np.linalg.svd(w.astype(np.float64), full_matrices=False)
    r = min(w.shape) if rank is None else rank
    left = np.ascontiguousarray((u[:, :r] * s[:r]).astype(dtype))
    right = np.ascontiguousarray(vt[:r].astype(dtype))
    return LowRank(left, right)


def chain_flops(dims, order):
    """FLOPs of the matrix-chain product with dimensions ``dims`` (matrix i is dims[i] x
    dims[i+1]) in association ``order`` (nested pairs of matrix indices)."""
    def walk(node):
        if isinstance(node, int):
            return node, node, 0
        (lo, mid, fl), (_, hi, fr) = walk(node[0]), walk(node[1])
        return lo, hi, fl + fr + 2 * dims[lo] * dims[mid + 1] * dims[hi + 1]
    return walk(order)[2]


def chain_order(dims):
    """``(order, flops)``: the association of a matrix chain with the fewest FLOPs.

    ``dims`` has one more entry than the chain has matrices; ``order`` is nested pairs of
    matrix indices, e.g. ``((0, 1), 2)``. Classic dynamic programming; chains here are short.
    """
    count = len(dims) - 1
    require(count >= 1, "a matrix chain needs at least one matrix")

    @functools.cache
    def best(i, j):
        if i == j:
            return i, 0
        options = []
        for k in range(i, j):
            (left, fl), (right, fr) = best(i, k), best(k + 1, j)
            options.append((fl + fr + 2 * dims[i] * dims[k + 1] * dims[j + 1], (left, right)))
        flops, order = min(options, key=lambda o: o[0])
        return order, flops

    return best(0, count - 1)


def _factors(x, rank, name):
    """The chain of matrices standing for operand ``x`` (a LowRank, or an array factorised to
    ``rank``, or kept whole when ``rank`` is None)."""
    if isinstance(x, LowRank):
        require(rank is None, f"{name} is already factorised (rank {x.rank}): pass rank None")
        return [x.left, x.right]
    x = as_input(x, name)
    require(x.ndim == 2, f"lowrank_matmul expects 2-D operands, got {name} of shape {x.shape}")
    if _check_rank(rank, x.shape, f"rank_{name}") is None:
        return [x]
    f = factorize(x, rank)
    return [f.left, f.right]


def lowrank_matmul(a, b, rank_a=None, rank_b=None, *, target=None, schedule="auto"):
    """``a @ b`` with ``a`` (M, K) and/or ``b`` (K, N) replaced by truncated-SVD factors.

    ``a``, ``b``: arrays, or :class:`LowRank` factors from :func:`factorize` (reused, no SVD).
    ``rank_a``, ``rank_b``: rank to truncate an array operand to; None keeps it whole (full
    rank). The chain ``[La, Ra, Lb, Rb]`` is multiplied in its cheapest association order,
    each product a tvmprims matmul kernel. Returns (M, N).
    """
    chain = _factors(a, rank_a, "a") + _factors(b, rank_b, "b")
    common_dtype(chain, [f"factor {i}" for i in range(len(chain))])
    for left, right in zip(chain, chain[1:]):
        require(left.shape[1] == right.shape[0],
                f"lowrank_matmul inner dimensions differ: {left.shape} and {right.shape}")
    dims = [chain[0].shape[0]] + [m.shape[1] for m in chain]
    order, _ = chain_order(dims)

    def run(node):
        if isinstance(node, int):
            return chain[node]
        return matmul(run(node[0]), run(node[1]), target=target, schedule=schedule)

    return run(order)
