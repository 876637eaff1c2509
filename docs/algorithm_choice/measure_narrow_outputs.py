"""Run 7 of the Zen 4 table: the 3x3 stride-1 layers that the Winograd rule can take (at least
64 input channels per group) and that have fewer than 64 output channels per group, of
DenseNet-121, GoogLeNet and RegNetX-400MF at batch 1 and 8 (only DenseNet's growth layers,
128 -> 32, are such), and six layers of other such shapes, searched in passes, each in a
process of its own, appended to one table (`algorithm_table.read_runs` merges the passes like
runs). Usage, from the repository root:

    for pass in 1 2; do nice -n 5 python docs/algorithm_choice/measure_narrow_outputs.py \\
        docs/algorithm_choice/measured_avx512_run7_narrow_outputs.csv $pass; done
"""

import sys

from tvmprims import algorithm_table
from tvmprims.algorithm_heuristic import layer_shape
from tvmprims.ops.registry import layer_args

SAMPLE = tuple((model, batch, None) for model in ("densenet121", "googlenet", "regnet_x_400mf")
               for batch in (1, 8))


#: Layers of other input and output channel counts, ``(name, x shape, weight shape, stride,
#: padding)`` as :data:`tvmprims.algorithm_table.EXTRA`.
EXTRA = (("narrow/256x14x14-32", (1, 256, 14, 14), (32, 256, 3, 3), 1, 1),
         ("narrow/64x56x56-48", (1, 64, 56, 56), (48, 64, 3, 3), 1, 1),
         ("narrow/8x64x28x28-48", (8, 64, 28, 28), (48, 64, 3, 3), 1, 1),
         ("narrow/96x28x28-16", (1, 96, 28, 28), (16, 96, 3, 3), 1, 1),
         ("narrow/4x192x14x14-32", (4, 192, 14, 14), (32, 192, 3, 3), 1, 1),
         ("narrow/8x512x7x7-48", (8, 512, 7, 7), (48, 512, 3, 3), 1, 1))


def narrow_output_3x3(wl):
    s = layer_shape(wl)
    _, w_shape, *_, groups = layer_args(wl)
    return (not s.depthwise and s.taps == 9 and not s.strided and s.channels >= 64
            and w_shape[0] // groups < 64)


def main(path, run):
    layers = [(source, wl) for source, wl in algorithm_table.sample_layers(SAMPLE, extra=EXTRA)
              if narrow_output_3x3(wl)]
    rows = algorithm_table.measure(layers, report=lambda m: print(m, flush=True))
    algorithm_table.write_csv(rows, path, append=int(run) > 1)


if __name__ == "__main__":
    main(*sys.argv[1:3])
