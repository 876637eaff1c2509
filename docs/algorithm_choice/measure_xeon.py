"""The tables of an Intel CPU (AVX-512 with two 512-bit FMAs a cycle, a Xeon that LLVM names
``rocketlake``, 2 cores), each source prefixed ``xeon:`` so that a fit over them and Zen 4's
runs would count the two machines' layers apart (``algorithm_table.read_runs`` merges
same-named layers as runs of one machine). ``batch1``: the sample's 1x1 layers (those of Zen
4's run 4); ``batch8``: the 1x1 layers of Zen 4's run 6 (every distinct one of ResNet-50,
every second of MobileNetV2, EfficientNet-B0 and RegNetX-400MF, at batch 8); ``other``: every
other layer of the sample (not 1x1, not depthwise: 3x3, strided, stems, large kernels);
``small``: every distinct 1x1 layer of the 13 models of the layer suite, at batch 1, of fewer
than 2^23 multiply-adds and more than one pixel (squeeze-and-excitation layers left out), that
``batch1`` does not hold (the small expansions of MobileNetV3,
EfficientNet and MnasNet, SqueezeNet's and ShuffleNet's layers: where the 1x1 threshold lies);
``other8``: the layers of ``batch8``'s models that are neither 1x1 nor depthwise, at batch 8
(3x3, strided, stems; where F(4x4) Winograd's least pixels and channels lie on batches);
``narrow``: Zen 4's run 7, the 3x3 layers Winograd's rule can take with fewer than 64 output
channels (DenseNet's growth layers, 128 -> 32, at batch 1 and 8, and six others), which decide
Winograd's least output channels.
Usage, from the repository root:

    nice -n 5 python docs/algorithm_choice/measure_xeon.py \\
        docs/algorithm_choice/xeon_pointwise_batch1.csv batch1
    nice -n 5 python docs/algorithm_choice/measure_xeon.py \\
        docs/algorithm_choice/xeon_pointwise_batch8.csv batch8
    nice -n 5 python docs/algorithm_choice/measure_xeon.py \\
        docs/algorithm_choice/xeon_other_batch1.csv other
    nice -n 5 python docs/algorithm_choice/measure_xeon.py \\
        docs/algorithm_choice/xeon_pointwise_small.csv small
    nice -n 5 python docs/algorithm_choice/measure_xeon.py \\
        docs/algorithm_choice/xeon_narrow_outputs.csv narrow
    nice -n 5 python docs/algorithm_choice/measure_xeon.py \\
        docs/algorithm_choice/xeon_other_batch8.csv other8

The six tables are what ``AVX512_TWO_FMA_RULES`` are fitted to (docs/algorithm_choice/README.md).
"""

import sys

from measure_batch8 import SAMPLE as BATCH8_SAMPLE
from measure_narrow_outputs import EXTRA as NARROW_EXTRA
from measure_narrow_outputs import SAMPLE as NARROW_SAMPLE
from measure_narrow_outputs import narrow_output_3x3

from tvmprims import algorithm_table
from tvmprims.algorithm_heuristic import layer_shape
from tvmprims.roofline.models import MODELS

#: Most multiply-adds of the ``small`` table's layers.
SMALL_MACS = 2 ** 23


def _pointwise(wl):
    shape = layer_shape(wl)
    return shape.taps == 1 and not shape.depthwise


def _small(batch1):
    held = {wl for _, wl in batch1}
    every_model = algorithm_table.sample_layers([(m, 1, None) for m in MODELS], extra=())
    return [(s, wl) for s, wl in every_model if _pointwise(wl) and wl not in held
            and layer_shape(wl).macs < SMALL_MACS and layer_shape(wl).pixels > 1]


def main(path, which="batch1"):
    batch1 = algorithm_table.sample_layers()
    layers = {"batch1": [(s, wl) for s, wl in batch1 if _pointwise(wl)],
              "batch8": [(s, wl) for s, wl in algorithm_table.sample_layers(BATCH8_SAMPLE, extra=())
                         if _pointwise(wl)],
              "other": [(s, wl) for s, wl in batch1
                        if not _pointwise(wl) and not layer_shape(wl).depthwise],
              "other8": [(s, wl) for s, wl in algorithm_table.sample_layers(BATCH8_SAMPLE,
                                                                           extra=())
                         if not _pointwise(wl) and not layer_shape(wl).depthwise],
              "small": _small(batch1),
              "narrow": [(s, wl) for s, wl in algorithm_table.sample_layers(
                  NARROW_SAMPLE, extra=NARROW_EXTRA) if narrow_output_3x3(wl)]}[which]
    rows = algorithm_table.measure([(f"xeon:{s}", wl) for s, wl in layers],
                                   report=lambda m: print(m, flush=True))
    algorithm_table.write_csv(rows, path)


if __name__ == "__main__":
    main(*sys.argv[1:3])
