"""report.html (one self-contained page, images embedded) and report.md."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import pandas as pd

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; line-height: 1.45; }
table { border-collapse: collapse; font-size: 0.85em; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: right; }
th { background: #f2f2f2; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
.note { color: #666; font-size: 0.9em; }
"""


def _format(frame: pd.DataFrame) -> pd.DataFrame:
    def cell(value):
        if isinstance(value, float):
            return "" if value != value else f"{value:.4g}"
        return value

    return frame.apply(lambda column: column.map(cell))


def _image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


#: One part of a page: (experiment title or None for a single-experiment page, anchor, findings,
#: content as (heading, DataFrame / PNG path / list of PNG paths / text)).
Part = tuple[str | None, str, list[str], list[tuple[str, object]]]


def _html_content(content: object) -> list[str]:
    if isinstance(content, pd.DataFrame):
        return [_format(content).to_html(index=False, border=0, escape=True)]
    if isinstance(content, Path):
        return [_image(content)]
    if isinstance(content, list):
        return [_image(path) for path in content]
    return [f"<p class='note'>{html.escape(str(content))}</p>"]


def render_html(title: str, findings: list[str], parts: list[Part]) -> str:
    """The whole report as one page; with several experiments, an index links to each."""
    parts_html = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
                  f"<h1>{html.escape(title)}</h1>", "<h2>Summary</h2><ul>"]
    parts_html += [f"<li>{html.escape(line)}</li>" for line in findings]
    parts_html.append("</ul>")
    titled = [part for part in parts if part[0]]
    if titled:
        parts_html.append("<h2>Experiments</h2><ol>")
        parts_html += [f"<li><a href='#{html.escape(slug)}'>{html.escape(name)}</a></li>" for name, slug, _, _ in titled]
        parts_html.append("</ol>")
    for name, slug, part_findings, content in parts:
        level = 3 if name else 2
        if name:
            parts_html.append(f"<h2 id='{html.escape(slug)}'>{html.escape(name)}</h2><ul>")
            parts_html += [f"<li>{html.escape(line)}</li>" for line in part_findings]
            parts_html.append("</ul>")
        for heading, item in content:
            parts_html.append(f"<h{level}>{html.escape(heading)}</h{level}>")
            parts_html += _html_content(item)
    parts_html.append("</body></html>")
    return "\n".join(parts_html)


def render_markdown(title: str, findings: list[str], parts: list[Part], base: Path) -> str:
    """The same content as Markdown; images are linked relative to ``base``."""
    lines = [f"# {title}", "", "## Summary", ""] + [f"- {line}" for line in findings] + [""]
    titled = [part for part in parts if part[0]]
    if titled:
        lines += ["## Experiments", ""] + [f"{i}. [{name}](#{slug})" for i, (name, slug, _, _) in enumerate(titled, start=1)] + [""]
    for name, slug, part_findings, content in parts:
        prefix = "###" if name else "##"
        if name:
            lines += [f'<a id="{slug}"></a>', "", f"## {name}", ""] + [f"- {line}" for line in part_findings] + [""]
        for heading, item in content:
            lines += [f"{prefix} {heading}", ""]
            if isinstance(item, pd.DataFrame):
                lines.append(_markdown_table(_format(item)))
            elif isinstance(item, Path):
                lines.append(f"![{item.stem}]({item.relative_to(base).as_posix()})")
            elif isinstance(item, list):
                lines += [f"![{p.stem}]({p.relative_to(base).as_posix()})" for p in item]
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
