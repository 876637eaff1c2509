"""Run 6 of the Zen 4 table: batch-8 layers that are not depthwise (depthwise layers always
run direct), every distinct one of ResNet-50 and every second one of MobileNetV2,
EfficientNet-B0 and RegNetX-400MF, searched in passes, each in a process of its own,
appended to one table (`algorithm_table.read_runs` merges the passes like runs). Usage, from
the repository root:

    for pass in 1 2; do nice -n 5 python docs/algorithm_choice/measure_batch8.py \\
        docs/algorithm_choice/measured_avx512_run6_batch8.csv $pass; done
"""

import sys

from tvmprims import algorithm_table
from tvmprims.algorithm_heuristic import layer_shape

SAMPLE = (("resnet50", 8, None), ("mobilenet_v2", 8, 2), ("efficientnet_b0", 8, 2),
          ("regnet_x_400mf", 8, 2))


def main(path, run):
    layers = [(source, wl) for source, wl in algorithm_table.sample_layers(SAMPLE, extra=())
              if not layer_shape(wl).depthwise]
    rows = algorithm_table.measure(layers, report=lambda m: print(m, flush=True))
    algorithm_table.write_csv(rows, path, append=int(run) > 1)


if __name__ == "__main__":
    main(*sys.argv[1:3])
