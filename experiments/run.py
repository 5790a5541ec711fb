"""Run one of the paper's findings: every arm and seed as an ordinary run folder, then ship its summaries.

    python experiments/run.py exploration [--workers 2] [--runs experiments/runs]

Findings: exploration, operators, low_k, architecture, first_order (``esmaml_core.findings``).
Runs go to ``<runs>/<finding>/`` (open them on Compare with ``esmaml dashboard --runs-dir
<runs>/<finding>``); an interrupted command continues where it stopped. The summaries
(config, metrics, the last probe; no checkpoints) are then copied to
``experiments/results/<finding>/``, which the Results page and ``experiments/report.py`` read.
"""

import argparse
from pathlib import Path

from esmaml_core.findings import FINDINGS, RESULTS_DIR, RUNS_DIR, run_finding, ship


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("finding", choices=list(FINDINGS), help="which finding to run")
    parser.add_argument("--workers", type=int, default=2, help="runs trained at once (default: 2, one per core)")
    parser.add_argument("--runs", type=Path, default=RUNS_DIR, help=f"where run folders go (default: {RUNS_DIR})")
    args = parser.parse_args()
    finding = FINDINGS[args.finding]
    run_finding(finding, args.runs, args.workers)
    print(f"summaries in {ship(finding, args.runs, RESULTS_DIR)}")


if __name__ == "__main__":
    main()
