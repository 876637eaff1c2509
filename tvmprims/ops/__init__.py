"""Operator compute definitions (TVM tensor expressions), one module per operator.

Each module defines ``workload(...)`` (validate shapes and parameters, return a
:class:`~tvmprims.workload.Workload`), ``compute(wl)`` (TE tensors, inputs then output),
``output_shape(wl)`` and ``flops(wl)``. They never see schedules or tuning state.
"""

from ._checks import NotApplicable

__all__ = ["NotApplicable"]
