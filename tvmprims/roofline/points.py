"""The roofline point of a compiled kernel (:func:`kernel_roofline`): timed, then placed under
the measured peaks of its target.

It lives here rather than on :class:`~tvmprims.Kernel`: measuring peaks compiles and times
micro-kernels (:mod:`.peaks`, above :mod:`tvmprims.build`), and kernels sit below the build.
"""

from . import peaks as _peaks
from .analysis import roofline_point

__all__ = ["kernel_roofline"]


def kernel_roofline(kernel, timing=None, peaks=None):
    """Where compiled ``kernel`` sits on the roofline: a
    :class:`~tvmprims.roofline.analysis.RooflinePoint` with its achieved GFLOP/s and percentage
    of the measured roof at its arithmetic intensity.

    Parameters
    ----------
    kernel : tvmprims.Kernel
        The kernel (CPU, or CUDA with a GPU present).
    timing : tvmprims.Timing, optional
        Its measured time (default: ``kernel.time()`` on random inputs).
    peaks : tvmprims.roofline.Peaks, optional
        Measured roofs (default: the kernel's target's, measured once and cached by
        :func:`~tvmprims.roofline.peaks.machine_peaks`, and measured again if this kernel
        beats them: :func:`~tvmprims.roofline.peaks.raise_compute_roof`).
    """
    timing = timing if timing is not None else kernel.time()
    if peaks is not None:
        return roofline_point(kernel.workload, timing.seconds, peaks)
    cached = _peaks.machine_peaks(kernel.target)
    point = roofline_point(kernel.workload, timing.seconds, cached)
    raised = _peaks.raise_compute_roof(cached, point.executed_gflops, kernel.target)
    return point if raised is cached else roofline_point(kernel.workload, timing.seconds, raised)
