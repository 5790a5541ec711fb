"""Turn the shipped run summaries into docs/RESULTS.md and its figures (PNG).

    python experiments/report.py

Reads ``experiments/results/<finding>/`` (written by ``experiments/run.py``), draws each
finding's figures into ``docs/img/results/`` (plotly and kaleido, with the system
Chromium) and writes ``docs/RESULTS.md``.
"""

from esmaml_core.assets import PROJECT_ROOT
from esmaml_core.findings import FIGURES_DIR, FINDINGS, RESULTS_DIR, figure_file, results_document
from esmaml_core.plots import figure_image, finding_figures


def main() -> None:
    FIGURES_DIR.mkdir(parents=True, exist_ok=True)
    for finding in FINDINGS.values():
        for task, figure in finding_figures(finding, RESULTS_DIR).items():
            path = FIGURES_DIR / figure_file(finding, task)
            path.write_bytes(figure_image(figure, "png", width=900, height=460))
            print(f"wrote {path}")
    out = PROJECT_ROOT / "docs" / "RESULTS.md"
    out.write_text(results_document())
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
