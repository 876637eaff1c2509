"""Design spaces made of the hand schedules, for MetaSchedule to sample (``tvmprims tune
--space template``, the default where an operator has one).

A CPU hand schedule is a function of the workload and of the target's
:class:`~tvmprims.schedules.hardware.CpuParams` (register tiles, unroll factors, cache blocks,
which GEMM path). The template of an operator samples the parameters its schedule reads
(:data:`KNOBS`), each among values around the hand one (:func:`knob_values`: from half to
twice it), with MetaSchedule's ``sample_categorical``, and applies the hand schedule under
them (:func:`~tvmprims.schedules.hardware.cpu_params_override`). So every candidate is a
schedule a person wrote, with other tile sizes, unrolling or path, and the record's trace
(the samples, then the schedule's primitives) replays like any other record. MetaSchedule
runs the template through ``ScheduleFn`` with the ``ReplayFunc`` strategy (each trial runs
the function afresh): the default space's rules are not involved, so computations they
fail on (Winograd's transforms) can be tuned as well.
"""

from dataclasses import replace

__all__ = ["KNOBS", "knob_values", "has_template", "template", "template_space"]

_GEMM = ("gemm_rows", "gemm_vectors", "gemm_k_unroll")
#: The :class:`CpuParams` fields each operator's CPU hand schedule reads.
KNOBS = {
    "matmul": _GEMM + ("gemm_accumulators", "gemm_k_block", "gemm_n_block",
                       "gemm_whole_b_bytes", "gemv_result_bytes", "gemv_k_unroll",
                       "gemv_split_k"),
    "conv2d": ("conv2d_registers", "conv2d_one_vector_registers", "conv2d_narrow_registers",
               "fma_chains", "gemm_vectors"),
    "conv2d_im2col": _GEMM + ("gemm_columns_outer_a_elements", "gemm_accumulators",
                              "gemm_k_block", "gemm_n_block"),
    "conv2d_winograd": ("winograd_registers", "fma_chains"),
    "conv2d_fft": ("fft_registers",),
    "depthwise_conv2d": ("depthwise_vectors", "fma_chains", "conv2d_one_vector_registers"),
    "convolve": ("convolve_vectors",),
    "matmul_log": _GEMM,
}
KNOBS["dense"] = KNOBS["matmul"]


def knob_values(value):
    """Candidates for a parameter whose hand value is ``value``: both values of a switch;
    for a count, the distinct values from half to twice it (x 1/2, 3/4, 1, 5/4, 3/2, 2)."""
    if isinstance(value, bool):
        return (value, not value)
    candidates = {max(1, int(value * f)) for f in (0.5, 0.75, 1, 1.25, 1.5, 2)}
    return (value, *sorted(candidates - {value}))


def has_template(workload, target):
    """Whether ``workload`` has a template on ``target`` (CPU targets, operators in :data:`KNOBS`)."""
    from .target import resolve_target, schedule_kind
    return schedule_kind(resolve_target(target)) == "cpu" and workload.op in KNOBS


def template(workload, target):
    """The schedule function of ``workload``'s template: ``fn(sch) -> Schedule``."""
    from .build import schedule_module
    from .schedules.hardware import cpu_params, cpu_params_override
    from .target import resolve_target
    target = resolve_target(target)
    hand = cpu_params(target)
    knobs = [(name, knob_values(getattr(hand, name))) for name in KNOBS[workload.op]]
    schedule = schedule_module(target, workload.op).schedule

    def apply(sch):
        chosen = {}
        for name, values in knobs:
            index = sch.sample_categorical(candidates=list(range(len(values))),
                                           probs=[1.0 / len(values)] * len(values))
            chosen[name] = values[int(sch.get(index))]
        trial = sch.copy()
        try:
            with cpu_params_override(replace(hand, **chosen)):
                schedule(trial, workload, target)
            return trial
        except Exception:  # noqa: BLE001  (a combination the schedule cannot apply)
            schedule(sch, workload, target)  # the hand point, so the trial is not wasted
            return sch
    return apply


def template_space(workload, target):
    """MetaSchedule's ``ScheduleFn`` space of the template (no rules, postprocessors or
    mutators: the hand schedule is complete)."""
    from ._tvm import meta_schedule
    ms = meta_schedule()
    return ms.space_generator.ScheduleFn(template(workload, target), sch_rules=[],
                                         postprocs=[], mutator_probs={})
