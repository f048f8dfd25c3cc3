"""The HTML report as a person sees it: rendered by headless Chromium at 1280 px wide."""

import re
import shutil
import struct
import subprocess

import numpy as np
import pandas as pd
import pytest

from reports.build import ReportConfig, build_report
from tests.reports.shipped import edropout_table, shared_bases_table
from tests.reports.synthetic_results import results_table

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--window-size=1280,900",
]
#: Appended to a copy of the page: writes what the browser measured into the DOM.
MEASURE = """<script>
const tables = [...document.querySelectorAll('table')].map(t => t.scrollWidth - t.clientWidth);
document.body.setAttribute('data-page-width', document.documentElement.scrollWidth);
document.body.setAttribute('data-table-overflow', Math.max(0, ...tables));
document.body.setAttribute('data-images-without-alt', [...document.images].filter(i => !i.alt).length);
</script></body>"""


def mixed_comparison_table() -> pd.DataFrame:
    """Plans with metrics, per-layer recipes at two densities, a dense baseline; 3 seeds."""
    plans = results_table(lambda m, rng: 90 - 0.5 * m["aspl"] + rng.normal(0, 0.1), plans=6, seeds=3)
    plans["plan"] = "some/rather/long/experiment-folder/" + plans["plan"].astype(str)  # paths as people keep them
    plans["macs_kept"] = 538_000
    rows, rng = [], np.random.default_rng(0)
    for recipe, bonus in (("xnet", 0.0), ("rreg-bipartite", 0.3), ("random-bipartite", -0.5)):
        for degree in (4, 16):
            for seed in range(3):
                rows.append(
                    {
                        "run_id": f"{recipe}-{degree}-{seed}",
                        "plan_sha256": "",
                        "model": "mlp",
                        "dataset": "fashion-mnist",
                        "recipe": recipe,
                        "degree": degree,
                        "recipe_degree": degree,
                        "train_seed": seed,
                        "epochs": 3,
                        "density": degree / 64,
                        "macs_kept": 538_000 if degree == 4 else 669_000,
                        "layer_ramanujan_margin": -0.5,
                        "layer_vertex_expansion": 0.62,
                        "dead_outputs": 0,
                        "best_acc": 86 + degree / 8 + bonus + rng.normal(0, 0.05),
                        "final_acc": 0.0,
                        "layer_spectral_gap": 1.0 + bonus,
                        "dead_inputs": 3 if recipe != "rreg-bipartite" else 0,
                    }
                )
    return pd.concat([plans, pd.DataFrame(rows)], ignore_index=True)


def png_size(path):
    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    return width, height


@pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium); the page is not rendered"
)
def test_the_report_fits_a_1280_pixel_browser(tmp_path):
    path = tmp_path / "results.csv"
    mixed_comparison_table().to_csv(path, index=False)
    report = build_report(ReportConfig((path,), tmp_path / "report", bootstrap=100))
    html = report.html.read_text()
    assert "[1]" in html and "class='footnotes'" in html  # the correlation notes moved under the table
    measured = tmp_path / "measured.html"
    measured.write_text(html.replace("</body>", MEASURE))
    profile = ["--user-data-dir=" + str(tmp_path / "profile")]
    dom = subprocess.run(
        [CHROMIUM, *FLAGS, *profile, "--virtual-time-budget=3000", "--dump-dom", measured.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    values = {
        key: int(value)
        for key, value in re.findall(r'data-(page-width|table-overflow|images-without-alt)="(\d+)"', dom)
    }
    assert set(values) == {"page-width", "table-overflow", "images-without-alt"}, dom[:500]
    assert values["page-width"] <= 1280  # no horizontal scrolling of the page
    assert values["table-overflow"] == 0  # every table fits its column
    assert values["images-without-alt"] == 0
    shot = tmp_path / "report.png"
    subprocess.run(
        [CHROMIUM, *FLAGS, *profile, f"--screenshot={shot}", report.html.as_uri()], capture_output=True, timeout=120
    )
    assert png_size(shot) == (1280, 900)


def test_tables_use_three_significant_digits_and_the_csvs_full_precision(tmp_path):
    path = tmp_path / "results.csv"
    mixed_comparison_table().to_csv(path, index=False)
    report = build_report(ReportConfig((path,), tmp_path / "report", bootstrap=100))
    html = report.html.read_text()
    cells = re.findall(r"<td>(-?\d+\.\d+)</td>", html)
    assert cells and all(len(c.lstrip("-").replace(".", "").lstrip("0")) <= 3 for c in cells)
    ranking = pd.read_csv(tmp_path / "report" / "ranking.csv")
    assert any(len(repr(v)) > 8 for v in ranking["acc_mean"])  # full precision kept in the CSV
    assert "<h2>Contents</h2>" in html and "Ranked at each cost level" in html


#: Appended to a copy of a page: where the answer and the first figure are, as a person at 1280 x 900 sees them.
FIRST_SCREEN = """<script>
const answer = document.querySelector('.answer') || document.querySelector('ul li');
document.body.setAttribute('data-page-width', document.documentElement.scrollWidth);
document.body.setAttribute('data-answer-bottom', Math.ceil(answer.getBoundingClientRect().bottom));
const image = document.images[0];
document.body.setAttribute('data-image-top', image ? Math.ceil(image.getBoundingClientRect().top) : 99999);
document.body.setAttribute('data-image-bottom', image ? Math.ceil(image.getBoundingClientRect().bottom) : 99999);
</script></body>"""


def _equal_cost_table():
    frame = results_table(lambda m, rng: 90 - 20 * (m["clustering"] - 0.25) ** 2 * 10 + rng.normal(0, 0.05), plans=8)
    frame["macs_budget"], frame["match_macs"] = 1_192_960, "dense"
    frame["macs_kept"] = 1_192_960
    return frame


def _tour_table():
    """The README tour's mixed table: every shipped experiment's rows in one results.csv."""
    parts = [
        results_table(lambda m, rng: 90 - 0.5 * m["aspl"] + rng.normal(0, 0.1), plans=6, seeds=2),
        mixed_comparison_table().assign(epochs=1, run_id=lambda t: "c" + t["run_id"]),
        shared_bases_table(),
        edropout_table(),
        _equal_cost_table().assign(epochs=2, run_id=lambda t: "g" + t["run_id"], init_from_sha256="f" * 64),
    ]
    return pd.concat(parts, ignore_index=True)


SHIPPED = {
    "demo": lambda: results_table(lambda m, rng: 90 - 0.5 * m["aspl"] + rng.normal(0, 0.1), plans=13, seeds=2),
    "demo-compare": mixed_comparison_table,
    "graph2nn-equal-cost": _equal_cost_table,
    "shared-bases": shared_bases_table,
    "edropout-compare": edropout_table,
    "tour": _tour_table,
}


@pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium); the page is not rendered"
)
@pytest.mark.parametrize("name", list(SHIPPED))
def test_every_shipped_experiment_leads_with_its_answer_and_figure_in_the_first_screen(tmp_path, name):
    path = tmp_path / "results.csv"
    SHIPPED[name]().to_csv(path, index=False)
    report = build_report(ReportConfig((path,), tmp_path / "report", bootstrap=100))
    html = report.html.read_text()
    assert re.search(r"[0-9a-f]{64}", "".join(s.title for s in report.sections)) is None
    assert all(len(s.title) <= 120 and "—" not in s.title for s in report.sections)  # short: what differs
    measured = tmp_path / "measured.html"
    measured.write_text(html.replace("</body>", FIRST_SCREEN))
    dom = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=3000", "--dump-dom",
         measured.as_uri()],
        capture_output=True, text=True, timeout=120,
    ).stdout  # fmt: skip
    values = {key: int(value) for key, value in re.findall(r'data-([a-z-]+)="(\d+)"', dom)}
    assert values["page-width"] <= 1280, values  # nothing scrolls sideways
    assert values["answer-bottom"] <= 900, values  # the answer sentence is on the first screen
    if len(report.sections) == 1:  # one experiment: its main figure starts there too, most of it visible
        assert "class='answer'" in html and values["image-top"] < 900 - 300, values
