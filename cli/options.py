"""Options and helpers shared by the topoprune commands."""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterable

import click
from tqdm import tqdm

from topology.errors import TopopruneError

#: Show a progress bar when a command works through more items than this.
PROGRESS_THRESHOLD = 50


def seed_option(default: int = 0, help_text: str = "Seed of every random choice (same seed, same output)."):
    return click.option("--seed", type=int, default=default, show_default=True, help=help_text)


def format_option(choices=("table", "csv", "json"), default: str | None = "table"):
    return click.option(
        "--format", "fmt", type=click.Choice(choices), default=default, show_default=default is not None,
        help="How to print the results.",
    )


def comma_list(_ctx, _param, value: tuple[str, ...]) -> list[str] | None:
    """Callback: ``--metrics a,b --metrics c`` -> ["a", "b", "c"]; None when not given."""
    if not value:
        return None
    return [item.strip() for chunk in value for item in chunk.split(",") if item.strip()]


def progress(items: Iterable, description: str, quiet: bool = False) -> Iterable:
    """Wrap ``items`` in a progress bar on stderr when there are many of them."""
    items = list(items)
    disable = quiet or len(items) <= PROGRESS_THRESHOLD
    return tqdm(items, desc=description, unit="plan", disable=disable, file=sys.stderr, leave=False)


def friendly_errors(func):
    """Turn topoprune and OS errors into one-line click errors (exit 1, no traceback)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except TopopruneError as error:
            raise click.ClickException(str(error)) from None
        except OSError as error:
            where = f"{error.filename}: " if error.filename else ""
            raise click.ClickException(f"{where}{error.strerror or error}") from None

    return wrapper


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
        "--input-size", default=default, callback=parse_size, show_default=default is not None,
        help=f"One example's shape, CxHxW (e.g. 1x28x28 for Fashion-MNIST); {purpose}.",
    )



def parse_model_options(_ctx, _param, values: tuple[str, ...]) -> dict:
    """Callback: ``("width=256", "pointwise=grouped")`` -> {"width": 256, "pointwise": "grouped"} (ints, floats, else text)."""
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
    return click.option("--model-option", "model_options", multiple=True, callback=parse_model_options,
                        help="Model option KEY=VALUE, e.g. width=256 or expand=4 (repeatable).")
