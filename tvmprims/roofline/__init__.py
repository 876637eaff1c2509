"""Roofline analysis: measured machine peaks (:mod:`.peaks`, with the micro-kernels of
:mod:`.kernels`), where a run sits under them (:mod:`.analysis`), torchvision model costs
(:mod:`.models`), published peaks of other chips (:mod:`.published`) and figures
(:mod:`.plot`). ``tvmprims roofline`` runs the whole study (:mod:`tvmprims.studies.roofline`).
"""

from .analysis import RooflinePoint, roofline_point
from .peaks import Peaks, machine_peaks, measure_peaks

__all__ = ["Peaks", "machine_peaks", "measure_peaks", "RooflinePoint", "roofline_point"]
