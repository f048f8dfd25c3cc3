"""Options and helpers shared by the topoprune commands."""

from __future__ import annotations

import functools
import math
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import click
from tqdm import tqdm

from common.durations import format_duration
from common.errors import RegistryError, TopopruneError
from common.memory import ENVIRONMENT_VARIABLE, set_memory_budget
from common.memory import parse_size as parse_memory_size

#: Show a progress bar when a command works through more items than this.
PROGRESS_THRESHOLD = 50


def seed_option(default: int = 0, help_text: str = "Seed of every random choice (same seed, same output)."):
    return click.option("--seed", type=int, default=default, show_default=True, help=help_text)


def format_option(choices=("table", "csv", "json"), default: str | None = "table"):
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(choices),
        default=default,
        show_default=default is not None,
        help="How to print the results.",
    )


def comma_list(_ctx, _param, value: tuple[str, ...]) -> list[str] | None:
    """Callback: ``--metrics a,b --metrics c`` -> ["a", "b", "c"]; None when not given."""
    if not value:
        return None
    return [item.strip() for chunk in value for item in chunk.split(",") if item.strip()]


class FiniteFloat(click.ParamType):
    """A float option that refuses nan and inf (which no size, degree or probability can be)."""

    name = "float"

    def convert(self, value, param, ctx):
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


FINITE_FLOAT = FiniteFloat()


def progress(items: Iterable, description: str, quiet: bool = False) -> Iterable:
    """Wrap ``items`` in a progress bar on stderr when there are many of them."""
    items = list(items)
    disable = quiet or len(items) <= PROGRESS_THRESHOLD
    return tqdm(items, desc=description, unit="plan", disable=disable, file=sys.stderr, leave=False)


#: Set to 1 (or pass --debug) to see the traceback behind an error instead of its one line.
DEBUG_VARIABLE = "TOPOPRUNE_DEBUG"


def debugging() -> bool:
    return os.environ.get(DEBUG_VARIABLE, "") not in ("", "0")


def _set_debug(_ctx, _param, value: bool) -> None:
    if value:
        os.environ[DEBUG_VARIABLE] = "1"


def debug_option():
    """``--debug``: show the traceback behind an error (also ``TOPOPRUNE_DEBUG=1``)."""
    return click.option(
        "--debug",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=_set_debug,
        help=f"Show the full traceback of an error (same as {DEBUG_VARIABLE}=1).",
    )


def _command_name() -> str:
    context = click.get_current_context(silent=True)
    return context.command_path if context is not None else "topoprune"


def _file_in_the_way(error: OSError) -> str:
    """The deepest existing path component of a failed mkdir or open that is a file, not a folder."""
    path = Path(error.filename or "")
    for candidate in (path, *path.parents):
        if candidate.exists() and not candidate.is_dir():
            return str(candidate)
    return str(path)


def friendly_errors(func):
    """Turn every error that reaches a command into one line and a non-zero exit, no traceback.

    topoprune's own errors and OS errors say what is wrong with which input (exit 1); anything
    else is unexpected: one line naming the command and the error, exit 1, and the traceback
    behind ``--debug`` or ``TOPOPRUNE_DEBUG=1``. Ctrl-C exits 130 with one line.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort, SystemExit):
            raise
        except TopopruneError as error:
            raise click.ClickException(str(error)) from None
        except (FileExistsError, NotADirectoryError) as error:  # a file where a folder is needed
            raise click.ClickException(f"{_file_in_the_way(error)}: exists and is not a directory") from None
        except OSError as error:
            where = f"{error.filename}: " if error.filename else ""
            raise click.ClickException(f"{where}{error.strerror or error}") from None
        except KeyboardInterrupt:
            click.echo(f"{_command_name()}: stopped by Ctrl-C", err=True)
            sys.exit(130)
        except Exception as error:
            if debugging():
                raise
            text = str(error).strip().splitlines()[0] if str(error).strip() else ""
            detail = f"{type(error).__name__}: {text}" if text else type(error).__name__
            raise click.ClickException(
                f"{_command_name()} failed unexpectedly ({detail}); run it again with --debug or "
                f"{DEBUG_VARIABLE}=1 for the traceback"
            ) from None

    return debug_option()(wrapper)


def _set_memory_budget(_ctx, _param, value: str | None) -> None:
    if value is None:
        return
    try:
        set_memory_budget(parse_memory_size(value))
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def memory_budget_option():
    """``--memory-budget SIZE``: inputs or parameters needing more fail at once with one line."""
    return click.option(
        "--memory-budget",
        metavar="SIZE",
        callback=_set_memory_budget,
        expose_value=False,
        is_eager=True,
        help=f"Largest memory a matrix may need, e.g. 2G or 512M (default: ${ENVIRONMENT_VARIABLE}, else the memory "
        "available now).",
    )


def path_options(sample_sources: int, sample_seed: int, quiet: bool):
    """PathOptions for ``--sample-sources``. An exact computation that takes several chunks of
    sources and more than 10 s prints its time estimate after the first chunk, then a progress bar."""
    from topology.metrics import PathOptions

    state: dict = {}

    def each_metric(metrics: list, nodes: int) -> Iterable:
        bar = tqdm(metrics, desc=f"metrics of {nodes:,} nodes", unit="metric", disable=quiet, file=sys.stderr)
        for metric in bar:
            bar.set_postfix_str(metric.name)
            yield metric

    def report(done: int, total: int) -> None:
        now = time.perf_counter()
        if done == 0:
            state.update(start=now, bar=None)
            return
        if total <= 1 or "start" not in state:
            return
        if state["bar"] is None:
            elapsed = now - state["start"]
            estimate = elapsed * total / done
            if estimate > 10 and not quiet:
                click.echo(
                    f"exact shortest paths: about {format_duration(estimate)} ({total} chunks of sources, "
                    f"the first took {elapsed:.1f} s); "
                    "--sample-sources K estimates the ASPL instead",
                    err=True,
                )
            state["bar"] = tqdm(
                total=total,
                initial=done,
                desc="shortest paths",
                unit="chunk",
                file=sys.stderr,
                leave=False,
                disable=quiet or estimate <= 10,
            )
        else:
            state["bar"].update(done - state["bar"].n)
        if done >= total:
            state["bar"].close()
            state.clear()

    return PathOptions(sample_sources, sample_seed, progress=report, metric_progress=each_metric)


def sampling_options(func):
    """``--sample-sources K`` and ``--sample-seed``."""
    func = click.option(
        "--sample-seed", type=int, default=0, show_default=True, help="Seed of the sampled BFS sources."
    )(func)
    return click.option(
        "--sample-sources",
        type=click.IntRange(min=0),
        default=0,
        show_default=True,
        metavar="K",
        help="Estimate the ASPL of graphs larger than K nodes from K random BFS sources, with a 95% interval "
        "(columns aspl_ci95_low/high, aspl_sources; diameter left empty). 0: exact.",
    )(func)


def parse_size(_ctx, _param, value: str | None) -> tuple[int, ...] | None:
    """Callback: ``3x32x32`` -> (3, 32, 32)."""
    if value is None:
        return None
    try:
        size = tuple(int(part) for part in value.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"expected sizes like 3x32x32, got {value!r}") from None
    if not size or min(size) < 1:
        raise click.BadParameter(f"sizes must be positive, got {value!r}")
    return size


def input_size_option(default: str | None = "3x32x32", purpose: str = "MACs are counted at this size"):
    return click.option(
        "--input-size",
        "input_shape",
        default=default,
        callback=parse_size,
        show_default=default is not None,
        help=f"One example's shape, CxHxW (e.g. 1x28x28 for Fashion-MNIST); {purpose}.",
    )


def parse_model_options(_ctx, _param, values: tuple[str, ...]) -> dict:
    """Callback: ``("width=256", "pointwise=grouped")`` -> {"width": 256, "pointwise": "grouped"} (ints, floats, else
    text)."""
    options = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}")
        try:
            options[key.strip()] = int(raw)
        except ValueError:
            try:
                options[key.strip()] = float(raw)
            except ValueError:
                options[key.strip()] = raw
    return options


def model_option():
    """``--model-option KEY=VALUE`` (repeatable), shared by every command that builds a model."""
    return click.option(
        "--model-option",
        "model_options",
        multiple=True,
        callback=parse_model_options,
        help="Model option KEY=VALUE, e.g. width=256 or expand=4 (repeatable).",
    )


class ModelName(click.ParamType):
    """A zoo model's name, or ``tv:NAME`` / ``timm:NAME`` (torchvision's and timm's models)."""

    name = "model"

    def __init__(self, zoo) -> None:
        self.zoo = zoo

    def get_metavar(self, param, ctx=None) -> str:
        return "NAME|tv:NAME|timm:NAME"

    def convert(self, value, param, ctx):
        try:
            self.zoo.get(value)
        except RegistryError as error:
            self.fail(f"{error}; or tv:NAME (torchvision), timm:NAME (timm)", param, ctx)
        except TopopruneError as error:
            self.fail(str(error), param, ctx)
        return value


def model_name_help(zoo) -> str:
    return (
        f"Model: one of the zoo's ({', '.join(sorted(zoo))}), tv:NAME for any torchvision classification model "
        "(torchvision.models.list_models(); no weights are downloaded) or timm:NAME (pip install 'topoprune[timm]')."
    )


def equals_pairs(form: str, meaning: str):
    """A callback for a repeatable ``A=B`` option: ``("a=b", ...)`` -> ``(("a", "b"), ...)``;
    anything without ``=`` or with an empty left side is one error naming ``form`` and ``meaning``."""

    def parse(_ctx, _param, values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
        pairs = []
        for value in values:
            left, sep, right = value.partition("=")
            if not sep or not left.strip():
                raise click.BadParameter(f"expected {form} ({meaning}), got {value!r}")
            pairs.append((left.strip(), right.strip()))
        return tuple(pairs)

    return parse
