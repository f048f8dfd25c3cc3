"""docs/architecture.md: dependency arrows point one way; common and topology never import torch."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("common", "topology", "pruning", "trainer", "sweeps", "reports", "cli")
#: What each package may import from the project (itself included).
ALLOWED = {
    "common": {"common"},
    "topology": {"common", "topology"},
    "pruning": {"common", "pruning", "topology"},
    "trainer": {"common", "trainer", "pruning", "topology"},
    "sweeps": {"common", "sweeps", "trainer", "pruning", "topology"},
    "reports": {"common", "reports", "topology"},
    "cli": set(PACKAGES),
}
#: Third-party modules confined to some packages.
CONFINED = {"torch": {"pruning", "trainer"}, "torchvision": {"pruning", "trainer"}, "click": {"cli"}}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def source_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py")) if (ROOT / package).is_dir() else []


@pytest.mark.parametrize("package", PACKAGES)
def test_package_imports_follow_the_layering(package):
    for path in source_files(package):
        imported = imported_modules(path)
        for project_package in set(PACKAGES) & imported:
            assert project_package in ALLOWED[package], f"{path.relative_to(ROOT)} imports {project_package}"
        for module, allowed in CONFINED.items():
            if module in imported:
                assert package in allowed, f"{path.relative_to(ROOT)} imports {module}"


def test_packages_exist_and_are_checked():
    assert len(source_files("topology")) > 5
    assert len(source_files("common")) >= 7


def test_the_check_catches_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import torch\nfrom cli.options import seed_option\n")
    assert {"torch", "cli"} <= imported_modules(bad)
