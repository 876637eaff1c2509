"""Bad inputs fail early and clearly; unusual but valid inputs (views, lists, tensors) work.

Every rejection must be a ``ValueError`` or ``TypeError`` whose message names the problem, and
must happen before anything is compiled (the kernel cache's miss counter does not move).
"""

import contextlib
import re

import numpy as np
import pytest
import torch
import tvm

import tvmprims as tp
from tvmprims.ops.conv2d import PADDING_FORMS
from tvmprims.testing import (assert_close, at_offset, conv1d_ref, conv2d_ref, convolve_ref,
                              depthwise_conv2d_ref, matmul_ref, scale_channels_ref)


def ones(*shape, dtype=np.float32):
    return np.ones(shape, dtype)


@contextlib.contextmanager
def rejected(exc, match):
    """``pytest.raises(exc, match=match)`` that also checks nothing was compiled."""
    before = tp.cache_info()["misses"]
    with pytest.raises(exc, match=match):
        yield
    assert tp.cache_info()["misses"] == before, "input reached the kernel cache before rejection"


X4, W4, B4 = (1, 4, 5, 5), (2, 4, 3, 3), (2,)
X3, W3 = (1, 4, 5), (2, 4, 3)
XD, WD = (1, 4, 5, 5), (4, 1, 3, 3)

# (id, call, exception, regex the message must match)
#: The message of a padding that is none of the accepted forms.
PADDING = re.escape(PADDING_FORMS)

BAD_INPUTS = [
    # --- rank
    ("matmul-1d", lambda: tp.matmul(ones(3), ones(3)), ValueError,
     r"matmul expects 2-D operands, got shapes \(3,\) and \(3,\)"),
    ("matmul-3d", lambda: tp.matmul(ones(2, 3, 4), ones(4, 2)), ValueError,
     r"matmul expects 2-D operands, got shapes \(2, 3, 4\)"),
    ("matmul-0d", lambda: tp.matmul(np.float32(2), ones(2, 2)), ValueError,
     r"matmul expects 2-D operands"),
    ("conv2d-x-3d", lambda: tp.conv2d(ones(1, 4, 5), ones(*W4)), ValueError,
     r"conv2d expects x of rank 4 \(N, C, H, W\), got shape \(1, 4, 5\)"),
    ("conv2d-weight-3d", lambda: tp.conv2d(ones(*X4), ones(2, 4, 3)), ValueError,
     r"conv2d expects weight of rank 4"),
    ("conv1d-x-4d", lambda: tp.conv1d(ones(*X4), ones(*W3)), ValueError,
     r"conv1d expects x of rank 3 \(N, C, L\), got shape \(1, 4, 5, 5\)"),
    ("conv1d-weight-4d", lambda: tp.conv1d(ones(*X3), ones(*W4)), ValueError,
     r"conv1d expects weight of rank 3"),
    ("convolve-2d", lambda: tp.convolve(ones(3, 3), ones(3)), ValueError,
     r"convolve expects 1-D arrays, got shapes \(3, 3\) and \(3,\)"),
    ("convolve-0d", lambda: tp.convolve(np.float32(1), ones(3)), ValueError,
     r"convolve expects 1-D arrays"),
    ("depthwise-x-3d", lambda: tp.depthwise_conv2d(ones(1, 4, 5), ones(*WD)), ValueError,
     r"depthwise_conv2d expects x \(N, C, H, W\)"),
    # --- mismatched dimensions and channels
    ("matmul-inner", lambda: tp.matmul(ones(2, 3), ones(4, 2)), ValueError,
     r"matmul inner dimensions differ: a is \(2, 3\), b is \(4, 2\)"),
    ("conv2d-channels", lambda: tp.conv2d(ones(*X4), ones(2, 3, 3, 3)), ValueError,
     r"weight has 3 input channels per group, but x has 4 channels and groups=1 \(expected 4\)"),
    ("conv2d-channels-per-group", lambda: tp.conv2d(ones(*X4), ones(2, 4, 3, 3), groups=2),
     ValueError, r"weight has 4 input channels per group.*groups=2 \(expected 2\)"),
    ("conv1d-channels", lambda: tp.conv1d(ones(*X3), ones(2, 3, 3)), ValueError,
     r"weight has 3 input channels per group, but x has 4 channels"),
    ("depthwise-weight-not-1-channel", lambda: tp.depthwise_conv2d(ones(*XD), ones(4, 2, 3, 3)),
     ValueError, r"depthwise weight must have shape \(C\*m, 1, KH, KW\) with C=4"),
    ("depthwise-weight-not-multiple", lambda: tp.depthwise_conv2d(ones(*XD), ones(6, 1, 3, 3)),
     ValueError, r"depthwise weight must have shape .* got \(6, 1, 3, 3\)"),
    ("conv2d-groups-equal-C-bad-weight", lambda: tp.conv2d(ones(*XD), ones(4, 2, 3, 3), groups=4),
     ValueError, r"depthwise weight must have shape"),
    # --- groups
    ("groups-not-dividing-C", lambda: tp.conv2d(ones(*X4), ones(2, 1, 3, 3), groups=3),
     ValueError, r"groups=3 must divide input channels \(4\)"),
    ("groups-not-dividing-O", lambda: tp.conv2d(ones(*X4), ones(3, 2, 3, 3), groups=2),
     ValueError, r"groups=2 must divide .*output channels \(3\)"),
    ("conv1d-groups-not-dividing", lambda: tp.conv1d(ones(*X3), ones(2, 1, 3), groups=3),
     ValueError, r"groups=3 must divide input channels \(4\)"),
    ("groups-zero", lambda: tp.conv2d(ones(*X4), ones(*W4), groups=0), ValueError,
     r"groups must be a positive int, got 0"),
    ("groups-negative", lambda: tp.conv2d(ones(*X4), ones(*W4), groups=-2), ValueError,
     r"groups must be a positive int, got -2"),
    ("groups-float", lambda: tp.conv2d(ones(*X4), ones(*W4), groups=1.0), TypeError,
     r"groups must be an int, got 1.0"),
    # --- bias
    ("conv2d-bias-length", lambda: tp.conv2d(ones(*X4), ones(*W4), ones(3)), ValueError,
     r"bias must have shape \(2,\), got \(3,\)"),
    ("conv2d-bias-2d", lambda: tp.conv2d(ones(*X4), ones(*W4), ones(2, 1)), ValueError,
     r"bias must have shape \(2,\), got \(2, 1\)"),
    ("conv1d-bias-length", lambda: tp.conv1d(ones(*X3), ones(*W3), ones(3)), ValueError,
     r"bias must have shape \(2,\), got \(3,\)"),
    ("depthwise-bias-length", lambda: tp.depthwise_conv2d(ones(*XD), ones(*WD), ones(3)),
     ValueError, r"bias must have shape \(4,\), got \(3,\)"),
    # --- kernel larger than the padded input
    ("conv2d-kernel-too-large", lambda: tp.conv2d(ones(1, 1, 3, 3), ones(1, 1, 5, 5)), ValueError,
     r"kernel extent 5 along height \(kernel 5, dilation 1\) is larger than the padded input "
     r"\(3 \+ padding 0\)"),
    ("conv2d-kernel-too-large-padded",
     lambda: tp.conv2d(ones(1, 1, 3, 3), ones(1, 1, 3, 7), padding=1), ValueError,
     r"kernel extent 7 along width .* larger than the padded input \(3 \+ padding 2\)"),
    ("conv2d-dilated-kernel-too-large",
     lambda: tp.conv2d(ones(1, 1, 5, 5), ones(1, 1, 3, 3), dilation=3), ValueError,
     r"kernel extent 7 along height \(kernel 3, dilation 3\) is larger than the padded input"),
    ("conv1d-kernel-too-large", lambda: tp.conv1d(ones(1, 1, 3), ones(1, 1, 5)), ValueError,
     r"kernel extent 5 .*kernel 5.* is larger than the padded input \(3 \+ padding 0\)"),
    ("depthwise-kernel-too-large",
     lambda: tp.depthwise_conv2d(ones(1, 2, 3, 3), ones(2, 1, 5, 5)), ValueError,
     r"kernel extent 5 along height .* larger than the padded input"),
    # --- stride, dilation, padding
    ("conv2d-stride-zero", lambda: tp.conv2d(ones(*X4), ones(*W4), stride=0), ValueError,
     r"stride must be positive, got 0"),
    ("conv2d-stride-negative", lambda: tp.conv2d(ones(*X4), ones(*W4), stride=(1, -1)),
     ValueError, r"stride must be positive, got \(1, -1\)"),
    ("conv2d-dilation-zero", lambda: tp.conv2d(ones(*X4), ones(*W4), dilation=0), ValueError,
     r"dilation must be positive, got 0"),
    ("conv2d-dilation-negative", lambda: tp.conv2d(ones(*X4), ones(*W4), dilation=-1),
     ValueError, r"dilation must be positive, got -1"),
    ("conv1d-stride-zero", lambda: tp.conv1d(ones(*X3), ones(*W3), stride=0), ValueError,
     r"stride must be positive"),
    ("conv1d-dilation-negative", lambda: tp.conv1d(ones(*X3), ones(*W3), dilation=-1),
     ValueError, r"dilation must be positive"),
    ("depthwise-stride-zero", lambda: tp.depthwise_conv2d(ones(*XD), ones(*WD), stride=0),
     ValueError, r"stride must be positive, got 0"),
    ("depthwise-dilation-zero", lambda: tp.depthwise_conv2d(ones(*XD), ones(*WD), dilation=0),
     ValueError, r"dilation must be positive, got 0"),
    ("conv2d-padding-negative", lambda: tp.conv2d(ones(*X4), ones(*W4), padding=-1), ValueError,
     r"padding must be non-negative, got -1"),
    ("conv2d-padding-pair-negative", lambda: tp.conv2d(ones(*X4), ones(*W4), padding=(1, -1)),
     ValueError, r"padding must be non-negative, got \(1, -1\)"),
    ("conv1d-padding-negative", lambda: tp.conv1d(ones(*X3), ones(*W3), padding=-1), ValueError,
     r"padding must be non-negative"),
    ("depthwise-padding-negative",
     lambda: tp.depthwise_conv2d(ones(*XD), ones(*WD), padding=-2), ValueError,
     r"padding must be non-negative, got -2"),
    ("conv2d-padding-string", lambda: tp.conv2d(ones(*X4), ones(*W4), padding="full"), ValueError,
     PADDING + r", got 'full'"),
    ("conv2d-padding-uppercase", lambda: tp.conv2d(ones(*X4), ones(*W4), padding="SAME"),
     ValueError, PADDING + r", got 'SAME'"),
    ("conv1d-padding-string", lambda: tp.conv1d(ones(*X3), ones(*W3), padding="foo"), ValueError,
     PADDING + r", got 'foo'"),
    ("depthwise-padding-string",
     lambda: tp.depthwise_conv2d(ones(*XD), ones(*WD), padding="foo"), ValueError,
     PADDING),
    ("conv2d-padding-float", lambda: tp.conv2d(ones(*X4), ones(*W4), padding=1.5), TypeError,
     PADDING + r", got 1.5"),
    ("conv2d-padding-triple", lambda: tp.conv2d(ones(*X4), ones(*W4), padding=(1, 1, 1)),
     TypeError, PADDING + r", got \(1, 1, 1\)"),
    ("conv2d-stride-bool", lambda: tp.conv2d(ones(*X4), ones(*W4), stride=True), TypeError,
     r"stride must be an int or a pair of ints, got True"),
    ("conv1d-padding-pair", lambda: tp.conv1d(ones(*X3), ones(*W3), padding=(1, 1)), ValueError,
     r"conv1d padding must be an int or a 1-tuple, got \(1, 1\)"),
    ("conv1d-stride-pair", lambda: tp.conv1d(ones(*X3), ones(*W3), stride=(1, 2)), ValueError,
     r"conv1d stride must be an int or a 1-tuple, got \(1, 2\)"),
    ("conv2d-same-stride-2", lambda: tp.conv2d(ones(*X4), ones(*W4), padding="same", stride=2),
     ValueError, r"padding='same' requires stride 1"),
    ("conv1d-same-stride-2", lambda: tp.conv1d(ones(*X3), ones(*W3), padding="same", stride=2),
     ValueError, r"padding='same' requires stride 1"),
    ("depthwise-same-stride-2",
     lambda: tp.depthwise_conv2d(ones(*XD), ones(*WD), padding="same", stride=(1, 2)),
     ValueError, r"padding='same' requires stride 1"),
    # --- pooling, add, concat
    ("max-pool-3d", lambda: tp.max_pool2d(ones(1, 4, 5), 2), ValueError,
     r"max_pool2d expects x of rank 4 \(N, C, H, W\), got shape \(1, 4, 5\)"),
    ("max-pool-kernel-too-large", lambda: tp.max_pool2d(ones(1, 1, 3, 3), 5), ValueError,
     r"kernel extent 5 along height .* larger than the padded input \(3 \+ padding 0\)"),
    ("max-pool-padding-over-half", lambda: tp.max_pool2d(ones(1, 1, 5, 5), 3, padding=2),
     ValueError, r"padding must be at most half of kernel_size"),
    ("max-pool-kernel-zero", lambda: tp.max_pool2d(ones(1, 1, 5, 5), 0), ValueError,
     r"kernel_size must be positive, got 0"),
    ("max-pool-stride-negative", lambda: tp.max_pool2d(ones(1, 1, 5, 5), 2, -1), ValueError,
     r"stride must be positive"),
    ("max-pool-dilation-zero", lambda: tp.max_pool2d(ones(1, 1, 5, 5), 2, dilation=0),
     ValueError, r"dilation must be positive"),
    ("avg-pool-padding-negative", lambda: tp.avg_pool2d(ones(1, 1, 5, 5), 3, padding=-1),
     ValueError, r"padding must be non-negative"),
    ("avg-pool-kernel-float", lambda: tp.avg_pool2d(ones(1, 1, 5, 5), 2.0), TypeError,
     r"kernel_size must be an int or a pair of ints, got 2.0"),
    ("avg-pool-divisor-zero", lambda: tp.avg_pool2d(ones(1, 1, 5, 5), 2, divisor_override=0),
     ValueError, r"divisor_override must be positive"),
    ("adaptive-size-zero", lambda: tp.adaptive_avg_pool2d(ones(1, 1, 5, 5), 0), ValueError,
     r"output_size must be positive, got 0"),
    ("adaptive-size-triple", lambda: tp.adaptive_max_pool2d(ones(1, 1, 5, 5), (1, 1, 1)),
     TypeError, r"output_size must be an int or a pair of ints"),
    ("adaptive-2d", lambda: tp.adaptive_avg_pool2d(ones(5, 5), 1), ValueError,
     r"adaptive_avg_pool2d expects x of rank 4"),
    ("add-shapes", lambda: tp.add(ones(2, 3), ones(3, 2)), ValueError,
     r"add expects arrays of the same shape \(no broadcasting\), got \(2, 3\) and \(3, 2\)"),
    ("concat-not-a-list", lambda: tp.concat(ones(2, 3)), TypeError,
     r"concat expects a list or tuple of arrays, got ndarray"),
    ("concat-empty", lambda: tp.concat([]), ValueError, r"concat expects at least one array"),
    ("concat-rank", lambda: tp.concat([ones(1, 2, 3, 3), ones(1, 2, 3)]), ValueError,
     r"concat expects arrays of one rank"),
    ("concat-shape", lambda: tp.concat([ones(1, 2, 3, 3), ones(1, 2, 3, 4)]), ValueError,
     r"concat along axis 1: array 1 has shape \(1, 2, 3, 4\), which differs"),
    ("scale-channels-x-3d", lambda: tp.scale_channels(ones(2, 3, 5), ones(2, 3)), ValueError,
     r"scale_channels expects x of rank 4 \(N, C, H, W\), got shape \(2, 3, 5\)"),
    ("scale-channels-s-channels", lambda: tp.scale_channels(ones(2, 3, 5, 5), ones(2, 4, 1, 1)),
     ValueError, r"scale_channels expects s of shape \(N, C, 1, 1\) or \(N, C\), here "
     r"\(2, 3, 1, 1\) or \(2, 3\) for x of shape \(2, 3, 5, 5\); got \(2, 4, 1, 1\)"),
    ("scale-channels-s-broadcast-batch",
     lambda: tp.scale_channels(ones(2, 3, 5, 5), ones(1, 3, 1, 1)), ValueError,
     r"got \(1, 3, 1, 1\)"),
    ("scale-channels-s-spatial", lambda: tp.scale_channels(ones(1, 3, 5, 5), ones(1, 3, 5, 5)),
     ValueError, r"got \(1, 3, 5, 5\)"),
    ("scale-channels-s-3d", lambda: tp.scale_channels(ones(1, 3, 5, 5), ones(1, 3, 1)),
     ValueError, r"got \(1, 3, 1\)"),
    ("build-scale-channels-s", lambda: tp.build("scale_channels", (1, 3, 5, 5), (3,)),
     ValueError, r"scale_channels expects s of shape .* got \(3,\)"),
    ("concat-axis", lambda: tp.concat([ones(1, 2), ones(1, 2)], axis=2), ValueError,
     r"axis 2 is out of range for arrays of rank 2"),
    # --- modes, algorithms, targets, operators
    ("convolve-mode", lambda: tp.convolve(ones(5), ones(3), mode="circular"), ValueError,
     r"convolve mode must be one of \('full', 'same', 'valid'\), got 'circular'"),
    ("convolve-mode-uppercase", lambda: tp.convolve(ones(5), ones(3), mode="FULL"), ValueError,
     r"convolve mode must be one of .* got 'FULL'"),
    ("conv2d-algo", lambda: tp.conv2d(ones(*X4), ones(*W4), algo="gemm"), ValueError,
     re.escape(f"unknown conv2d algo 'gemm': expected one of {tp.CONV2D_ALGORITHMS}")),
    ("matmul-algo", lambda: tp.matmul(ones(2, 2), ones(2, 2), algo="strassen"), ValueError,
     r"unknown matmul algo 'strassen': expected one of \('direct', 'log', 'log-approx'\)"),
    ("build-unknown-op", lambda: tp.build("softmax", (2, 2)), ValueError,
     re.escape(f"unknown operator 'softmax': expected one of {tp.OPERATORS}")),
    ("build-conv1d-is-not-an-op", lambda: tp.build("conv1d", (1, 1, 4), (1, 1, 2)), ValueError,
     r"unknown operator 'conv1d'"),
    ("build-unknown-param", lambda: tp.build("conv2d", X4, W4, strides=2), TypeError,
     r"conv2d has no parameter 'strides'"),
    ("build-missing-shape", lambda: tp.build("matmul", (2, 2)), TypeError,
     r"matmul takes 2 input shapes \(a, b\), got 1"),
    ("build-bad-shapes", lambda: tp.build("matmul", (2, 3), (2, 3)), ValueError,
     r"matmul inner dimensions differ"),
    ("build-convolve-order", lambda: tp.build("convolve", (2,), (3,)), ValueError,
     r"the first operand must be the longer one"),
]


@pytest.mark.parametrize("call, exc, match", [c[1:] for c in BAD_INPUTS],
                         ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_is_rejected_before_compiling(call, exc, match):
    with rejected(exc, match):
        call()


BAD_TARGETS = [
    ("tpu", lambda: tp.matmul(ones(2, 2), ones(2, 2), target="tpu"), ValueError,
     r"unknown target 'tpu': expected 'llvm', 'cpu', 'cuda' or a tvm.target.Target"),
    # Option strings are not parsed (TVM 0.27 dropped the CLI target syntax): name it unknown.
    ("llvm-options", lambda: tp.matmul(ones(2, 2), ones(2, 2), target="llvm -mcpu=foo"),
     ValueError, r"unknown target 'llvm -mcpu=foo'"),
    ("int", lambda: tp.matmul(ones(2, 2), ones(2, 2), target=3), TypeError,
     r"target must be a string or tvm.target.Target, not int"),
    ("kind-c", lambda: tp.matmul(ones(2, 2), ones(2, 2), target=tvm.target.Target("c")),
     ValueError, r"unsupported target kind 'c'"),
    ("build-tpu", lambda: tp.build("matmul", (2, 2), (2, 2), target="tpu"), ValueError,
     r"unknown target 'tpu'"),
]


@pytest.mark.parametrize("call, exc, match", [c[1:] for c in BAD_TARGETS],
                         ids=[c[0] for c in BAD_TARGETS])
def test_bad_target_message(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("call, exc, match", [c[1:] for c in BAD_TARGETS],
                         ids=[c[0] for c in BAD_TARGETS])
def test_bad_target_is_rejected_before_the_cache(call, exc, match):
    with rejected(exc, match):
        call()


UNSUPPORTED_DTYPES = ["int32", "int64", "uint8", "float16", "complex64", "complex128", "bool"]


@pytest.mark.parametrize("dtype", UNSUPPORTED_DTYPES)
def test_unsupported_dtype(dtype):
    with rejected(TypeError, rf"^a has dtype {dtype}; tvmprims supports float32, float64"):
        tp.matmul(ones(2, 2, dtype=dtype), ones(2, 2, dtype=dtype))


@pytest.mark.parametrize("dtype", ["int32", "float16", "complex64", "bool"])
@pytest.mark.parametrize("argument", ["x", "weight", "bias"])
def test_unsupported_dtype_names_the_argument(argument, dtype):
    arrays = {"x": ones(*X4), "weight": ones(*W4), "bias": ones(*B4)}
    arrays[argument] = arrays[argument].astype(dtype)
    with rejected(TypeError, rf"^{argument} has dtype {dtype}"):
        tp.conv2d(**arrays)


@pytest.mark.parametrize("call, match", [
    (lambda: tp.matmul(ones(2, 2), ones(2, 2, dtype=np.float64)),
     r"mixed dtypes \(a=float32, b=float64\): cast the inputs to one dtype"),
    (lambda: tp.convolve(ones(5, dtype=np.float64), ones(3)),
     r"mixed dtypes \(a=float64, v=float32\)"),
    (lambda: tp.conv2d(ones(*X4), ones(*W4), ones(*B4, dtype=np.float64)),
     r"mixed dtypes \(x=float32, weight=float32, bias=float64\)"),
    (lambda: tp.conv1d(ones(*X3, dtype=np.float64), ones(*W3)),
     r"mixed dtypes \(x=float64, weight=float32\)"),
    (lambda: tp.depthwise_conv2d(ones(*XD), ones(*WD, dtype=np.float64)),
     r"mixed dtypes \(x=float32, weight=float64\)"),
    (lambda: tp.add(ones(2, 2), ones(2, 2, dtype=np.float64)),
     r"mixed dtypes \(a=float32, b=float64\)"),
    (lambda: tp.concat([ones(1, 2, 2, 2), ones(1, 2, 2, 2, dtype=np.float64)]),
     r"mixed dtypes \(arrays\[0\]=float32, arrays\[1\]=float64\)"),
    (lambda: tp.scale_channels(ones(1, 2, 3, 3), ones(1, 2, dtype=np.float64)),
     r"mixed dtypes \(x=float32, s=float64\)"),
], ids=["matmul", "convolve", "conv2d-bias", "conv1d", "depthwise", "add", "concat",
        "scale-channels"])
def test_mixed_dtypes(call, match):
    with rejected(TypeError, match):
        call()


@pytest.mark.parametrize("call, name", [
    (lambda: tp.matmul(ones(0, 3), ones(3, 2)), "a"),
    (lambda: tp.matmul(ones(2, 3), ones(3, 0)), "b"),
    (lambda: tp.matmul(ones(2, 0), ones(0, 2)), "a"),
    (lambda: tp.convolve(ones(0), ones(3)), "a"),
    (lambda: tp.convolve(ones(3), ones(0)), "v"),
    (lambda: tp.conv2d(ones(0, 4, 5, 5), ones(*W4)), "x"),
    (lambda: tp.conv2d(ones(1, 4, 0, 5), ones(*W4)), "x"),
    (lambda: tp.conv2d(ones(*X4), ones(0, 4, 3, 3)), "weight"),
    (lambda: tp.conv2d(ones(*X4), ones(2, 4, 3, 0)), "weight"),
    (lambda: tp.conv2d(ones(*X4), ones(*W4), ones(0)), "bias"),
    (lambda: tp.conv1d(ones(1, 4, 0), ones(*W3)), "x"),
    (lambda: tp.conv1d(ones(*X3), ones(2, 4, 0)), "weight"),
    (lambda: tp.depthwise_conv2d(ones(1, 0, 5, 5), ones(0, 1, 3, 3)), "x"),
    (lambda: tp.depthwise_conv2d(ones(*XD), ones(4, 1, 0, 3)), "weight"),
], ids=["matmul-M", "matmul-N", "matmul-K", "convolve-a", "convolve-v", "conv2d-N", "conv2d-H",
        "conv2d-O", "conv2d-KW", "conv2d-bias", "conv1d-L", "conv1d-K", "depthwise-C",
        "depthwise-KH"])
def test_zero_size_dimensions(call, name):
    with rejected(ValueError, rf"^{name} is empty \(shape .*\); zero-size dimensions are not"):
        call()


def test_unknown_schedule_message():
    with pytest.raises(ValueError,
                       match=r"unknown schedule 'fast': expected one of \('auto', 'tuned', 'hand', 'none'\)"):
        tp.matmul(ones(2, 2), ones(2, 2), schedule="fast")
    with pytest.raises(ValueError, match=r"unknown schedule None"):
        tp.build("matmul", (2, 2), (2, 2), schedule=None)


def test_unknown_schedule_is_rejected_before_the_cache():
    with rejected(ValueError, r"unknown schedule 'fast'"):
        tp.matmul(ones(2, 2), ones(2, 2), schedule="fast")


# --- arguments that are not arrays, dtypes and extents given to build() ------------------

def _names_none(argument):
    return rf"(?s)(\b{argument}\b.*\bNone\b|\bNone\b.*\b{argument}\b)"


@pytest.mark.parametrize("call, argument", [
    (lambda: tp.matmul(None, ones(2, 2)), "a"),
    (lambda: tp.convolve(ones(3), None), "v"),
    (lambda: tp.conv2d(None, ones(*W4)), "x"),
    (lambda: tp.conv2d(ones(*X4), None, ones(*B4)), "weight"),
    (lambda: tp.conv1d(ones(*X3), None), "weight"),
    (lambda: tp.depthwise_conv2d(None, ones(*WD)), "x"),
    (lambda: tp.scale_channels(ones(1, 2, 3, 3), None), "s"),
], ids=["matmul-a", "convolve-v", "conv2d-x", "conv2d-weight-with-bias", "conv1d-weight",
        "depthwise-x", "scale-channels-s"])
def test_none_for_a_required_array(call, argument):
    with rejected(TypeError, _names_none(argument)):
        call()


@pytest.mark.parametrize("dtype", ["int32", "float16", "complex64"])
def test_build_rejects_unsupported_dtype(dtype):
    with rejected(TypeError, rf"{dtype}.*float32, float64"):
        tp.build("matmul", (2, 2), (2, 2), dtype=dtype)


def test_build_accepts_numpy_dtype_objects():
    assert tp.build("matmul", (5, 7), (7, 3), dtype=np.dtype("float32")) is tp.build(
        "matmul", (5, 7), (7, 3))


def test_build_accepts_numpy_scalar_types():
    assert tp.build("matmul", (5, 7), (7, 3), dtype=np.float32) is tp.build(
        "matmul", (5, 7), (7, 3))


def test_empty_target_string_is_always_rejected():
    a, b = ones(5, 7), ones(7, 3)
    with pytest.raises(ValueError, match=r"unknown target ''"):
        tp.matmul(ones(2, 7), b, target="")
    tp.matmul(a, b)  # now an llvm kernel for this workload is cached
    with pytest.raises(ValueError, match=r"unknown target ''"):
        tp.matmul(a, b, target="")


@pytest.mark.parametrize("shapes", [((0, 2), (2, 2)), ((-1, 2), (2, 2)), ((2, 0), (0, 2))],
                         ids=["zero", "negative", "zero-K"])
def test_build_rejects_non_positive_extents(shapes):
    with rejected(ValueError, r"(empty|zero|positive|negative)"):
        tp.build("matmul", *shapes)


@pytest.mark.parametrize("op,shapes,params,buffer", [
    ("matmul", ((50000, 50000), (50000, 4)), {}, "A"),                 # an input
    ("matmul", ((46341, 8), (8, 46341)), {}, "matmul"),                # the output only
    ("conv2d", ((1, 1, 50000, 50000), (1, 1, 1, 1)), {}, "X"),
    ("conv2d_im2col", ((1, 64, 2048, 2048), (8, 64, 3, 3)), {"padding": 1}, "im2col"),
], ids=["input", "output", "conv2d-input", "intermediate"])
def test_buffers_past_32_bit_indexing_are_refused_before_compiling(op, shapes, params, buffer):
    """TVM indexes with int32: past 2**31 - 1 elements compilation failed with TVM's internal
    "Literal value ... exceeds range of int32"; now a clear error names the buffer."""
    with pytest.raises(ValueError, match=rf"buffer '{buffer}' would hold [\d,]+ elements; "
                                         r"tvmprims kernels index with 32-bit integers"):
        tp.build(op, *shapes, **params)


@pytest.mark.parametrize("op, shapes, params, bad", [
    ("matmul", ((5, 2.7), (2.7, 3)), {}, "2.7"),
    ("matmul", ((5, 2.0), (2, 3)), {}, "2.0"),
    ("matmul", ((5, "3"), (3, 3)), {}, "'3'"),
    ("matmul", ((5, True), (True, 3)), {}, "True"),
    ("matmul", ((5, np.float64(3)), (3, 3)), {}, re.escape(repr(np.float64(3)))),
    ("matmul", ((5, None), (3, 3)), {}, "None"),
    ("conv2d", ((1, "4", 5, 5), (2, 4, 3, 3)), {}, "'4'"),
    ("conv2d", ((1, 4, 5, 5), (2, 4, 3.0, 3)), {"padding": 1}, "3.0"),
    ("convolve", ((9.5,), (4,)), {}, "9.5"),
    ("scale_channels", ((1, 3, 5, 5), (1, 3, 1.0, 1)), {}, "1.0"),
    ("depthwise_conv2d", ((1, 4, 5, 5), (4, 1, 3, np.bool_(True))), {},
     re.escape(repr(np.bool_(True)))),
], ids=["float", "integral-float", "str", "bool", "numpy-float", "none", "conv2d-str",
        "conv2d-float", "convolve-float", "scale-channels-float", "numpy-bool"])
def test_build_rejects_non_integer_extents(op, shapes, params, bad):
    with rejected(TypeError, rf"{op}: shape \d .* has extent {bad} of type \w+; extents must "
                             r"be integers"):
        tp.build(op, *shapes, **params)


@pytest.mark.parametrize("shapes, match", [
    (("ab", (2, 2)), "shape 0 must be a sequence of integers, got 'ab'"),
    ((5, (2, 2)), "shape 0 must be a sequence of integers, got 5"),
])
def test_build_rejects_shapes_that_are_not_sequences(shapes, match):
    with rejected(TypeError, match):
        tp.build("matmul", *shapes)


def test_workload_make_checks_extents():
    with pytest.raises(TypeError, match=r"matmul: shape 1 \(7, 2.5\) has extent 2.5"):
        tp.Workload.make("matmul", ((3, 7), (7, 2.5)), "float32")
    wl = tp.Workload.make("matmul", ((np.int32(3), 7), [7, np.uint8(2)]), "float32")
    assert wl.shapes == ((3, 7), (7, 2)) and all(type(d) is int for s in wl.shapes for d in s)


def test_big_endian_input_works_or_is_rejected_clearly(rng):
    # Byte-swapped data must never reach a kernel as if it were native.
    a = rng.standard_normal((5, 7)).astype(">f4")
    b = rng.standard_normal((7, 3)).astype(">f4")
    for args in [(a, b), (a, b.astype(np.float32))]:
        try:
            out = tp.matmul(*args)
        except (TypeError, ValueError) as e:
            assert re.search(r">f4|byte order|endian", str(e)), str(e)
        else:
            assert_close(out, matmul_ref(a, b), "float32", 7)


# --- unusual but valid inputs --------------------------------------------------------------



def layouts(array):
    """``array`` in unusual memory layouts, each with the same values."""
    yield "fortran", np.asfortranarray(array)
    # Transposed view of a contiguous array holding the transpose.
    yield "transposed", np.ascontiguousarray(array.T).T
    # Every other element of a twice-as-long last axis.
    wide = np.zeros(array.shape[:-1] + (2 * array.shape[-1],), array.dtype)
    wide[..., ::2] = array
    yield "strided", wide[..., ::2]
    yield "reversed", np.ascontiguousarray(array[..., ::-1])[..., ::-1]
    yield "offset-4", at_offset(array, 4)
    yield "offset-1", at_offset(array, 1)


def f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


# Reuses the shapes of test_kernel.py so the kernels compile once per session.
CASES = {
    "matmul": (lambda rng: (f32(rng, 5, 7), f32(rng, 7, 3)), {},
               tp.matmul, matmul_ref, 7),
    "convolve": (lambda rng: (f32(rng, 9), f32(rng, 4)), {"mode": "full"},
                 tp.convolve, convolve_ref, 4),
    "conv2d": (lambda rng: (f32(rng, 2, 4, 7, 6), f32(rng, 6, 2, 3, 3), f32(rng, 6)),
               {"padding": 1, "groups": 2}, tp.conv2d, conv2d_ref, 18),
    "conv1d": (lambda rng: (f32(rng, 2, 4, 9), f32(rng, 6, 2, 3), f32(rng, 6)),
               {"padding": 1, "groups": 2}, tp.conv1d, conv1d_ref, 6),
    "depthwise_conv2d": (lambda rng: (f32(rng, 2, 4, 7, 6), f32(rng, 8, 1, 3, 3), f32(rng, 8)),
                         {"padding": 1}, tp.depthwise_conv2d, depthwise_conv2d_ref, 9),
    "scale_channels": (lambda rng: (f32(rng, 2, 4, 7, 6), f32(rng, 2, 4)), {},
                       tp.scale_channels, scale_channels_ref, 1),
}


@pytest.mark.parametrize("op", list(CASES))
def test_unusual_layouts_give_correct_results(op, rng):
    make, params, func, ref, reduction = CASES[op]
    arrays = make(rng)
    expected = ref(*arrays, **params)
    for position in range(len(arrays)):
        for layout, variant in layouts(arrays[position]):
            if variant.ndim == 1 and layout == "transposed":
                continue
            args = list(arrays)
            args[position] = variant
            before = variant.copy()
            out = func(*args, **params, schedule="hand")
            assert_close(out, expected, "float32", reduction)
            np.testing.assert_array_equal(variant, before, err_msg="input was modified")


@pytest.mark.parametrize("op", list(CASES))
def test_all_inputs_non_contiguous_at_once(op, rng):
    make, params, func, ref, reduction = CASES[op]
    arrays = make(rng)
    views = [np.ascontiguousarray(a[..., ::-1])[..., ::-1] if i % 2 else at_offset(a, 4)
             for i, a in enumerate(arrays)]
    out = func(*views, **params, schedule="hand")
    assert_close(out, ref(*arrays, **params), "float32", reduction)


def test_python_lists():
    a = [[1, 2, 3], [4, 5, 6]]
    b = [[1, 0], [0, 1], [2, -1]]
    out = tp.matmul(a, b)
    # Lists of ints become float32.
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.array(a) @ np.array(b))
    # Lists of Python floats become float32 too (the default dtype, as the README says);
    # numpy arrays keep theirs.
    out = tp.convolve([1.0, 2.0, 3.0, 4.0], [0.5, -1.0])
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, np.convolve([1.0, 2.0, 3.0, 4.0], [0.5, -1.0]))
    out = tp.convolve((1.5, 2, True, 4.0), [0.5, -1.0])  # mixed Python numbers, a tuple
    assert out.dtype == np.float32
    out = tp.convolve(np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.5, -1.0]))
    assert out.dtype == np.float64


def test_python_list_ragged_is_rejected():
    with rejected(ValueError, r"inhomogeneous"):
        tp.matmul([[1, 2], [3]], [[1, 0], [0, 1]])


@pytest.mark.parametrize("op", list(CASES))
def test_torch_cpu_tensors(op, rng):
    make, params, func, ref, reduction = CASES[op]
    arrays = make(rng)
    tensors = [torch.from_numpy(a) for a in arrays]
    # A non-contiguous tensor too: transposed storage of the first argument.
    if arrays[0].ndim > 1:
        axes = tuple(reversed(range(arrays[0].ndim)))
        tensors[0] = torch.from_numpy(np.ascontiguousarray(arrays[0].T)).permute(axes)
        assert not tensors[0].is_contiguous()
    out = func(*tensors, **params, schedule="hand")
    assert isinstance(out, np.ndarray)
    assert_close(out, ref(*arrays, **params), "float32", reduction)


def test_torch_float64_tensor(rng):
    a, b = rng.standard_normal((5, 7)), rng.standard_normal((7, 3))
    out = tp.matmul(torch.from_numpy(a), torch.from_numpy(b))
    assert out.dtype == np.float64
    assert_close(out, matmul_ref(a, b), "float64", 7)


def test_torch_unsupported_dtype():
    with rejected(TypeError, r"^a has dtype float16"):
        tp.matmul(torch.ones(2, 2, dtype=torch.float16), torch.ones(2, 2))


def test_target_names_are_case_and_space_insensitive():
    assert tp.resolve_target(" LLVM ") is tp.resolve_target("llvm")
    assert str(tp.resolve_target("cpu")) == str(tp.resolve_target("llvm"))


# --- parameter types, array objects, devices -----------------------------------------------

def test_numpy_integers_are_accepted_as_parameters(rng):
    x = rng.standard_normal((1, 2, 6, 6)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    out = tp.conv2d(x, w, stride=np.int64(2), padding=(np.int32(1), 1), groups=np.int64(1))
    assert_close(out, conv2d_ref(x, w, None, 2, 1), "float32", 18)


def test_bool_groups_is_rejected():
    with rejected(TypeError, r"groups must be an int, got True"):
        tp.conv2d(ones(*X4), ones(*W4), groups=True)


def test_integer_torch_tensor_is_rejected():
    import torch
    with rejected(TypeError, r"^a has dtype int64"):
        tp.matmul(torch.ones((2, 2), dtype=torch.int64), ones(2, 2))


def test_list_of_python_ints_becomes_float32():
    out = tp.convolve([1, 2, 3], [0, 1])
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.convolve([1, 2, 3], [0, 1]))


def test_unreadable_array_object_names_the_argument():
    import torch
    with rejected(TypeError, r"^a cannot be read as a numpy array"):
        tp.matmul(torch.ones((2, 2), dtype=torch.bfloat16), ones(2, 2))


def test_cuda_kernel_without_gpu_says_so(has_cuda):
    if has_cuda:
        pytest.skip("a CUDA GPU is present: the kernel runs")
    kernel = tp.build("matmul", (4, 4), (4, 4), target="cuda")
    with pytest.raises(RuntimeError, match="needs a CUDA GPU"):
        kernel(ones(4, 4), ones(4, 4))


def test_a_cached_layer_does_not_take_parameters_equal_only_by_value():
    """The call signature keeps a tuple of ints as it is (the fast path of the usual call);
    (1.0, 1) and (True, 1) equal (1, 1) in Python but are not valid strides."""
    x = np.ones((1, 2, 5, 5), np.float32)
    w = np.ones((3, 2, 3, 3), np.float32)
    expected = tp.conv2d(x, w, stride=(1, 1), padding=(1, 1, 1, 1))
    for stride in ((1.0, 1), (True, 1)):
        with pytest.raises(TypeError, match="stride must be an int or a pair of ints"):
            tp.conv2d(x, w, stride=stride, padding=(1, 1, 1, 1))
    for stride in ([1, 1], (1, np.int64(1))):  # other spellings of (1, 1) are valid
        np.testing.assert_array_equal(
            tp.conv2d(x, w, stride=stride, padding=[1, 1, 1, 1]), expected)


@pytest.mark.parametrize("args, params, match", [
    (("matmul", (4, 5), (5, 3), (3,)), {}, r"matmul takes 2 input shapes \(a, b\), got 3"),
    (("conv2d", (1, 3, 8, 8)), {}, r"conv2d takes 2 or 3 input shapes \(x, w, bias\), got 1"),
    (("convolve", (5,), (3,)), {"v_shape": (3,)}, "convolve has no parameter 'v_shape'"),
])
def test_build_names_the_operator_when_shapes_or_parameters_do_not_fit(args, params, match):
    with pytest.raises(TypeError, match=match):
        tp.build(*args, **params)


def test_build_of_any_number_of_shapes_is_not_counted():
    """concat takes any number of inputs (its ``workload(*shapes)``)."""
    for count in (1, 2, 3):
        assert tp.build("concat", *[(2, 3, 5)] * count).workload.output_shape[1] == 3 * count
