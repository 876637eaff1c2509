"""The FFT conv2d's filter spectrum made in blocks of frequency rows (the CPU schedule's choice
for layers whose whole spectrum is over their scratch budget) against the whole spectrum at
once (the schedule before; forced here by an unlimited budget): peak memory growth of a new
process over the call (the compile included) and the best time of
``tvmprims.conv2d(..., algo="fft")`` (docs/BENCHMARKS.md, "The FFT's filter spectrum in row
blocks"). Usage: ``PYTHONPATH=. python docs/fft_spectrum_blocks.py [NxCxHxW-OxK ...]``.
"""

import subprocess
import sys

LAYERS = ["1x64x512x512-64x3", "1x64x128x128-64x7", "1x32x256x256-32x9"]

_RUN = """
import os, resource, sys
os.environ["TVMPRIMS_KERNEL_CACHE"] = "off"
import numpy as np, tvmprims
from tvmprims import workload
from tvmprims.testing import conv2d_ref
from tvmprims.timing import best_time
if sys.argv[2] == "whole":
    workload.SCRATCH_FLOOR = 2**62
(n, c, h, w), (o, k) = (map(int, p.split("x")) for p in sys.argv[1].split("-"))
rng = np.random.default_rng(0)
x = rng.standard_normal((n, c, h, w)).astype(np.float32)
weight = rng.standard_normal((o, c, k, k)).astype(np.float32)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = tvmprims.conv2d(x, weight, padding=k // 2, algo="fft")
grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
error = float(np.abs(out - conv2d_ref(x, weight, padding=k // 2)).max())
seconds = best_time(lambda: tvmprims.conv2d(x, weight, padding=k // 2, algo="fft"),
                    min_seconds=0.5, repeat=3)
print(f"{grown:.0f} {seconds * 1e3:.2f} {error:.1e}")
"""


def main(layers):
    for layer in layers:
        figures = {}
        for variant in ("whole", "blocks"):
            out = subprocess.run([sys.executable, "-c", _RUN, layer, variant], check=True,
                                 capture_output=True, text=True).stdout.split()
            figures[variant] = out
        (wm, wt, we), (bm, bt, be) = figures["whole"], figures["blocks"]
        print(f"{layer}: whole spectrum {wm} MiB, {wt} ms (error {we}) | row blocks {bm} MiB, "
              f"{bt} ms (error {be})", flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or LAYERS))
