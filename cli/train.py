"""``train``: train and evaluate a masked model and append one row to results.csv."""

from __future__ import annotations

import dataclasses
import functools
import sys
from pathlib import Path

import click
from click.core import ParameterSource
from tqdm import tqdm

from cli.config_files import config_file_options, config_text
from cli.executors import executor_config, executor_options, run_jobs, show_status
from cli.options import ModelName, equals_pairs, friendly_errors, model_name_help, model_option
from cli.options import comma_list as comma_list_option
from common import __version__
from pruning.edropout import FREEZE_RULES
from pruning.edropout_energy import ENERGY_BN_MODES
from pruning.edropout_units import COVERAGES
from pruning.recipes import DEGREE_SIDES, NODES_POLICIES, SELECT_BY
from trainer import rundir
from trainer.config import OPTIMIZER_NAMES, SCHEDULE_NAMES, TrainConfig
from trainer.data import DATASETS
from trainer.ddp import distributed_from_environment, launch
from trainer.errors import TrainError
from trainer.evaluation import CheckpointEvaluation, evaluate_checkpoint
from trainer.identity import config_hash, identify
from trainer.models import MODELS, model_option_names
from trainer.models.orthogonality import ORTH_SCOPES
from trainer.recipes import RECIPES, grid_recipes
from trainer.run import RunOutcome, TrainInterrupted, resume_training, run_training
from trainer.rundir import results_path
from trainer.sweep import SweepGrid, shard_of, sweep_jobs, sweep_status, unusable_jobs
from trainer.widths import parse_mac_budget

#: Results columns printed after a run (all of them are in results.csv).
SHOWN = (
    "run_id",
    "config_hash",
    "plan",
    "generator",
    "nodes",
    "degree",
    "aspl",
    "model",
    "dataset",
    "recipe",
    "density",
    "params_kept",
    "params_total",
    "macs_kept",
    "macs_budget",
    "width",
    "epochs",
    "best_epoch",
    "best_val_acc",
    "best_acc",
    "best_top5",
    "final_acc",
    "test_loss",
    "train_seconds",
)


class DefaultGroup(click.Group):
    """A group that runs ``default_command`` when the first argument is not a subcommand."""

    default_command = "run"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h", "--version")):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


def _int_tuple(_ctx, _param, value: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"expected comma-separated epochs, got {value!r}") from None


def _mac_budget(_ctx, _param, value: str | None):
    if value is None:
        return None
    try:
        return parse_mac_budget(value)
    except TrainError as error:
        raise click.BadParameter(str(error)) from None


def training_options(func):
    """The options that describe one training configuration (shared by ``train`` and ``train sweep``)."""
    options = [
        click.option("--model", type=ModelName(MODELS), default="mlp", show_default=True, help=model_name_help(MODELS)),
        model_option(),
        click.option(
            "--match-macs",
            callback=_mac_budget,
            metavar="dense|MACS",
            help="Choose the width (model option) whose counted MACs, masks included, are closest to this budget: "
            "'dense' (the unmasked model at its default width) or MACs per example, e.g. 2.5e6.",
        ),
        click.option(
            "--width-step",
            type=click.IntRange(1),
            default=1,
            show_default=True,
            help="With --match-macs: widths searched in steps of this many channels (e.g. the plan's node count for "
            "equal blocks).",
        ),
        click.option(
            "--orth-lambda",
            type=click.FloatRange(0),
            metavar="LAMBDA",
            help="Weight of the orthogonality regulariser of shared filter bases (model option orth_lambda; default "
            "10 for the *_shared models, 0 turns it off).",
        ),
        click.option(
            "--orth-scope",
            type=click.Choice(ORTH_SCOPES),
            help="Orthogonality regulariser: the shared bases only, or also each layer's unique filters against them "
            "and themselves (model option orth_scope; default as the paper's scripts: all for the CIFAR-10 "
            "resnet32/56_shared, shared for the others).",
        ),
        click.option(
            "--dataset",
            type=click.Choice(sorted(DATASETS)),
            default="fashion-mnist",
            show_default=True,
            help="Data set (never downloaded).",
        ),
        click.option(
            "--data-dir", type=click.Path(file_okay=False, path_type=Path), help="Where the data set's files are."
        ),
        click.option(
            "--recipe",
            type=click.Choice(sorted(RECIPES)),
            help="How the masks are made (default: masks with --masks, relational with --plan, xnet with --degree or "
            "--density, model for X-Net models, else dense): "
            + "; ".join(f"{name}: {recipe.summary}" for name, recipe in sorted(RECIPES.items()))
            + ".",
        ),
        click.option(
            "--like",
            type=click.Path(path_type=Path),
            help="random-filters: the run (or masks) whose kept filters per layer to match.",
        ),
        click.option("--degree", type=int, help="Per-layer recipes: inputs kept per output channel."),
        click.option("--density", type=float, help="Per-layer recipes: fraction of connections kept."),
        click.option("--self-loops", is_flag=True, help="relational: A + I (graph2nn) instead of A (RGP)."),
        click.option(
            "--nodes-policy",
            type=click.Choice(NODES_POLICIES),
            default="error",
            show_default=True,
            help="relational: layers narrower than the plan.",
        ),
        click.option("--prune-first", is_flag=True, help="Also mask the first prunable layer."),
        click.option("--prune-last", is_flag=True, help="Also mask the classifier."),
        click.option(
            "--include",
            multiple=True,
            help="Only mask layers matching this glob (repeatable); edropout: the layers it gates instead of every "
            "conv and the classifier.",
        ),
        click.option(
            "--exclude",
            multiple=True,
            help="Leave layers matching this glob dense (repeatable); edropout: layers it does not gate.",
        ),
        click.option("--epochs", type=int, default=5, show_default=True, help="Passes over the training split."),
        click.option("--batch-size", type=int, default=128, show_default=True, help="Examples per step (per process)."),
        click.option("--optimizer", type=click.Choice(OPTIMIZER_NAMES), default="sgd", show_default=True),
        click.option("--lr", type=float, default=0.1, show_default=True, help="Peak learning rate."),
        click.option("--momentum", type=float, default=0.9, show_default=True),
        click.option("--nesterov", is_flag=True, help="Nesterov momentum (sgd)."),
        click.option("--weight-decay", type=float, default=5e-4, show_default=True),
        click.option("--schedule", type=click.Choice(SCHEDULE_NAMES), default="cosine", show_default=True),
        click.option(
            "--step-size", type=int, default=30, show_default=True, help="step schedule: epochs between decays."
        ),
        click.option(
            "--milestones", default="", callback=_int_tuple, help="multistep schedule: comma-separated epochs."
        ),
        click.option("--gamma", type=float, default=0.1, show_default=True, help="step/multistep decay factor."),
        click.option("--warmup-epochs", type=float, default=0.0, show_default=True),
        click.option("--label-smoothing", type=float, default=0.0, show_default=True),
        click.option("--amp", is_flag=True, help="Mixed precision (bfloat16 on CPU, float16 on CUDA)."),
        click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N."),
        click.option("--threads", type=int, help="Torch threads per process."),
        click.option(
            "--val-fraction",
            type=float,
            default=0.1,
            show_default=True,
            help="Held out of training for model selection; 0 trains on every training example and reports the final "
            "epoch (the row's model_selection says so). Data sets with their own validation split (flowers102) use it.",
        ),
        click.option(
            "--split-seed", type=int, default=0, show_default=True, help="Seed of the train/validation split."
        ),
        click.option("--max-train", type=int, help="Use only the first N training examples."),
        click.option(
            "--max-test",
            type=int,
            help="Use only the first N test examples (quick checks; the row's identity records it, so such runs "
            "never mix with full ones).",
        ),
        click.option(
            "--augment",
            metavar="POLICY",
            help="Training augmentation, steps in order, comma-separated: standard (the data set's crop and flip), "
            "cutout[:16], rotate[:15], autoaugment, trivialaugment, or none (default: standard for CIFAR and image "
            "folders, none for the MNIST-likes), e.g. standard,cutout:16.",
        ),
        click.option("--no-augment", is_flag=True, help="No training augmentation (--augment none)."),
        click.option(
            "--image-size",
            type=click.IntRange(8),
            metavar="N",
            help="Square image side: the crop of image-file data sets (training: random resized crop; evaluation: "
            "shorter side to N/0.875, centre crop; defaults: imagenet, flowers102, imagefolder 224, tiny-imagenet 64) "
            "or a resize of in-memory ones (28 -> 32 upscales Fashion-MNIST as EDropout does).",
        ),
        click.option(
            "--workers",
            type=click.IntRange(0),
            default=2,
            show_default=True,
            help="Loader worker processes for image-file data sets (batches are the same for any number).",
        ),
        click.option(
            "--channels-last", is_flag=True, help="Model and batches in channels-last memory format (faster on GPUs)."
        ),
        click.option(
            "--degree-side",
            type=click.Choice(DEGREE_SIDES),
            default="outputs",
            show_default=True,
            help="Per-layer recipes: the side whose channels have exactly --degree connections (outputs: d inputs "
            "each; inputs: d outputs each; larger: the wider side).",
        ),
        click.option(
            "--best-of",
            type=click.IntRange(1),
            default=1,
            show_default=True,
            help="Per-layer recipes: draw N graphs per layer and keep the best by --select-by.",
        ),
        click.option(
            "--select-by",
            type=click.Choice(SELECT_BY),
            default="vertex_expansion",
            show_default=True,
            help="Layer-graph metric --best-of maximises.",
        ),
        click.option(
            "--mask-seed", type=int, default=0, show_default=True, help="Seed of the masks (and of EDropout's search)."
        ),
        click.option(
            "--edropout-population",
            type=click.IntRange(4),
            default=8,
            show_default=True,
            help="EDropout: candidate states.",
        ),
        click.option(
            "--edropout-warmup",
            type=click.IntRange(0),
            help="EDropout: epochs before the state may freeze (default: half the epochs).",
        ),
        click.option(
            "--edropout-coverage",
            type=click.Choice(COVERAGES),
            default=COVERAGES[0],
            show_default=True,
            help="EDropout: which layers a state gates. paper: the public code's (each residual block's conv2 but "
            "the first, and the classifier's inputs; models without such blocks: hidden); all-convs: every conv and "
            "the classifier's inputs; hidden: every conv and every Linear's inputs but the first layer's.",
        ),
        click.option(
            "--edropout-energy-bn",
            type=click.Choice(ENERGY_BN_MODES),
            default=ENERGY_BN_MODES[0],
            show_default=True,
            help="EDropout: batch norm while scoring states: each state's own batch statistics (the public code) or "
            "eval mode (running statistics). Running statistics are never updated by these forwards.",
        ),
        click.option(
            "--edropout-freeze",
            type=click.Choice(FREEZE_RULES),
            default=FREEZE_RULES[0],
            show_default=True,
            help="EDropout: when the state freezes after the warm-up. public: the public code's test (one step "
            "without a new best energy); rescore: re-score the population on each minibatch (2 x population "
            "forwards) and freeze when the best state is unchanged for --edropout-patience steps.",
        ),
        click.option(
            "--edropout-patience",
            type=click.IntRange(1),
            default=10,
            show_default=True,
            help="EDropout, --edropout-freeze rescore: steps the best state must stay unchanged before it freezes.",
        ),
        click.option(
            "--edropout-keep-probability",
            type=click.FloatRange(0, 1),
            default=0.5,
            show_default=True,
            help="EDropout: p0, the probability that a bit of an initial state is on (the paper sweeps 0.2-0.8).",
        ),
        click.option(
            "--edropout-mutation",
            type=click.FloatRange(0, 1),
            default=0.9,
            show_default=True,
            help="EDropout: F, the probability that a mutant bit copies x1.",
        ),
        click.option(
            "--edropout-crossover",
            type=click.FloatRange(0, 1),
            default=0.9,
            show_default=True,
            help="EDropout: CR, the probability that a trial bit comes from the mutant.",
        ),
        click.option(
            "--edropout-energy-scale",
            type=click.FloatRange(0, min_open=True),
            default=10.0,
            show_default=True,
            help="EDropout: the energy is -scale x the mean logit margin.",
        ),
        click.option(
            "--init-from",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Start from these weights (a checkpoint from anywhere: torchvision's weight files, training-script "
            "wrappers, DataParallel prefixes), loaded before the recipe masks the model.",
        ),
        click.option(
            "--key-map",
            multiple=True,
            callback=equals_pairs("OLD=NEW", "key prefixes"),
            metavar="OLD=NEW",
            help="Rename checkpoint keys starting with OLD to start with NEW (repeatable; --init-from, --eval-only).",
        ),
        click.option(
            "--out",
            "-o",
            type=click.Path(file_okay=False, path_type=Path),
            default=Path("runs"),
            show_default=True,
            help="results.csv and run directories go here.",
        ),
        click.option("--tensorboard", is_flag=True, help="Also log to TensorBoard in the run directory."),
        click.option("--quiet", "-q", is_flag=True, help="No progress bars or per-epoch lines."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def config_from_options(options: dict, **overrides) -> TrainConfig:
    """A TrainConfig from the parsed :func:`training_options` (plus ``overrides``)."""
    values = {**options, **overrides}
    if values.pop("no_augment", False):
        if values.get("augment") not in (None, "none"):
            raise click.UsageError("give --augment or --no-augment, not both")
        values["augment"] = "none"
    for key in ("include", "exclude"):
        values[key] = tuple(values[key])
    values["model_options"] = _with_regulariser_options(
        values["model"], dict(values["model_options"]), values.pop("orth_lambda", None), values.pop("orth_scope", None)
    )
    return TrainConfig(**values).validate()


def _with_regulariser_options(
    model: str, model_options: dict, orth_lambda: float | None, orth_scope: str | None
) -> dict:
    """``--orth-lambda`` / ``--orth-scope`` as the model options they stand for."""
    for flag, key, value in (("--orth-lambda", "orth_lambda", orth_lambda), ("--orth-scope", "orth_scope", orth_scope)):
        if value is None:
            continue
        if key not in model_option_names(model):
            raise click.UsageError(
                f"{flag}: model {model} has no orthogonality regulariser (the *_shared models have one)"
            )
        if key in model_options and model_options[key] != value:
            raise click.UsageError(f"{flag} {value} contradicts --model-option {key}={model_options[key]}")
        model_options[key] = value
    return model_options


def handle_interrupt(func):
    """Ctrl-C during training: one line saying how to resume, exit status 130."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except TrainInterrupted as error:
            click.echo(f"Stopped: {error}", err=True)
            sys.exit(130)

    return wrapper


def _report(outcome: RunOutcome | None) -> None:
    if outcome is None:  # a non-zero DDP rank
        return
    click.echo(f"run directory: {outcome.run_dir}")
    for key in SHOWN:
        value = outcome.row.get(key)
        if value not in (None, ""):
            click.echo(f"  {key:14s} {value}")
    click.echo(f"results: {results_path(outcome.run_dir.parent)}")


def _report_evaluation(result: CheckpointEvaluation) -> None:
    click.echo(
        f"checkpoint: {result.checkpoint} ({result.model} on {result.dataset}; masks {result.masks_sha256 or 'none'})"
    )
    click.echo(f"  {'split':6s} {'examples':>8s} {'loss':>8s} {'top1 %':>7s} {'top5 %':>7s}")
    for score in result.scores:
        click.echo(f"  {score.split:6s} {score.examples:8d} {score.loss:8.4f} {score.top1:7.2f} {score.top5:7.2f}")


@click.group(cls=DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="topoprune")
def train() -> None:
    """Train and evaluate (masked) models; `train [OPTIONS]` runs one training (`train run`)."""


@train.command("run")
@click.option(
    "--plan", type=click.Path(path_type=Path), help="Plan file; omit for the dense baseline or a per-layer recipe."
)
@click.option(
    "--masks",
    type=click.Path(path_type=Path),
    help="Train under exactly these masks: masks.npz, a run or prune-apply directory, a directory of exported layer "
    "plans, or a masked .pt.",
)
@training_options
@click.option(
    "--seed",
    "train_seed",
    type=int,
    default=0,
    show_default=True,
    help="Training seed: initialisation and batch order.",
)
@click.option(
    "--resume",
    type=click.Path(file_okay=False, path_type=Path),
    help="Continue the run in this directory (other options are ignored).",
)
@click.option(
    "--eval-only",
    "eval_only",
    type=click.Path(path_type=Path),
    help="Evaluate this checkpoint or run directory (top-1, top-5, loss on val and test) without training.",
)
@click.option("--ddp", type=int, help="Train with N local processes through DDP (gloo on CPU).")
@config_file_options
@friendly_errors
@handle_interrupt
def run_command(plan, masks, resume, eval_only, ddp, print_config, **options) -> None:
    """Train one model, evaluate it, append its row to OUT/results.csv.

    \b
    Examples:
      train --plan plans/rreg_n64_d8_s0.npy --model mlp --dataset fashion-mnist --epochs 5
      train --model mlp --epochs 5                          # dense baseline
      train --recipe xnet --degree 16 --model cnn            # per-layer X-Net masks
      train --resume runs/20261122-101500-mlp-1a2b3c         # continue an interrupted run
      train --masks pruned/masks.npz --model cresnet18       # retrain masks made elsewhere
      train --eval-only runs/20261122-101500-mlp-1a2b3c      # top-1/top-5/loss of its best.pt
      torchrun --nproc-per-node 2 -m cli.train --plan P      # DDP, or: train --ddp 2 --plan P
      train --config configs/edropout/resnet18_fashion.yaml --epochs 3   # a file, one option changed
    """
    if print_config:
        config = config_from_options(_like_its_run(options), plan=plan, masks=masks)
        hash_line = f"# train configuration; config_hash {config_hash(identify(config)[1])}"
        click.echo(config_text(click.get_current_context(), hash_line), nl=False)
        return
    if resume is not None:
        _report(resume_training(resume))
        return
    if eval_only is not None:
        _report_evaluation(evaluate_checkpoint(eval_only, config_from_options(options, plan=plan, masks=masks)))
        return
    config = config_from_options(_like_its_run(options), plan=plan, masks=masks)
    if ddp:
        _report(launch(config, ddp))
        return
    with distributed_from_environment():
        _report(run_training(config))


def _shard(_ctx, _param, value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    index, sep, count = value.partition("/")
    try:
        return int(index), int(count)
    except ValueError:
        raise click.BadParameter(f"expected i/N such as 1/4, got {value!r}") from None


@train.command("sweep")
@click.option(
    "--plans",
    "plans_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Directory of plans (searched recursively); without it the options themselves are the one configuration "
    "(e.g. an X-Net model).",
)
@click.option("--seeds", type=int, default=3, show_default=True, help="Training seeds 0..S-1 for every plan.")
@click.option(
    "--baseline/--no-baseline",
    default=None,
    help="Also train the dense model for every seed (default: with --plans or --recipes).",
)
@click.option(
    "--recipes",
    callback=comma_list_option,
    multiple=True,
    help=f"Per-layer recipes to compare, comma-separated ({', '.join(grid_recipes())}).",
)
@click.option(
    "--degrees",
    "grid_degrees",
    multiple=True,
    callback=comma_list_option,
    help="With --recipes: inputs per output channel, comma-separated, e.g. 2,4,8,16.",
)
@click.option(
    "--densities",
    "grid_densities",
    multiple=True,
    callback=comma_list_option,
    help="With --recipes: kept fractions, comma-separated, e.g. 0.0625,0.125.",
)
@executor_options
@click.option(
    "--status",
    "status_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Only say what the sweep in this folder has done, is running, has failed, has queued or still needs, "
    "then exit.",
)
@click.option(
    "--shard", callback=_shard, help="Run only the i-th of N slices (1-based), e.g. 2/8 for a cluster job array."
)
@click.option(
    "--skip-unusable",
    is_flag=True,
    help="Train the usable jobs when some cannot be masked (they are listed either way; without this flag, none runs).",
)
@training_options
@config_file_options
@friendly_errors
@handle_interrupt
def sweep_command(
    plans_dir,
    seeds,
    baseline,
    recipes,
    grid_degrees,
    grid_densities,
    status_dir,
    shard,
    skip_unusable,
    print_config,
    **options,
) -> None:
    """Train every plan in a directory (plus the dense baseline), or the given configuration, for each seed.

    With --recipes, every per-layer recipe is trained at every --degrees (or --densities) level
    too. Rows go to OUT/results.csv. Restarting the same command skips every job whose whole
    configuration (config_hash) and seed already has a row, so an interrupted sweep loses
    nothing (a run it left half-done continues from its last checkpoint), and a sweep that
    differs in any option (model options, --self-loops, --lr, ...) runs in full.

    \b
    Examples:
      train sweep --plans plans/ --model mlp --dataset fashion-mnist --seeds 3 --epochs 3 --jobs 2
      train sweep --model xmobilenet --model-option expand=4 --seeds 2 --epochs 3   # an X-Net model
      train sweep --recipes xnet,rreg-bipartite,random-bipartite --degrees 2,4,8,16 --model cnn --seeds 3
      train sweep --plans plans/ --executor ray --ray-address auto --gpus-per-job 0.25
      train sweep --plans plans/ --executor slurm --slurm-partition gpu --slurm-gpus-per-job 1
      train sweep --status runs/
    """
    if status_dir is not None:
        show_status(status_dir)
        return
    if print_config:
        click.echo(config_text(click.get_current_context(), "# train sweep configuration"), nl=False)
        return
    executor = executor_config(options)
    template = config_from_options(options, recipe=options.get("recipe"))
    try:
        grid = SweepGrid(
            tuple(recipes or ()),
            tuple(int(d) for d in grid_degrees or ()),
            tuple(float(d) for d in grid_densities or ()),
        )
    except ValueError as error:
        raise click.BadParameter(f"--degrees takes whole numbers and --densities numbers ({error})") from None
    with_baseline = (plans_dir is not None or bool(grid.recipes)) if baseline is None else baseline
    notices: list[str] = []
    all_jobs = shard_of(sweep_jobs(plans_dir, seeds, with_baseline, grid, notices), shard)
    for line in notices:
        click.echo(f"notice: {line}", err=True)
    status = sweep_status(all_jobs, template)
    for line in status.describe(len(all_jobs)):
        click.echo(line, err=True)
    todo = _usable(template, status.pending, skip_unusable)
    with tqdm(
        total=len(all_jobs),
        initial=len(all_jobs) - len(todo),
        desc="sweep",
        unit="run",
        file=sys.stderr,
        disable=template.quiet and not sys.stderr.isatty(),
    ) as bar:
        run_jobs(dataclasses.replace(template, quiet=True), todo, executor, bar)
    click.echo(f"results: {results_path(template.out)}")


def _like_its_run(options: dict) -> dict:
    """With ``--like RUN`` (a run directory), the model, its options and the data set of that run,
    unless given on the command line: the control must be the same network as the run it copies."""
    like = options.get("like")
    if like is None or not rundir.is_run_dir(like):
        return options
    document = rundir.read_config_document(like)
    stored = rundir.read_config(like)
    context = click.get_current_context()
    defaults = {
        "model": stored.model,
        "model_options": rundir.built_model_options(document) or stored.model_options,
        "dataset": stored.dataset,
    }
    given = {name for name in defaults if context.get_parameter_source(name) != ParameterSource.DEFAULT}
    return {**options, **{name: value for name, value in defaults.items() if name not in given}}


def _usable(template: TrainConfig, jobs: list, skip_unusable: bool) -> list:
    """The jobs whose masks can be made, checked before any training; one line per configuration
    that cannot be, then a stop unless ``--skip-unusable``."""
    unusable = unusable_jobs(template, jobs)
    reasons = list(dict.fromkeys(reason for _, reason in unusable))
    for reason in reasons:
        click.echo(f"cannot train: {reason}", err=True)
    if unusable and not skip_unusable:
        raise click.ClickException(
            f"{len(unusable)} of {len(jobs)} job(s) cannot be masked ({len(reasons)} configuration(s) above); nothing "
            "was trained: fix them, or pass --skip-unusable to train the rest"
        )
    skipped = {id(job) for job, _ in unusable}
    return [job for job in jobs if id(job) not in skipped]


def main() -> None:
    """Console entry point of ``train``."""
    train()


if __name__ == "__main__":
    main()
