"""Where a kernel run sits on the roofline: achieved GFLOP/s against the measured roof at its
arithmetic intensity.

Two FLOP counts matter. ``flops`` is the useful work (for every convolution algorithm, the
direct convolution's), so GFLOP/s compare algorithms by speed. ``executed_flops`` is the
arithmetic the algorithm really performs (:attr:`tvmprims.workload.Workload.executed_flops`):
that is what the hardware's compute roof limits, so the roofline point, its intensity and its
percentage of the roof use it. Bytes are the compulsory traffic (inputs once, output once).
"""

from dataclasses import asdict, dataclass

__all__ = ["RooflinePoint", "roofline_point"]


@dataclass(frozen=True)
class RooflinePoint:
    """One measured run on the roofline.

    ``roof_gflops`` is the attainable rate at ``intensity`` with the bandwidth measured for a
    working set of ``bytes`` (:meth:`Peaks.roof`); ``percent_of_roof`` is
    ``executed_gflops / roof_gflops * 100``; ``bound`` says which roof applies there:
    ``"memory"`` (the sloped one) or ``"compute"``.
    """

    label: str
    flops: int
    executed_flops: int
    bytes: int
    seconds: float
    roof_gflops: float
    bound: str

    @property
    def intensity(self):
        return self.executed_flops / self.bytes

    @property
    def gflops(self):
        """Useful GFLOP/s (the direct algorithm's FLOPs per second)."""
        return self.flops / self.seconds / 1e9

    @property
    def executed_gflops(self):
        return self.executed_flops / self.seconds / 1e9

    @property
    def percent_of_roof(self):
        return 100 * self.executed_gflops / self.roof_gflops

    def row(self):
        """A flat dict for CSV files."""
        return {**asdict(self), "intensity": self.intensity, "gflops": self.gflops,
                "executed_gflops": self.executed_gflops, "percent_of_roof": self.percent_of_roof}

    def __str__(self):
        return (f"{self.label}: {self.gflops:.1f} GFLOP/s useful, {self.executed_gflops:.1f} "
                f"executed at {self.intensity:.2f} FLOP/byte = {self.percent_of_roof:.0f}% of "
                f"the {self.bound} roof ({self.roof_gflops:.1f} GFLOP/s)")


def roofline_point(workload, seconds, peaks, label=None):
    """The :class:`RooflinePoint` of ``workload`` run in ``seconds`` on a machine with
    measured :class:`~tvmprims.roofline.peaks.Peaks` ``peaks``."""
    if not seconds > 0:
        raise ValueError(f"seconds must be positive, got {seconds!r}")
    executed = workload.executed_flops
    intensity = executed / workload.bytes
    roof = peaks.roof(intensity, footprint=workload.bytes)
    bound = "compute" if roof >= peaks.gflops else "memory"
    return RooflinePoint(label or workload.describe(), workload.flops, executed, workload.bytes,
                         seconds, roof, bound)
