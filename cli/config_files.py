"""Experiments as YAML files: ``--config FILE.yaml`` gives a command's options from a file (the
command line overrides it), ``--print-config`` writes a command line's options as such a file.

A file is a mapping of option names (``epochs``, ``mask-seed`` or ``mask_seed``, ``seed``) to
values: lists for repeatable options, and ``model-option`` as a mapping (``{width: 32}``). An
unknown key is an error naming the key and the closest valid one. Input files a file names
(``plan``, ``plans``, ``masks``, ``like``, ``init-from``) are relative to the file, so a shipped
config finds its plan wherever it is run from; ``--print-config`` writes them absolute. PyYAML is
an optional extra (``pip install 'topoprune[yaml]'``). The run's ``config.json`` stays the record
of what ran.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import click

from common.schema import ConfigError, coerce, schema_fields
from trainer.config import config_classes, config_sections, read_yaml_mapping

#: Input-file options: a relative path in a file is relative to the file.
INPUT_FILES = frozenset({"plan", "plans_dir", "masks", "like", "init_from"})
#: Options that are about the command itself, never written to or read from a file.
NOT_IN_FILES = frozenset({"config", "print_config", "debug", "resume", "eval_only", "status_dir", "shard", "help"})


def _yaml():
    try:
        import yaml
    except ImportError:
        raise click.UsageError("--config and --print-config need PyYAML: pip install 'topoprune[yaml]'") from None
    return yaml


def _names(command: click.Command) -> dict[str, click.Parameter]:
    """Every spelling a file may use for each option (``mask-seed``, ``mask_seed``, the dest name)."""
    names = {}
    for param in command.params:
        if not isinstance(param, click.Option) or param.name in NOT_IN_FILES:
            continue
        for spelling in [*param.opts, param.name]:
            if spelling.startswith("--") or not spelling.startswith("-"):
                bare = spelling.lstrip("-")
                names[bare] = names[bare.replace("-", "_")] = names[bare.replace("_", "-")] = param
    return names


def _value(param: click.Option, key: str, value, path: Path):
    """A file's value as the option expects it (lists for repeatable options, ``k=v`` model options,
    input files relative to the file)."""
    if param.name in INPUT_FILES and isinstance(value, str):
        return str(Path(path).parent / value) if not Path(value).is_absolute() else value
    if param.name == "published":
        return value  # a mapping, checked by the option's callback
    if param.name == "model_options" and isinstance(value, dict):
        if not all(isinstance(v, (str, int, float, bool)) or v is None for v in value.values()):
            raise click.BadParameter(f"{path}: {key} takes names, numbers or true/false as values")
        return [f"{k}={v}" for k, v in value.items()]
    if param.multiple:
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(v, (str, int, float)) for v in items):
            raise click.BadParameter(f"{path}: {key} takes a list of names or numbers")
        return [str(v) for v in items]
    if isinstance(value, (dict, list)):
        raise click.BadParameter(f"{path}: {key} takes one value, got {value!r}")
    return value


def read_config_file(command: click.Command, path: Path) -> dict:
    """The file's options as ``{dest name: value}`` for ``ctx.default_map``; a training option may
    also sit under its schema section (``optimisation: {lr: 0.05}``)."""
    try:
        loaded = read_yaml_mapping(Path(path))
    except ConfigError as error:
        raise click.BadParameter(str(error)) from None
    names, values = _names(command), {}
    fields = {field.name: field for cls in config_classes() for field in schema_fields(cls)}
    for key, value in _flattened(loaded):
        param = names.get(str(key))
        if param is None:
            close = difflib.get_close_matches(str(key), sorted(names), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise click.BadParameter(f"{path}: unknown option '{key}'{hint}")
        if param.name in values:
            raise click.BadParameter(f"{path}: '{key}' is given twice (as {param.name})")
        field = fields.get(param.name)
        if field is not None and field.setting.cli:
            try:
                coerce(field, value, f"{path}: {key}")  # checked against its declaration; click converts it
            except ConfigError as error:
                raise click.BadParameter(str(error)) from None
        values[param.name] = _value(param, str(key), value, path)
    return values


def _flattened(document: dict) -> list[tuple[str, object]]:
    """(key, value) pairs with the training schema's sections opened (a key that is an option
    keeps its meaning)."""
    section_names = set(config_sections())
    pairs = []
    for key, value in document.items():
        if str(key) in section_names and isinstance(value, dict):  # no option named like a section takes a mapping
            pairs.extend(value.items())
        else:
            pairs.append((key, value))
    return pairs


def _load(ctx: click.Context, _param, value: Path | None) -> Path | None:
    if value is not None:
        ctx.default_map = {**(ctx.default_map or {}), **read_config_file(ctx.command, value)}
    return value


def config_file_options(func):
    """Add ``--config`` and ``--print-config`` to a click command (``--config`` is read first)."""
    func = click.option(
        "--print-config",
        is_flag=True,
        help="Print this command line's options as a YAML file for --config, and exit.",
    )(func)
    return click.option(
        "--config",
        type=click.Path(dir_okay=False, path_type=Path),
        is_eager=True,
        expose_value=False,
        callback=_load,
        help="Read options from this YAML file (options given on the command line win).",
    )(func)


def _plain(param: click.Option, value):
    """A resolved value in the form the option reads back: a model-option mapping, a list for a
    repeatable option, ``a,b`` for a single option whose callback made a list (``--milestones``)."""
    if isinstance(value, dict):
        return {str(k): _plain(param, v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        if param.multiple:
            return ["=".join(map(str, v)) if isinstance(v, tuple) else _plain(param, v) for v in value]
        return ",".join(str(v) for v in value)
    return str(value) if isinstance(value, Path) else value


def config_text(ctx: click.Context, header: str = "") -> str:
    """The command's resolved options as YAML: what ``--config`` reads back into the same command."""
    values = {}
    for param in ctx.command.params:
        if not isinstance(param, click.Option) or param.name in NOT_IN_FILES:
            continue
        value = ctx.params.get(param.name)
        if value is None or (isinstance(value, (tuple, list, dict)) and not value):
            continue
        if param.name in INPUT_FILES:
            value = Path(value).resolve()
        values[max(param.opts, key=len).lstrip("-")] = _plain(param, value)
    body = _yaml().safe_dump(values, sort_keys=False, default_flow_style=False)
    return (header + "\n" if header else "") + body
