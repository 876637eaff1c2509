"""Roofline analysis: measured machine peaks (:mod:`.peaks`, with the micro-kernels of
:mod:`.kernels`), where a run sits under them (:mod:`.analysis`; a compiled kernel's point:
:func:`kernel_roofline` in :mod:`.points`), torchvision model costs
(:mod:`.models`), published peaks of other chips (:mod:`.published`) and figures
(:mod:`.plot`). ``tvmprims roofline`` runs the whole study (:mod:`tvmprims.studies.roofline`).
"""

from . import fma_issue  # noqa: F401  (gives the CPU schedules the host's FMA issue width)
from .analysis import RooflinePoint, roofline_point
from .peaks import Peaks, machine_peaks, measure_peaks
from .points import kernel_roofline

__all__ = ["Peaks", "machine_peaks", "measure_peaks", "RooflinePoint", "roofline_point",
           "kernel_roofline"]
