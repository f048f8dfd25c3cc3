"""One training run from a TrainConfig: data, model, masks, epochs, checkpoints, results row."""

from __future__ import annotations

import contextlib
import copy
import json
import sys
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import torch
import torch.distributed as dist
from torch import nn

from common import __version__
from common.atomic import atomic_write_text
from common.jsonio import encode_json
from common.seeding import derive_seed
from pruning.accounting import layer_graph_columns, summarize
from pruning.apply import PruneResult, prune_model, summary_csv
from pruning.edropout import EDropoutConfig, random_unit_masks
from pruning.expander import expander_layers
from pruning.masking import apply_masks
from pruning.sources import MASKS_FILE, load_mask_source
from pruning.storage import masks_sha256, save_masks, save_state
from topology.analysis import reference_mismatches
from topology.metrics import compute_metrics
from topology.plans import Plan, load_plan
from trainer.checkpoint import load_checkpoint
from trainer.config import EDROPOUT_RECIPE, TrainConfig, edropout_warmup, mask_config, read_config
from trainer.data import DataConfig, load_dataset
from trainer.edropout import EDropoutTraining
from trainer.errors import TrainError
from trainer.identity import config_hash, identity_columns, resolved_model_options, run_identity
from trainer.interrupt import StopOnInterrupt
from trainer.loop import evaluate, train_epoch
from trainer.models import WIDTH_OPTIONS, build_model
from trainer.optim import build_optimizer, build_scheduler
from trainer.results import PLAN_METRIC_COLUMNS, append_row
from trainer.setup import setup_environment
from trainer.stepmask import StepMasker
from trainer.widths import model_options_for

CONFIG_FILE, LOG_FILE, CHECKPOINT_FILE, BEST_FILE = "config.json", "log.csv", "checkpoint.pt", "best.pt"


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
    return f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{config.model}-{uuid.uuid4().hex[:6]}"


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


@dataclass(frozen=True)
class RunInputs:
    """The files a configuration names, loaded: its plan, its masks and its identity."""

    plan: Plan | None
    masks: dict | None
    identity: dict

    @property
    def config_hash(self) -> str:
        return config_hash(self.identity)


def load_run_inputs(config: TrainConfig) -> RunInputs:
    """Load ``config.plan`` and ``config.masks`` (one-line errors naming the file) and resolve the identity."""
    plan = load_plan(config.plan) if config.plan is not None else None
    masks = load_mask_source(config.masks) if config.masks is not None else None
    if config.like is not None:  # random-filters: the identity names the run it copies the counts of
        reference = load_mask_source(config.like)
        identity = run_identity(config, None, masks_sha256(reference))
        return RunInputs(plan, random_unit_masks(reference, config.mask_seed), identity)
    identity = run_identity(config, plan.sha256 if plan else None, masks_sha256(masks) if masks is not None else None)
    return RunInputs(plan, masks, identity)


def _plan_columns(config: TrainConfig, plan: Plan | None) -> dict:
    """Identification and metric columns of the results row for the run's plan (or recipe)."""
    columns = {name: None for name in PLAN_METRIC_COLUMNS}
    if plan is None:
        recipe = config.resolved_recipe
        return {**columns, "plan": None, "plan_sha256": None, "generator": None if recipe == "dense" else recipe,
                "nodes": None, "degree": config.degree, "graph_seed": None}
    metrics = plan.metrics or compute_metrics([plan.matrix], kind=plan.kind)[0]
    for name, value in metrics.items():
        key = "plan_density" if name == "density" else name
        if key in columns:
            columns[key] = value
    degree = plan.params.get("degree", metrics.get("degree_mean"))
    return {**columns, "plan": str(config.plan), "plan_sha256": plan.sha256, "generator": plan.generator,
            "nodes": plan.nodes, "degree": degree, "graph_seed": plan.seed}


def _built_width(model: str, options: dict):
    """The width option's value the model was built with (its default when not given), or None."""
    option = WIDTH_OPTIONS.get(model)
    return resolved_model_options(model, options)[option.name] if option else None


def _masked_density(pruned: PruneResult) -> float:
    layers = [layer for layer in pruned.summary.layers if layer.masked]
    total = sum(layer.weights_total for layer in layers)
    return sum(layer.weights_kept for layer in layers) / total if total else 1.0


def _save_epoch(run_dir: Path, masker: StepMasker, optimizer, scheduler, epoch: int, history: list[dict],
                best_masks: dict[str, torch.Tensor] | None = None) -> None:
    """Checkpoint (and best model when this epoch has the best validation accuracy so far) and log.

    ``best_masks`` (EDropout before its freeze: the best state's masks) are written into
    ``best.pt`` beside the masker's own, so it holds the pruned network that was evaluated.
    """
    best_so_far = max(history, key=lambda h: h["val_acc"])  # the first epoch wins ties
    if best_so_far is history[-1]:
        save_state(run_dir / BEST_FILE, {"model": masker.state_dict(best_masks), "epoch": epoch})
    save_state(run_dir / CHECKPOINT_FILE, {"model": masker.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                                           "epoch": epoch, "history": history, "rng": torch.get_rng_state()})
    atomic_write_text(run_dir / LOG_FILE, pd.DataFrame(history).to_csv(index=False, lineterminator="\n"))


def run_training(config: TrainConfig, run_id: str | None = None, resume_dir: Path | None = None, stop_after_epochs: int | None = None) -> RunOutcome | None:
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

    Returns
    -------
    RunOutcome, or None when stopped early by ``stop_after_epochs`` and on DDP ranks other than 0.
    """
    config.validate()
    rank, world = _rank_world()
    device = setup_environment(config.train_seed, config.threads, config.device)
    data = load_dataset(DataConfig(config.dataset, config.data_dir, config.val_fraction, config.split_seed, config.max_train, config.augment))
    inputs = load_run_inputs(config)
    plan = inputs.plan
    options, width = model_options_for(config, plan, data.input_shape, data.num_classes)
    if width is not None and rank == 0 and not config.quiet and resume_dir is None:
        print(f"width for the MAC budget: {width.describe()}", file=sys.stderr, flush=True)
    model = build_model(config.model, data.input_shape, data.num_classes, **options)
    if config.resolved_recipe == "dense" and expander_layers(model) is not None:
        raise TrainError(f"model {config.model} wires its own X-layers, so recipe 'dense' would mislabel it: use the default recipe "
                         "'model' (or leave --recipe out); its dense counterpart is --model-option expand=1 (degrees=dense for xvgg16)")
    pruned = prune_model(model, mask_config(config, plan), data.input_shape, masks=inputs.masks, source=config.masks or config.like or "masks")
    notices = pruned.notices + reference_mismatches(plan)
    if rank == 0 and not config.quiet and resume_dir is None:
        for notice in notices:
            print(f"notice: {notice}", file=sys.stderr, flush=True)
    masker = StepMasker(model)
    model.to(device)
    masker.to(device)
    edropout = None
    if config.resolved_recipe == EDROPOUT_RECIPE:
        if world > 1:
            raise TrainError("--recipe edropout runs in one process; drop --ddp")
        if resume_dir is not None:
            raise TrainError(f"{resume_dir}: an EDropout run cannot be resumed yet (its search state is not checkpointed); start it again")
        search = EDropoutConfig(config.edropout_population, patience=config.edropout_patience, include=config.include, exclude=config.exclude)
        edropout = EDropoutTraining(model, masker, search, derive_seed(config.mask_seed, "edropout"), edropout_warmup(config))
    train_model: nn.Module = model
    if world > 1:
        train_model = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    steps_per_epoch = data.steps("train", config.batch_size, world)
    optimizer = build_optimizer(model, config)
    scheduler = build_scheduler(optimizer, config, steps_per_epoch)
    scaler = torch.amp.GradScaler("cuda") if config.amp and device.type == "cuda" else None
    loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)

    if resume_dir is None and run_id is None:
        run_id = _agreed_run_id(config, world)
    run_dir = Path(resume_dir) if resume_dir else config.out / run_id
    history: list[dict] = []
    start_epoch = 0
    if resume_dir:
        state = load_checkpoint(run_dir / CHECKPOINT_FILE)
        masker.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
        history, start_epoch = list(state["history"]), int(state["epoch"]) + 1
        if start_epoch >= config.epochs:
            raise TrainError(f"{run_dir}: run already finished all {config.epochs} epochs")
    elif rank == 0:
        run_dir.mkdir(parents=True, exist_ok=False)
        resolved = {"config": config.to_dict(), "config_hash": inputs.config_hash, "identity": inputs.identity,
                    "recipe": config.resolved_recipe, "plan_sha256": plan.sha256 if plan else None, "masks_sha256": pruned.masks_sha256,
                    "graph_seed": plan.seed if plan else None, "data_source": data.source, "input_shape": list(data.input_shape),
                    "num_classes": data.num_classes, "normalisation": data.extra, "world_size": world,
                    "device": str(device), "topoprune_version": __version__, "notices": notices, "draws": pruned.draws,
                    "nominal": pruned.nominal, "built_model_options": options, "width": width.to_dict() if width else None}
        atomic_write_text(run_dir / CONFIG_FILE, json.dumps(encode_json(resolved), indent=2) + "\n")
        save_masks(run_dir / MASKS_FILE, pruned.masks)
        atomic_write_text(run_dir / "masks.csv", summary_csv(pruned.summary))
        atomic_write_text(run_dir / "masks.json", json.dumps(encode_json(pruned.summary.to_dict()), indent=2) + "\n")

    writer = _tensorboard(run_dir) if config.tensorboard and rank == 0 else None
    # Under DDP the launcher (torchrun or train --ddp) owns Ctrl-C; alone, stop at a batch boundary.
    stop = StopOnInterrupt() if world == 1 else None

    def after_step() -> None:
        masker.after_step()
        if stop is not None:
            stop.check()

    try:
        with stop or contextlib.nullcontext():
            for epoch in range(start_epoch, config.epochs):
                label = None if config.quiet or rank != 0 else f"epoch {epoch + 1}/{config.epochs}"
                shuffle = derive_seed(config.train_seed, "epoch", str(epoch))
                if edropout is not None:
                    edropout.epoch = epoch
                train = train_epoch(train_model, data.batches("train", config.batch_size, shuffle, rank, world), optimizer, scheduler,
                                    loss_fn, device, config.amp, scaler, label, steps_per_epoch, after_step, getattr(model, "extra_loss", None),
                                    edropout.step if edropout is not None else None)
                with edropout.pruned() if edropout is not None else contextlib.nullcontext():
                    val = evaluate(model, data.batches("val", 512), loss_fn, device, config.amp)
                    test = evaluate(model, data.batches("test", 512), loss_fn, device, config.amp)
                history.append({"epoch": epoch + 1, "lr": optimizer.param_groups[0]["lr"], "train_loss": train.loss, "train_extra_loss": train.extra_loss,
                                "train_acc": train.accuracy,
                                "val_loss": val.loss, "val_acc": val.accuracy, "val_top5": val.top5, "test_loss": test.loss, "test_acc": test.accuracy,
                                "test_top5": test.top5,
                                "seconds": train.seconds + val.seconds + test.seconds})
                if edropout is not None:
                    with edropout.unpruned():
                        unpruned = evaluate(model, data.batches("test", 512), loss_fn, device, config.amp)
                    history[-1].update({"test_acc_unpruned": unpruned.accuracy, "edropout_frozen": edropout.frozen,
                                        "edropout_best_energy": edropout.search.best_energy, "edropout_units_kept": int(edropout.search.best.sum())})
                if rank == 0:
                    best_masks = edropout.masks() if edropout is not None and not edropout.frozen else None
                    _save_epoch(run_dir, masker, optimizer, scheduler, epoch, history, best_masks)
                    if writer is not None:
                        for key, value in history[-1].items():
                            writer.add_scalar(key, value, epoch + 1)
                    if not config.quiet:
                        print(f"epoch {epoch + 1}/{config.epochs}: train {train.accuracy:.2f}%  val {val.accuracy:.2f}%  "
                              f"test {test.accuracy:.2f}%  ({history[-1]['seconds']:.1f} s)", flush=True)
                if stop_after_epochs is not None and epoch + 1 >= stop_after_epochs and epoch + 1 < config.epochs:
                    return None
                if stop is not None and epoch + 1 < config.epochs:
                    stop.check()  # a Ctrl-C during evaluation or saving stops before the next epoch
    except KeyboardInterrupt:
        done = len(history)
        raise TrainInterrupted(f"interrupted after {done} finished epoch(s); continue with: train --resume {run_dir}") from None
    finally:
        if writer is not None:
            writer.close()

    best_index = max(range(len(history)), key=lambda i: (history[i]["val_acc"], -i))
    best, final = history[best_index], history[-1]
    extra_columns = {}
    if edropout is not None:
        pruned, extra_columns = _edropout_outcome(run_dir, model, edropout, data.input_shape, best)
    row = {
        "run_id": run_dir.name, "config_hash": inputs.config_hash, **_plan_columns(config, plan), "model": config.model, "dataset": config.dataset,
        "recipe": config.resolved_recipe, "density": _masked_density(pruned), "params_kept": pruned.summary.params_kept,
        "params_total": pruned.summary.params_total, "macs_kept": pruned.summary.macs_kept, "macs_total": pruned.summary.macs_total,
        "width": _built_width(config.model, options), "macs_budget": width.budget if width else None,
        **layer_graph_columns(pruned.summary),
        "mask_seed": config.mask_seed, "train_seed": config.train_seed, "epochs": config.epochs, "best_epoch": best["epoch"],
        "best_val_acc": best["val_acc"], "best_acc": best["test_acc"], "best_top5": best.get("test_top5"), "final_acc": final["test_acc"],
        "final_top5": final.get("test_top5"), "test_loss": best["test_loss"], **identity_columns(inputs.identity),
        "applied_masks_sha256": pruned.masks_sha256,
        "train_seconds": round(sum(h["seconds"] for h in history), 3), "device": str(device), "world_size": world,
        "topoprune_version": __version__, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), **extra_columns,
    }
    if rank != 0:
        return None
    append_row(config.out, row)
    return RunOutcome(run_dir.name, run_dir, row)


def _edropout_outcome(run_dir: Path, model: nn.Module, edropout: EDropoutTraining, input_shape: tuple[int, ...], best: dict) -> tuple[PruneResult, dict]:
    """The final state's masks written over the run's (dense) masks files, their counted costs,
    and the EDropout columns of the results row."""
    masks = {name: mask.cpu() for name, mask in edropout.masks().items()}
    summary = summarize(apply_masks(copy.deepcopy(model).cpu(), masks), input_shape)
    pruned = PruneResult(masks, summary, [])
    save_masks(run_dir / MASKS_FILE, masks)
    atomic_write_text(run_dir / "masks.csv", summary_csv(summary))
    atomic_write_text(run_dir / "masks.json", json.dumps(encode_json(summary.to_dict()), indent=2) + "\n")
    return pruned, {**edropout.summary(), "best_acc_unpruned": best["test_acc_unpruned"]}


def _tensorboard(run_dir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise TrainError("--tensorboard needs the tensorboard package: pip install tensorboard") from None
    return SummaryWriter(str(run_dir / "tensorboard"))


def resume_training(run_dir: Path, stop_after_epochs: int | None = None) -> RunOutcome | None:
    """Continue the run in ``run_dir`` with the configuration stored there."""
    run_dir = Path(run_dir)
    if not (run_dir / CONFIG_FILE).is_file():
        raise TrainError(f"{run_dir}: not a run directory (no {CONFIG_FILE})")
    return run_training(read_config(run_dir / CONFIG_FILE), resume_dir=run_dir, stop_after_epochs=stop_after_epochs)

