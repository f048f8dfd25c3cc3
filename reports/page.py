"""report.html (one self-contained page, images embedded) and report.md."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import pandas as pd

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222;
       line-height: 1.45; }
table { border-collapse: collapse; font-size: 0.85em; margin: 1em 0; display: block; max-width: 100%;
        overflow-x: auto; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: right; }
th { background: #f2f2f2; font-weight: 600; } td:first-child, th:first-child { text-align: left; }
td:first-child { overflow-wrap: anywhere; min-width: 6em; }
img { max-width: 100%; height: auto; border: 1px solid #eee; margin: 0.5em 0; }
.note, .footnotes { color: #555; font-size: 0.85em; }
.answer { font-size: 1.1em; font-weight: 600; margin: 0.5em 0; }
nav ol { columns: 2; } nav li { margin: 0.1em 0; overflow-wrap: anywhere; }
h1, h2, h3 { overflow-wrap: anywhere; }
"""
#: Significant digits of numbers in the page's tables (the CSV files keep full precision).
DIGITS = 3
#: The heading of the figure a section leads with.
MAIN_FIGURE = "Main figure"
#: Columns whose text goes under the table as numbered footnotes instead of a wide column.
FOOTNOTE_COLUMNS = ("note",)


def _number(value) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, float):
        if value != value:
            return ""
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}" if abs(value) >= 10_000 else str(int(value))
        return f"{value:.{DIGITS}g}"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    return value


def _format(frame: pd.DataFrame) -> pd.DataFrame:
    """Numbers to :data:`DIGITS` significant digits, missing values empty, headers without underscores."""
    formatted = frame.apply(lambda column: column.map(_number))
    formatted.columns = [str(c).replace("_", " ") for c in frame.columns]
    return formatted


def _footnoted(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Long text columns (:data:`FOOTNOTE_COLUMNS`) replaced by markers [k]; the texts, numbered."""
    notes: list[str] = []
    frame = frame.copy()
    for column in [c for c in FOOTNOTE_COLUMNS if c in frame.columns]:
        markers = []
        for text in frame[column].fillna(""):
            text = str(text).strip()
            if not text:
                markers.append("")
                continue
            if text not in notes:
                notes.append(text)
            markers.append(f"[{notes.index(text) + 1}]")
        frame[column] = markers
    return frame, notes


def _image(path: Path, description: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(description)}" src="data:image/png;base64,{data}">'


def _anchor(*parts: str) -> str:
    text = "-".join(parts).lower()
    return "".join(c if c.isalnum() else "-" for c in text).strip("-")[:90]


#: One part of a page: (experiment title or None for a single-experiment page, anchor, findings,
#: content as (heading, DataFrame / PNG path / list of PNG paths / text)).
Part = tuple[str | None, str, list[str], list[tuple[str, object]]]


def _html_content(heading: str, content: object) -> list[str]:
    if isinstance(content, pd.DataFrame):
        table, notes = _footnoted(content)
        parts = [_format(table).to_html(index=False, border=0, escape=True)]
        if notes:
            parts.append("<ol class='footnotes'>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ol>")
        return parts
    if isinstance(content, Path):
        return [_image(content, f"{heading} (figure {content.stem})")]
    if isinstance(content, list):
        return [_image(path, f"{heading}: {path.stem.replace('_', ' ')}") for path in content]
    return [f"<p class='note'>{html.escape(str(content))}</p>"]


def render_html(title: str, findings: list[str], parts: list[Part]) -> str:
    """The whole report as one page: summary, a table of contents, then every part's sections."""
    body, contents = [], []
    lead = None
    if len(parts) == 1 and not parts[0][0] and parts[0][3] and parts[0][3][0][0] == MAIN_FIGURE:
        lead = parts[0][3][0][1]  # a one-experiment page leads with its answer and main figure
        parts = [(None, parts[0][1], parts[0][2], parts[0][3][1:])]
    for name, slug, part_findings, content in parts:
        level = 3 if name else 2
        if name:
            contents.append((2, name, slug))
            body.append(f"<h2 id='{html.escape(slug)}'>{html.escape(name)}</h2><ul>")
            body += [f"<li>{html.escape(line)}</li>" for line in part_findings]
            body.append("</ul>")
        for heading, item in content:
            anchor = _anchor(slug, heading) if name else _anchor(heading)
            contents.append((level, heading, anchor))
            body.append(f"<h{level} id='{html.escape(anchor)}'>{html.escape(heading)}</h{level}>")
            body += _html_content(heading, item)
    toc = ["<nav><h2>Contents</h2><ol>"]
    for level, text, anchor in contents:
        if level == 2 or not any(part[0] for part in parts):
            toc.append(f"<li><a href='#{html.escape(anchor)}'>{html.escape(text)}</a></li>")
    toc.append("</ol></nav>")
    page = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><meta name='viewport' "
        "content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    page += _answer(findings, lead)
    page.append("<h2>Summary</h2><ul>")
    page += [f"<li>{html.escape(line)}</li>" for line in findings[1 if lead else 0 :]]
    page.append("</ul>")
    page += toc + body + ["</body></html>"]
    return "\n".join(page)


def _answer(findings: list[str], lead: object) -> list[str]:
    """The first screen of a one-experiment page: its answer sentence and its main figure."""
    if lead is None or not findings:
        return []
    return [f"<p class='answer'>{html.escape(findings[0])}</p>", *_html_content(MAIN_FIGURE, lead)]


def render_markdown(title: str, findings: list[str], parts: list[Part], base: Path) -> str:
    """The same content as Markdown; images are linked relative to ``base``."""
    lines = [f"# {title}", "", "## Summary", ""] + [f"- {line}" for line in findings] + [""]
    titled = [part for part in parts if part[0]]
    if titled:
        lines += (
            ["## Experiments", ""]
            + [f"{i}. [{name}](#{slug})" for i, (name, slug, _, _) in enumerate(titled, start=1)]
            + [""]
        )
    for name, slug, part_findings, content in parts:
        prefix = "###" if name else "##"
        if name:
            lines += [f'<a id="{slug}"></a>', "", f"## {name}", ""] + [f"- {line}" for line in part_findings] + [""]
        for heading, item in content:
            lines += [f"{prefix} {heading}", ""]
            if isinstance(item, pd.DataFrame):
                table, notes = _footnoted(item)
                lines.append(_markdown_table(_format(table)))
                lines += [""] + [f"{k}. {note}" for k, note in enumerate(notes, start=1)]
            elif isinstance(item, Path):
                lines.append(f"![{heading}]({item.relative_to(base).as_posix()})")
            elif isinstance(item, list):
                lines += [f"![{heading}: {p.stem}]({p.relative_to(base).as_posix()})" for p in item]
            else:
                lines.append(str(item))
            lines.append("")
    return "\n".join(lines)


def _markdown_table(frame: pd.DataFrame) -> str:
    def text(value) -> str:
        return str(value).replace("|", "\\|")

    rows = ["| " + " | ".join(map(text, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    rows += ["| " + " | ".join(text(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(rows)
