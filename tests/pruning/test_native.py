"""The native (compiled C) sparse convolution: exact against the masked convolution in every
geometry and layout, independent of the thread count, differentiable through its fallback,
exportable, and built once per cache with a one-line reason where it cannot be."""

import stat

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import pruning.native_build as native_build
from common.native import forget_libraries
from pruning.compile import compile_model, export_program
from pruning.kernels import KERNELS, KernelUnsuitable, build_native
from pruning.native_conv import NativeSparseConv

from .test_compile import QUICK, assert_rebuilt_by_assemble, masked, timer_favouring


def _availability() -> str:
    try:
        native_build.native_library()
    except native_build.NativeUnavailable as reason:
        return str(reason)
    return ""


UNAVAILABLE = _availability()
needs_native = pytest.mark.skipif(bool(UNAVAILABLE), reason=f"native kernel unavailable here: {UNAVAILABLE}")


def _mask(c_out: int, c_in: int, seed: int) -> torch.Tensor:
    """About a third of the pairs kept, one output reading nothing (bias only), one reading everything."""
    generator = torch.Generator().manual_seed(seed)
    mask = torch.rand(c_out, c_in, generator=generator) < 0.3
    mask[0] = False
    mask[-1] = True
    return mask


# batch, C_in, C_out, H, W, kernel, stride, padding, bias, channels_last
GEOMETRIES = [
    (2, 13, 11, 9, 7, 3, 1, 1, True, False),  # neither channels nor widths a multiple of 8
    (2, 16, 24, 17, 19, 3, 2, 1, False, True),  # stride 2 in a channels_last layout
    (1, 8, 40, 8, 16, (1, 3), (2, 1), (0, 1), True, True),  # rectangular kernel, stride, padding
    (3, 24, 8, 6, 5, 5, 1, 2, True, True),
    (2, 32, 32, 12, 12, 1, 1, 0, True, True),  # 1x1
    (2, 9, 7, 10, 10, 1, 2, 0, False, False),  # 1x1, stride 2
    (1, 64, 64, 32, 32, 3, 1, 1, True, True),  # one sample, more work items than threads
    (4, 40, 48, 16, 16, 3, 1, 0, True, False),  # no padding
    (1, 3, 4, 2, 5000, (1, 3), 1, (0, 1), True, True),  # a row wider than any fixed table
]


def _case(geometry):
    batch, c_in, c_out, height, width, kernel, stride, padding, bias, channels_last = geometry
    torch.manual_seed(0)
    conv = nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=bias)
    x = torch.randn(batch, c_in, height, width)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return conv, _mask(c_out, c_in, seed=c_in), x


@needs_native
@pytest.mark.parametrize("geometry", GEOMETRIES, ids=[str(i) for i in range(len(GEOMETRIES))])
def test_the_native_convolution_equals_the_masked_convolution(geometry):
    conv, mask, x = _case(geometry)
    with torch.no_grad():
        expected = F.conv2d(x, conv.weight * mask[:, :, None, None], conv.bias, conv.stride, conv.padding)
    module, structure = build_native(conv, mask)
    assert structure == f"{int(mask.sum())} kept channel pairs"
    assert module.weight.shape == (int(mask.sum()), *conv.kernel_size)  # the kept weights only
    with torch.inference_mode():
        got = module(x)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5 * float(expected.abs().max()))
    assert got.is_contiguous(memory_format=torch.channels_last) == x.is_contiguous(memory_format=torch.channels_last)
    if conv.bias is not None:  # output 0 reads no input: its plane is its bias
        assert torch.equal(got[:, 0], conv.bias[0].detach().expand_as(got[:, 0]))


@needs_native
def test_results_do_not_depend_on_the_thread_count():
    """Each output plane is summed by one thread in one order: bit-identical at 1 and 2 threads."""
    conv, mask, x = _case(GEOMETRIES[6])
    module, _ = build_native(conv, mask)
    threads = torch.get_num_threads()
    try:
        outputs = []
        for count in (1, 2):
            torch.set_num_threads(count)
            with torch.inference_mode():
                outputs.append(module(x))
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(outputs[0], outputs[1])


@needs_native
def test_a_mask_over_single_weights_is_baked_before_the_pairs_are_kept():
    torch.manual_seed(1)
    conv = nn.Conv2d(6, 4, 3, padding=1)
    mask = torch.rand(conv.weight.shape) < 0.4  # unstructured, as torch.nn.utils.prune makes them
    x = torch.randn(2, 6, 5, 5)
    module, _ = build_native(conv, mask)
    with torch.inference_mode():
        torch.testing.assert_close(module(x), F.conv2d(x, conv.weight * mask, conv.bias, padding=1))


def test_gradients_flow_through_the_dense_fallback():
    """With gradients wanted the module runs F.conv2d on its kept weights scattered back: the
    same outputs, and the gradient of each kept weight is the masked convolution's."""
    conv, mask, x = _case(GEOMETRIES[0])
    module = NativeSparseConv(conv, mask)
    x = x.clone().requires_grad_(True)
    module(x).square().sum().backward()
    reference = conv.weight.detach().clone().requires_grad_(True)
    reference_x = x.detach().clone().requires_grad_(True)
    F.conv2d(reference_x, reference * mask[:, :, None, None], conv.bias, 1, 1).square().sum().backward()
    rows, cols = mask.nonzero(as_tuple=True)
    torch.testing.assert_close(module.weight.grad, reference.grad[rows, cols])
    torch.testing.assert_close(x.grad, reference_x.grad)


def test_layers_the_native_kernel_does_not_fit_say_why():
    mask = torch.ones(6, 6, dtype=torch.bool)
    cases = [
        (nn.Linear(6, 6), "Conv2d layers only"),
        (nn.Conv2d(6, 6, 3, groups=2), "grouped convolution"),
        (nn.Conv2d(6, 6, 3, dilation=2), "dilated"),
        (nn.Conv2d(6, 6, 3).double(), "float32 layers on CPU only"),
    ]
    for layer, reason in cases:
        with pytest.raises(KernelUnsuitable, match=reason):
            build_native(layer, mask)


@needs_native
def test_a_model_of_native_layers_exports_with_a_dynamic_batch(tmp_path):
    conv, mask, x = _case(GEOMETRIES[3])
    module, _ = build_native(conv, mask)
    model = nn.Sequential(module, nn.ReLU()).eval()
    path, dynamic = export_program(model, tuple(x.shape[1:]), tmp_path / "m.pt2", batch_size=3)
    assert dynamic
    program = torch.export.load(path).module()
    for batch in (3, 5):
        x = torch.randn(batch, *x.shape[1:])
        with torch.inference_mode():
            torch.testing.assert_close(program(x), model(x))


@needs_native
def test_compile_picks_the_native_kernel_where_it_is_timed_fastest_and_assemble_rebuilds_it():
    model, size = masked("cnn", recipe="relational", width=16)
    result = compile_model(model, size, QUICK, timer=timer_favouring("native"))
    convolutions = [layer for layer in result.layers if layer.layer_type == "Conv2d"]
    assert convolutions and {layer.kernel for layer in convolutions} == {"native"}
    assert all(isinstance(result.model.get_submodule(layer.name), NativeSparseConv) for layer in convolutions)
    assert_rebuilt_by_assemble(model, size, result)


@pytest.fixture
def fresh_build(tmp_path, monkeypatch):
    """An empty cache directory and no library loaded in this process, before and after."""
    monkeypatch.setenv("TOPOPRUNE_CACHE", str(tmp_path / "cache"))
    forget_libraries()
    yield tmp_path
    forget_libraries()


@needs_native
def test_the_library_is_built_once_into_the_cache_and_then_loaded(fresh_build):
    native_build.native_library()
    built = list((fresh_build / "cache" / "native").glob("*/sparse_conv2d.so"))
    assert len(built) == 1
    first = built[0].stat().st_mtime_ns
    forget_libraries()
    native_build.native_library()  # a second process: loads the cached library, builds nothing
    assert built[0].stat().st_mtime_ns == first
    assert list((fresh_build / "cache" / "native").glob("*/*")) == built  # no temporary left beside it


def test_without_a_compiler_the_kernel_is_left_out_with_one_line(fresh_build, monkeypatch):
    monkeypatch.setenv("CC", "no-such-compiler-here")
    with pytest.raises(KernelUnsuitable, match="no C compiler 'no-such-compiler-here' on PATH"):
        build_native(nn.Conv2d(4, 4, 3), torch.ones(4, 4, dtype=torch.bool))
    assert "native" in KERNELS  # still registered: compile records why it did not fit
    model, size = masked("cnn", recipe="relational", width=8)
    result = compile_model(model, size, QUICK, timer=timer_favouring("native"))
    assert "the native kernel was left out: no C compiler 'no-such-compiler-here' on PATH" in " ".join(result.notices)
    assert all("no C compiler" in layer.rejected["native"] for layer in result.layers if layer.layer_type == "Conv2d")


def test_a_failing_compiler_is_reported_and_nothing_is_cached(fresh_build, monkeypatch):
    compiler = fresh_build / "cc"
    compiler.write_text("#!/bin/sh\necho 'cc: error: this compiler always fails' >&2\nexit 1\n")
    compiler.chmod(compiler.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("CC", str(compiler))
    with pytest.raises(
        native_build.NativeUnavailable, match="failed: cc: error: this compiler always fails"
    ) as failure:
        native_build.native_library()
    assert not list((fresh_build / "cache").rglob("*.so"))
    assert "\n" not in str(failure.value)
