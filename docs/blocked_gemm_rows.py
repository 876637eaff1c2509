"""The blocked GEMM's register-tile rows (``schedules/gemm_tiling.py``, :func:`gemm_blocks`):
the rule (the most rows unless fewer, down to two thirds, leave the busiest core 2% less of
C) against the most rows always, and numpy, timed alternately in one run. Kernels through
``tvmprims.build(..., schedule="hand")``, ms, two threads each side; the rows each takes in
brackets.

    PYTHONPATH=docs:. python docs/blocked_gemm_rows.py [--panels] 128x576x1000 200x1000x1000

``--panels`` compares instead the column blocks of one panel that few row tiles take
(``ONE_PANEL_MAX_TILES_PER_CORE``) with the blocks of about ``gemm_n_block`` columns taken
before (its brackets: the columns of a block).

Shapes are ``MxKxN`` (blocked ones: B over half of L2). The copy of a padded A in tile-row
panels has no switch: its before-figures are ``tvmprims.build`` at the commit before it
(3ef2dc5, checked out in a git worktree) timed against this one in turn, two processes each
(docs/BENCHMARKS.md, "Wide kernels unrolled").
"""

import sys

import numpy as np
from schedule_variants import replaced, start

import tvmprims
from tvmprims.schedules import gemm_tiling
from tvmprims.schedules.hardware import cpu_model
from tvmprims.target import resolve_target
from tvmprims.testing import assert_close, matmul_ref
from tvmprims.timing import interleaved_best

_rule = gemm_tiling.gemm_blocks


def _most_rows(m, n, k, lanes, cores, params=None, itemsize=4, rows=None):
    params = params or gemm_tiling.CpuParams()
    return _rule(m, n, k, lanes, cores, params, itemsize,
                 rows or params.gemm_accumulators // params.gemm_vectors)


VARIANTS = {"rule": [], "most rows": [(gemm_tiling, "gemm_blocks", _most_rows)]}
PANEL_VARIANTS = {"rule": [],
                  "gemm_n_block": [(gemm_tiling, "ONE_PANEL_MAX_TILES_PER_CORE", 0)]}


def main(shapes):
    variants, field = VARIANTS, 0
    if shapes and shapes[0] == "--panels":
        shapes, variants, field = shapes[1:], PANEL_VARIANTS, 4
    start()
    model = cpu_model(resolve_target(None))
    for shape in shapes:
        m, k, n = map(int, shape.split("x"))
        rng = np.random.default_rng(0)
        a = rng.random((m, k)).astype(np.float32)
        b = rng.random((k, n)).astype(np.float32)
        kernels, rows = [], []
        for patches in variants.values():
            with replaced(*patches):
                kernels.append(tvmprims.build("matmul", a.shape, b.shape, schedule="hand"))
                rows.append(gemm_tiling.gemm_blocks(m, n, k, model.lanes("float32"), 2,
                                                    model.params)[field])
            assert_close(kernels[-1](a, b), matmul_ref(a, b), "float32", k)
        calls = [lambda kernel=kernel: kernel(a, b) for kernel in kernels]
        times = interleaved_best(calls + [lambda: np.matmul(a, b)], rounds=4)
        unit = "columns" if field else "rows"
        cells = [f"{name} ({r} {unit}): {t * 1e3:.3f} ({times[-1] / t:.2f}x)"
                 for name, r, t in zip(variants, rows, times)]
        print(shape, " | ".join(cells), f"| numpy {times[-1] * 1e3:.3f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
