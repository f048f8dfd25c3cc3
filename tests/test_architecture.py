"""docs/architecture.md's promises about the code itself: names spelled once, short trainer functions."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("structure", ROOT / "bench" / "structure.py")
structure = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(structure)

#: Each file name, and the one module allowed to spell it.
OWNERS = {
    "config.json": "trainer/rundir.py",
    "log.csv": "trainer/rundir.py",
    "search_log.csv": "common/columns.py",
    "results.columns.json": "common/columns.py",
    "checkpoint.pt": "trainer/rundir.py",
    "best.pt": "trainer/rundir.py",
    "results.csv": "trainer/rundir.py",
    "masks.npz": "pruning/outputs.py",
    "masks.csv": "pruning/outputs.py",
    "masks.json": "pruning/outputs.py",
    "model.pt": "pruning/outputs.py",
    "summary.json": "pruning/outputs.py",
    "compile.json": "pruning/outputs.py",
    "metrics.csv": "topology/tables.py",
}


@pytest.mark.parametrize("name", sorted(OWNERS))
def test_each_file_name_is_spelled_in_one_module(name):
    assert structure.string_places((name,)).get(name, set()) == {OWNERS[name]}


@pytest.mark.parametrize("name", ["relational", "edropout", "random-filters"])
def test_recipe_names_are_spelled_where_they_are_declared(name):
    # The recipe's registration, and (edropout) its columns' declaration; "random-filters" also
    # labels the seed of its draws, which must not change.
    # reports/table.py: the column roles of tables written before each table carried its own;
    # trainer/edropout.py: the recipe's own module names it (and its settings' section).
    allowed = {"pruning/mask_rules.py", "trainer/recipes.py", "pruning/edropout_units.py", "reports/table.py"}
    allowed |= {"trainer/edropout.py"}
    assert structure.string_places((name,)).get(name, set()) <= allowed


def test_no_trainer_function_is_longer_than_a_screen():
    long = [
        place for lines, place in structure.longest_functions(count=1000) if place.startswith("trainer/") and lines > 65
    ]
    assert long == []


def test_the_measurement_catches_a_second_spelling_and_ignores_docstrings(tmp_path, monkeypatch):
    (tmp_path / "trainer").mkdir()
    (tmp_path / "trainer" / "rundir.py").write_text('"""Writes config.json."""\nCONFIG = "config.json"\n')
    (tmp_path / "trainer" / "other.py").write_text(
        '"""Reads config.json."""\n\ndef f(d):\n    return d / "config.json"\n'
    )
    monkeypatch.setattr(structure, "ROOT", tmp_path)
    assert structure.string_places(("config.json",))["config.json"] == {"trainer/rundir.py", "trainer/other.py"}
    assert structure.longest_functions() == [(2, "trainer/other.py:f")]


def _files_reading_attributes(prefix: str) -> set[str]:
    """Modules that read an attribute whose name starts with ``prefix`` (``config.edropout_patience``)."""
    import ast

    found = set()
    for package in structure.PACKAGES:
        for path in structure.source_files(package):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            if any(isinstance(n, ast.Attribute) and n.attr.startswith(prefix) for n in ast.walk(tree)):
                found.add(str(path.relative_to(ROOT)))
    return found


def test_a_recipes_settings_are_read_only_where_docs_say_a_recipe_lives():
    # docs/architecture.md, "Adding things": a recipe's settings are declared with its hooks (trainer/edropout.py),
    # read by its registration in trainer/recipes.py; the CLI generates their options and nothing else spells them.
    assert _files_reading_attributes("edropout_") <= {"trainer/recipes.py"}
    cli_literals = structure.string_places(("--edropout-patience", "edropout_patience", "--edropout-freeze"))
    assert not any(place.startswith("cli/") for places in cli_literals.values() for place in places)
