"""The README's and docs/' commands, run as written (at tiny sizes), so a changed command cannot
leave the documentation behind.

Every ```bash block of README.md and of each page under docs/ is run in order, each page in an
empty folder. A command is one line (continued with a trailing backslash); ``#`` starts a
comment. A comment line ``# (not run by make test: ...)`` marks the command below it as one the
test cannot run, with the reason. Placeholders: ``DIR/<run id>`` is the newest run directory in
DIR, ``DIR/<edropout run>`` its newest EDropout run. Tiny sizes: :data:`TINY` names the options
added.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trainer.data.mnist_like import SYSTEM_FASHION_MNIST

pytestmark = pytest.mark.slow  # the documented commands

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NOT_RUN = "# (not run by make test:"
#: Options appended to a command (click keeps the last value of an option given twice).
TINY = {
    ("train", "sweep"): ["--epochs", "1", "--max-train", "256", "--max-test", "256", "--seeds", "1", "-q"],
    ("train",): ["--epochs", "1", "--max-train", "256", "--max-test", "256", "-q"],
    ("torchrun",): ["--epochs", "1", "--max-train", "256", "--max-test", "256", "-q"],
    ("prune", "compile"): ["--batch-size", "4", "--repeats", "1"],
    ("report",): ["--bootstrap", "100"],
}
#: What a trailing comment promises that the output must show (e.g. counted parameters).
PROMISES = (re.compile(r"params kept [\d,]+ of [\d,]+"),)


def commands(page: Path) -> list[tuple[str, str | None]]:
    """(command, why it is not run or None) for each command of the page's bash blocks, in order."""
    found: list[tuple[str, str | None]] = []
    for block in re.findall(r"```bash\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S):
        skip, pending = None, ""
        for line in block.splitlines():
            stripped = line.strip()
            if stripped.startswith(NOT_RUN):
                skip = stripped[len(NOT_RUN) :].rstrip(")").strip()
                continue
            if not stripped or (stripped.startswith("#") and not pending):
                continue
            pending += " " + stripped.rstrip("\\").strip()
            if stripped.endswith("\\"):
                continue
            found.append((pending.strip(), skip))
            skip, pending = None, ""
    return found


def _split(command: str) -> tuple[list[str], str]:
    """The command's words and its trailing comment (from the first ``#`` after a space)."""
    match = re.search(r"(^|\s)#", command)
    code, comment = (command[: match.start()], command[match.end() :].strip()) if match else (command, "")
    return shlex.split(code), comment


def _resolve(command: str, folder: Path) -> str:
    """Placeholders replaced by the newest run directories in ``folder/DIR``."""

    def newest(match: re.Match) -> str:
        configs = sorted((folder / match[1]).glob("*/config.json"), key=lambda p: p.stat().st_mtime)
        if match[2] == "edropout run":
            configs = [p for p in configs if '"recipe": "edropout"' in p.read_text()]
        assert configs, f"no run for {match[0]}"
        return str(configs[-1].parent.relative_to(folder))

    return re.sub(r"([\w./-]+)/<(run id|edropout run)>", newest, command)


def _tiny(words: list[str]) -> list[str]:
    for prefix, options in TINY.items():
        if tuple(words[: len(prefix)]) == prefix:
            return words + options
    return words


def _outputs(words: list[str]) -> list[str]:
    return [words[i + 1] for i, word in enumerate(words[:-1]) if word in ("--out", "-o", "--export")]


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_every_documented_command_runs_as_written(page, tmp_path):
    if not (SYSTEM_FASHION_MNIST / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"Fashion-MNIST is not installed in {SYSTEM_FASHION_MNIST} (apt-get install dataset-fashion-mnist)")
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    environment.pop("TOPOPRUNE_DEBUG", None)
    for command, skip in commands(page):
        if skip is not None or command.startswith("make "):
            continue  # a make target runs a whole experiment (minutes): the Makefile is its test
        words, comment = _split(_resolve(command, tmp_path))
        words = _tiny(words)
        started = time.perf_counter()
        result = subprocess.run(words, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=600)
        print(f"{time.perf_counter() - started:6.1f} s  {' '.join(words)}")
        assert result.returncode == 0, f"{page.name}: {command}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
        for output in _outputs(words):
            assert (tmp_path / output).exists(), f"{page.name}: {command} did not write {output}"
        for promise in PROMISES:
            for expected in promise.findall(comment):
                assert expected in result.stdout + result.stderr, f"{page.name}: {command} did not print {expected}"


def test_the_parser_reads_continuations_comments_and_markers(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "text\n```bash\n# heading\ntopo gen -n 8 \\\n    -d 2   # comment\n"
        f"{NOT_RUN} needs a GPU)\ntrain --device cuda\n```\n```python\nnot bash\n```\n"
    )
    assert commands(page) == [("topo gen -n 8 -d 2   # comment", None), ("train --device cuda", "needs a GPU")]
    assert _split("topo gen -n 8 # params kept 1 of 2") == (["topo", "gen", "-n", "8"], "params kept 1 of 2")
    assert _tiny(["train", "sweep", "--seeds", "3"])[-9:] == TINY[("train", "sweep")]


def test_placeholders_name_the_newest_runs_of_their_folder(tmp_path):
    for age, (name, recipe) in enumerate((("a", "edropout"), ("b", "dense"))):
        config = tmp_path / "pairs" / name / "config.json"
        config.parent.mkdir(parents=True)
        config.write_text(f'{{"recipe": "{recipe}"}}')
        os.utime(config, (1_000_000 + age, 1_000_000 + age))
    assert _resolve("x pairs/<run id> --like pairs/<edropout run>", tmp_path) == "x pairs/b --like pairs/a"
