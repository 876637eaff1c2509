"""Run 5 of the Zen 4 table: the sample's non-strided 3x3 layers on 7x7 to 27x27 output planes
(16 layers), searched in three passes, each in a process of its own, appended to one table
(`algorithm_table.read_runs` merges the passes like runs). Usage, from the repository root:

    for pass in 1 2 3; do nice -n 5 python docs/algorithm_choice/measure_small_planes.py \\
        docs/algorithm_choice/measured_avx512_run5_small_planes.csv $pass; done
"""

import sys

from tvmprims import algorithm_table
from tvmprims.algorithm_heuristic import layer_shape


def small_plane_3x3(wl):
    s = layer_shape(wl)
    _, _, oh, ow = wl.output_shape
    return not s.depthwise and s.taps == 9 and not s.strided and 7 <= oh <= 27 and 7 <= ow <= 27


def main(path, run):
    layers = [(source, wl) for source, wl in algorithm_table.sample_layers()
              if small_plane_3x3(wl)]
    rows = algorithm_table.measure(layers, report=print)
    algorithm_table.write_csv(rows, path, append=int(run) > 1)


if __name__ == "__main__":
    main(*sys.argv[1:3])
