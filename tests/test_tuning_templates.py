"""Tuning templates (tvmprims.tuning_templates): every sampled point of every template is a
correct kernel (against float64/torch references, on awkward shapes), the samples are in the
trace so a record replays, and a template search writes records the API then uses."""

import numpy as np
import pytest

import tvmprims
from tvmprims._tvm import Schedule, compile_module, create_prim_func, element_aligned_arguments
from tvmprims.api import build_workload_from_shapes
from tvmprims.kernel import Kernel
from tvmprims.schedules.hardware import CpuParams, cpu_params, cpu_params_override
from tvmprims.testing import (assert_close, conv2d_ref, convolve_ref, depthwise_conv2d_ref,
                              matmul_ref)
from tvmprims.tuning_templates import KNOBS, has_template, knob_values, template

# (op, shapes, params, reference(arrays), reduction length): primes and sizes that are not
# multiples of any tile; the GEMMs take each matmul path (few rows, packed, blocked).
CASES = [
    ("matmul", [(1, 67), (67, 53)], {}, lambda a, b: matmul_ref(a, b), 67),
    ("matmul", [(37, 129), (129, 61)], {}, lambda a, b: matmul_ref(a, b), 129),
    ("matmul", [(19, 1031), (1031, 1031)], {}, lambda a, b: matmul_ref(a, b), 1031),
    ("dense", [(5, 33), (33, 17), (17,)], {},
     lambda x, w, b: matmul_ref(x, w) + b.astype(np.float64), 33),
    ("conv2d", [(2, 5, 11, 13), (7, 5, 3, 3)], {"padding": 1},
     lambda x, w: conv2d_ref(x, w, padding=1), 45),
    ("conv2d", [(1, 3, 23, 23), (16, 3, 7, 7)], {"stride": 2, "padding": 3},
     lambda x, w: conv2d_ref(x, w, stride=2, padding=3), 147),
    ("conv2d_im2col", [(1, 6, 9, 10), (11, 6, 3, 3)], {"padding": 1},
     lambda x, w: conv2d_ref(x, w, padding=1), 54),
    ("conv2d_winograd", [(1, 5, 13, 11), (9, 5, 3, 3)], {"padding": 1},
     lambda x, w: conv2d_ref(x, w, padding=1), 45),
    ("conv2d_fft", [(1, 3, 12, 10), (4, 3, 3, 3)], {"padding": 1},
     lambda x, w: conv2d_ref(x, w, padding=1), 27),
    ("depthwise_conv2d", [(1, 7, 15, 17), (7, 1, 3, 3)], {"stride": 2, "padding": 1},
     lambda x, w: depthwise_conv2d_ref(x, w, stride=2, padding=1), 9),
    ("convolve", [(101,), (13,)], {}, lambda a, v: convolve_ref(a, v), 13),
]


def test_knob_values_start_at_the_hand_value_and_stay_within_a_factor_of_two():
    assert knob_values(4) == (4, 2, 3, 5, 6, 8)
    assert knob_values(1) == (1, 2)
    assert knob_values(True) == (True, False)
    for value in (3, 8, 128, 4 << 20):
        values = knob_values(value)
        assert values[0] == value and len(set(values)) == len(values)
        assert all(value // 2 <= v <= 2 * value for v in values)


def test_every_knob_is_a_cpu_params_field():
    fields = set(CpuParams.__dataclass_fields__)
    for op, knobs in KNOBS.items():
        assert set(knobs) <= fields, op


def test_params_override_is_scoped():
    target = tvmprims.resolve_target("llvm")
    hand = cpu_params(target)
    other = CpuParams(gemm_rows=hand.gemm_rows + 1)
    with cpu_params_override(other):
        assert cpu_params(target) is other
    assert cpu_params(target) == hand


@pytest.mark.parametrize("op, shapes, params, reference, k", CASES,
                         ids=[f"{c[0]}-{'x'.join(map(str, c[1][0]))}" for c in CASES])
def test_sampled_points_are_correct_kernels(op, shapes, params, reference, k, rng):
    workload = build_workload_from_shapes(op, shapes, "float32", params)
    target = tvmprims.resolve_target("llvm")
    assert has_template(workload, target)
    apply = template(workload, target)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in workload.shapes]
    expected = reference(*arrays)
    seen = set()
    for seed in range(1, 7):
        sch = apply(Schedule(create_prim_func(workload.compute()), seed=seed))
        decisions = tuple(int(d) for d in sch.trace.decisions.values())
        assert len(decisions) == len(KNOBS[op])  # every sample is in the trace
        seen.add(decisions)
        mod = element_aligned_arguments(sch.mod)
        kernel = Kernel(workload, target, "tuned", compile_module(mod, target).mod, mod)
        assert_close(kernel(*arrays), expected, "float32", k)
    assert len(seen) > 1  # the seeds sampled different points


def test_cuda_has_no_template():
    workload = build_workload_from_shapes("matmul", [(8, 8), (8, 8)])
    assert not has_template(workload, "cuda")


def test_template_search_records_replay_in_the_api(tmp_path, monkeypatch, rng):
    """A real template search on Winograd (whose default-space search fails): its records
    replay, and the API's tuned kernel is correct."""
    monkeypatch.setenv("TVMPRIMS_TUNING_DIR", str(tmp_path))
    shapes = [(1, 8, 14, 14), (8, 8, 3, 3)]
    lines = []
    result = tvmprims.tune("conv2d_winograd", *shapes, trials=3, log_root=tmp_path,
                           padding=1, report=lines.append)
    assert result.trials >= 1 and not result.search_failed
    assert any("template space" in line for line in lines)
    tvmprims.clear_cache()
    kernel = tvmprims.build("conv2d_winograd", *shapes, padding=1, schedule="tuned")
    assert kernel.schedule == "tuned"
    x, w = (rng.standard_normal(s).astype(np.float32) for s in shapes)
    assert_close(kernel(x, w), conv2d_ref(x, w, padding=1), "float32", 72)
    with pytest.raises(ValueError, match="unknown space"):
        tvmprims.tune("matmul", (4, 4), (4, 4), trials=1, log_root=tmp_path, space="random")
    with pytest.raises(ValueError, match="no template"):
        tvmprims.tune("matmul", (4, 4), (4, 4), trials=1, log_root=tmp_path, space="template",
                      target="cuda")


@pytest.mark.parametrize("fused", ["epilogue", "weight_block"])
def test_sampled_points_of_fused_layers_are_correct(fused, rng):
    """The workloads `tvmprims infer` runs (tune --graph): bias, activation and residual in
    the write-back, or the weight pre-packed in the schedule's channel panels."""
    from tvmprims.ops import conv2d as conv2d_op
    from tvmprims.schedules.cpu.conv2d import weight_block
    from tvmprims.testing import epilogue_ref
    target = tvmprims.resolve_target("llvm")
    x_shape, w_shape = (1, 8, 11, 10), (32, 8, 3, 3)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    bias = rng.standard_normal(32).astype(np.float32)
    residual = rng.standard_normal((1, 32, 11, 10)).astype(np.float32)
    if fused == "epilogue":
        shapes, params = [x_shape, w_shape, (32,)], {"activation": "silu", "residual": True}
        arrays = [x, w, bias, residual]
        expected = epilogue_ref(conv2d_ref(x, w, bias, padding=1), "silu", residual)
    else:
        bare = build_workload_from_shapes("conv2d", [x_shape, w_shape], "float32", {"padding": 1})
        block = weight_block(bare, target)
        packed = conv2d_op.pack_weight(w, block)
        shapes, params = [x_shape, packed.shape], {"weight_block": block}
        arrays, expected = [x, packed], conv2d_ref(x, w, padding=1)
    workload = build_workload_from_shapes("conv2d", shapes, "float32", {"padding": 1, **params})
    apply = template(workload, target)
    for seed in range(1, 5):
        sch = apply(Schedule(create_prim_func(workload.compute()), seed=seed))
        mod = element_aligned_arguments(sch.mod)
        kernel = Kernel(workload, target, "tuned", compile_module(mod, target).mod, mod)
        assert_close(kernel(*arrays), expected, "float32", 72)
