"""README's table of shipped configs, generated from their ``published:`` blocks and counted costs.

``python -m tests.config_table`` prints it; ``tests/test_configs.py`` checks README.md holds it
as printed. The counts come from building each config's model and masks (nothing is trained).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from trainer.identity import identify
from trainer.run import build_masked_model

CONFIG_DIR = Path(__file__).parents[1] / "configs"
#: Where the table starts and ends in README.md.
BEGIN, END = "<!-- config table: python -m tests.config_table -->", "<!-- end of config table -->"
HEADER = "| config | model, data | published | protocol | source | counted here |\n|---|---|---:|---|---|---:|"


def _published(block: dict) -> str:
    if block["value"] is None:
        return "none"
    top5 = f" (top-5 {block['top5']:.2f})" if block.get("top5") is not None else ""
    word = "error" if block["metric"] == "top-1 error" else "acc."
    return f"{block['value']:.2f}% {word}{top5}"


def _counted(summary) -> str:
    kept, total = summary.params_kept, summary.params_total
    share = "" if kept == total else f" ({100 * kept / total:.1f}%)"
    return f"{kept:,} params{share}, {summary.macs_kept / 1e6:,.1f}M MACs"


def config_row(path: Path) -> str:
    """One row: the file, its model and data, the published number, and what we count."""
    from tests.test_configs import resolved, shaped_data  # the same reading as the tests

    config = resolved(path)
    if config.best_of > 1:  # every draw of a regular graph keeps the same count
        config = dataclasses.replace(config, best_of=1)
    inputs, _ = identify(config)
    built = build_masked_model(config, inputs, shaped_data(config.dataset, config.image_size), announce=False)
    block = config.published
    source = block["source"].split(" (")[0] if block["value"] is None else block["source"]
    return (
        f"| `{path.parent.name}/{path.name}` | {config.model}, {config.dataset} | {_published(block)} | "
        f"{block['protocol']} | {source} | {_counted(built.pruned.summary)} |"
    )


def config_table() -> str:
    """The whole table, between its markers."""
    rows = [config_row(path) for path in sorted(CONFIG_DIR.glob("*/*.yaml"))]
    return "\n".join([BEGIN, HEADER, *rows, END])


if __name__ == "__main__":
    print(config_table())
