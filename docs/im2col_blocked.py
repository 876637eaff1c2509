"""im2col kernels with the K-blocked GEMM (``schedule_cpu_blocked_gemm``) where
``long_k_blocked`` takes it, against the GEMM over all of K (``schedule_cpu_gemm``: what
``conv2d_im2col`` ran before 2026-12-07's sixth Xeon session; README, "K-blocked im2col").
Both are the hand schedule, the rule forced each way, checked against float64 and timed
alternately with torch's ``F.conv2d`` (kernels, ms, best of 5 rounds). Usage:

    PYTHONPATH=docs:. python docs/im2col_blocked.py [NxCxHxW-Ox1xS ...]
"""

import sys

from schedule_variants import compare_conv_variants

from tvmprims.schedules.cpu import conv2d_im2col as schedule

LAYERS = ("1024x14x14-256x1x1", "1024x14x14-512x1x1", "2048x7x7-512x1x1",
          "512x28x28-128x1x1", "512x14x14-128x1x1", "1024x7x7-128x1x1", "256x56x56-64x1x1",
          "512x28x28-256x1x1", "512x28x28-1024x1x2", "1024x14x14-2048x1x2",
          "2048x7x7-1024x1x1", "8x1024x14x14-512x1x1", "8x2048x7x7-512x1x1",
          "8x1024x14x14-256x1x1", "8x512x28x28-1024x1x2")


def main(layers=LAYERS):
    compare_conv_variants(
        layers, {"over all of K": [(schedule, "long_k_blocked", lambda *a, **k: False)],
                 "K-blocked": []}, rounds=5, op="conv2d_im2col")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or LAYERS))
