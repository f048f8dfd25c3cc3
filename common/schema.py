"""Configuration schemas: each field of a configuration dataclass declared once, with its section,
help, command-line spelling and role in the run identity (docs/architecture.md, "Configuration").

A field is declared with :func:`setting` inside a frozen dataclass::

    lr: float = setting(0.1, OPTIMISATION, "Peak learning rate.", minimum=0, open_minimum=True)

Everything else is derived from that one declaration: the command-line options and their
``--help`` sections (``cli/config_options.py``), the YAML keys a configuration file may use
(flat, ``mask-seed`` or ``mask_seed``, or nested under the section's name), the run identity and
the results columns that carry it (``trainer/identity.py``). Nothing here imports click or torch.
"""

from __future__ import annotations

import dataclasses
import math
import reprlib
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.errors import ParameterError, TopopruneError

#: Identity roles: always a key (None where it does not apply), a key only when the value is set
#: (so configurations without it keep their hashes), a key computed by the identity's own rule (a
#: file's content hash, a resolved name), part of the key its recipe makes of its own settings
#: (absent for other recipes), or never part of what a run *is*.
ALWAYS = "always"
WHEN_SET = "when set"
DERIVED = "derived"
RECIPE_OWN = "recipe's own"
NEVER = "never"
IDENTITY_ROLES = (ALWAYS, WHEN_SET, DERIVED, RECIPE_OWN, NEVER)


class ConfigError(ParameterError):
    """A configuration value or key that the schema refuses (one line naming it)."""


@dataclass(frozen=True)
class Setting:
    """What a configuration field is, besides its name, type and default."""

    section: str
    help: str
    identity: str = ALWAYS
    key: str | None = None  # identity key and results column (default: the field's name)
    applies: Callable[[Any], bool] | None = None  # identity: None unless this holds for the configuration
    flag: str | None = None  # command-line spelling (default: --field-name)
    short: str | None = None  # a one-letter alias, e.g. -o
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    open_minimum: bool = False
    open_maximum: bool = False
    parse: Callable[[str], Any] | None = None  # text -> value, for values a plain type cannot read
    unordered: bool = False  # a set given as a list: sorted in the identity
    repeat: bool = False  # a tuple given one item at a time (--key-map A=B --key-map C=D), each item parsed
    metavar: str | None = None
    cli: bool = True  # False: the command line spells it through an option of its own (model options)

    def __post_init__(self) -> None:
        if self.identity not in IDENTITY_ROLES:
            raise ValueError(f"identity role must be one of {IDENTITY_ROLES}, got {self.identity!r}")


def setting(default: Any, section: str, help: str, **spec) -> Any:  # noqa: A002 - 'help' as click spells it
    """A dataclass field with its :class:`Setting` (mutable defaults become factories)."""
    meta = {"setting": Setting(section, help, **spec)}
    if isinstance(default, (dict, list, set)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@dataclass(frozen=True)
class SchemaField:
    """One declared field: its name, its type (``int``, ``float``, ``str``, ``bool``, ``Path``,
    ``tuple``, ``dict``, ``number-or-name``), whether None is allowed, its default and setting."""

    name: str
    kind: str
    optional: bool
    default: Any
    setting: Setting

    @property
    def section(self) -> str:
        return self.setting.section

    @property
    def key(self) -> str:
        return self.setting.key or self.name

    @property
    def flag(self) -> str:
        return self.setting.flag or "--" + self.name.replace("_", "-")

    def spellings(self) -> set[str]:
        """The keys a configuration file may use for this field."""
        bare = self.flag.lstrip("-")
        return {self.name, bare, bare.replace("-", "_"), self.name.replace("_", "-")}


def _kind(annotation) -> tuple[str, bool]:
    """(kind, optional) of a field's type annotation."""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        optional = len(members) < len(args)
        if len(members) > 1:
            return "number-or-name", optional
        return _kind(members[0])[0], optional
    if origin is tuple or annotation is tuple:
        return "tuple", False
    if origin is dict or annotation is dict:
        return "dict", False
    names = {bool: "bool", int: "int", float: "float", str: "str", Path: "path"}
    return names.get(annotation, "str"), False


def schema_fields(cls) -> tuple[SchemaField, ...]:
    """The declared fields of a configuration dataclass, in declaration order."""
    hints = typing.get_type_hints(cls)
    found = []
    for f in dataclasses.fields(cls):
        spec = f.metadata.get("setting")
        if spec is None:
            continue
        kind, optional = _kind(hints[f.name])
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        found.append(SchemaField(f.name, kind, optional, default, spec))
    return tuple(found)


def sections(cls) -> dict[str, tuple[SchemaField, ...]]:
    """The declared fields grouped by section, sections in order of first appearance."""
    grouped: dict[str, list[SchemaField]] = {}
    for field in schema_fields(cls):
        grouped.setdefault(field.section, []).append(field)
    return {name: tuple(fields) for name, fields in grouped.items()}


def _shown(value: Any) -> str:
    """A value as an error message shows it: bounded, however large or deep the value is."""
    shown = _SHORT_REPR.repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxlevel, _SHORT_REPR.maxlist, _SHORT_REPR.maxdict, _SHORT_REPR.maxstring = 3, 4, 4, 40


def _expected(field: SchemaField) -> str:
    if field.setting.choices:
        return "one of " + ", ".join(field.setting.choices)
    words = {
        "int": "a whole number",
        "float": "a number",
        "bool": "true or false",
        "str": "one value (text)",
        "path": "a file path",
        "tuple": "a list of names or numbers",
        "dict": "a mapping",
        "number-or-name": "a number or a name",
    }
    return words[field.kind] + (" or null" if field.optional else "")


def coerce(field: SchemaField, value: Any, where: str) -> Any:
    """``value`` (from a file, a mapping or a command line) as the field's type, range and choices
    checked; raises ConfigError with one line naming ``where``, the value and what was expected."""

    def refuse() -> ConfigError:
        return ConfigError(f"{where}: {_shown(value)} is not {_expected(field)}")

    if value is None:
        if field.optional or field.kind in ("tuple", "dict"):
            return None if field.optional else field.default
        raise refuse()
    if field.setting.parse is not None and (isinstance(value, str) or field.setting.repeat):
        try:
            if field.setting.repeat:
                items = value if isinstance(value, (list, tuple)) else [value]
                return tuple(field.setting.parse(str(item)) for item in items)
            return field.setting.parse(value)
        except (ValueError, TopopruneError) as error:
            raise ConfigError(f"{where}: {error}") from None
    converted = _convert(field, value)
    if converted is _INVALID:
        raise refuse()
    return _checked_range(field, converted, where)


_INVALID = object()


def _convert(field: SchemaField, value: Any) -> Any:
    kind = field.kind
    if kind == "bool":
        return value if isinstance(value, bool) else _INVALID
    if kind == "int":
        return value if isinstance(value, int) and not isinstance(value, bool) else _INVALID
    if kind in ("float", "number-or-name"):
        if isinstance(value, bool):
            return _INVALID
        if isinstance(value, (int, float)):
            return float(value) if kind == "float" else value
        return value if kind == "number-or-name" and isinstance(value, str) else _INVALID
    if kind == "str":
        return value if isinstance(value, str) else _INVALID
    if kind == "path":
        return Path(value) if isinstance(value, (str, Path)) and str(value) else _INVALID
    if kind == "tuple":
        items = list(value) if isinstance(value, (list, tuple)) else [value]
        if not all(isinstance(i, (str, int, float)) for i in items):
            return _INVALID  # a list of names or numbers, never of mappings or lists
        return tuple(items)
    if kind == "dict":
        return dict(value) if isinstance(value, dict) else _INVALID
    return _INVALID


def _checked_range(field: SchemaField, value: Any, where: str) -> Any:
    """``value`` unless it is outside the field's choices or range, or not finite (ConfigError)."""
    spec = field.setting
    if spec.choices is not None and value not in spec.choices:
        raise ConfigError(f"{where}: {value!r} is not one of {', '.join(spec.choices)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{where}: {value!r} is not a finite number")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        low, high = spec.minimum, spec.maximum
        below = low is not None and (value < low or (spec.open_minimum and value == low))
        above = high is not None and (value > high or (spec.open_maximum and value == high))
        if below or above:
            raise ConfigError(f"{where}: {value!r} is out of range: it must be {_range(spec)}")
    return value


def _range(spec: Setting) -> str:
    parts = []
    if spec.minimum is not None:
        parts.append(f"{'>' if spec.open_minimum else '>='} {spec.minimum:g}")
    if spec.maximum is not None:
        parts.append(f"{'<' if spec.open_maximum else '<='} {spec.maximum:g}")
    return " and ".join(parts)


def check(field: SchemaField, value: Any, where: str) -> None:
    """Raise ConfigError unless ``value``, already of the field's Python type, is allowed: None only
    where the field is optional, the declared kind, choices and range, numbers finite."""

    def refuse() -> ConfigError:
        return ConfigError(f"{where}: {_shown(value)} is not {_expected(field)}")

    if value is None:
        if not field.optional:
            raise refuse()
        return
    kind = field.kind
    expected = {"bool": bool, "int": int, "float": (int, float), "str": str, "path": Path, "tuple": tuple, "dict": dict}
    if kind in expected and (
        not isinstance(value, expected[kind]) or (kind in ("int", "float") and isinstance(value, bool))
    ):
        raise refuse()
    if kind in ("float", "number-or-name", "int", "str") and not (kind == "number-or-name" and isinstance(value, str)):
        _checked_range(field, value, where)


def flat_values(classes, document: dict, where: str) -> dict[str, Any]:
    """A configuration document (flat keys in any spelling, or nested under section names) as
    ``{field name: checked value}`` for the fields of ``classes`` (one configuration dataclass or
    several, e.g. with the recipes' settings); an unknown key is one line naming it and the closest."""
    import difflib

    classes = classes if isinstance(classes, tuple) else (classes,)
    fields = [field for cls in classes for field in schema_fields(cls)]
    by_spelling = {spelling: f for f in fields for spelling in f.spellings()}
    section_names = {f.section for f in fields}
    values: dict[str, Any] = {}
    for key, value in document.items():
        key = str(key)
        if key in section_names and isinstance(value, dict) and getattr(by_spelling.get(key), "kind", None) != "dict":
            values.update(flat_values(classes, value, f"{where}: {key}"))
            continue
        field = by_spelling.get(key)
        if field is None:
            close = difflib.get_close_matches(key, sorted(by_spelling) + sorted(section_names), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ConfigError(f"{where}: unknown key '{key}'{hint}")
        if field.name in values:
            raise ConfigError(f"{where}: '{key}' is given twice (as {field.name})")
        values[field.name] = coerce(field, value, f"{where}: {key}")
    return values
