"""Compile a masked model for inference: per layer, the fastest exact kernel measured here.

Each masked layer's candidates (:data:`pruning.kernels.KERNELS`) are built, checked against the
masked dense layer on the layer's real input, and timed on that input at the target batch size
and device, interleaved so that drifting clocks hit every candidate alike. A structured kernel
replaces the dense layer only when it is faster by ``min_speedup``; afterwards the whole model is
timed against the baked dense model, and if it lost end to end every layer goes back to dense,
so the compiled model is never slower than the dense one as measured.
"""

from __future__ import annotations

import copy
import functools
import logging
import statistics
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from torch import nn

from common.atomic import atomic_open
from pruning.devices import resolve_device
from pruning.errors import PruningError
from pruning.fold import batchnorm_folds, fold_batchnorms
from pruning.kernels import KERNELS, BlockSparseLinear, KernelUnsuitable, SparseLinear, SparsePointwiseConv
from pruning.layers import replace_module
from pruning.masking import baked_copy, current_masks
from pruning.native_build import NativeUnavailable, native_library
from pruning.outputs import write_compiled_files
from pruning.storage import masks_sha256

Timer = Callable[[dict[str, Callable[[], object]], int, int], dict[str, float]]

#: How a compiled model's image tensors are laid out: ``contiguous`` (NCHW, as PyTorch builds
#: models) or ``channels_last`` (NHWC, oneDNN's own layout on CPU); ``auto`` picks the faster for
#: the dense model as timed (docs/compile.md, "Memory format").
MEMORY_FORMATS = ("auto", "contiguous", "channels_last")


@dataclass(frozen=True)
class CompileConfig:
    """How a masked model is compiled."""

    batch_size: int = 32  # examples per timed forward
    device: str = "cpu"  # where the candidates are timed and the compiled model runs
    kernels: tuple[str, ...] = ()  # candidate kernels besides dense; empty means every registered one
    repeats: int = 15  # timed calls per candidate; the median counts
    warmup: int = 2  # untimed calls per candidate first
    min_speedup: float = 1.05  # a structured kernel must beat dense by this factor to replace it
    rtol: float = 1e-5  # largest |difference| / max |reference output| a kernel may show
    seed: int = 0  # seed of the random input the layers are timed on
    fold_batchnorm: bool = True  # fold inference BatchNorm into the layer feeding it (pruning/fold.py)
    memory_format: str = "auto"  # one of MEMORY_FORMATS: auto times the dense model in both

    def validate(self) -> None:
        if self.batch_size < 1:
            raise PruningError(f"batch size must be at least 1, got {self.batch_size}")
        if self.repeats < 1 or self.warmup < 0:
            raise PruningError(
                f"repeats must be at least 1 and warm-up at least 0, got {self.repeats} and {self.warmup}"
            )
        if self.min_speedup < 1.0:
            raise PruningError(
                f"min speedup must be at least 1.0 (a slower kernel never replaces dense), got {self.min_speedup}"
            )
        for name in self.kernels:
            KERNELS.get(name)
        if self.memory_format not in MEMORY_FORMATS:
            raise PruningError(f"memory format must be one of {', '.join(MEMORY_FORMATS)}, got {self.memory_format!r}")
        resolve_device(self.device, PruningError)

    @property
    def candidates(self) -> list[str]:
        return [name for name in (self.kernels or tuple(KERNELS)) if name != "dense"]


@dataclass(frozen=True)
class LayerChoice:
    """The kernel chosen for one masked layer and what the candidates measured.

    ``seconds`` maps each exact candidate to its median forward time (s) at the batch size;
    ``rejected`` names candidates that did not apply or were not exact, and why.
    """

    name: str
    layer_type: str
    shape: tuple[int, ...]
    density: float  # kept fraction of the layer's weights
    kernel: str
    structure: str  # the chosen kernel's layout, e.g. "64 groups x 64 outputs x 256 inputs"
    seconds: dict[str, float]
    rejected: dict[str, str] = field(default_factory=dict)

    @property
    def speedup(self) -> float:
        """Dense time over the chosen kernel's time (1.0 when dense is chosen)."""
        return self.seconds["dense"] / self.seconds[self.kernel]

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "type": self.layer_type,
            "shape": list(self.shape),
            "density": self.density,
            "kernel": self.kernel,
            "structure": self.structure,
            "seconds": self.seconds,
            "speedup": self.speedup,
            "rejected": self.rejected,
        }


@dataclass
class CompileResult:
    """A compiled model and the measurements behind it (times in seconds per forward)."""

    model: nn.Module
    layers: list[LayerChoice]
    masked_seconds: float  # the masked model (parametrized weights), end to end
    dense_seconds: float  # the same model with masks baked into dense weights
    compiled_seconds: float
    max_relative_error: float  # compiled vs masked outputs on the timing input
    notices: list[str] = field(default_factory=list)
    batchnorm_folds: list[tuple[str, str]] = field(default_factory=list)  # (layer, BatchNorm), folded in both
    memory_format: str = "contiguous"  # the compiled model's layout (MEMORY_FORMATS, never auto)
    dense_same_format_seconds: float | None = None  # the baked dense model in that layout, if not contiguous

    @property
    def ratio(self) -> float:
        """End-to-end speed-up over the baked dense model."""
        return self.dense_seconds / self.compiled_seconds

    @property
    def kernel_ratio(self) -> float:
        """End-to-end speed-up over the baked dense model in the compiled model's memory format:
        what the kernels add to what the layout gives."""
        return (self.dense_same_format_seconds or self.dense_seconds) / self.compiled_seconds

    @property
    def choices(self) -> dict[str, str]:
        return {layer.name: layer.kernel for layer in self.layers}

    def to_dict(self) -> dict:
        return {
            "layers": [layer.to_dict() for layer in self.layers],
            "end_to_end": {
                "masked_seconds": self.masked_seconds,
                "dense_seconds": self.dense_seconds,
                "compiled_seconds": self.compiled_seconds,
                "ratio_vs_dense": self.ratio,
                "ratio_vs_masked": self.masked_seconds / self.compiled_seconds,
                "dense_same_format_seconds": self.dense_same_format_seconds,
                "ratio_vs_dense_same_format": self.kernel_ratio,
            },
            "memory_format": self.memory_format,
            "max_relative_error": self.max_relative_error,
            "notices": self.notices,
            "batchnorm_folds": [list(pair) for pair in self.batchnorm_folds],
        }


def interleaved_medians(
    candidates: dict[str, Callable[[], object]], repeats: int, warmup: int, drop_factor: float = 3.0
) -> dict[str, float]:
    """Median wall time (s) of each callable over ``repeats`` rounds, one call of each per round.

    A candidate slower than ``drop_factor`` times the fastest in the first round cannot win and
    is not called again (its time is that first call's), so slow kernels do not stretch the
    compile.
    """
    for call in candidates.values():
        for _ in range(warmup):
            call()
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    active = list(candidates)
    for round_index in range(repeats):
        for name in active:
            start = time.perf_counter()
            candidates[name]()
            samples[name].append(time.perf_counter() - start)
        if round_index == 0:
            best = min(samples[name][0] for name in active)
            active = [name for name in active if samples[name][0] <= drop_factor * best]
    return {name: statistics.median(values) for name, values in samples.items()}


def _counted(call: Callable[[], object], ticks: Iterator) -> Callable[[], object]:
    """``call`` that advances ``ticks`` (a progress bar's iterator) each time it runs."""

    def run():
        result = call()
        next(ticks, None)
        return result

    return run


def relative_error(output: torch.Tensor, reference: torch.Tensor) -> float:
    """max |output - reference| / max |reference| (0 when both are all zero)."""
    scale = float(reference.abs().max())
    difference = float((output - reference).abs().max())
    return difference / scale if scale else difference


def assemble(
    model: nn.Module,
    masks: dict[str, torch.Tensor],
    choices: dict[str, str],
    batchnorm_folds: Iterable[Sequence[str]] = (),
    memory_format: str = "contiguous",
) -> nn.Module:
    """A copy of masked ``model`` with masks baked, ``batchnorm_folds`` folded, laid out in
    ``memory_format`` and each layer of ``choices`` built as its kernel.

    The structure depends only on the model, the masks, the folds and the kernel names, so a
    compiled model is re-created from them and its weights load from a plain state_dict.
    """
    compiled = baked_copy(model).eval()
    fold_batchnorms(compiled, batchnorm_folds)
    in_memory_format(compiled, memory_format)  # before the kernels, which keep their weights as built
    for name, kernel in choices.items():
        if kernel == "dense":
            continue  # the baked copy already holds it
        if name not in masks:
            raise PruningError(f"kernel choice for layer {name!r}, which has no mask")
        try:
            built = KERNELS.get(kernel).build(compiled.get_submodule(name), masks[name])
        except KernelUnsuitable as reason:
            raise PruningError(f"kernel {kernel!r} does not fit layer {name}: {reason}") from None
        replace_module(compiled, name, built[0])
    return compiled


def _layer_inputs(model: nn.Module, names: list[str], example: torch.Tensor) -> dict[str, torch.Tensor]:
    captured: dict[str, torch.Tensor] = {}

    def hook_for(name):
        def hook(_module, args):
            captured.setdefault(name, args[0].detach())

        return hook

    handles = [model.get_submodule(name).register_forward_pre_hook(hook_for(name)) for name in names]
    try:
        model(example)
    finally:
        for handle in handles:
            handle.remove()
    return captured


def _synchronized(call: Callable[[], object], device: torch.device) -> Callable[[], object]:
    if device.type != "cuda":
        return call

    def run():
        result = call()
        torch.cuda.synchronize(device)
        return result

    return run


def _folded(
    dense: nn.Module, example: torch.Tensor, config: CompileConfig
) -> tuple[nn.Module, list[tuple[str, str]], list[str]]:
    """``dense`` with its inference BatchNorms folded (a copy; ``dense`` itself when none fold),
    the folds, and a notice where folding was skipped. A fold whose outputs differ from the
    unfolded model's by more than ``config.rtol`` is not kept."""
    if not config.fold_batchnorm:
        return dense, [], []
    folds, reason = batchnorm_folds(dense)
    if not folds:
        return dense, [], [reason] if reason else []
    folded = copy.deepcopy(dense)
    fold_batchnorms(folded, folds)
    error = relative_error(folded(example), dense(example))
    if error > config.rtol:
        return dense, [], [f"BatchNorm not folded: the folded model differs by {error:.1e} (relative)"]
    return folded, folds, []


def _choose_layer(
    name: str,
    module: nn.Module,
    mask: torch.Tensor,
    example: torch.Tensor,
    config: CompileConfig,
    timer: Timer,
    device: torch.device,
    memory_format: str,
) -> tuple[LayerChoice, nn.Module]:
    dense, _ = KERNELS.get("dense").build(module, mask)
    in_memory_format(dense, memory_format)
    reference = dense(example)
    built: dict[str, tuple[nn.Module, str]] = {"dense": (dense, "dense")}
    rejected: dict[str, str] = {}
    for kernel in config.candidates:
        try:
            made = KERNELS.get(kernel).build(module, mask)
        except KernelUnsuitable as reason:
            rejected[kernel] = str(reason)
            continue
        error = relative_error(made[0](example), reference)
        if error > config.rtol:
            rejected[kernel] = f"not exact (relative error {error:.1e})"
            continue
        built[kernel] = made
    seconds = timer(
        {kernel: _synchronized(lambda m=made[0]: m(example), device) for kernel, made in built.items()},
        config.repeats,
        config.warmup,
    )
    fastest = min(seconds, key=seconds.get)
    kernel = fastest if seconds["dense"] >= config.min_speedup * seconds[fastest] else "dense"
    density = float(mask.to(torch.bool).expand(module.weight.shape).float().mean())
    choice = LayerChoice(
        name, type(module).__name__, tuple(module.weight.shape), density, kernel, built[kernel][1], seconds, rejected
    )
    return choice, built[kernel][0]


def _choose_layers(
    dense: nn.Module,
    masks: dict[str, torch.Tensor],
    example: torch.Tensor,
    config: CompileConfig,
    timer: Timer,
    device: torch.device,
    progress: Callable[..., Iterable],
    notices: list[str],
    memory_format: str,
) -> tuple[list[LayerChoice], dict[str, nn.Module]]:
    """Each masked layer's choice and its built kernel, timed on the layer's input in ``dense``.
    A kernel keeps its weights as built (contiguous) whatever the model's ``memory_format``: on
    channels_last inputs a grouped convolution ran up to 1.5x faster so than with channels_last
    weights (docs/compile.md)."""
    layer_inputs = _layer_inputs(dense, list(masks), example)
    layers, kernels = [], {}
    for name in progress(list(masks), "timing layers"):
        if name not in layer_inputs:
            notices.append(f"{name}: masked but not called by the model's forward; left dense (baked)")
            continue
        choice, kernel = _choose_layer(
            name,
            dense.get_submodule(name),
            masks[name].to(device),
            layer_inputs[name],
            config,
            timer,
            device,
            memory_format,
        )
        layers.append(choice)
        kernels[name] = kernel
    return layers, kernels


def _native_notice(model: nn.Module, masks: dict[str, torch.Tensor], config: CompileConfig) -> list[str]:
    """One line where the native kernel was a candidate for a masked Conv2d but cannot be built here."""
    if "native" not in config.candidates or torch.device(config.device).type != "cpu":
        return []
    if not any(isinstance(model.get_submodule(name), nn.Conv2d) for name in masks):
        return []
    try:
        native_library()
    except NativeUnavailable as reason:
        return [f"the native kernel was left out: {reason}"]
    return []


def _all_dense(layers: list[LayerChoice]) -> list[LayerChoice]:
    """The same choices, each layer set back to dense (what the candidates measured is kept)."""
    return [replace(choice, kernel="dense", structure="dense") for choice in layers]


def in_memory_format(model: nn.Module, memory_format: str) -> nn.Module:
    """``model`` (changed in place) with its 4-D weights laid out as ``memory_format``."""
    if memory_format == "channels_last":
        model.to(memory_format=torch.channels_last)
    return model


def _memory_format(
    dense: nn.Module, example: torch.Tensor, config: CompileConfig, timer: Timer, device: torch.device, notices: list
) -> tuple[str, nn.Module]:
    """The layout the model is compiled in, and ``dense`` in it (``dense`` itself when contiguous).

    channels_last applies to image inputs through 2-D convolutions; ``auto`` keeps it only when the
    dense model runs faster in it by ``config.min_speedup``, as timed."""
    if config.memory_format == "contiguous":
        return "contiguous", dense
    if example.dim() != 4 or not any(isinstance(module, nn.Conv2d) for module in dense.modules()):
        if config.memory_format == "channels_last":
            notices.append("channels_last applies to image inputs through 2-D convolutions: compiled contiguous")
        return "contiguous", dense
    formatted = in_memory_format(copy.deepcopy(dense), "channels_last")
    if config.memory_format == "channels_last":
        return "channels_last", formatted
    seconds = timer(
        {
            "contiguous": _synchronized(lambda: dense(example), device),
            "channels_last": _synchronized(lambda: formatted(example), device),
        },
        config.repeats,
        config.warmup,
    )
    if seconds["contiguous"] >= config.min_speedup * seconds["channels_last"]:
        return "channels_last", formatted
    return "contiguous", dense


def compile_model(
    model: nn.Module,
    input_shape: tuple[int, ...],
    config: CompileConfig = CompileConfig(),
    timer: Timer = interleaved_medians,
    progress: Callable[..., Iterable] = lambda items, *_: items,
) -> CompileResult:
    """Compile a masked model (left unchanged) into an inference model of exact, faster layers.

    Parameters
    ----------
    model : nn.Module
        Masked with :func:`pruning.masking.apply_masks` (a loaded checkpoint or a fresh prune).
    input_shape : tuple of int
        One example's shape, (C, H, W) for images.
    config : CompileConfig
    timer : callable
        ``timer({name: call}, repeats, warmup) -> {name: seconds}``; tests pass a fake one.
    progress : callable
        ``progress(items, what)`` wraps the iterable of layers being timed, then that of the calls
        of the end-to-end timing (e.g. ``tqdm``).

    Raises
    ------
    PruningError
        If the model holds no masks, or the compiled model's outputs differ from the masked
        model's by more than ``config.rtol`` (relative to the largest output).
    """
    config.validate()
    masks = current_masks(model)
    if not masks:
        raise PruningError("the model holds no masks: there is nothing to compile")
    device = torch.device(config.device)
    generator = torch.Generator().manual_seed(config.seed)
    example = torch.randn((config.batch_size, *input_shape), generator=generator).to(device)
    masked = copy.deepcopy(model).to(device).eval()
    notices = _native_notice(model, masks, config)
    with torch.inference_mode():
        dense, folds, fold_notices = _folded(baked_copy(model).to(device).eval(), example, config)
        notices += fold_notices
        memory_format, formatted = _memory_format(dense, example, config, timer, device, notices)
        layers, kernels = _choose_layers(
            formatted, masks, example, config, timer, device, progress, notices, memory_format
        )
        compiled = copy.deepcopy(formatted)
        for layer in layers:
            if layer.kernel != "dense":
                replace_module(compiled, layer.name, kernels[layer.name])
        reference = masked(example)
        models = {"masked": masked, "dense": dense, "compiled": compiled}
        if formatted is not dense:
            models["dense_same_format"] = formatted
        calls = iter(progress(range(len(models) * (config.warmup + config.repeats)), "timing the whole model"))
        end_to_end = timer(
            {name: _counted(_synchronized(lambda m=m: m(example), device), calls) for name, m in models.items()},
            config.repeats,
            config.warmup,
        )
        for _ in calls:  # candidates dropped after the first round: the bar ends full
            pass
        same_format = "dense_same_format" if formatted is not dense else "dense"
        if all(layer.kernel == "dense" for layer in layers):
            end_to_end["compiled"] = end_to_end[same_format]  # the very same computation; noise is not a result
        elif end_to_end["compiled"] >= end_to_end[same_format]:
            notices.append(
                "structured kernels won layer by layer but lost end to end "
                f"({end_to_end[same_format] / end_to_end['compiled']:.2f}x): every layer kept dense"
            )
            layers = _all_dense(layers)
            compiled, end_to_end["compiled"] = formatted, end_to_end[same_format]
        if formatted is not dense and config.memory_format == "auto" and end_to_end["compiled"] >= end_to_end["dense"]:
            notices.append(
                f"{memory_format} lost end to end ({end_to_end['dense'] / end_to_end['compiled']:.2f}x the contiguous "
                "dense model): compiled as the contiguous dense model"
            )
            layers = _all_dense(layers)
            compiled, end_to_end["compiled"], memory_format = dense, end_to_end["dense"], "contiguous"
            end_to_end.pop("dense_same_format")
        error = relative_error(compiled(example), reference)
    if error > config.rtol:
        raise PruningError(
            f"compiled model differs from the masked model by {error:.1e} (relative), more than {config.rtol:g}"
        )
    return CompileResult(
        compiled,
        layers,
        end_to_end["masked"],
        end_to_end["dense"],
        end_to_end["compiled"],
        error,
        notices,
        folds,
        memory_format,
        end_to_end.get("dense_same_format"),
    )


def write_compiled(
    directory: str | Path, result: CompileResult, masks: dict[str, torch.Tensor], metadata: dict
) -> dict[str, Path]:
    """Write a compiled model: ``model.pt`` (its state_dict), ``masks.npz`` and ``compile.json``.

    ``compile.json`` holds ``metadata`` (how to rebuild the model: zoo name, options, input size,
    classes), the kernel chosen per layer and every time measured. Each file is written
    atomically; the JSON last, so a directory with ``compile.json`` is complete.
    """
    state = {key: value.detach().cpu() for key, value in result.model.state_dict().items()}
    document = {
        **metadata,
        "kernels": result.choices,
        "masks_sha256": masks_sha256(masks),
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        **result.to_dict(),
    }
    return write_compiled_files(directory, state, masks, document)


#: Kernels whose layers multiply by torch sparse tensors, and their modules.
SPARSE_KERNELS = ("csr", "bsr")
SPARSE_LAYERS = (SparseLinear, SparsePointwiseConv, BlockSparseLinear)


@functools.cache
def sparse_export_support() -> str | None:
    """None when this torch can ``torch.export`` a sparse CSR layer, else the reason it cannot.

    Measured once per process on a 4x4 layer: torch 2.14 fails inside ``torch.export`` ("Values
    and compressed tensor instance need to be on the same device"), 2.11 and 2.15 export it.
    """
    module, _ = KERNELS.get("csr").build(nn.Linear(4, 4), torch.eye(4, dtype=torch.bool))
    torch_logger = logging.getLogger("torch")
    level = torch_logger.level
    torch_logger.setLevel(logging.CRITICAL)  # a failing probe logs torch's own traceback otherwise
    try:
        torch.export.export(module.eval(), (torch.randn(2, 4),))
    except Exception as failure:  # noqa: BLE001 - torch.export raises many types; the first line says what failed
        return _first_line(failure)
    finally:
        torch_logger.setLevel(level)
    return None


def _first_line(failure: BaseException) -> str:
    return str(failure).strip().splitlines()[0] if str(failure).strip() else type(failure).__name__


def uses_sparse_kernels(model: nn.Module) -> bool:
    """Whether a compiled model holds a layer that multiplies by a torch sparse (CSR or BSR) matrix."""
    return any(isinstance(module, SPARSE_LAYERS) for module in model.modules())


def export_program(
    model: nn.Module, input_shape: tuple[int, ...], path: str | Path, batch_size: int
) -> tuple[Path, bool]:
    """``torch.export`` ``model`` and save the program to ``path``, atomically.

    The batch dimension is dynamic where torch can trace it so; a model with a CSR or BSR layer
    (torch's fake tensors have no sparse matmul) is exported at ``batch_size``. Returns the path and
    whether the batch is dynamic.
    """

    def export(dynamic: bool):
        example = torch.randn((batch_size if not dynamic else 2, *input_shape))
        shapes = ({0: torch.export.Dim("batch")},) if dynamic else None
        return torch.export.export(model.eval(), (example,), dynamic_shapes=shapes)

    if uses_sparse_kernels(model) and sparse_export_support() is not None:
        raise PruningError(
            f"torch {torch.__version__} cannot torch.export sparse CSR/BSR layers ({sparse_export_support()}); "
            f"the compiled model is written without model.pt2 (compile with --kernels other than "
            f"{', '.join(SPARSE_KERNELS)} to export it)"
        )
    try:
        try:
            program, dynamic = export(True), True
        except Exception:  # noqa: BLE001 - any tracing failure: retry at a fixed batch size
            program, dynamic = export(False), False
    except Exception as failure:  # noqa: BLE001 - torch.export raises many types; the first line says what failed
        raise PruningError(f"torch.export failed on the compiled model: {_first_line(failure)}") from None
    with atomic_open(path, "wb") as handle, warnings.catch_warnings():
        if all(tensor.device.type == "cpu" for tensor in model.state_dict().values()):
            # torch calls a channels_last weight "incomplete" (not plainly contiguous) and warns that
            # this may matter off the CPU; on the CPU it is saved whole (the tests load it back)
            warnings.filterwarnings("ignore", message="No complete tensor found in the group")
        torch.export.save(program, handle)
    return Path(path), dynamic


def report_rows(record: dict) -> list[dict]:
    """One row per masked layer of a compile record (``compile.json`` or ``CompileResult.to_dict()``):
    mask density, chosen kernel and its layout, dense and chosen times (ms), speed-up, and what
    every other candidate measured or why it was not timed."""
    rows = []
    for layer in record["layers"]:
        seconds, kernel = layer["seconds"], layer["kernel"]
        others = [f"{name} {1e3 * value:.3g}" for name, value in seconds.items() if name not in ("dense", kernel)]
        others += [f"{name}: {reason}" for name, reason in layer.get("rejected", {}).items()]
        rows.append(
            {
                "layer": layer["name"],
                "type": layer["type"],
                "shape": "x".join(map(str, layer["shape"])),
                "density": round(layer["density"], 4),
                "kernel": kernel,
                "structure": layer["structure"],
                "dense_ms": round(1e3 * seconds["dense"], 3),
                "chosen_ms": round(1e3 * seconds[kernel], 3),
                "speedup": round(layer["speedup"], 2),
                "other candidates (ms)": "; ".join(others),
            }
        )
    return rows


def report_summary(record: dict) -> str:
    """The end-to-end line of a compile record: kernels used and the latency ratios."""
    end = record["end_to_end"]
    counts: dict[str, int] = {}
    for layer in record["layers"]:
        counts[layer["kernel"]] = counts.get(layer["kernel"], 0) + 1
    kernels = ", ".join(f"{name} x{count}" for name, count in sorted(counts.items()))
    batch = record.get("batch_size")
    at = f" at batch {batch} on {record.get('device', 'cpu')} ({record.get('threads')} threads)" if batch else ""
    return (
        f"{len(record['layers'])} masked layer(s): {kernels}. End to end{at}: {1e3 * end['compiled_seconds']:.3g} ms "
        "per forward, "
        f"{end['ratio_vs_dense']:.2f}x the baked dense model ({1e3 * end['dense_seconds']:.3g} ms), "
        f"{end['ratio_vs_masked']:.2f}x the masked model ({1e3 * end['masked_seconds']:.3g} ms)"
        + _format_clause(record)
    )


def _format_clause(record: dict) -> str:
    """What the summary adds for a model compiled channels_last: the dense model in that layout."""
    same = record["end_to_end"].get("dense_same_format_seconds")
    if not same:
        return ""
    return (
        f"; laid out {record['memory_format']}, where the baked dense model takes {1e3 * same:.3g} ms "
        f"({record['end_to_end']['ratio_vs_dense_same_format']:.2f}x from the kernels)"
    )
