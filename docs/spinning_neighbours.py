"""How long a parallel tvmprims call is slowed after a numpy or torch call, whose worker
threads busy-wait for a while after it (README, "Mixing with numpy and torch on few cores").

For each neighbour (numpy's ``a @ b`` through OpenBLAS, torch's ``mm`` through OpenMP), one
neighbour call, then blocks of 20 calls of ``tvmprims.matmul`` on a 1x1024 @ 1024x1000
product (B is 4 MB: two threads), printed as ``seconds since the neighbour's call: us per
call``; then the same in a child process with ``OPENBLAS_THREAD_TIMEOUT=4`` (OpenBLAS's
workers sleep almost at once; it must be set before numpy is imported).

    PYTHONPATH=. python docs/spinning_neighbours.py
"""

import os
import subprocess
import sys
import time
import timeit

import numpy as np
import torch

import tvmprims


def timeline(neighbour, fn, blocks=12, calls=20):
    """``fn`` in blocks of ``calls`` after one call of ``neighbour``: ``(s, us per call)``."""
    neighbour()
    start, points = time.perf_counter(), []
    for _ in range(blocks):
        at = time.perf_counter() - start
        points.append((at, timeit.timeit(fn, number=calls) / calls * 1e6))
    return points


def main():
    a = np.random.rand(1, 1024).astype(np.float32)
    b = np.random.rand(1024, 1000).astype(np.float32)
    t = torch.from_numpy(np.random.rand(512, 512).astype(np.float32))
    fn = lambda: tvmprims.matmul(a, b)  # noqa: E731
    for _ in range(3000):  # past the first calls (the pool's new threads settle)
        fn()
    time.sleep(0.5)
    neighbours = {"numpy a @ b": lambda: a @ b, "torch.mm": lambda: torch.mm(t, t),
                  "nothing": lambda: None}
    env = os.environ.get("OPENBLAS_THREAD_TIMEOUT", "unset")
    for name, neighbour in neighbours.items():
        points = timeline(neighbour, fn)
        print(f"after {name} (OPENBLAS_THREAD_TIMEOUT={env}): "
              + " ".join(f"{at:.3f}s:{us:.0f}" for at, us in points), flush=True)
        time.sleep(0.5)
    if "OPENBLAS_THREAD_TIMEOUT" not in os.environ:
        subprocess.run([sys.executable, __file__], check=True,
                       env={**os.environ, "OPENBLAS_THREAD_TIMEOUT": "4"})


if __name__ == "__main__":
    main()
