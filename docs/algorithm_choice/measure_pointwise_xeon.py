"""The first table of an Intel CPU (AVX-512, a Xeon that LLVM names ``rocketlake``, 2 cores):
the sample's 1x1 layers (those of run 4 on Zen 4), each source prefixed ``xeon:`` so that a
fit over the Zen 4 runs and this one counts the two machines' layers apart
(``algorithm_table.read_runs`` merges same-named layers as runs of one machine). Usage, from
the repository root:

    nice -n 5 python docs/algorithm_choice/measure_pointwise_xeon.py \\
        docs/algorithm_choice/measured_avx512_xeon_pointwise.csv
"""

import sys

from tvmprims import algorithm_table
from tvmprims.algorithm_heuristic import layer_shape


def main(path):
    layers = [(f"xeon:{source}", wl) for source, wl in algorithm_table.sample_layers()
              if layer_shape(wl).taps == 1 and not layer_shape(wl).depthwise]
    rows = algorithm_table.measure(layers, report=lambda m: print(m, flush=True))
    algorithm_table.write_csv(rows, path)


if __name__ == "__main__":
    main(sys.argv[1])
