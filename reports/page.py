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


def render_html(title: str, findings: list[str], sections: list[tuple[str, object]]) -> str:
    """``sections`` are (heading, content): a DataFrame, a PNG Path, a list of PNG Paths or text."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>", "<h2>Summary</h2><ul>"]
    parts += [f"<li>{html.escape(line)}</li>" for line in findings]
    parts.append("</ul>")
    for heading, content in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        if isinstance(content, pd.DataFrame):
            parts.append(_format(content).to_html(index=False, border=0, escape=True))
        elif isinstance(content, Path):
            parts.append(_image(content))
        elif isinstance(content, list):
            parts += [_image(path) for path in content]
        else:
            parts.append(f"<p class='note'>{html.escape(str(content))}</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def render_markdown(title: str, findings: list[str], sections: list[tuple[str, object]], base: Path) -> str:
    """The same content as Markdown; images are linked relative to ``base``."""
    lines = [f"# {title}", "", "## Summary", ""] + [f"- {line}" for line in findings] + [""]
    for heading, content in sections:
        lines += [f"## {heading}", ""]
        if isinstance(content, pd.DataFrame):
            lines.append(_markdown_table(_format(content)))
        elif isinstance(content, Path):
            lines.append(f"![{content.stem}]({content.relative_to(base).as_posix()})")
        elif isinstance(content, list):
            lines += [f"![{p.stem}]({p.relative_to(base).as_posix()})" for p in content]
        else:
            lines.append(str(content))
        lines.append("")
    return "\n".join(lines)


def _markdown_table(frame: pd.DataFrame) -> str:
    def text(value) -> str:
        return str(value).replace("|", "\\|")

    rows = ["| " + " | ".join(map(text, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    rows += ["| " + " | ".join(text(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(rows)
