"""``train sweep``'s executor options and what each executor does with the jobs
(sweeps.executors; docs/architecture.md, "Sweeps")."""

from __future__ import annotations

import click

from cli.options import equals_pairs
from sweeps.executors import EXECUTORS, LOCAL, SLURM, ExecutorConfig
from sweeps.executors.status import check_sweep_folder, sweep_state
from sweeps.progress import running_progress
from sweeps.run import run_specs

#: The options :func:`executor_options` adds, as ExecutorConfig fields.
_FIELDS = {
    "executor": "kind",
    "jobs": "jobs",
    "max_retries": "max_retries",
    "ray_address": "ray_address",
    "cpus_per_job": "cpus_per_job",
    "gpus_per_job": "gpus_per_job",
    "slurm_partition": "slurm_partition",
    "slurm_time": "slurm_time",
    "slurm_gpus_per_job": "slurm_gpus_per_job",
    "slurm_cpus_per_job": "slurm_cpus_per_job",
    "slurm_array_parallelism": "slurm_array_parallelism",
    "slurm_option": "slurm_options",
}


def executor_options(func):
    """Add ``--executor`` and its options to a click command."""
    options = [
        click.option(
            "--executor",
            type=click.Choice(EXECUTORS),
            default=LOCAL,
            show_default=True,
            help="Where the jobs run: this machine; a Ray cluster (pip install 'topoprune[ray]'); or one Slurm "
            "array job through submitit (pip install 'topoprune[slurm]'), which returns after submitting.",
        ),
        click.option(
            "--jobs", "-j", type=click.IntRange(1), default=1, show_default=True,
            help="local: trainings at once on this machine (threads are split).",
        ),
        click.option(
            "--max-retries", type=click.IntRange(0), default=2, show_default=True,
            help="ray: reruns of a job whose worker died; slurm: requeues after pre-emption or time-out. A retried "
            "job continues from its last checkpoint.",
        ),
        click.option("--ray-address", help="ray: 'auto' or HOST:PORT of a running cluster (default: start one here)."),
        click.option(
            "--cpus-per-job", type=click.FloatRange(0, min_open=True), default=1.0, show_default=True,
            help="ray: CPUs each job asks for (also its torch threads).",
        ),
        click.option(
            "--gpus-per-job", type=click.FloatRange(0), default=0.0, show_default=True,
            help="ray: GPUs each job asks for (fractions share a GPU).",
        ),
        click.option("--slurm-partition", help="slurm: the partition."),
        click.option(
            "--slurm-time", type=click.IntRange(1), default=60, show_default=True,
            help="slurm: minutes per array task (a task that reaches it is requeued and resumes).",
        ),
        click.option(
            "--slurm-gpus-per-job", type=click.IntRange(0), default=0, show_default=True, help="slurm: GPUs per task."
        ),
        click.option(
            "--slurm-cpus-per-job", type=click.IntRange(1), default=1, show_default=True,
            help="slurm: CPUs per task (also its torch threads).",
        ),
        click.option(
            "--slurm-array-parallelism", type=click.IntRange(1), default=64, show_default=True,
            help="slurm: array tasks running at once.",
        ),
        click.option(
            "--slurm-option", multiple=True, metavar="KEY=VALUE",
            callback=equals_pairs("KEY=VALUE", "an sbatch option without its dashes"),
            help="slurm: a further #SBATCH option, e.g. account=lab or qos=high (repeatable).",
        ),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


def executor_config(options: dict) -> ExecutorConfig:
    """Take the executor options out of ``options`` (in place) as a validated ExecutorConfig."""
    values = {field: options.pop(name) for name, field in _FIELDS.items()}
    config = ExecutorConfig(**values)
    if config.kind != LOCAL and config.jobs != 1:
        raise click.UsageError(
            f"--jobs is for --executor local; with {config.kind}, the cluster runs jobs side by side"
        )
    return config.validate()


def show_status(out) -> None:
    """``train sweep --status DIR``."""
    check_sweep_folder(out)
    for line in sweep_state(out).describe():
        click.echo(line)
    for job in running_progress(out):
        click.echo(f"running: {job.describe()}")


def run_jobs(specs: list, executor: ExecutorConfig, bar) -> None:
    """Run (or, for Slurm, submit) the pending jobs through :func:`sweeps.run.run_specs`, and say
    what happened."""
    outcome = run_specs(specs, executor, on_done=lambda spec: bar.update(1))
    if outcome.failed:
        for spec, why in outcome.failed:
            click.echo(f"failed: {spec.describe()}: {why}", err=True)
        raise click.ClickException(f"{len(outcome.failed)} of {len(specs)} job(s) failed (listed above)")
    if executor.kind != SLURM:
        return
    if not outcome.submitted:
        click.echo(f"nothing to submit: {outcome.waiting} job(s) are running or queued", err=True)
        return
    click.echo(
        f"submitted {len(outcome.submitted)} job(s) as Slurm job {', '.join(outcome.job_ids)}"
        + (f" ({outcome.waiting} more are running or queued)" if outcome.waiting else ""),
        err=True,
    )
    click.echo(f"follow it with: train sweep --status {specs[0].config.out}", err=True)
