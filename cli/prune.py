"""``prune``: turn plans into per-layer masks on PyTorch models and inspect masked models."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import pandas as pd
from tqdm import tqdm

from cli.config_options import SectionedCommand, schema_options
from cli.options import (
    ModelName,
    comma_list,
    format_option,
    friendly_errors,
    input_size_option,
    model_name_help,
    model_option,
    seed_option,
)
from common import __version__
from common.jsonio import json_text
from common.schema import sections
from common.tables import to_table
from pruning.accounting import PruneSummary, channel_view, summarize, summarize_state_dict
from pruning.apply import prune_model, write_outputs
from pruning.compile import (
    MEMORY_FORMATS,
    CompileConfig,
    compile_model,
    export_program,
    report_rows,
    report_summary,
    write_compiled,
)
from pruning.errors import PruningError
from pruning.expander import refuse_dense_label
from pruning.kernels import KERNELS
from pruning.layers import LayerSelection
from pruning.mask_rules import DENSE, MASK_RULES, RELATIONAL, MaskConfig
from pruning.masking import current_masks, load_masked_state_dict, masks_in_state_dict
from pruning.network_graph import network_graph as build_network_graph
from pruning.outputs import COMPILE_FILE, EXPORT_FILE, check_apply_target, refuse_writing_into_source, summary_csv
from pruning.storage import load_masks, load_state
from topology.build import PlanDraft, save_drafts
from topology.discovery import is_plan_npz
from topology.plans import EXTENSIONS, Plan, load_plan, save_plan
from trainer.compiled import ModelSpec, compile_metadata, load_compiled, load_masked_model, read_compile_record
from trainer.config import MASKING, TrainConfig
from trainer.models import MODELS, build_model
from trainer.models.dense_equivalent import dense_equivalent_costs

TABLE_COLUMNS = [
    "name",
    "type",
    "shape",
    "masked",
    "density",
    "weights_kept",
    "weights_total",
    "macs_kept",
    "macs_total",
    "isolated_inputs",
    "isolated_outputs",
    "ramanujan_margin",
]


def _counted_at(summary: PruneSummary, classes: int | None) -> str:
    """``; input 1x28x28, 10 classes``: what the MACs were counted for."""
    if not summary.input_shape:
        return ""
    shape = "x".join(map(str, summary.input_shape))
    return f"; input {shape}" + (f", {classes} classes" if classes else "")


def _render(
    summary: PruneSummary,
    fmt: str,
    nominal: dict | None = None,
    dense: dict | None = None,
    classes: int | None = None,
) -> str:
    if fmt == "csv":
        return summary_csv(summary)
    if fmt == "json":
        return json_text(summary.to_dict())
    frame = pd.DataFrame(summary.rows(), dtype=object)
    table = to_table(frame[[c for c in TABLE_COLUMNS if c in frame.columns]]).rstrip("\n")
    scope = (
        ""
        if summary.input_shape or summary.params_total > sum(layer.weights_total for layer in summary.layers)
        else " (masked layers only)"
    )
    lines = [
        table,
        f"params kept {summary.params_kept:,} of {summary.params_total:,} "
        f"({100 * summary.params_fraction:.2f}%){scope}",
    ]
    if summary.macs_total:
        lines.append(
            f"MACs kept {summary.macs_kept:,} of {summary.macs_total:,} per example "
            f"({100 * summary.macs_kept / summary.macs_total:.2f}%{_counted_at(summary, classes)}); "
            f"FLOPs (2 x MACs) kept {summary.flops_kept:,} of {summary.flops_total:,}"
        )
    shared = summary.shared_layers
    if shared:
        lines.append(
            f"shared: {len(shared)} module(s) called {sum(layer.uses for layer in shared)} times per example; params "
            "count each once "
            f"(with a copy per use: {summary.params_unshared:,}), MACs count every call"
        )
    if dense:
        lines.append(
            f"dense equivalent {dense['model']}: params {dense['params']:,}, MACs {dense['macs']:,} per example "
            f"(this model: {100 * summary.params_kept / dense['params']:.1f}% of its params, "
            f"{100 * summary.macs_kept / dense['macs']:.1f}% of its MACs)"
        )
    if nominal:
        macs = f", MACs {nominal['macs']:,.0f}" if nominal.get("macs") else ""
        lines.append(
            f"nominal (the paper's dense / e, e = {nominal['expand']:g}): params {nominal['params']:,.0f}{macs}; "
            "counted above, from the masks (stem, transitions and classifier stay dense)"
        )
    return "\n".join(lines) + "\n"


#: The masking options ``prune apply`` shares with ``train`` (declared once, in TrainConfig's
#: masking section; the plan, recipe and seed are spelled as this command's own).
SHARED_MASKING_FIELDS = tuple(
    field.name
    for field in sections(TrainConfig)[MASKING]
    if field.setting.cli and field.name not in ("plan", "recipe", "masks", "like", "mask_seed")
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="topoprune")
def prune() -> None:
    """Turn plans into per-layer masks on PyTorch models and account for what is kept."""


@prune.command(cls=SectionedCommand)
@click.option(
    "--plan",
    "plan_path",
    type=click.Path(path_type=Path),
    help=f"Plan file (any of {'/'.join(EXTENSIONS)}); required by --recipe relational.",
)
@click.option("--model", "model_name", type=ModelName(MODELS), required=True, help=model_name_help(MODELS))
@model_option()
@click.option(
    "--recipe",
    type=click.Choice(sorted(MASK_RULES)),
    default=RELATIONAL,
    show_default=True,
    help="How each layer's mask is made.",
)
@schema_options(TrainConfig, only=SHARED_MASKING_FIELDS)
@input_size_option()
@click.option("--num-classes", type=int, default=10, show_default=True, help="Outputs of the model's classifier.")
@seed_option(help_text="Mask seed: block permutations and per-layer graphs derive from it.")
@click.option(
    "--out",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory for model.pt, masks.npz, summary.csv and summary.json.",
)
@click.option("--force", is_flag=True, help="Write into --out even when it holds other files (e.g. a run directory).")
@format_option()
@friendly_errors
def apply(
    plan_path,
    model_name,
    model_options,
    recipe,
    degree,
    density,
    self_loops,
    nodes_policy,
    prune_first,
    prune_last,
    include,
    exclude,
    degree_side,
    degree_overflow,
    best_of,
    select_by,
    input_shape,
    num_classes,
    seed,
    out,
    force,
    fmt,
) -> None:
    """Mask a model from the zoo with a plan (or a per-layer recipe) and write it out.

    \b
    Examples:
      prune apply --plan plans/rreg_n64_d4_s0.npy --model cresnet18 --out pruned/
      prune apply --recipe xnet --degree 8 --model mlp --input-size 1x28x28 --out pruned-xnet/
    """
    check_apply_target(out, force)
    plan = load_plan(plan_path) if plan_path else None
    selection = LayerSelection(prune_first, prune_last, tuple(include), tuple(exclude))
    config = MaskConfig(
        recipe,
        plan,
        degree,
        density,
        seed,
        self_loops,
        nodes_policy,
        selection,
        degree_side,
        best_of,
        select_by,
        degree_overflow=degree_overflow or "error",
    )
    try:
        config.validate()
    except PruningError as error:  # which options go together: a usage error
        raise click.UsageError(str(error)) from None
    model = build_model(model_name, input_shape, num_classes, **model_options)
    if recipe == DENSE:
        refuse_dense_label(model, model_name)
    result = prune_model(model, config, input_shape)
    dense = dense_equivalent_costs(model, input_shape, num_classes)
    metadata = {
        "plan": str(plan_path) if plan_path else None,
        "plan_sha256": plan.sha256 if plan else None,
        "model": model_name,
        "model_options": model_options,
        "num_classes": num_classes,
        "recipe": recipe,
        "degree": degree,
        "density": density,
        "mask_seed": seed,
        "self_loops": self_loops,
        "nodes_policy": nodes_policy,
        "degree_side": degree_side,
        "degree_overflow": degree_overflow,
        "best_of": best_of,
        "select_by": select_by if best_of > 1 else None,
        "dense_equivalent": dense,
        "topoprune_version": __version__,
    }
    written = write_outputs(out, model, result, metadata)
    for notice in result.notices:
        click.echo(f"notice: {notice}", err=True)
    click.echo(_render(result.summary, fmt, result.nominal, dense, num_classes), nl=False)
    click.echo(f"wrote {', '.join(str(path) for path in written.values())}", err=True)


@prune.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.option(
    "--model",
    "model_name",
    type=ModelName(MODELS),
    help="Rebuild this model to count MACs (needs a checkpoint); a zoo name, tv:NAME or timm:NAME.",
)
@model_option()
@input_size_option(default=None)
@click.option(
    "--num-classes", type=int, default=10, show_default=True, help="Outputs of the model's classifier (with --model)."
)
@click.option(
    "--export",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write each layer's channel mask as a bipartite plan into this directory.",
)
@click.option(
    "--network-graph", is_flag=True, help="Write the whole network's channel graph as a plan (G.npz + G.json) to --out."
)
@click.option(
    "--out",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --network-graph: the plan to write (G or G.npz).",
)
@format_option()
@friendly_errors
def inspect(source, model_name, model_options, input_shape, num_classes, export, network_graph, out, fmt) -> None:
    """Summarise a masked model checkpoint (.pt) or a masks file (.npz).

    Checkpoints saved by topoprune and by torch.nn.utils.prune (weight_orig + weight_mask) are
    both read. With --model and --input-size, MACs are counted too.

    With --network-graph, SOURCE may also be a run directory or a prune apply output: the
    graph of every channel of every conv and Linear layer (masked or dense), joined by the kept
    connections between consecutive layers and across skip connections, is written as a plan
    whose JSON names each layer's node range; `topo analyze G.npz` scores it.

    \b
    Examples:
      prune inspect pruned/model.pt --export layer-graphs/
      prune inspect runs/3f2a9c --network-graph --out net
      topo analyze net.npz --sample-sources 256
    """
    if network_graph:
        _write_network_graph(
            source, out, ModelSpec(model_name, model_options, input_shape, num_classes if model_name else None)
        )
        return
    if out is not None:
        raise click.UsageError("--out goes with --network-graph")
    if source.suffix in (".npy", ".csv", ".json", ".edges") or (source.suffix == ".npz" and is_plan_npz(source)):
        raise click.UsageError(
            f"{source} looks like a plan file; prune inspect reads masked models (.pt) or masks (.npz)"
        )
    dense = None
    if source.suffix == ".npz":
        if model_name:
            raise click.UsageError("--model needs a checkpoint (.pt), not a masks file")
        masks, state = load_masks(source), {}
    else:
        state = load_state(source)
        masks = masks_in_state_dict(state)
    if not masks:
        raise PruningError(f"{source}: holds no masks")
    if model_name:
        if not input_shape:
            raise click.UsageError("--model needs --input-size to count MACs")
        model = load_masked_state_dict(build_model(model_name, input_shape, num_classes, **model_options), state)
        summary = summarize(model, input_shape)
        dense = dense_equivalent_costs(model, input_shape, num_classes)
    else:
        summary = summarize_state_dict(state, masks)
    if export:
        drafts = [
            PlanDraft(
                name.replace(".", "_"),
                channel_view(mask).numpy().astype("uint8"),
                "mask",
                {"layer": name, "source": str(source)},
            )
            for name, mask in masks.items()
        ]
        save_drafts(drafts, export, kind="bipartite")
        click.echo(f"exported {len(drafts)} layer mask(s) as bipartite plans to {export}", err=True)
    click.echo(_render(summary, fmt, dense=dense, classes=num_classes if model_name else None), nl=False)


def _write_network_graph(source: Path, out: Path | None, spec: ModelSpec) -> None:
    if out is None:
        raise click.UsageError("--network-graph needs --out G (writes G.npz and G.json)")
    model, spec, checkpoint = load_masked_model(source, spec)
    graph = build_network_graph(model, spec.input_shape)
    params = {
        "model": spec.model,
        "model_options": spec.model_options,
        "input_size": list(spec.input_shape),
        "source": str(checkpoint),
        "layers": [{"name": name, "start": start, "stop": stop} for name, start, stop in graph.layers],
    }
    stem = out.with_suffix("") if out.suffix in (".npz", ".json") else out
    path = save_plan(
        Plan(graph.adjacency, generator="network-graph", params=params), stem.parent, stem.name, ("npz", "json")
    )
    masked = len(current_masks(model))
    click.echo(
        f"network graph of {spec.model}: {graph.nodes:,} channel nodes, {graph.adjacency.nnz // 2:,} edges, "
        f"{len(graph.layers) - 1} layers "
        f"({masked} masked); wrote {path} and {path.with_suffix('.json')}"
    )


def _render_compile(record: dict, fmt: str, table: bool) -> str:
    if fmt == "json":
        return json_text(record)
    rows = pd.DataFrame(report_rows(record))
    if fmt == "csv":
        return rows.to_csv(index=False, lineterminator="\n")
    lines = [to_table(rows).rstrip("\n")] if table else []
    lines += [f"notice: {notice}" for notice in record.get("notices", [])]
    lines.append(report_summary(record))
    return "\n".join(lines) + "\n"


@prune.command(name="compile")
@click.argument("source", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for compile.json, model.pt and masks.npz (needed unless SOURCE is already compiled).",
)
@click.option(
    "--model",
    "model_name",
    type=ModelName(MODELS),
    help="Model of a bare checkpoint (runs and prune apply outputs record theirs): a zoo name, tv:NAME or timm:NAME.",
)
@model_option()
@input_size_option(
    default=None, purpose="the kernels are timed at it (default: the size the run or prune apply recorded)"
)
@click.option("--num-classes", type=int, help="Outputs of the classifier of a bare checkpoint.")
@click.option(
    "--batch-size",
    type=click.IntRange(1),
    default=32,
    show_default=True,
    help="Examples per forward the kernels are timed at.",
)
@click.option(
    "--device", default="cpu", show_default=True, help="Device the kernels are timed and run on (cpu, cuda, cuda:1)."
)
@click.option(
    "--kernels",
    multiple=True,
    callback=comma_list,
    help="Candidate kernels besides dense, comma-separated (default all: "
    f"{', '.join(k for k in KERNELS if k != 'dense')}).",
)
@click.option(
    "--repeats",
    type=click.IntRange(1),
    default=15,
    show_default=True,
    help="Timed forwards per candidate (the median counts).",
)
@click.option(
    "--min-speedup",
    type=click.FloatRange(1.0),
    default=1.05,
    show_default=True,
    help="A structured kernel replaces dense only when this much faster.",
)
@click.option(
    "--keep-batchnorm",
    is_flag=True,
    help="Keep inference BatchNorm layers as they are (default: fold each into the Linear or "
    "convolution feeding it, in the compiled and the dense reference model alike).",
)
@click.option(
    "--memory-format",
    type=click.Choice(MEMORY_FORMATS),
    default="auto",
    show_default=True,
    help="Layout of an image model's tensors: auto times the dense model contiguous (NCHW) and "
    "channels_last (NHWC) and keeps the faster.",
)
@click.option(
    "--report",
    is_flag=True,
    help="Print the per-layer table: mask, chosen kernel, dense vs chosen time, every candidate.",
)
@click.option(
    "--torch-export",
    is_flag=True,
    help="Also write model.pt2, the compiled model through torch.export (for deployment).",
)
@seed_option(help_text="Seed of the random input the kernels are timed on.")
@format_option()
@friendly_errors
def compile_command(
    source,
    out,
    model_name,
    model_options,
    input_shape,
    num_classes,
    batch_size,
    device,
    kernels,
    repeats,
    min_speedup,
    keep_batchnorm,
    memory_format,
    report,
    torch_export,
    seed,
    fmt,
) -> None:
    """Turn a masked model into an inference model whose layers run as fast as measured here.

    SOURCE is a run directory, a prune apply output, or a masked checkpoint (.pt; then give
    --model, --input-size and --num-classes). Each masked layer gets the fastest exact kernel
    timed on this machine at --batch-size; one that would lose stays dense. With SOURCE a
    compiled directory and no --out, --report prints what it measured.

    \b
    Examples:
      prune compile runs/3f2a9c --out compiled/ --batch-size 256 --report
      prune compile compiled/ --report
    """
    if (source / COMPILE_FILE).is_file() and out is None:
        click.echo(_render_compile(read_compile_record(source), fmt, table=True), nl=False)
        return
    if source.suffix in (".npy", ".csv", ".json", ".npz", ".edges"):
        raise click.UsageError(
            f"{source} is not a masked model; prune compile reads a run directory, a prune apply output or a .pt "
            "checkpoint"
        )
    if out is None:
        raise click.UsageError(
            "--out is required to compile (only an already compiled SOURCE can be reported without it)"
        )
    refuse_writing_into_source(out, source)
    config = CompileConfig(
        batch_size,
        device,
        tuple(kernels or ()),
        repeats,
        min(2, repeats),
        min_speedup,
        seed=seed,
        fold_batchnorm=not keep_batchnorm,
        memory_format=memory_format,
    )
    config.validate()
    model, spec, checkpoint = load_masked_model(source, ModelSpec(model_name, model_options, input_shape, num_classes))
    masks = current_masks(model)

    def wrap(items, what):
        unit = "layer" if what == "timing layers" else "call"
        return tqdm(items, desc=what, unit=unit, file=sys.stderr, leave=False, disable=not sys.stderr.isatty())

    if masks:  # (without masks compile_model says there is nothing to compile)
        click.echo(
            f"compiling {len(masks)} masked layer(s) of {spec.model}: timing every candidate kernel at batch "
            f"{batch_size} on {device}, then the whole model end to end",
            err=True,
        )
    result = compile_model(model, spec.input_shape, config, progress=wrap)
    metadata = compile_metadata(spec, source, checkpoint, config, batch_size, device)
    written = [str(path) for path in write_compiled(out, result, masks, metadata).values()]
    if torch_export:
        program, dynamic = export_program(load_compiled(out), spec.input_shape, out / EXPORT_FILE, batch_size)
        written.append(
            str(program)
            + (
                ""
                if dynamic
                else f" (batch fixed at {batch_size}: a sparse CSR/BSR layer does not trace with a dynamic batch)"
            )
        )
    click.echo(_render_compile(read_compile_record(out), fmt, table=report), nl=False)
    click.echo(f"wrote {', '.join(written)}", err=True)


def main() -> None:
    """Console entry point of ``prune``."""
    prune()


if __name__ == "__main__":
    main()
