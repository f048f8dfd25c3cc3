"""``train``: train and evaluate a masked model and append one row to results.csv."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import click
from click.core import ParameterSource
from tqdm import tqdm

from cli.config_files import config_file_options, config_text
from cli.config_options import SectionedCommand, schema_options, section_option
from cli.executors import executor_config, executor_options, run_jobs, show_status
from cli.options import ModelName, friendly_errors, parse_model_options
from cli.options import comma_list as comma_list_option
from common import __version__
from sweeps.planning import SweepGrid, job_specs, shard_of, sweep_jobs, sweep_status, unusable_jobs
from sweeps.progress import LiveProgress
from trainer import rundir
from trainer.config import DATA, MODEL, MODEL_OPTION_ALIASES, RUN, TrainConfig, with_model_option_aliases
from trainer.ddp import distributed_from_environment, launch
from trainer.errors import TrainError
from trainer.evaluation import CheckpointEvaluation, evaluate_checkpoint
from trainer.identity import config_hash, identify
from trainer.models import MODELS
from trainer.models.orthogonality import ORTH_SCOPES
from trainer.published import PublishedError, checked_published, comparison_lines
from trainer.recipes import grid_recipes, recipe_settings_classes, unused_recipe_settings
from trainer.run import RunOutcome, TrainInterrupted, resume_training, run_training
from trainer.rundir import results_path

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
    "max_epoch_test_acc",
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

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The group's help, then the options of the command ``train [OPTIONS]`` runs."""
        super().format_help(ctx, formatter)
        command = self.commands[self.default_command]
        with command.make_context(self.default_command, [], parent=ctx, resilient_parsing=True) as sub:
            formatter.write_paragraph()
            formatter.write_text(f"`train [OPTIONS]` is `train {self.default_command} [OPTIONS]`; its options:")
            command.format_options(sub, formatter)


def _published_block(_ctx, _param, value) -> dict:
    if value in (None, "", {}):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            raise click.BadParameter(f"not JSON: {error.msg}") from None
    try:
        return checked_published(value)
    except PublishedError as error:
        raise click.BadParameter(str(error)) from None


def training_options(skip: tuple[str, ...] = ()):
    """The options of one training configuration, generated from TrainConfig's schema (shared by
    ``train`` and ``train sweep``; ``skip`` leaves fields out), plus the command-line conveniences
    that stand for other values: ``--model-option``, ``--orth-lambda`` / ``--orth-scope`` (model
    options) and ``--no-augment`` (``--augment none``)."""
    conveniences = [
        section_option(
            "--model-option",
            "model_options",
            section=MODEL,
            multiple=True,
            callback=parse_model_options,
            help="Model option KEY=VALUE, e.g. width=256 or expand=4 (repeatable).",
        ),
        section_option(
            "--orth-lambda",
            section=MODEL,
            type=click.FloatRange(0),
            metavar="LAMBDA",
            help="Weight of the orthogonality regulariser of shared filter bases (model option orth_lambda; default "
            "10 for the *_shared models, 0 turns it off).",
        ),
        section_option(
            "--orth-scope",
            section=MODEL,
            type=click.Choice(ORTH_SCOPES),
            help="Orthogonality regulariser: the shared bases only, or also each layer's unique filters against them "
            "and themselves (model option orth_scope; default as the paper's scripts: all for the CIFAR-10 "
            "resnet32/56_shared, shared for the others).",
        ),
        section_option("--no-augment", section=DATA, is_flag=True, help="No training augmentation (--augment none)."),
        section_option(
            "--published",
            section=RUN,
            type=click.UNPROCESSED,
            callback=_published_block,
            metavar="JSON",
            help="The published number this run targets: a config file's published: block (metric, value, protocol, "
            "source), or the same as JSON; printed beside the run's result and stored in its row.",
        ),
    ]
    generated = schema_options(TrainConfig, types={"model": ModelName(MODELS)}, skip=skip)
    recipes_own = [schema_options(settings) for settings in recipe_settings_classes()]

    def decorate(func):
        for options in reversed(recipes_own):
            func = options(func)
        for option in reversed(conveniences):
            func = option(func)
        return generated(func)

    return decorate


def config_from_options(options: dict, **overrides) -> TrainConfig:
    """A validated TrainConfig from the parsed :func:`training_options` (plus ``overrides``)."""
    values = {**options, **overrides}
    if values.pop("no_augment", False):
        if values.get("augment") not in (None, "none"):
            raise click.UsageError("give --augment or --no-augment, not both")
        values["augment"] = "none"
    aliases = {key: values.pop(key, None) for key in MODEL_OPTION_ALIASES}
    try:
        values["model_options"] = with_model_option_aliases(values["model"], dict(values["model_options"]), aliases)
    except TrainError as error:  # options that do not go together: a usage error
        raise click.UsageError(str(error)) from None
    return TrainConfig.create(**values).validate()


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
            click.echo(f"  {key:18s} {value}")
    for line in comparison_lines(outcome.row):
        click.echo(line)
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


@train.command("run", cls=SectionedCommand)
@training_options()
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
def run_command(resume, eval_only, ddp, print_config, **options) -> None:
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
        config = config_from_options(_like_its_run(options))
        hash_line = f"# train configuration; config_hash {config_hash(identify(config)[1])}"
        click.echo(config_text(click.get_current_context(), hash_line), nl=False)
        return
    if resume is not None:
        _report(resume_training(resume))
        return
    if eval_only is not None:
        _report_evaluation(evaluate_checkpoint(eval_only, config_from_options(options)))
        return
    config = config_from_options(_like_its_run(options))
    if config.key_map and config.init_from is None:
        raise click.UsageError("--key-map renames the keys of a checkpoint: give it with --init-from or --eval-only")
    _refuse_unused_settings(config, (config.resolved_recipe,))
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


@train.command("sweep", cls=SectionedCommand)
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
@training_options(skip=("plan", "masks", "train_seed"))
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
    template = config_from_options(options)
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
    specs = job_specs(template, all_jobs)
    _refuse_unused_settings(template, tuple({spec.config.resolved_recipe for spec in specs}))
    status = sweep_status(specs, template.out)
    for line in status.describe(len(all_jobs)):
        click.echo(line, err=True)
    todo = _usable(template, status.pending, skip_unusable)
    with (
        tqdm(
            total=len(all_jobs),
            initial=len(all_jobs) - len(todo),
            desc="sweep",
            unit="run",
            file=sys.stderr,
            disable=template.quiet and not sys.stderr.isatty(),
        ) as bar,
        LiveProgress(template.out, lambda line: bar.set_postfix_str(line, refresh=True)),
    ):
        run_jobs([spec.for_worker(None, quiet=True) for spec in todo], executor, bar)
    click.echo(f"results: {results_path(template.out)}")


def _refuse_unused_settings(config: TrainConfig, recipes: tuple[str, ...]) -> None:
    """A recipe setting that none of ``recipes`` reads is refused, never silently ignored."""
    unused = unused_recipe_settings(config, recipes)
    if unused:
        raise click.UsageError(
            f"{', '.join(unused)}: a setting of another recipe, and {' / '.join(sorted(recipes))} does not read it "
            "(drop it, or choose the recipe that reads it)"
        )


def _like_its_run(options: dict) -> dict:
    """With ``--like RUN`` (a run directory), the model, its options and the data set of that run
    (:func:`trainer.rundir.like_run_defaults`), unless given on the command line: the control
    must be the same network as the run it copies."""
    defaults = rundir.like_run_defaults(options.get("like"))
    context = click.get_current_context()
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
