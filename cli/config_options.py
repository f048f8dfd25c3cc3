"""Click options generated from a configuration schema (common.schema), shown in ``--help`` in
sections (docs/architecture.md, "Configuration").

Each option's spelling, type, range, choices, default and help come from the field's one
declaration; a command adds only what is about the command itself (``--resume``, ``--plans``).
"""

from __future__ import annotations

from pathlib import Path

import click

from common.errors import TopopruneError
from common.schema import SchemaField, schema_fields

#: The section of options that belong to the command, not to the configuration.
COMMAND_SECTION = "command"


class SectionOption(click.Option):
    """A click option that knows its ``--help`` section."""

    def __init__(self, *args, section: str = COMMAND_SECTION, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.section = section


class SectionedCommand(click.Command):
    """A command whose ``--help`` lists its options by section: the command's own first, then the
    configuration's sections in schema order."""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        groups: dict[str, list[tuple[str, str]]] = {COMMAND_SECTION: []}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None:
                groups.setdefault(getattr(param, "section", COMMAND_SECTION), []).append(record)
        for name, records in groups.items():
            if records:
                with formatter.section(f"{name.capitalize()} options"):
                    formatter.write_dl(records)


def _parsed(field: SchemaField):
    """A click callback that reads a value with the field's own parser (one-line errors)."""

    def callback(_ctx, _param, value):
        if value is None or value == ():
            return field.default
        try:
            if field.setting.repeat:
                return tuple(field.setting.parse(item) for item in value)
            return field.setting.parse(value)
        except TopopruneError as error:
            raise click.BadParameter(str(error)) from None

    return callback


def _number_type(field: SchemaField):
    spec = field.setting
    if spec.minimum is None and spec.maximum is None:
        return int if field.kind == "int" else float
    if field.kind == "int":
        return click.IntRange(spec.minimum, spec.maximum)
    return click.FloatRange(spec.minimum, spec.maximum, min_open=spec.open_minimum, max_open=spec.open_maximum)


def option_for(field: SchemaField, click_type=None) -> click.Option:
    """The click option of one declared field (``click_type`` replaces the derived type)."""
    spec = field.setting
    names = [field.flag, *([spec.short] if spec.short else []), field.name]
    kwargs: dict = {"cls": SectionOption, "section": field.section, "help": spec.help}
    if spec.metavar:
        kwargs["metavar"] = spec.metavar
    if field.kind == "bool":
        kwargs.update(is_flag=True, default=field.default)
    elif spec.parse is not None:
        kwargs.update(callback=_parsed(field), multiple=spec.repeat)
        if not spec.repeat and field.default not in (None, ()):
            kwargs.update(default=str(field.default), show_default=True)
    elif field.kind == "tuple":
        kwargs.update(multiple=True)
    else:
        if spec.choices is not None:
            kind = click.Choice(spec.choices)
        elif field.kind in ("int", "float"):
            kind = _number_type(field)
        elif field.kind == "path":
            kind = click.Path(path_type=Path)
        else:
            kind = str
        kwargs.update(type=click_type or kind, default=field.default)
        if field.default is not None:
            kwargs["show_default"] = True
    return click.option(*names, **kwargs)


def schema_options(cls, only: tuple[str, ...] | None = None, types: dict | None = None, skip: tuple[str, ...] = ()):
    """A decorator adding the options of ``cls``'s declared fields (those in ``only``, or every
    field the command line spells itself but ``skip``), in declaration order."""
    fields = [f for f in schema_fields(cls) if f.setting.cli and f.name not in skip]
    if only is not None:
        by_name = {f.name: f for f in fields}
        fields = [by_name[name] for name in only]
    types = types or {}

    def decorate(func):
        for field in reversed(fields):
            func = option_for(field, types.get(field.name))(func)
        return func

    return decorate


def section_option(*names, section: str, **kwargs):
    """``click.option`` for an option that is not a schema field but belongs in one of its sections
    (``--model-option`` in the model section)."""
    return click.option(*names, cls=SectionOption, section=section, **kwargs)
