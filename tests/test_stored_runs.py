"""Every quote of a stored run in README.md and docs/ is what ``report`` says of that run today
(tests/stored_runs.py; regenerate with ``python -m tests.stored_runs write``)."""

from __future__ import annotations

import difflib

import pytest

from tests.stored_runs import DOCUMENTS, QUOTE, ROOT, RUNS, UNSTORED_FIGURES, figure_stamp, quote, report_of, sha256

QUOTES = [(document, match, match["name"]) for document in DOCUMENTS for match in QUOTE.finditer(document.read_text())]


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """Each stored run reported once, as a reader's ``report docs/runs/NAME/results.csv`` would."""
    names = sorted({name for _, match, _ in QUOTES for name in filter(None, (match["name"], match["other"]))})
    return {name: report_of(name, tmp_path_factory.mktemp(name)) for name in names}


@pytest.mark.parametrize("document,match,name", QUOTES, ids=[f"{d.name}:{n}" for d, _, n in QUOTES])
def test_a_quote_says_what_the_report_of_its_stored_run_says(reports, document, match, name):
    body, expected = match["body"], quote(document, match, reports)
    if body != expected:
        changes = [
            line for line in difflib.unified_diff(body.splitlines(), expected.splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("---", "+++"))
        ]  # fmt: skip
        pytest.fail(
            f"{document.relative_to(ROOT)} quotes docs/runs/{name} as the report no longer says it "
            "(python -m tests.stored_runs write updates it):\n" + "\n".join(changes)
        )


def test_every_stored_run_is_quoted_and_complete():
    stored = sorted(path.name for path in RUNS.iterdir() if path.is_dir())
    assert stored, "no stored runs under docs/runs"
    assert sorted({name for _, _, name in QUOTES}) == stored
    for name in stored:
        assert (RUNS / name / "results.csv").is_file() and (RUNS / name / "run.json").is_file()


def test_every_figure_in_docs_is_drawn_from_a_stored_run_or_listed_as_not_yet():
    tables = {sha256(RUNS / name / "results.csv"): name for name in (p.name for p in RUNS.iterdir() if p.is_dir())}
    for figure in sorted((ROOT / "docs").glob("*.png")):
        stamp = figure_stamp(figure)
        if figure.name in UNSTORED_FIGURES:
            assert stamp is None, f"{figure.name} is stamped: take it off UNSTORED_FIGURES"
            continue
        assert stamp in tables, (
            f"docs/{figure.name} is not drawn from any stored run (python -m tests.stored_runs write)"
        )
        assert figure.name in {f"{tables[stamp]}-{kind}.png" for kind in ("main", "search")}
