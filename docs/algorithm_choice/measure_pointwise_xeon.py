"""The tables of an Intel CPU (AVX-512, a Xeon that LLVM names ``rocketlake``, 2 cores): 1x1
layers, each source prefixed ``xeon:`` so that a fit over the Zen 4 runs and these counts the
two machines' layers apart (``algorithm_table.read_runs`` merges same-named layers as runs of
one machine). ``batch1``: the sample's 1x1 layers (those of Zen 4's run 4); ``batch8``: the
1x1 layers of Zen 4's run 6 (every distinct one of ResNet-50, every second of MobileNetV2,
EfficientNet-B0 and RegNetX-400MF, at batch 8). Usage, from the repository root:

    nice -n 5 python docs/algorithm_choice/measure_pointwise_xeon.py \\
        docs/algorithm_choice/measured_avx512_xeon_pointwise.csv batch1
    nice -n 5 python docs/algorithm_choice/measure_pointwise_xeon.py \\
        docs/algorithm_choice/xeon_pointwise_batch8.csv batch8

The batch-8 table is kept out of the fit (its name does not match ``measured_avx512*``):
docs/algorithm_choice/README.md says why.
"""

import sys

from measure_batch8 import SAMPLE as BATCH8_SAMPLE

from tvmprims import algorithm_table
from tvmprims.algorithm_heuristic import layer_shape


def main(path, which="batch1"):
    sample = {"batch1": algorithm_table.sample_layers(),
              "batch8": algorithm_table.sample_layers(BATCH8_SAMPLE, extra=())}[which]
    layers = [(f"xeon:{source}", wl) for source, wl in sample
              if layer_shape(wl).taps == 1 and not layer_shape(wl).depthwise]
    rows = algorithm_table.measure(layers, report=lambda m: print(m, flush=True))
    algorithm_table.write_csv(rows, path)


if __name__ == "__main__":
    main(*sys.argv[1:3])
