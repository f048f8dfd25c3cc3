"""One training run from a TrainConfig: set up, epochs, finish (docs/architecture.md, "Training run").

:func:`run_training` reads like the loop it is: :func:`set_up` builds the data, the masked model,
the recipe's hooks and the run directory (or restores it to resume); :func:`train_epochs` trains,
evaluates and checkpoints each epoch; :func:`finish` builds the results row and appends it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from common import __version__
from common.seeding import derive_seed
from pruning.accounting import layer_graph_columns
from pruning.apply import PruneResult, prune_model
from pruning.checkpoints import load_checkpoint
from pruning.expander import refuse_dense_label
from pruning.mask_rules import DENSE
from topology.analysis import reference_mismatches
from trainer import rundir
from trainer.config import BATCH_STATISTICS_EVAL, TrainConfig
from trainer.data import DataBundle, load_dataset
from trainer.data.memory import TensorSplit
from trainer.errors import TrainError
from trainer.eta import TrainingEstimate, tqdm_say
from trainer.hooks import RunHooks
from trainer.identity import config_hash, identify, identity_columns, resolved_model_options
from trainer.interrupt import StopOnInterrupt
from trainer.loop import PassStats, StepRule, evaluate, train_epoch
from trainer.models import WIDTH_OPTIONS, build_model
from trainer.optim import build_optimizer, build_scheduler
from trainer.published import checked_published, published_columns
from trainer.recipes import RunInputs, recipe_of
from trainer.results import append_row, plan_columns, read_rows, results_row
from trainer.setup import setup_environment
from trainer.stepmask import StepMasker
from trainer.widths import WidthChoice, model_options_for

#: Batch size of the validation and test passes.
EVAL_BATCH = 512


class TrainInterrupted(TrainError):
    """Ctrl-C: the run stopped; its last finished epoch is checkpointed."""


@dataclass
class RunOutcome:
    """A finished run: its directory and the row appended to results.csv."""

    run_id: str
    run_dir: Path
    row: dict


def new_run_id(config: TrainConfig) -> str:
    """``<UTC time>-<model>-<short unique suffix>``, unique across parallel runs."""
    model = config.model.replace(":", "-")  # tv:resnet18 -> tv-resnet18: no colon in a folder name
    return f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{model}-{uuid.uuid4().hex[:6]}"


def _agreed_run_id(config: TrainConfig, world: int) -> str:
    """A new run id; under DDP rank 0 chooses it and broadcasts it to every process."""
    if world == 1:
        return new_run_id(config)
    holder = [new_run_id(config) if dist.get_rank() == 0 else None]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def _rank_world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


@dataclass
class BuiltModel:
    """The run's model, masked by its recipe, with the options and width it was built with."""

    model: nn.Module
    pruned: PruneResult
    options: dict
    width: WidthChoice | None
    notices: list[str]


@dataclass
class Run:
    """Everything the epochs of one run need (made by :func:`set_up`)."""

    config: TrainConfig
    inputs: RunInputs
    identity: dict
    data: DataBundle
    built: BuiltModel
    masker: StepMasker
    hooks: RunHooks
    rule: StepRule
    train_model: nn.Module
    device: torch.device
    rank: int
    world: int
    run_dir: Path
    history: list[dict] = field(default_factory=list)
    start_epoch: int = 0

    @property
    def model(self) -> nn.Module:
        return self.built.model

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes files and prints."""
        return self.rank == 0

    @property
    def talks(self) -> bool:
        return self.is_main and not self.config.quiet


def run_training(
    config: TrainConfig,
    run_id: str | None = None,
    resume_dir: Path | None = None,
    stop_after_epochs: int | None = None,
    expected_hash: str | None = None,
) -> RunOutcome | None:
    """Train and evaluate one (masked) model; append its row to ``config.out/results.csv``.

    Parameters
    ----------
    config : TrainConfig
    run_id : str, optional
        Name of the run directory (default: a new unique id).
    resume_dir : Path, optional
        Continue the run in this directory from its last checkpoint (``config`` must be the
        one stored there; see :func:`resume_training`).
    stop_after_epochs : int, optional
        Stop (as if interrupted) once this many epochs are checkpointed; used to test resuming.
    expected_hash : str, optional
        The ``config_hash`` a sweep claimed this job under: a configuration whose identity differs
        now (a plan file changed since the job list was made) is refused before anything is written.

    Returns
    -------
    RunOutcome, or None when stopped early by ``stop_after_epochs`` and on DDP ranks other than 0.
    """
    config.validate()
    run = set_up(config, run_id, resume_dir, expected_hash)
    if not train_epochs(run, stop_after_epochs):
        return None
    return finish(run)


# --- set-up -----------------------------------------------------------------------------------


def set_up(config: TrainConfig, run_id: str | None, resume_dir: Path | None, expected_hash: str | None = None) -> Run:
    """Data, masked model, recipe hooks, optimiser and the run directory (new, or restored)."""
    rank, world = _rank_world()
    inputs, identity = identify(config)
    if expected_hash is not None and config_hash(identity) != expected_hash:
        raise TrainError(
            f"the job was claimed as configuration {expected_hash}, but its inputs now give {config_hash(identity)} "
            "(a plan or masks file changed since the sweep listed its jobs); nothing was trained: rerun the sweep"
        )
    device = setup_environment(config.train_seed, config.threads, config.device)
    data = load_dataset(config.data_config()).to_device(device)
    announce = rank == 0 and not config.quiet and resume_dir is None
    built = build_masked_model(config, inputs, data, announce=announce)
    _refuse_one_example_batches(config, built.model, data, world)
    if announce:  # once the model is built and fits: a run refused says only why
        print(describe_data(data), file=sys.stderr, flush=True)
    masker = StepMasker(built.model)
    built.model.to(device)
    if config.channels_last:
        built.model.to(memory_format=torch.channels_last)
    masker.to(device)
    hooks = recipe_of(config).hooks(built.model, masker, config, resume_dir, world)
    train_model = built.model
    if world > 1:
        train_model = nn.parallel.DistributedDataParallel(
            built.model, device_ids=[device.index] if device.type == "cuda" else None
        )
    rule = _step_rule(config, built.model, data, device, world, hooks)
    run_dir = Path(resume_dir) if resume_dir else config.out / (run_id or _agreed_run_id(config, world))
    run = Run(config, inputs, identity, data, built, masker, hooks, rule, train_model, device, rank, world, run_dir)
    if resume_dir is not None:
        _restore(run)
    elif run.is_main:
        _start_run_dir(run)
    if run.talks:
        print(
            f"training in {run.run_dir} (its row goes to {rundir.results_path(config.out)})",
            file=sys.stderr,
            flush=True,
        )
        if hooks.describe():
            print(hooks.describe(), file=sys.stderr, flush=True)
    return run


def describe_data(data: DataBundle) -> str:
    """``data: imagefolder from DIR: 2 classes, 3x16x16; train 5, val 1, test 4 examples``."""
    shape = "x".join(map(str, data.input_shape))
    sizes = ", ".join(f"{split} {len(getattr(data, split)):,}" for split in ("train", "val", "test"))
    return f"data: {data.name} from {data.source}: {data.num_classes} classes, {shape}; {sizes} examples"


def _refuse_one_example_batches(config: TrainConfig, model: nn.Module, data: DataBundle, world: int) -> None:
    """A training batch of one example cannot pass a BatchNorm1d (one value per channel): refused
    before training with the batch size that makes it, instead of failing at the last step."""
    if not any(isinstance(module, nn.BatchNorm1d) for module in model.modules()):
        return
    examples = len(data.train) if isinstance(data.train, TensorSplit) else len(data.train) // world
    if config.batch_size == 1 or examples % config.batch_size == 1:
        raise TrainError(
            f"--batch-size {config.batch_size} leaves a training batch of one example ({examples} examples), which "
            f"the model's BatchNorm1d cannot normalise; choose a batch size above 1 that does not divide {examples - 1}"
        )


def build_masked_model(config: TrainConfig, inputs: RunInputs, data: DataBundle, announce: bool) -> BuiltModel:
    """The zoo model at its (possibly MAC-matched) width, masked by the run's recipe."""
    options, width = model_options_for(config, inputs.plan, data.input_shape, data.num_classes)
    if width is not None and announce:
        print(f"width for the MAC budget: {width.describe()}", file=sys.stderr, flush=True)
    model = build_model(config.model, data.input_shape, data.num_classes, **options)
    notices = []
    if config.init_from is not None:  # trained weights first, then the recipe's masks on top
        held = load_checkpoint(model, config.init_from, config.key_map, with_masks=False)
        held = {name: mask for name, mask in held.items() if not bool(mask.all())}  # all-ones masks hide nothing
        if held:
            notices.append(
                f"{config.init_from} holds masks on {len(held)} layer(s): its masked weights start at zero, its masks "
                "are not kept (add --masks with the same file to keep them)"
            )
    if config.resolved_recipe == DENSE:
        refuse_dense_label(model, config.model, TrainError)
    mask_config = recipe_of(config).mask_config(config, inputs.plan)
    source = config.masks or config.like or "masks"
    pruned = prune_model(model, mask_config, data.input_shape, masks=inputs.masks, source=source)
    notices += pruned.notices + reference_mismatches(inputs.plan)
    if announce:
        for notice in notices:
            print(f"notice: {notice}", file=sys.stderr, flush=True)
    return BuiltModel(model, pruned, options, width, notices)


def _step_rule(
    config: TrainConfig, model: nn.Module, data: DataBundle, device: torch.device, world: int, hooks: RunHooks
) -> StepRule:
    optimizer = build_optimizer(model, config)
    scheduler = build_scheduler(optimizer, config, data.steps("train", config.batch_size, world))
    scaler = torch.amp.GradScaler("cuda") if config.amp and device.type == "cuda" else None
    return StepRule(
        optimizer,
        scheduler,
        nn.CrossEntropyLoss(label_smoothing=config.label_smoothing),
        device,
        config.amp,
        scaler,
        extra_loss=getattr(model, "extra_loss", None),
        step_context=hooks.step_context,
        channels_last=config.channels_last,
    )


def _restore(run: Run) -> None:
    """Load the last checkpoint of the run being resumed."""
    state = rundir.load_checkpoint(run.run_dir)
    try:
        run.masker.load_state_dict(state["model"])
        run.hooks.load_state_dict(state.get("hooks", {}))
        run.history, run.start_epoch = list(state["history"]), int(state["epoch"]) + 1
        if "optimizer" in state or run.start_epoch < run.config.epochs:  # a finished run's needs no more
            run.rule.optimizer.load_state_dict(state["optimizer"])
            run.rule.scheduler.load_state_dict(state["scheduler"])
            torch.set_rng_state(state["rng"])
    except (RuntimeError, ValueError, KeyError, TypeError, IndexError) as error:  # torch's load_state_dict
        lines = [line.strip() for line in str(error).splitlines() if line.strip()] or [type(error).__name__]
        path = Path(run.run_dir) / rundir.CHECKPOINT_FILE
        raise TrainError(
            f"{path}: does not fit this run's model and training state ({' '.join(lines[:2])[:300]})"
        ) from None
    # start_epoch == epochs: killed after its last checkpoint, before its row; finishing it writes the row


def _start_run_dir(run: Run) -> None:
    """Create the run directory with its configuration and the masks it trains under."""
    run.run_dir.mkdir(parents=True, exist_ok=False)
    config, built, plan = run.config, run.built, run.inputs.plan
    rundir.write_config(
        run.run_dir,
        {
            "config": config.to_dict(),
            "config_hash": config_hash(run.identity),
            "identity": run.identity,
            "recipe": config.resolved_recipe,
            "plan_sha256": plan.sha256 if plan else None,
            "masks_sha256": built.pruned.masks_sha256,
            "graph_seed": plan.seed if plan else None,
            "data_source": run.data.source,
            "input_shape": list(run.data.input_shape),
            "num_classes": run.data.num_classes,
            "normalisation": run.data.extra,
            "world_size": run.world,
            "device": str(run.device),
            "topoprune_version": __version__,
            "torch_version": torch.__version__,
            "notices": built.notices,
            "draws": built.pruned.draws,
            "nominal": built.pruned.nominal,
            "built_model_options": built.options,
            "width": built.width.to_dict() if built.width else None,
        },
    )
    rundir.write_masks(run.run_dir, built.pruned.masks, built.pruned.summary)


# --- epochs -----------------------------------------------------------------------------------


def train_epochs(run: Run, stop_after_epochs: int | None = None) -> bool:
    """Train from the run's start epoch to the last; False when stopped early by ``stop_after_epochs``.

    Alone, Ctrl-C stops at a batch boundary (the last finished epoch stays checkpointed); under
    DDP the launcher owns Ctrl-C.
    """
    stop = StopOnInterrupt() if run.world == 1 else None
    estimate = None
    if run.talks:
        steps = run.data.steps("train", run.config.batch_size, run.world)
        epochs_left = run.config.epochs - run.start_epoch
        estimate = TrainingEstimate(steps, epochs_left, run.device.type == "cpu", tqdm_say)
    run.rule.after_step = _after_step(run.masker, stop, estimate)
    writer = _tensorboard(run.run_dir) if run.config.tensorboard and run.is_main else None
    try:
        with stop or contextlib.nullcontext():
            for epoch in range(run.start_epoch, run.config.epochs):
                run_epoch(run, epoch, writer)
                last = epoch + 1 == run.config.epochs
                if stop_after_epochs is not None and epoch + 1 >= stop_after_epochs and not last:
                    return False
                if stop is not None and not last:
                    stop.check()  # a Ctrl-C during evaluation or saving stops before the next epoch
    except KeyboardInterrupt:
        done = f"interrupted after {len(run.history)} finished epoch(s)"
        raise TrainInterrupted(f"{done}; continue with: train --resume {run.run_dir}") from None
    finally:
        if writer is not None:
            writer.close()
    return True


def _after_step(masker: StepMasker, stop: StopOnInterrupt | None, estimate: TrainingEstimate | None = None):
    def after_step() -> None:
        masker.after_step()
        if estimate is not None:
            estimate.after_step()
        if stop is not None:
            stop.check()

    return after_step


def run_epoch(run: Run, epoch: int, writer=None) -> None:
    """One epoch: train, evaluate on validation and test, log, checkpoint."""
    config = run.config
    label = f"epoch {epoch + 1}/{config.epochs}" if run.talks else None
    shuffle = derive_seed(config.train_seed, "epoch", str(epoch))
    run.hooks.begin_epoch(epoch)
    batches = run.data.batches("train", config.batch_size, shuffle, run.rank, run.world, reuse_buffers=True)
    train = train_epoch(
        run.train_model, batches, run.rule, label, run.data.steps("train", config.batch_size, run.world)
    )
    with run.hooks.evaluation():
        val, test = _evaluate(run, "val"), _evaluate(run, "test")
    run.history.append(
        {
            **_log_line(epoch, run.rule.optimizer, train, val, test),
            **run.hooks.extra_evaluation(lambda: _evaluate(run, "test")),
            "selectable": run.hooks.selectable() and len(run.data.val) > 0,
        }
    )
    if not run.is_main:
        return
    _checkpoint(run, epoch)
    if writer is not None:
        for key, value in run.history[-1].items():
            writer.add_scalar(key, value, epoch + 1)
    notes = run.hooks.notes(last_epoch=epoch + 1 == config.epochs)
    if run.talks:
        print(
            f"epoch {epoch + 1}/{config.epochs}: train {train.accuracy:.2f}%  val {val.accuracy:.2f}%  "
            f"test {test.accuracy:.2f}%  ({run.history[-1]['seconds']:.1f} s)",
            flush=True,
        )
        for note in notes:
            print(note, file=sys.stderr, flush=True)


def _evaluate(run: Run, split: str) -> PassStats:
    batch_statistics = run.config.eval_bn == BATCH_STATISTICS_EVAL  # batches as large as the training ones
    return evaluate(
        run.model,
        run.data.batches(split, run.config.batch_size if batch_statistics else EVAL_BATCH, reuse_buffers=True),
        run.rule.loss_fn,
        run.device,
        run.config.amp,
        run.config.channels_last,
        batch_statistics,
    )


def _log_line(epoch: int, optimizer, train: PassStats, val: PassStats, test: PassStats) -> dict:
    return {
        "epoch": epoch + 1,
        "lr": optimizer.param_groups[0]["lr"],
        "train_loss": train.loss,
        "train_extra_loss": train.extra_loss,
        "train_acc": train.accuracy,
        "val_loss": val.loss,
        "val_acc": val.accuracy,
        "val_top5": val.top5,
        "test_loss": test.loss,
        "test_acc": test.accuracy,
        "test_top5": test.top5,
        "seconds": train.seconds + val.seconds + test.seconds,
    }


def selected_epoch(history: list[dict]) -> dict:
    """The log line model selection chooses: the best validation accuracy among the epochs that
    may be selected (the first wins ties); the last epoch when none may."""
    eligible = [i for i, line in enumerate(history) if line.get("selectable", True)]
    if not eligible:
        return history[-1]
    return history[max(eligible, key=lambda i: (history[i]["val_acc"], -i))]


def _checkpoint(run: Run, epoch: int) -> None:
    """Checkpoint, best model (when this epoch is the one selected so far), the log and the hooks'
    step log.

    The hooks' best masks (EDropout before its freeze: the best state's) go into ``best.pt``
    beside the masker's own, so it holds the pruned network that was evaluated.
    """
    if selected_epoch(run.history) is run.history[-1]:
        rundir.save_best(run.run_dir, {"model": run.masker.state_dict(run.hooks.best_masks()), "epoch": epoch})
    rundir.save_checkpoint(
        run.run_dir,
        {
            "model": run.masker.state_dict(),
            "optimizer": run.rule.optimizer.state_dict(),
            "scheduler": run.rule.scheduler.state_dict(),
            "epoch": epoch,
            "history": run.history,
            "rng": torch.get_rng_state(),
            "hooks": run.hooks.state_dict(),
        },
    )
    rundir.write_log(run.run_dir, run.history)
    step_log = run.hooks.step_log()
    if step_log is not None:
        rundir.write_step_log(run.run_dir, step_log)


def _tensorboard(run_dir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise TrainError(
            "--tensorboard needs the tensorboard extra, which is not installed: pip install 'topoprune[tensorboard]'"
        ) from None
    return SummaryWriter(str(run_dir / "tensorboard"))


# --- finish -----------------------------------------------------------------------------------


def finish(run: Run) -> RunOutcome | None:
    """The results row of the finished run, appended to ``results.csv`` by rank 0."""
    history = run.history
    best = selected_epoch(history)
    final_masks, extra = run.hooks.finish(run.run_dir, run.model, run.data.input_shape, best, history[-1])
    pruned = run.built.pruned
    if final_masks is not None:  # masks found during training replace those the run started with
        pruned = final_masks
        if run.is_main:
            rundir.write_masks(run.run_dir, pruned.masks, pruned.summary)
    row = results_row(
        run.config,
        recipe_of(run.config),
        {
            "run_id": run.run_dir.name,
            "config_hash": config_hash(run.identity),
            **plan_columns(run.config, run.inputs.plan),
            **_cost_columns(run, pruned),
            **_accuracy_columns(history, best, len(run.data.val) > 0),
            **published_columns(checked_published(run.config.published)),
            **identity_columns(run.identity),
            "mask_seed": run.config.mask_seed,
            "train_seed": run.config.train_seed,
            "epochs": run.config.epochs,
            "applied_masks_sha256": pruned.masks_sha256,
            "train_seconds": round(sum(h["seconds"] for h in history), 3),
            "device": str(run.device),
            "world_size": run.world,
            "topoprune_version": __version__,
            "torch_version": torch.__version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            **extra,
        },
    )
    if not run.is_main:
        return None
    rundir.write_result(run.run_dir, row)  # first, so a failed append loses nothing (--resume appends it)
    append_row(run.config.out, row)
    if not run.config.keep_checkpoint:
        final = {"model": run.masker.state_dict(), "epoch": run.config.epochs - 1, "history": run.history}
        rundir.keep_final_model(run.run_dir, {**final, "hooks": run.hooks.state_dict()})
    return RunOutcome(run.run_dir.name, run.run_dir, row)


def _cost_columns(run: Run, pruned: PruneResult) -> dict:
    config, summary = run.config, pruned.summary
    masked = [layer for layer in summary.layers if layer.masked]
    total = sum(layer.weights_total for layer in masked)
    option = WIDTH_OPTIONS.get(config.model)
    return {
        "model": config.model,
        "dataset": config.dataset,
        "recipe": config.resolved_recipe,
        "density": sum(layer.weights_kept for layer in masked) / total if total else 1.0,
        "params_kept": summary.params_kept,
        "params_total": summary.params_total,
        "macs_kept": summary.macs_kept,
        "macs_total": summary.macs_total,
        "flops_kept": summary.flops_kept,
        "flops_total": summary.flops_total,
        "width": resolved_model_options(config.model, run.built.options)[option.name] if option else None,
        "macs_budget": run.built.width.budget if run.built.width else None,
        **layer_graph_columns(summary),
    }


#: ``model_selection`` values: how the reported epoch was chosen.
BEST_VALIDATION, FINAL_NO_VALIDATION, FINAL_NONE_SELECTABLE = (
    "best validation accuracy",
    "final epoch (no validation split)",
    "final epoch (no epoch selectable)",
)


def _accuracy_columns(history: list[dict], best: dict, has_validation: bool) -> dict:
    final = history[-1]
    if not has_validation:
        selection = FINAL_NO_VALIDATION
    else:
        selection = BEST_VALIDATION if best.get("selectable", True) else FINAL_NONE_SELECTABLE
    return {
        "best_epoch": best["epoch"],
        "model_selection": selection,
        "best_val_acc": best["val_acc"],
        "best_acc": best["test_acc"],
        "best_top5": best.get("test_top5"),
        "final_acc": final["test_acc"],
        "final_top5": final.get("test_top5"),
        "max_epoch_test_acc": None if has_validation else max(line["test_acc"] for line in history),
        "test_loss": best["test_loss"],
    }


def resume_training(run_dir: Path, stop_after_epochs: int | None = None) -> RunOutcome | None:
    """Continue the run in ``run_dir`` with the configuration stored there; its row goes to the
    ``results.csv`` beside it, whatever folder ``config.json`` names (a run may have been moved,
    and a file must not send writes elsewhere). A run that finished but whose row never reached
    ``results.csv`` gets it appended from its ``result.json``, or, killed after its last
    checkpoint and before ``result.json``, is finished from that checkpoint."""
    run_dir = Path(run_dir)
    config = dataclasses.replace(rundir.read_config(run_dir), out=run_dir.parent)
    kept = rundir.read_result(run_dir)
    if run_dir.name in {row["run_id"] for row in read_rows(config.out)}:
        raise TrainError(f"{run_dir}: run already finished all {config.epochs} epochs (its row is in results.csv)")
    if kept is not None:
        append_row(config.out, kept)
        return RunOutcome(run_dir.name, run_dir, kept)
    return run_training(config, resume_dir=run_dir, stop_after_epochs=stop_after_epochs)
